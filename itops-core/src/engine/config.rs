//! The engine's bounds.

use std::time::Duration;

use crate::error::{Error, Result};

/// Hard bounds of a ReAct run. Every bound is finite.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// Model turns at most.
    pub max_steps: u32,
    /// Input plus output tokens at most, over all turns.
    pub max_total_tokens: u64,
    /// Output tokens per turn at most (sent to the model as `max_tokens`).
    pub max_tokens_per_turn: u32,
    /// Longest a single tool call may take.
    pub tool_timeout: Duration,
    /// Longest the whole run may take.
    pub deadline: Duration,
    /// Largest observation given to the model, in bytes; longer output is truncated with a note.
    pub max_observation_bytes: usize,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_steps: 10,
            max_total_tokens: 200_000,
            max_tokens_per_turn: 4_096,
            tool_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(300),
            max_observation_bytes: 16 * 1024,
            temperature: None,
        }
    }
}

impl EngineConfig {
    /// Checks that every bound is positive.
    pub fn validate(&self) -> Result<()> {
        if self.max_steps == 0 {
            return Err(Error::invalid("max_steps", "must be at least 1"));
        }
        if self.max_total_tokens == 0 {
            return Err(Error::invalid("max_total_tokens", "must be at least 1"));
        }
        if self.max_tokens_per_turn == 0 {
            return Err(Error::invalid("max_tokens_per_turn", "must be at least 1"));
        }
        if self.tool_timeout.is_zero() {
            return Err(Error::invalid("tool_timeout", "must be longer than zero"));
        }
        if self.deadline.is_zero() {
            return Err(Error::invalid("deadline", "must be longer than zero"));
        }
        if self.max_observation_bytes < 64 {
            return Err(Error::invalid(
                "max_observation_bytes",
                "must be at least 64",
            ));
        }
        Ok(())
    }
}
