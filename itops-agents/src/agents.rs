//! The agents: triage, root cause and remediation, each an [`itops_core::Agent`] running on
//! the bounded ReAct engine with any [`itops_core::LanguageModel`] — an LLM, or the
//! [`OfflinePlanner`](crate::planner::OfflinePlanner).

pub mod prompt;
pub mod remediation;
pub mod root_cause;
pub mod structured;
pub mod triage;

pub use remediation::{Planning, RemediationAgent};
pub use root_cause::{Investigation, RootCauseAgent};
pub use triage::{Triage, TriageAgent};
