#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod agent;
pub mod approval;
pub mod breaker;
pub mod catalogue;
pub mod clock;
pub mod domain;
pub mod engine;
pub mod environment;
pub mod error;
pub mod id;
pub mod incidents;
pub mod knowledge;
pub mod model;
pub mod store;
pub mod telemetry;
#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
pub mod text;
pub mod tool;
pub mod workflow;

mod word_enum;

pub use agent::{Agent, IncidentContext, RunContext};
pub use approval::{
    Approval, ApprovalFilter, ApprovalGate, ApprovalPage, ApprovalRequest, ApprovalStatus,
    ApprovalTicket, ApprovalToken, Decision, DecisionAuth, Verdict,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use domain::*;
pub use error::{Error, Result};
pub use id::{ActionId, ApprovalId, IncidentId, TimelineEntryId};
pub use knowledge::{DocumentKind, KnowledgeDocument};
pub use model::{
    ContentBlock, LanguageModel, Message, ModelRequest, ModelResponse, ModelStopReason, Role,
    TokenUsage, ToolCall, ToolSpec,
};
pub use store::{
    AgentStateStore, CheckpointStore, IncidentStore, KnowledgeStore, StateStore, TimelineStore,
};
pub use telemetry::TelemetrySource;
pub use tool::{DynTool, SharedTool, Tool};
