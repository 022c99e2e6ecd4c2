//! Prometheus metrics of itops itself, served at `/metrics`: HTTP requests, agent steps and
//! tool calls (latency histograms), model tokens, incidents by state, approvals waiting,
//! workflows running, live streams open.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use itops_core::engine::{Observation, StepHook, StepInfo};
use itops_core::model::{ModelResponse, ToolCall};
use itops_core::Result;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

struct Inner {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: HistogramFamily<RouteLabels>,
    step_seconds: HistogramFamily<StepLabels>,
    tool_seconds: HistogramFamily<ToolLabels>,
    tool_errors: Family<ToolLabels, Counter>,
    model_tokens: Family<TokenLabels, Counter>,
    incidents: Family<StatusLabels, Gauge>,
    approvals_waiting: Gauge,
    workflows_running: Gauge,
    sse_subscribers: Gauge,
    breaker_open: Family<StepLabels, Gauge>,
}

/// The metrics registry (cheap to clone).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("itops");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "API requests by method, route and status",
            http_requests.clone(),
        );
        let http_seconds: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "API request latency by route",
            http_seconds.clone(),
        );
        let step_seconds: HistogramFamily<StepLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "workflow_step_duration_seconds",
            "Workflow step (agent run, execution, verification) latency",
            step_seconds.clone(),
        );
        let tool_seconds: HistogramFamily<ToolLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "tool_call_duration_seconds",
            "Agent tool call latency by tool",
            tool_seconds.clone(),
        );
        let tool_errors = Family::<ToolLabels, Counter>::default();
        registry.register(
            "tool_call_errors",
            "Agent tool calls that failed, by tool",
            tool_errors.clone(),
        );
        let model_tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "model_tokens",
            "Model tokens by model and kind (input, output)",
            model_tokens.clone(),
        );
        let incidents = Family::<StatusLabels, Gauge>::default();
        registry.register("incidents", "Incidents by status", incidents.clone());
        let approvals_waiting = Gauge::default();
        registry.register(
            "approvals_waiting",
            "Approvals waiting for a decision",
            approvals_waiting.clone(),
        );
        let workflows_running = Gauge::default();
        registry.register(
            "workflows_running",
            "Workflows advancing right now",
            workflows_running.clone(),
        );
        let sse_subscribers = Gauge::default();
        registry.register(
            "sse_subscribers",
            "Live timeline streams open right now",
            sse_subscribers.clone(),
        );
        let breaker_open = Family::<StepLabels, Gauge>::default();
        registry.register(
            "breaker_open",
            "1 when the named circuit breaker is open",
            breaker_open.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                http_requests,
                http_seconds,
                step_seconds,
                tool_seconds,
                tool_errors,
                model_tokens,
                incidents,
                approvals_waiting,
                workflows_running,
                sse_subscribers,
                breaker_open,
            }),
        }
    }

    /// Counts one API request. Methods outside the standard set are counted as `other`, so
    /// made-up methods cannot grow the number of series.
    pub(crate) fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.inner
            .http_requests
            .get_or_create(&HttpLabels {
                method: method_label(method).to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.inner
            .http_seconds
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// A guard that records how long a workflow step took when dropped.
    pub(crate) fn step_timer(&self, step: &str) -> StepTimer {
        StepTimer {
            metrics: self.clone(),
            step: step.to_string(),
            started: Instant::now(),
        }
    }

    /// A hook recording tool latencies and the tokens `model` used in agent runs.
    pub(crate) fn agent_hook(&self, model: &str) -> MetricsHook {
        MetricsHook {
            metrics: self.clone(),
            model: model.to_string(),
        }
    }

    /// Sets how many incidents are in each status.
    pub(crate) fn set_incidents(&self, counts: &[(String, i64)]) {
        for (status, n) in counts {
            self.inner
                .incidents
                .get_or_create(&StatusLabels {
                    status: status.clone(),
                })
                .set(*n);
        }
    }

    /// Sets how many approvals wait.
    pub(crate) fn set_approvals_waiting(&self, n: i64) {
        self.inner.approvals_waiting.set(n);
    }

    /// The workflows-running gauge.
    pub(crate) fn workflows_running(&self) -> &Gauge {
        &self.inner.workflows_running
    }

    /// Counts a live stream until the returned guard is dropped.
    pub(crate) fn sse_subscriber(&self) -> SubscriberGuard {
        self.inner.sse_subscribers.inc();
        SubscriberGuard {
            metrics: self.clone(),
        }
    }

    /// Sets whether the named breaker is open.
    pub(crate) fn set_breaker_open(&self, name: &str, open: bool) {
        self.inner
            .breaker_open
            .get_or_create(&StepLabels {
                step: name.to_string(),
            })
            .set(i64::from(open));
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.inner.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The label of an HTTP method: the standard ones as they are, anything else `other`.
pub(crate) fn method_label(method: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// Holds one live stream in the `sse_subscribers` gauge; dropped when the stream ends.
#[derive(Debug)]
pub(crate) struct SubscriberGuard {
    metrics: Metrics,
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.metrics.inner.sse_subscribers.dec();
    }
}

/// Records a step's duration when dropped.
#[derive(Debug)]
pub(crate) struct StepTimer {
    metrics: Metrics,
    step: String,
    started: Instant,
}

impl Drop for StepTimer {
    fn drop(&mut self) {
        self.metrics
            .inner
            .step_seconds
            .get_or_create(&StepLabels {
                step: std::mem::take(&mut self.step),
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// Records tool latencies and model tokens.
#[derive(Clone)]
pub(crate) struct MetricsHook {
    metrics: Metrics,
    model: String,
}

#[async_trait]
impl StepHook for MetricsHook {
    async fn after_model(&self, _info: &StepInfo, response: &ModelResponse) -> Result<()> {
        for (kind, n) in [
            ("input", response.usage.input_tokens),
            ("output", response.usage.output_tokens),
        ] {
            self.metrics
                .inner
                .model_tokens
                .get_or_create(&TokenLabels {
                    model: self.model.clone(),
                    kind: kind.to_string(),
                })
                .inc_by(n);
        }
        Ok(())
    }

    async fn after_tool(
        &self,
        _info: &StepInfo,
        call: &ToolCall,
        observation: &Observation,
    ) -> Result<()> {
        let labels = ToolLabels {
            tool: call.name.clone(),
        };
        self.metrics
            .inner
            .tool_seconds
            .get_or_create(&labels)
            .observe(observation.duration.as_secs_f64());
        if observation.is_error {
            self.metrics.inner.tool_errors.get_or_create(&labels).inc();
        }
        Ok(())
    }
}
