//! Circuit breaking, retries and timeouts around model and tool calls.
//!
//! [`CircuitBreaker`] is the small trait; [`ConsecutiveFailureBreaker`] the default
//! implementation (closed → open after N consecutive failures → half-open with a single
//! probe after the open interval → closed after M probe successes). [`RetryPolicy`] retries
//! retryable errors with exponential backoff and full jitter. [`ResilientModel`] and
//! [`ResilientTool`] put all three around any model or tool.

mod circuit;
mod resilient;
mod retry;

pub use circuit::{
    BreakerConfig, BreakerPermit, BreakerState, CallOutcome, CircuitBreaker,
    ConsecutiveFailureBreaker,
};
pub use resilient::{call_guarded, ResilientModel, ResilientTool};
pub use retry::RetryPolicy;
