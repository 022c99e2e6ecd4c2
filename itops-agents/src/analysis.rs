//! Signal analysis shared by the tools and the agents: robust statistics and log templates.

pub mod stats;
pub mod templates;
