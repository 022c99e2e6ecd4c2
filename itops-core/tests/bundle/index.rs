//! Index queries: filters, half-open ranges, limits, order under unordered adds.

use itops_core::telemetry::{LogLevel, TelemetryCounts, TelemetryIndex, TelemetrySource};

use crate::support::*;

#[test]
fn empty_index_answers_with_nothing() {
    let index = TelemetryIndex::new();
    assert!(index.services().is_empty());
    assert_eq!(index.time_bounds(), None);
    assert!(index.metrics(&metric_query(all())).is_empty());
    assert!(index.logs(&log_query(all())).is_empty());
    assert!(index.spans(&span_query(all())).is_empty());
    assert!(index.changes(all(), None).is_empty());
    assert_eq!(index.counts(), TelemetryCounts::default());
}

#[test]
fn services_and_bounds_cover_every_signal() {
    let index = sample_index();
    assert_eq!(index.services(), ["api", "db", "queue"]);
    let bounds = index.time_bounds().unwrap();
    assert_eq!(bounds.start, t(-10));
    assert_eq!(bounds.end, t(95) + chrono::Duration::nanoseconds(1));
    assert_eq!(
        index.counts(),
        TelemetryCounts {
            services: 3,
            series: 3,
            metric_points: 31,
            logs: 5,
            spans: 3,
            changes: 2,
        }
    );
}

#[test]
fn metrics_filter_by_service_and_metric_and_sort_series() {
    let index = sample_index();
    let all_series = index.metrics(&metric_query(all()));
    let names: Vec<_> = all_series
        .iter()
        .map(|s| (s.service.as_str(), s.metric.as_str()))
        .collect();
    assert_eq!(
        names,
        [("api", "cpu"), ("api", "latency_p99"), ("db", "cpu")]
    );

    let mut query = metric_query(all());
    query.metric = Some("cpu".into());
    assert_eq!(index.metrics(&query).len(), 2);
    query.service = Some("db".into());
    let db = index.metrics(&query);
    assert_eq!(db.len(), 1);
    assert_eq!(db[0].points.len(), 10);
    query.service = Some("nope".into());
    assert!(index.metrics(&query).is_empty());
    query.service = None;
    query.metric = Some("nope".into());
    assert!(index.metrics(&query).is_empty());
}

#[test]
fn metric_ranges_are_half_open_and_points_oldest_first() {
    let index = sample_index();
    let mut query = metric_query(range(0, 30));
    query.service = Some("api".into());
    query.metric = Some("cpu".into());
    let series = index.metrics(&query);
    let times: Vec<_> = series[0].points.iter().map(|p| p.at).collect();
    assert_eq!(times, [t(0), t(10), t(20)]);

    query.range = range(-10, 1);
    let times: Vec<_> = index.metrics(&query)[0]
        .points
        .iter()
        .map(|p| p.at)
        .collect();
    assert_eq!(times, [t(-10), t(0)], "the late sample is in place");

    query.range = range(1000, 2000);
    assert!(
        index.metrics(&query).is_empty(),
        "no points in range, no series"
    );
}

#[test]
fn logs_merge_services_in_time_order() {
    let index = sample_index();
    let logs = index.logs(&log_query(all()));
    let order: Vec<_> = logs.iter().map(|l| (l.at, l.service.as_str())).collect();
    assert_eq!(
        order,
        [
            (t(1), "db"),
            (t(3), "api"),
            (t(7), "api"),
            (t(7), "db"),
            (t(9), "queue")
        ]
    );
}

#[test]
fn log_filters_contains_level_service_limit() {
    let index = sample_index();
    let mut query = log_query(all());
    query.contains = Some("timeout".into());
    let found = index.logs(&query);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, "upstream db TIMEOUT after 5s");

    let mut query = log_query(all());
    query.min_level = Some(LogLevel::Warn);
    let found: Vec<_> = index.logs(&query).into_iter().map(|l| l.at).collect();
    assert_eq!(found, [t(1), t(7), t(7)], "unknown level is left out");

    let mut query = log_query(all());
    query.service = Some("db".into());
    query.limit = 1;
    let found = index.logs(&query);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, "Connection pool exhausted");

    let mut query = log_query(range(3, 7));
    query.limit = 10;
    assert_eq!(index.logs(&query).len(), 1, "end is exclusive");

    let mut query = log_query(all());
    query.limit = 0;
    assert!(index.logs(&query).is_empty());
}

