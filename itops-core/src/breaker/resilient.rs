//! Breaker + timeout + retry around any model or tool.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::breaker::circuit::{BreakerPermit, CallOutcome, CircuitBreaker};
use crate::breaker::retry::RetryPolicy;
use crate::error::{Error, Result};
use crate::model::{LanguageModel, ModelRequest, ModelResponse, ToolSpec};
use crate::tool::DynTool;

/// Records a failure if the guarded call is dropped before it finishes (cancellation), so a
/// half-open probe can never be lost.
struct PermitGuard<'a> {
    breaker: &'a dyn CircuitBreaker,
    permit: Option<BreakerPermit>,
}

impl PermitGuard<'_> {
    fn finish(mut self, outcome: CallOutcome) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record(permit, outcome);
        }
    }
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record(permit, CallOutcome::Failure);
        }
    }
}

/// Runs `call` through `breaker`: refused with [`Error::CircuitOpen`] when open; errors that
/// say the dependency is unhealthy ([`Error::is_dependency_failure`]) count as failures,
/// anything else (including a caller's invalid input) as a success.
pub async fn call_guarded<T, Fut>(breaker: &dyn CircuitBreaker, call: Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    let permit = breaker.try_acquire()?;
    let guard = PermitGuard {
        breaker,
        permit: Some(permit),
    };
    let result = call.await;
    let outcome = match &result {
        Err(e) if e.is_dependency_failure() => CallOutcome::Failure,
        _ => CallOutcome::Success,
    };
    guard.finish(outcome);
    result
}

async fn with_timeout<T>(
    what: &str,
    limit: Duration,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            what: what.to_string(),
            after: limit,
        }),
    }
}

/// A model behind a circuit breaker, a per-call timeout and retries.
#[derive(Clone)]
pub struct ResilientModel<M> {
    inner: M,
    breaker: Arc<dyn CircuitBreaker>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl<M: LanguageModel> ResilientModel<M> {
    /// Wraps `inner`; each attempt is bounded by `timeout`.
    pub fn new(
        inner: M,
        breaker: Arc<dyn CircuitBreaker>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Self {
        Self {
            inner,
            breaker,
            retry,
            timeout,
        }
    }

    /// The circuit breaker guarding the model (to report its state).
    pub fn breaker(&self) -> &Arc<dyn CircuitBreaker> {
        &self.breaker
    }
}

#[async_trait]
impl<M: LanguageModel> LanguageModel for ResilientModel<M> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse> {
        let what = format!("model '{}'", self.inner.name());
        self.retry
            .run(|_| {
                call_guarded(
                    self.breaker.as_ref(),
                    with_timeout(&what, self.timeout, self.inner.converse(request)),
                )
            })
            .await
    }
}

/// A tool behind a circuit breaker, a per-call timeout and retries.
#[derive(Clone)]
pub struct ResilientTool {
    inner: Arc<dyn DynTool>,
    spec: ToolSpec,
    breaker: Arc<dyn CircuitBreaker>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl ResilientTool {
    /// Wraps `inner`; each attempt is bounded by `timeout`.
    pub fn new(
        inner: Arc<dyn DynTool>,
        breaker: Arc<dyn CircuitBreaker>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Self {
        Self {
            spec: inner.spec(),
            inner,
            breaker,
            retry,
            timeout,
        }
    }
}

#[async_trait]
impl DynTool for ResilientTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call_json(&self, input: serde_json::Value) -> Result<serde_json::Value> {
        let what = format!("tool '{}'", self.spec.name);
        self.retry
            .run(|_| {
                call_guarded(
                    self.breaker.as_ref(),
                    with_timeout(&what, self.timeout, self.inner.call_json(input.clone())),
                )
            })
            .await
    }
}
