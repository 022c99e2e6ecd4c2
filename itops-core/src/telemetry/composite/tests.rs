#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::error::Error;
use crate::telemetry::{LogLevel, SpanStatus, TelemetryIndex};

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap() + Duration::minutes(minute)
}

fn range() -> TimeRange {
    TimeRange::new(t(-60), t(60)).unwrap()
}

fn log(service: &str, minute: i64, message: &str) -> LogRecord {
    LogRecord {
        at: t(minute),
        service: service.into(),
        message: message.into(),
        level: Some(LogLevel::Error),
        trace_id: None,
        span_id: None,
    }
}

/// A backend that is down.
struct Down;

#[async_trait]
impl TelemetrySource for Down {
    async fn services(&self) -> Result<Vec<String>> {
        Err(down())
    }
    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Err(down())
    }
    async fn metrics(&self, _: &MetricQuery) -> Result<Vec<MetricSeries>> {
        Err(down())
    }
    async fn logs(&self, _: &LogQuery) -> Result<Vec<LogRecord>> {
        Err(down())
    }
    async fn spans(&self, _: &SpanQuery) -> Result<Vec<Span>> {
        Err(down())
    }
    async fn changes(&self, _: TimeRange, _: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Err(down())
    }
}

fn down() -> Error {
    Error::Invalid {
        field: "backend".into(),
        message: "unreachable".into(),
    }
}

/// Metrics of cart and checkout in one index; logs of cart (and a metric the composite
/// must not read from it) in another; a span of payments in a third.
fn members() -> (TelemetryIndex, TelemetryIndex, TelemetryIndex) {
    let mut metrics = TelemetryIndex::new();
    for m in -10..10 {
        metrics.add_metric("cart", "cpu_percent", t(m), 40.0);
        metrics.add_metric("checkout", "cpu_percent", t(m), 20.0);
    }
    let mut logs = TelemetryIndex::new();
    logs.add_log(log("cart", 3, "second"));
    logs.add_log(log("cart", 1, "first"));
    logs.add_log(log("cart", 5, "third"));
    logs.add_metric("cart", "not_from_here", t(0), 1.0);
    let mut traces = TelemetryIndex::new();
    traces.add_span(Span {
        trace_id: "t1".into(),
        span_id: "s1".into(),
        parent_span_id: None,
        service: "payments".into(),
        operation: "charge".into(),
        start: t(2),
        duration_ns: 5_000_000,
        status: SpanStatus::Error,
    });
    (metrics, logs, traces)
}

fn composite() -> CompositeSource {
    let (metrics, logs, traces) = members();
    CompositeSource::new()
        .with("prometheus", Signals::METRICS, Arc::new(metrics))
        .with("loki", Signals::LOGS, Arc::new(logs))
        .with("tempo", Signals::TRACES, Arc::new(traces))
}

#[tokio::test]
async fn each_signal_comes_from_the_members_that_serve_it() {
    let source = composite();
    let series = source
        .metrics(&MetricQuery {
            range: range(),
            service: None,
            metric: None,
        })
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = series
        .iter()
        .map(|s| (s.service.as_str(), s.metric.as_str()))
        .collect();
    // The log member's stray metric is not read: it does not serve metrics.
    assert_eq!(
        names,
        [("cart", "cpu_percent"), ("checkout", "cpu_percent")]
    );

    let logs = source
        .logs(&LogQuery {
            range: range(),
            service: Some("cart".into()),
            contains: None,
            min_level: None,
            limit: 2,
        })
        .await
        .unwrap();
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(
        messages,
        ["first", "second"],
        "oldest first, at most the limit"
    );

    let spans = source
        .spans(&SpanQuery {
            range: range(),
            service: None,
            trace_id: None,
            errors_only: true,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].service, "payments");

    assert_eq!(
        source.services().await.unwrap(),
        ["cart", "checkout", "payments"],
        "every member's services, once each"
    );
    let bounds = source.time_bounds().await.unwrap().unwrap();
    assert_eq!(bounds.start, t(-10));
    assert!(bounds.end > t(9));
    assert!(source.changes(range(), None).await.unwrap().is_empty());
    assert_eq!(
        source.signals().words(),
        ["metrics", "logs", "traces"],
        "no member serves changes"
    );
}

#[tokio::test]
async fn a_member_that_is_down_leaves_the_others_answer() {
    let (metrics, _, _) = members();
    let source = CompositeSource::new()
        .with("victoria", Signals::METRICS, Arc::new(Down))
        .with("prometheus", Signals::METRICS, Arc::new(metrics));
    let series = source
        .metrics(&MetricQuery {
            range: range(),
            service: Some("cart".into()),
            metric: None,
        })
        .await
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(source.services().await.unwrap(), ["cart", "checkout"]);
}

#[tokio::test]
async fn every_member_of_a_signal_down_is_an_error_and_no_member_is_no_data() {
    let source = CompositeSource::new().with("loki", Signals::LOGS, Arc::new(Down));
    let error = source
        .logs(&LogQuery {
            range: range(),
            service: None,
            contains: None,
            min_level: None,
            limit: 10,
        })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unreachable"), "{error}");
    // Nobody serves metrics: an empty answer, not an error.
    let series = source
        .metrics(&MetricQuery {
            range: range(),
            service: None,
            metric: None,
        })
        .await
        .unwrap();
    assert!(series.is_empty());
}