#[test]
fn contains_is_case_insensitive_beyond_ascii() {
    let mut index = TelemetryIndex::new();
    index.add_log(log(0, "api", None, "Ärger im Größenfeld"));
    let mut query = log_query(all());
    query.contains = Some("ärger IM grö".into());
    assert_eq!(index.logs(&query).len(), 1);
    query.contains = Some("".into());
    assert_eq!(index.logs(&query).len(), 1);
}

#[test]
fn span_filters_trace_errors_service_limit() {
    let index = sample_index();
    let ids = |spans: Vec<itops_core::telemetry::Span>| -> Vec<String> {
        spans.into_iter().map(|s| s.span_id).collect()
    };
    assert_eq!(ids(index.spans(&span_query(all()))), ["s3", "s1", "s2"]);

    let mut query = span_query(all());
    query.trace_id = Some("t1".into());
    assert_eq!(ids(index.spans(&query)), ["s1", "s2"]);
    query.errors_only = true;
    assert_eq!(ids(index.spans(&query)), ["s2"]);
    query.service = Some("api".into());
    assert!(index.spans(&query).is_empty());
    query.trace_id = Some("unknown".into());
    query.errors_only = false;
    assert!(index.spans(&query).is_empty());

    let mut query = span_query(all());
    query.service = Some("api".into());
    assert_eq!(ids(index.spans(&query)), ["s3", "s1"]);
    query.limit = 1;
    assert_eq!(ids(index.spans(&query)), ["s3"]);

    let mut query = span_query(range(1, 2));
    assert_eq!(ids(index.spans(&query)), ["s1"]);
    query.trace_id = Some("t1".into());
    assert_eq!(
        ids(index.spans(&query)),
        ["s1"],
        "trace lookups honour the range"
    );
}

#[test]
fn changes_by_range_and_service() {
    let index = sample_index();
    let kinds = |events: Vec<itops_core::telemetry::ChangeEvent>| -> Vec<String> {
        events.into_iter().map(|e| e.kind).collect()
    };
    assert_eq!(kinds(index.changes(all(), None)), ["deploy", "config"]);
    assert_eq!(kinds(index.changes(all(), Some("db"))), ["config"]);
    assert!(index.changes(range(-5, 50), Some("db")).is_empty());
    assert!(index.changes(all(), Some("nope")).is_empty());
}

#[test]
fn adds_in_reverse_order_still_query_in_order() {
    let mut index = TelemetryIndex::new();
    for i in (0..200).rev() {
        index.add_metric("api", "rps", t(i), i as f64);
        index.add_log(log(i, "api", None, &format!("line {i}")));
        index.add_span(span("t", &format!("s{i}"), None, "api", i));
        index.add_change(change(i, "api", "flag"));
    }
    let points = &index.metrics(&metric_query(all()))[0].points;
    assert!(points.windows(2).all(|w| w[0].at < w[1].at));
    assert!(index
        .logs(&log_query(all()))
        .windows(2)
        .all(|w| w[0].at < w[1].at));
    assert!(index
        .spans(&span_query(all()))
        .windows(2)
        .all(|w| w[0].start < w[1].start));
    assert!(index
        .changes(all(), None)
        .windows(2)
        .all(|w| w[0].at < w[1].at));
}

#[tokio::test]
async fn telemetry_source_delegates_to_the_index() {
    let index = sample_index();
    let source: &dyn TelemetrySource = &index;
    assert_eq!(source.services().await.unwrap(), index.services());
    assert_eq!(source.time_bounds().await.unwrap(), index.time_bounds());
    assert_eq!(
        source.metrics(&metric_query(all())).await.unwrap(),
        index.metrics(&metric_query(all()))
    );
    assert_eq!(
        source.logs(&log_query(all())).await.unwrap(),
        index.logs(&log_query(all()))
    );
    assert_eq!(
        source.spans(&span_query(all())).await.unwrap(),
        index.spans(&span_query(all()))
    );
    assert_eq!(
        source.changes(all(), Some("db")).await.unwrap(),
        index.changes(all(), Some("db"))
    );
}
