//! The bounded ReAct engine: reason → call a tool → observe, within hard limits.
//!
//! [`ReactEngine`] loops over a [`LanguageModel`](crate::LanguageModel) and a set of
//! [`DynTool`](crate::DynTool)s. Bounds: steps, total tokens, per-tool timeout, total
//! deadline. Tool errors and timeouts become observations; an identical repeated call is
//! refused; oversized output is truncated with a note. [`StepHook`]s see every step and can
//! run, rewrite, skip or stop tool calls. A run returns a [`Transcript`].

mod config;
mod hook;
mod observation;
mod react;
mod timeline;
mod transcript;

pub use config::EngineConfig;
pub use hook::{ModelAction, StepHook, StepInfo, ToolAction};
pub use react::{ReactEngine, ReactEngineBuilder};
pub use timeline::{TimelineHook, TIMELINE_TEXT_CHARS};
pub use transcript::{
    Observation, StepRecord, StopReason, ToolCallRecord, ToolDisposition, Transcript,
};
