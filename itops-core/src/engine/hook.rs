//! Hooks on every step of a run: where timelines, metrics, policy and approvals plug in.

use std::time::Duration;

use async_trait::async_trait;

use crate::engine::transcript::Observation;
use crate::error::Result;
use crate::model::{ModelRequest, ModelResponse, TokenUsage, ToolCall};

/// Where a run stands when a hook is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepInfo {
    /// 1-based step number.
    pub step: u32,
    /// Time since the run began.
    pub elapsed: Duration,
    /// Tokens used so far.
    pub usage: TokenUsage,
}

/// What to do before a model call.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelAction {
    /// Call the model.
    Continue,
    /// End the run.
    Stop {
        /// Why (recorded in the stop reason).
        reason: String,
    },
}

/// What to do with a tool call the model asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolAction {
    /// Run it as asked.
    Run,
    /// Run it with this input instead (later hooks see the rewritten call).
    Rewrite {
        /// The input to use.
        input: serde_json::Value,
    },
    /// Do not run it; give the model this observation instead.
    Skip {
        /// The observation (e.g. "refused by policy: ...").
        observation: String,
    },
    /// Do not run it, and end the run.
    Stop {
        /// Why.
        reason: String,
    },
}

/// Called on every step of a ReAct run. Every method has a pass-through default, so a hook
/// implements only what it needs. An `Err` ends the run with [`StopReason::HookFailed`](crate::engine::StopReason::HookFailed).
#[async_trait]
pub trait StepHook: Send + Sync {
    /// Before each model call.
    async fn before_model(&self, _info: &StepInfo, _request: &ModelRequest) -> Result<ModelAction> {
        Ok(ModelAction::Continue)
    }

    /// After each model call (the model's thought and requested calls).
    async fn after_model(&self, _info: &StepInfo, _response: &ModelResponse) -> Result<()> {
        Ok(())
    }

    /// Before each tool call.
    async fn before_tool(&self, _info: &StepInfo, _call: &ToolCall) -> Result<ToolAction> {
        Ok(ToolAction::Run)
    }

    /// After each tool call (including refused, skipped and failed ones).
    async fn after_tool(
        &self,
        _info: &StepInfo,
        _call: &ToolCall,
        _observation: &Observation,
    ) -> Result<()> {
        Ok(())
    }
}
