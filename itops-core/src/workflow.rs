//! The incident workflow, defined once as data, and its local durable runner.

mod checkpoint;
mod definition;
mod runner;

pub use checkpoint::{
    ActionRecord, ActionState, VerificationReport, WorkflowCheckpoint, WorkflowData,
};
pub use definition::{
    Guard, StateDefinition, StepKind, StepOutcome, Transition, WorkflowDefinition,
    MANUAL_ESCALATION_TARGET,
};
pub use runner::{
    default_actor, LocalRunner, Progress, StepReport, WorkflowSteps, DEFAULT_APPROVAL_TTL,
};
