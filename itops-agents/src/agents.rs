//! The agents: triage, root cause and remediation, each an [`itops_core::Agent`] running on
//! the bounded ReAct engine with any [`itops_core::LanguageModel`] — an LLM, or the
//! [`OfflinePlanner`](crate::planner::OfflinePlanner).

pub mod prompt;
pub mod root_cause;
pub mod structured;

pub use root_cause::{Investigation, RootCauseAgent};
