//! Signal analysis shared by the tools and the agents: robust statistics, log templates,
//! metric kinds, and the anomaly ranking.

pub mod ranking;
pub mod signal_kind;
pub mod stats;
pub mod templates;
