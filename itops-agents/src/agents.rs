//! The agents: triage, root cause and remediation, each an [`itops_core::Agent`] running on
//! the bounded ReAct engine with any [`itops_core::LanguageModel`] — an LLM, or the
//! [`OfflinePlanner`](crate::planner::OfflinePlanner). All three are one
//! [`ReactAgent`] playing a different [`Role`]; a role of your own runs the same way.

pub mod prompt;
pub mod react;
pub mod remediation;
pub mod root_cause;
pub mod structured;
pub mod triage;

pub use react::{Brief, Finished, ReactAgent, Role};
pub use remediation::{Planning, RemediationAgent, RemediationRole};
pub use root_cause::{Investigation, RootCauseAgent, RootCauseRole};
pub use triage::{Triage, TriageAgent, TriageRole};
