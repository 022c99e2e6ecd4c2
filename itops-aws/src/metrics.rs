//! Agent metrics for CloudWatch: what a run, a tool call or a breaker reports, and two sinks
//! for it — Embedded Metric Format lines ([`EmfSink`], no API calls: on Lambda, CloudWatch
//! Logs turns them into metrics) and `PutMetricData` ([`PutMetricDataSink`], elsewhere).
//!
//! | metric | unit | dimensions | from |
//! |---|---|---|---|
//! | `Invocations` | Count | `Agent` | [`run_metrics`] |
//! | `Errors` | Count | `Agent` | [`run_metrics`]: the run failed (model or hook error) |
//! | `Duration` | Milliseconds | `Agent` | [`run_metrics`] |
//! | `Steps` | Count | `Agent` | [`run_metrics`] |
//! | `ToolCalls` | Count | `Agent` | [`run_metrics`]; per tool from [`MetricsHook`] |
//! | `ToolErrors` | Count | `Agent` | [`run_metrics`]; per tool from [`MetricsHook`] |
//! | `ToolDuration` | Milliseconds | `Agent`, `Tool` | [`MetricsHook`] |
//! | `InputTokens`, `OutputTokens` | Count | `Agent` | [`run_metrics`] |
//! | `BreakerState` | None (0 closed, 1 half-open, 2 open) | `Breaker` | [`breaker_metric`] |

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use itops_core::breaker::{BreakerState, CircuitBreaker};
use itops_core::engine::{StopReason, ToolDisposition, Transcript};

use crate::error::Result;

mod emf;
mod hook;
mod put;

pub use emf::EmfSink;
pub use hook::MetricsHook;
pub use put::PutMetricDataSink;

/// The unit of a metric, as CloudWatch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricUnit {
    /// A count.
    Count,
    /// A duration in milliseconds.
    Milliseconds,
    /// No unit (a gauge such as a breaker state).
    None,
}

impl MetricUnit {
    /// CloudWatch's name for the unit.
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricUnit::Count => "Count",
            MetricUnit::Milliseconds => "Milliseconds",
            MetricUnit::None => "None",
        }
    }
}

/// One measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricDatum {
    /// The metric name (`Invocations`).
    pub name: String,
    /// The unit.
    pub unit: MetricUnit,
    /// The value.
    pub value: f64,
    /// Dimension name and value pairs, in order (`[("Agent", "root_cause")]`).
    pub dimensions: Vec<(String, String)>,
    /// When it was measured.
    pub at: DateTime<Utc>,
}

impl MetricDatum {
    /// A datum with one dimension.
    pub fn new(
        name: impl Into<String>,
        unit: MetricUnit,
        value: f64,
        dimension: (&str, &str),
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            name: name.into(),
            unit,
            value,
            dimensions: vec![(dimension.0.to_string(), dimension.1.to_string())],
            at,
        }
    }
}

/// Where metrics go.
#[async_trait]
pub trait MetricsSink: Send + Sync {
    /// Records the data (one call may carry many data points).
    async fn emit(&self, data: &[MetricDatum]) -> Result<()>;
}

fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// The metrics of one finished ReAct run of `agent`.
pub fn run_metrics(agent: &str, transcript: &Transcript, at: DateTime<Utc>) -> Vec<MetricDatum> {
    let dim = ("Agent", agent);
    let failed = matches!(
        transcript.stop_reason,
        StopReason::ModelFailed { .. } | StopReason::HookFailed { .. }
    );
    let calls = transcript.tool_calls().count();
    let tool_errors = transcript
        .tool_calls()
        .filter(|c| {
            matches!(
                c.observation.disposition,
                ToolDisposition::Failed | ToolDisposition::TimedOut | ToolDisposition::UnknownTool
            )
        })
        .count();
    let count = |n: usize| n as f64;
    vec![
        MetricDatum::new("Invocations", MetricUnit::Count, 1.0, dim, at),
        MetricDatum::new(
            "Errors",
            MetricUnit::Count,
            if failed { 1.0 } else { 0.0 },
            dim,
            at,
        ),
        MetricDatum::new(
            "Duration",
            MetricUnit::Milliseconds,
            millis(transcript.elapsed),
            dim,
            at,
        ),
        MetricDatum::new(
            "Steps",
            MetricUnit::Count,
            count(transcript.steps.len()),
            dim,
            at,
        ),
        MetricDatum::new("ToolCalls", MetricUnit::Count, count(calls), dim, at),
        MetricDatum::new("ToolErrors", MetricUnit::Count, count(tool_errors), dim, at),
        MetricDatum::new(
            "InputTokens",
            MetricUnit::Count,
            transcript.usage.input_tokens as f64,
            dim,
            at,
        ),
        MetricDatum::new(
            "OutputTokens",
            MetricUnit::Count,
            transcript.usage.output_tokens as f64,
            dim,
            at,
        ),
    ]
}

/// A breaker's state as a gauge: 0 closed, 1 half-open, 2 open.
pub fn breaker_metric(breaker: &dyn CircuitBreaker, at: DateTime<Utc>) -> MetricDatum {
    let value = match breaker.state() {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
    };
    MetricDatum::new(
        "BreakerState",
        MetricUnit::None,
        value,
        ("Breaker", breaker.name()),
        at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use itops_core::engine::{Observation, StepRecord, ToolCallRecord};
    use itops_core::{TokenUsage, ToolCall};
    use std::time::Duration;

    pub(crate) fn transcript() -> Transcript {
        let call = |name: &str, disposition| ToolCallRecord {
            call: ToolCall {
                id: "1".to_string(),
                name: name.to_string(),
                input: serde_json::json!({}),
            },
            rewritten_from: None,
            observation: Observation {
                content: "ok".to_string(),
                is_error: disposition != ToolDisposition::Executed,
                truncated: false,
                disposition,
                duration: Duration::from_millis(40),
            },
        };
        Transcript {
            steps: vec![StepRecord {
                index: 1,
                thought: "look".to_string(),
                model_latency: Duration::from_millis(900),
                usage: TokenUsage {
                    input_tokens: 1200,
                    output_tokens: 80,
                },
                tool_calls: vec![
                    call("query_metrics", ToolDisposition::Executed),
                    call("search_logs", ToolDisposition::Failed),
                ],
            }],
            messages: Vec::new(),
            final_answer: Some("db".to_string()),
            stop_reason: StopReason::Completed,
            usage: TokenUsage {
                input_tokens: 1200,
                output_tokens: 80,
            },
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn a_run_reports_counts_tokens_and_duration() {
        let at = DateTime::UNIX_EPOCH;
        let data = run_metrics("root_cause", &transcript(), at);
        let get = |name: &str| data.iter().find(|d| d.name == name).unwrap().value;
        assert_eq!(get("Invocations"), 1.0);
        assert_eq!(get("Errors"), 0.0);
        assert_eq!(get("Duration"), 1500.0);
        assert_eq!(get("ToolCalls"), 2.0);
        assert_eq!(get("ToolErrors"), 1.0);
        assert_eq!(get("InputTokens"), 1200.0);
        assert!(data
            .iter()
            .all(|d| d.dimensions == vec![("Agent".to_string(), "root_cause".to_string())]));
    }
}
