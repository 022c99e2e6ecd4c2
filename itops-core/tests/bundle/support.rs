//! Shared fixtures: instants, ranges, queries and a small mixed index.

use chrono::{DateTime, Duration, TimeZone, Utc};
use itops_core::telemetry::{
    ChangeEvent, LogLevel, LogQuery, LogRecord, MetricQuery, Span, SpanQuery, SpanStatus,
    TelemetryIndex, TimeRange,
};

/// 2024-03-01T12:00:00Z plus `secs` seconds.
pub(crate) fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap() + Duration::seconds(secs)
}

pub(crate) fn range(start: i64, end: i64) -> TimeRange {
    TimeRange::new(t(start), t(end)).unwrap()
}

/// A range that covers everything the fixtures hold.
pub(crate) fn all() -> TimeRange {
    range(-1_000_000, 1_000_000)
}

pub(crate) fn metric_query(range: TimeRange) -> MetricQuery {
    MetricQuery {
        range,
        service: None,
        metric: None,
    }
}

pub(crate) fn log_query(range: TimeRange) -> LogQuery {
    LogQuery {
        range,
        service: None,
        contains: None,
        min_level: None,
        limit: usize::MAX,
    }
}

pub(crate) fn span_query(range: TimeRange) -> SpanQuery {
    SpanQuery {
        range,
        service: None,
        trace_id: None,
        errors_only: false,
        limit: usize::MAX,
    }
}

pub(crate) fn log(at: i64, service: &str, level: Option<LogLevel>, message: &str) -> LogRecord {
    LogRecord {
        at: t(at),
        service: service.into(),
        message: message.into(),
        level,
        trace_id: None,
        span_id: None,
    }
}

pub(crate) fn span(trace: &str, id: &str, parent: Option<&str>, service: &str, at: i64) -> Span {
    Span {
        trace_id: trace.into(),
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        service: service.into(),
        operation: format!("{service}.handle"),
        start: t(at),
        duration_ns: 1_500_000,
        status: SpanStatus::Ok,
    }
}

pub(crate) fn change(at: i64, service: &str, kind: &str) -> ChangeEvent {
    ChangeEvent {
        at: t(at),
        service: service.into(),
        kind: kind.into(),
        description: format!("{kind} of {service}"),
        version: (kind == "deploy").then(|| "v2.3.1".into()),
        actor: Some("ci-bot".into()),
    }
}

/// Three services, every signal, some of it added out of order.
pub(crate) fn sample_index() -> TelemetryIndex {
    let mut index = TelemetryIndex::new();
    for i in 0..10 {
        index.add_metric("api", "cpu", t(i * 10), 0.1 * i as f64);
        index.add_metric("api", "latency_p99", t(i * 10), 120.0 + i as f64);
        index.add_metric("db", "cpu", t(i * 10 + 5), 0.5);
    }
    index.add_metric("api", "cpu", t(-10), 0.05);
    index.add_log(log(3, "api", Some(LogLevel::Info), "GET /cart 200"));
    index.add_log(log(
        1,
        "db",
        Some(LogLevel::Error),
        "Connection pool exhausted",
    ));
    index.add_log(log(
        7,
        "api",
        Some(LogLevel::Error),
        "upstream db TIMEOUT after 5s",
    ));
    index.add_log(log(7, "db", Some(LogLevel::Warn), "slow query: 2.1s"));
    index.add_log(log(9, "queue", None, "consumer lag 1200"));
    let mut failed = span("t1", "s2", Some("s1"), "db", 2);
    failed.status = SpanStatus::Error;
    index.add_span(span("t1", "s1", None, "api", 1));
    index.add_span(failed);
    index.add_span(span("t2", "s3", None, "api", 0));
    index.add_change(change(50, "db", "config"));
    index.add_change(change(-5, "api", "deploy"));
    index
}

/// A bundle directory holding the given files.
pub(crate) fn bundle_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

pub(crate) fn strict() -> itops_core::telemetry::bundle::LoadOptions {
    itops_core::telemetry::bundle::LoadOptions { lenient: false }
}

pub(crate) fn lenient() -> itops_core::telemetry::bundle::LoadOptions {
    itops_core::telemetry::bundle::LoadOptions { lenient: true }
}
