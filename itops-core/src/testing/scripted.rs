//! A scripted `LanguageModel`: returns queued turns and records what it was sent.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{
    ContentBlock, LanguageModel, Message, ModelRequest, ModelResponse, ModelStopReason, Role,
    TokenUsage,
};

/// One queued turn of a [`ScriptedModel`].
#[derive(Clone, Debug)]
pub struct ScriptedTurn {
    outcome: std::result::Result<ModelResponse, (String, bool)>,
    delay: Duration,
}

impl ScriptedTurn {
    /// A turn that answers with text and ends.
    pub fn text(text: impl Into<String>) -> Self {
        Self::respond(vec![ContentBlock::text(text)], ModelStopReason::EndTurn)
    }

    /// A turn that asks for one tool call.
    pub fn tool_call(name: impl Into<String>, input: serde_json::Value) -> Self {
        Self::tool_calls(vec![(name.into(), input)])
    }

    /// A turn that asks for several tool calls at once.
    pub fn tool_calls(calls: Vec<(String, serde_json::Value)>) -> Self {
        let content = calls
            .into_iter()
            .enumerate()
            .map(|(i, (name, input))| ContentBlock::ToolUse {
                id: format!("scripted_{i}"),
                name,
                input,
            })
            .collect();
        Self::respond(content, ModelStopReason::ToolUse)
    }

    /// A turn with any content blocks.
    pub fn respond(content: Vec<ContentBlock>, stop_reason: ModelStopReason) -> Self {
        Self {
            outcome: Ok(ModelResponse {
                message: Message {
                    role: Role::Assistant,
                    content,
                },
                stop_reason,
                usage: TokenUsage {
                    input_tokens: 10,
                    output_tokens: 10,
                },
            }),
            delay: Duration::ZERO,
        }
    }

    /// A turn that fails with [`Error::Model`].
    pub fn fail(message: impl Into<String>, retryable: bool) -> Self {
        Self {
            outcome: Err((message.into(), retryable)),
            delay: Duration::ZERO,
        }
    }

    /// Adds a thought (text) before the turn's other content.
    pub fn with_thought(mut self, thought: impl Into<String>) -> Self {
        if let Ok(response) = &mut self.outcome {
            response
                .message
                .content
                .insert(0, ContentBlock::text(thought));
        }
        self
    }

    /// Sets the token usage reported for the turn.
    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Self {
        if let Ok(response) = &mut self.outcome {
            response.usage = TokenUsage {
                input_tokens,
                output_tokens,
            };
        }
        self
    }

    /// Makes the turn take `delay` (on tokio's clock, so paused-time tests stay fast).
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A model that plays back queued turns in order, then fails with "script exhausted".
/// Records every request so tests can assert on prompts.
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    turns: Mutex<VecDeque<ScriptedTurn>>,
    requests: Mutex<Vec<ModelRequest>>,
}

impl ScriptedModel {
    /// A model that will play `turns`.
    pub fn new(turns: impl IntoIterator<Item = ScriptedTurn>) -> Self {
        Self {
            name: "scripted".to_string(),
            turns: Mutex::new(turns.into_iter().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Renames the model.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Queues another turn.
    pub fn push(&self, turn: ScriptedTurn) {
        lock(&self.turns).push_back(turn);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ModelRequest> {
        lock(&self.requests).clone()
    }

    /// Turns not yet played.
    pub fn remaining(&self) -> usize {
        lock(&self.turns).len()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl LanguageModel for ScriptedModel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse> {
        let played = {
            let mut requests = lock(&self.requests);
            requests.push(request.clone());
            requests.len()
        };
        let turn = lock(&self.turns).pop_front();
        let Some(turn) = turn else {
            return Err(Error::Model {
                model: self.name.clone(),
                message: format!("script exhausted: no turn queued for call {played}"),
                retryable: false,
            });
        };
        if !turn.delay.is_zero() {
            tokio::time::sleep(turn.delay).await;
        }
        turn.outcome.map_err(|(message, retryable)| Error::Model {
            model: self.name.clone(),
            message,
            retryable,
        })
    }
}
