//! The `TelemetrySource` trait: metrics, logs, traces and change events over a time range.
//!
//! Its file form is the telemetry bundle (`metrics.csv`, `logs.jsonl`, `traces.jsonl`,
//! `events.jsonl`); cloud adapters implement it over their own services.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::word_enum::word_enum;

pub mod bundle;
mod composite;
mod index;

pub use composite::{CompositeSource, Signals};
pub use index::{Cutoffs, ServiceCounts, TelemetryCounts, TelemetryIndex};

/// A half-open time range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeRange {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl TimeRange {
    /// A range; `start` must not be after `end`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self> {
        if start > end {
            return Err(Error::invalid(
                "time range",
                format!("start {start} is after end {end}"),
            ));
        }
        Ok(Self { start, end })
    }

    /// Whether `at` falls inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start && at < self.end
    }
}

word_enum! {
    /// Log severity.
    pub enum LogLevel as "log level" {
        /// Debug detail.
        Debug = "debug",
        /// Normal operation.
        Info = "info",
        /// Something odd.
        Warn = "warn",
        /// Something failed.
        Error = "error",
        /// The process is going down.
        Fatal = "fatal",
    }
}

word_enum! {
    /// Span status, as in OpenTelemetry.
    pub enum SpanStatus as "span status" {
        /// Not set.
        Unset = "UNSET",
        /// Succeeded.
        Ok = "OK",
        /// Failed.
        Error = "ERROR",
    }
}

/// One metric sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricPoint {
    /// When.
    pub at: DateTime<Utc>,
    /// The value.
    pub value: f64,
}

/// One metric of one service over time, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricSeries {
    /// The service.
    pub service: String,
    /// The metric name, as the source names it.
    pub metric: String,
    /// Samples, oldest first.
    pub points: Vec<MetricPoint>,
}

/// One log record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// The emitting service.
    pub service: String,
    /// The message (untrusted text).
    pub message: String,
    /// Severity, when known.
    pub level: Option<LogLevel>,
    /// Trace correlation, when present.
    pub trace_id: Option<String>,
    /// Span correlation, when present.
    pub span_id: Option<String>,
}

/// One trace span.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Span {
    /// The trace.
    pub trace_id: String,
    /// This span.
    pub span_id: String,
    /// The caller's span; `None` for a root.
    pub parent_span_id: Option<String>,
    /// The service that ran it.
    pub service: String,
    /// The operation.
    pub operation: String,
    /// When it started.
    pub start: DateTime<Utc>,
    /// How long it took, in nanoseconds.
    pub duration_ns: u64,
    /// Outcome.
    pub status: SpanStatus,
}

/// A change: deploy, config, scale, flag, restart, infra, or another kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChangeEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// The service changed.
    pub service: String,
    /// `deploy`, `config`, `scale`, `flag`, `restart`, `infra`, or another word.
    pub kind: String,
    /// What changed.
    pub description: String,
    /// The new version, for deploys.
    pub version: Option<String>,
    /// Who or what changed it.
    pub actor: Option<String>,
}

/// Which metrics to read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricQuery {
    /// Time range.
    pub range: TimeRange,
    /// Only this service, when set.
    pub service: Option<String>,
    /// Only this metric, when set.
    pub metric: Option<String>,
}

/// Which logs to read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Time range.
    pub range: TimeRange,
    /// Only this service, when set.
    pub service: Option<String>,
    /// Only records whose message contains this text (case-insensitive), when set.
    pub contains: Option<String>,
    /// Only records at or above this level, when set.
    pub min_level: Option<LogLevel>,
    /// At most this many records, oldest first.
    pub limit: usize,
}

/// Which spans to read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpanQuery {
    /// Time range (by span start).
    pub range: TimeRange,
    /// Only this service, when set.
    pub service: Option<String>,
    /// Only this trace, when set.
    pub trace_id: Option<String>,
    /// Only failed spans.
    pub errors_only: bool,
    /// At most this many spans.
    pub limit: usize,
}

/// Read access to telemetry.
#[async_trait]
pub trait TelemetrySource: Send + Sync {
    /// Every service that appears in any signal.
    async fn services(&self) -> Result<Vec<String>>;

    /// The earliest and latest timestamps held, if any.
    async fn time_bounds(&self) -> Result<Option<TimeRange>>;

    /// Metric series matching the query.
    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>>;

    /// Log records matching the query.
    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>>;

    /// Spans matching the query.
    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>>;

    /// Change events in the range, optionally for one service.
    async fn changes(&self, range: TimeRange, service: Option<&str>) -> Result<Vec<ChangeEvent>>;
}
