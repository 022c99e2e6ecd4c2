//! What a ReAct run leaves behind: every step with timing and token usage, and why it stopped.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Message, TokenUsage, ToolCall};

/// Durations as whole milliseconds in JSON.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// The model answered without asking for tools.
    Completed,
    /// The step bound was reached.
    MaxSteps,
    /// The token budget was spent.
    TokenBudget,
    /// The total deadline passed.
    Deadline,
    /// A hook stopped the run.
    StoppedByHook {
        /// The hook's reason.
        message: String,
    },
    /// The model failed (after whatever retries wrap it).
    ModelFailed {
        /// The error.
        message: String,
    },
    /// A hook failed (e.g. the timeline could not be written).
    HookFailed {
        /// The error.
        message: String,
    },
}

impl StopReason {
    /// True when the model reached an answer on its own.
    pub fn is_completed(&self) -> bool {
        matches!(self, StopReason::Completed)
    }
}

/// What happened to one requested tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolDisposition {
    /// The tool ran and returned.
    Executed,
    /// The tool ran and failed; the error was the observation.
    Failed,
    /// The tool exceeded its timeout.
    TimedOut,
    /// An identical call had been made before; it was not run again.
    Refused,
    /// A hook skipped it and supplied the observation.
    Skipped,
    /// No tool has that name.
    UnknownTool,
}

/// What the model saw after a tool call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The text given to the model (after truncation).
    pub content: String,
    /// Whether it reports a failure.
    pub is_error: bool,
    /// Whether the output was cut to the size bound.
    pub truncated: bool,
    /// What happened.
    pub disposition: ToolDisposition,
    /// How long the tool took.
    #[serde(with = "duration_ms", rename = "duration_ms")]
    pub duration: Duration,
}

/// One tool call of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The call as run (after any rewrite).
    pub call: ToolCall,
    /// The model's original input, when a hook rewrote it.
    pub rewritten_from: Option<serde_json::Value>,
    /// The result.
    pub observation: Observation,
}

/// One step: a model turn and the tool calls it asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based step number.
    pub index: u32,
    /// The model's text this turn (its reasoning or answer).
    pub thought: String,
    /// How long the model took.
    #[serde(with = "duration_ms", rename = "model_latency_ms")]
    pub model_latency: Duration,
    /// Tokens of this turn.
    pub usage: TokenUsage,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCallRecord>,
}

/// The full record of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// Every step, in order.
    pub steps: Vec<StepRecord>,
    /// The whole conversation, as sent to the model plus its last turn.
    pub messages: Vec<Message>,
    /// The model's final text, when it completed.
    pub final_answer: Option<String>,
    /// Why the run ended.
    pub stop_reason: StopReason,
    /// Tokens of all turns.
    pub usage: TokenUsage,
    /// Wall time of the run.
    #[serde(with = "duration_ms", rename = "elapsed_ms")]
    pub elapsed: Duration,
}

impl Transcript {
    /// Every tool call of the run, in order.
    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCallRecord> {
        self.steps.iter().flat_map(|s| s.tool_calls.iter())
    }
}
