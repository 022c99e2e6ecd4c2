//! index → write → load → the same answers to every query.

use chrono::Duration;
use itops_core::telemetry::bundle::{load_bundle, write_bundle};
use itops_core::telemetry::{LogLevel, SpanStatus, TelemetryIndex, TimeRange};

use crate::support::*;

fn assert_same_answers(a: &TelemetryIndex, b: &TelemetryIndex, ranges: &[TimeRange]) {
    assert_eq!(a.services(), b.services());
    assert_eq!(a.time_bounds(), b.time_bounds());
    assert_eq!(a.counts(), b.counts());
    for &range in ranges {
        assert_eq!(
            a.metrics(&metric_query(range)),
            b.metrics(&metric_query(range))
        );
        assert_eq!(a.logs(&log_query(range)), b.logs(&log_query(range)));
        assert_eq!(a.spans(&span_query(range)), b.spans(&span_query(range)));
        assert_eq!(a.changes(range, None), b.changes(range, None));
        for service in a.services() {
            let mut logs = log_query(range);
            logs.service = Some(service.clone());
            logs.min_level = Some(LogLevel::Warn);
            assert_eq!(a.logs(&logs), b.logs(&logs));
            let mut spans = span_query(range);
            spans.service = Some(service.clone());
            assert_eq!(a.spans(&spans), b.spans(&spans));
            assert_eq!(a.service_counts(&service), b.service_counts(&service));
        }
    }
}

#[test]
fn sample_index_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let original = sample_index();
    write_bundle(dir.path(), &original).unwrap();
    let loaded = load_bundle(dir.path(), &strict()).unwrap().into_index();
    assert_same_answers(&original, &loaded, &[all(), range(0, 50), range(5, 6)]);
}

#[test]
fn awkward_values_round_trip_exactly() {
    let mut index = TelemetryIndex::new();
    let nanos = |n: i64| t(0) + Duration::nanoseconds(n);
    let values = [
        0.1 + 0.2,
        -0.0,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        1e-300,
        123_456_789.123_456_79,
        std::f64::consts::PI,
        5e-324,
    ];
    for (i, value) in values.iter().enumerate() {
        index.add_metric(
            "svc, with comma",
            "metric \"quoted\"",
            nanos(i as i64),
            *value,
        );
    }
    index
        .add_log(LogRecordBuilder::new(nanos(7), "api", "multi\nline \"quoted\" ✓ message").into());
    let mut odd = span("trace-\u{1F600}", "s1", Some("root"), "api", 0);
    odd.start = nanos(123_456_789);
    odd.duration_ns = u64::MAX;
    odd.status = SpanStatus::Unset;
    index.add_span(odd);
    index.add_change(change(1, "api", "deploy"));
    let mut early = change(2, "db", "config");
    early.at = chrono::DateTime::from_timestamp(-86_400 * 365 * 50, 1).unwrap();
    early.version = None;
    early.actor = None;
    index.add_change(early);

    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &index).unwrap();
    let loaded = load_bundle(dir.path(), &strict()).unwrap().into_index();
    assert_same_answers(
        &index,
        &loaded,
        &[
            all(),
            TimeRange::new(
                chrono::DateTime::from_timestamp(-86_400 * 365 * 100, 0).unwrap(),
                t(10),
            )
            .unwrap(),
        ],
    );
    let points = &loaded.metrics(&metric_query(all()))[0].points;
    for (point, value) in points.iter().zip(values) {
        assert_eq!(point.value.to_bits(), value.to_bits());
    }
}

#[test]
fn a_larger_generated_index_round_trips_and_writing_twice_replaces() {
    let mut index = TelemetryIndex::new();
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..3_000 {
        let service = ["api", "cart", "db", "queue"][rng.usize(..4)];
        let at = t(rng.i64(0..600)) + Duration::nanoseconds(rng.i64(0..1_000_000_000));
        match i % 4 {
            0 | 1 => index.add_metric(
                service,
                ["cpu", "rps"][rng.usize(..2)],
                at,
                rng.f64() * 100.0,
            ),
            2 => index.add_log(
                LogRecordBuilder::new(at, service, &format!("event {i}"))
                    .level([None, Some(LogLevel::Info), Some(LogLevel::Error)][rng.usize(..3)])
                    .into(),
            ),
            _ => {
                let mut s = span(
                    &format!("t{}", rng.usize(..50)),
                    &format!("s{i}"),
                    None,
                    service,
                    0,
                );
                s.start = at;
                s.status = if rng.bool() {
                    SpanStatus::Ok
                } else {
                    SpanStatus::Error
                };
                index.add_span(s);
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &sample_index()).unwrap();
    write_bundle(dir.path(), &index).unwrap();
    let loaded = load_bundle(dir.path(), &strict()).unwrap().into_index();
    assert_same_answers(&index, &loaded, &[all(), range(100, 200), range(599, 600)]);
}

/// A log record with the fields tests vary.
struct LogRecordBuilder(itops_core::telemetry::LogRecord);

impl LogRecordBuilder {
    fn new(at: chrono::DateTime<chrono::Utc>, service: &str, message: &str) -> Self {
        let mut record = log(0, service, None, message);
        record.at = at;
        record.trace_id = Some("trace-1".into());
        Self(record)
    }

    fn level(mut self, level: Option<LogLevel>) -> Self {
        self.0.level = level;
        self
    }
}

impl From<LogRecordBuilder> for itops_core::telemetry::LogRecord {
    fn from(builder: LogRecordBuilder) -> Self {
        builder.0
    }
}
