//! The store: retention, caps, counts, queries through `TelemetrySource`, concurrency.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};
use itops_core::telemetry::{
    LogLevel, LogQuery, LogRecord, MetricPoint, MetricQuery, MetricSeries, Span, SpanQuery,
    SpanStatus, TimeRange,
};
use itops_core::TelemetrySource;
use itops_stack::{OtlpStore, OtlpStoreConfig};

fn span(at: DateTime<Utc>, n: u64) -> Span {
    Span {
        trace_id: format!("{n:032x}"),
        span_id: format!("{n:016x}"),
        parent_span_id: None,
        service: if n.is_multiple_of(2) {
            "cart"
        } else {
            "frontend"
        }
        .into(),
        operation: "GET /".into(),
        start: at,
        duration_ns: 1_000_000,
        status: SpanStatus::Ok,
    }
}

fn log(at: DateTime<Utc>) -> LogRecord {
    LogRecord {
        at,
        service: "cart".into(),
        message: format!("line at {at}"),
        level: Some(LogLevel::Info),
        trace_id: None,
        span_id: None,
    }
}

fn sample(at: DateTime<Utc>, value: f64) -> MetricSeries {
    MetricSeries {
        service: "cart".into(),
        metric: "cpu".into(),
        points: vec![MetricPoint { at, value }],
    }
}

fn everything() -> TimeRange {
    TimeRange::new(DateTime::UNIX_EPOCH, Utc::now() + Duration::days(400)).unwrap()
}

fn span_query() -> SpanQuery {
    SpanQuery {
        range: everything(),
        service: None,
        trace_id: None,
        errors_only: false,
        limit: usize::MAX,
    }
}

/// A minute boundary ten minutes ago: live data, behind the clock.
fn recent() -> DateTime<Utc> {
    (Utc::now() - Duration::minutes(10))
        .duration_trunc(Duration::minutes(1))
        .unwrap()
}

fn hour_long() -> OtlpStoreConfig {
    OtlpStoreConfig {
        retention: StdDuration::from_secs(3600),
        ..OtlpStoreConfig::default()
    }
}

#[tokio::test]
async fn retention_drops_what_is_older_than_the_window_before_the_newest_data() {
    let store = OtlpStore::new(hour_long());
    let end = recent();
    let start = end - Duration::hours(3);
    for minute in 0..=180 {
        let at = start + Duration::minutes(minute);
        store.ingest_spans(vec![span(at, minute as u64)]);
        store.ingest_logs(vec![log(at)]);
        store.ingest_metrics(vec![sample(at, minute as f64)]);
    }
    let bounds = store.time_bounds().await.unwrap().unwrap();
    assert_eq!(
        bounds.end,
        end + Duration::nanoseconds(1),
        "the newest is kept"
    );
    // Pruned to the window once the oldest is an eighth of it past: at most 67.5 minutes.
    assert!(
        bounds.start >= end - Duration::seconds(3600 + 450),
        "{bounds:?}"
    );
    assert!(bounds.start <= end - Duration::hours(1), "{bounds:?}");
    let stats = store.stats();
    assert_eq!(stats.ingested_spans, 181);
    assert_eq!(stats.spans as u64 + stats.dropped_spans, 181);
    assert_eq!(stats.logs as u64 + stats.dropped_logs, 181);
    assert_eq!(
        stats.metric_points as u64 + stats.dropped_metric_points,
        181
    );
    assert!(stats.prunes >= 10, "{stats:?}");
    let spans = store.spans(&span_query()).await.unwrap();
    assert_eq!(spans.len(), stats.spans);
    assert_eq!(spans.last().unwrap().start, end);

    // Data already older than the window is dropped as it arrives.
    store.ingest_spans(vec![span(end - Duration::hours(2), 999)]);
    let after = store.stats();
    assert_eq!(
        (after.spans, after.dropped_spans),
        (stats.spans, stats.dropped_spans + 1)
    );
}

#[tokio::test]
async fn a_client_clock_far_ahead_cannot_push_the_rest_out() {
    let store = OtlpStore::new(hour_long());
    let end = recent();
    let batch: Vec<Span> = (0..30)
        .map(|m| span(end - Duration::minutes(m), m as u64))
        .collect();
    store.ingest_spans(batch);
    store.ingest_spans(vec![span(Utc::now() + Duration::days(1), 1_000)]);
    let spans = store.spans(&span_query()).await.unwrap();
    assert_eq!(
        spans.len(),
        31,
        "the window follows the clock (+5 min), not the future span"
    );
}

#[tokio::test]
async fn caps_drop_the_oldest_first_and_keep_the_newest() {
    let store = OtlpStore::new(OtlpStoreConfig {
        max_spans: 100,
        max_logs: 50,
        max_metric_points: 20,
        ..OtlpStoreConfig::default()
    });
    let start = recent() - Duration::minutes(5);
    for batch in 0..25 {
        let ats: Vec<DateTime<Utc>> = (0..10)
            .map(|i| start + Duration::seconds(batch * 10 + i))
            .collect();
        store.ingest_spans(
            ats.iter()
                .enumerate()
                .map(|(i, &at)| span(at, i as u64))
                .collect(),
        );
        store.ingest_logs(ats.iter().map(|&at| log(at)).collect());
        store.ingest_metrics(ats.iter().map(|&at| sample(at, 1.0)).collect());
    }
    let newest = start + Duration::seconds(249);
    let stats = store.stats();
    assert!((90..=100).contains(&stats.spans), "{stats:?}");
    assert!((45..=50).contains(&stats.logs), "{stats:?}");
    assert!((18..=20).contains(&stats.metric_points), "{stats:?}");
    assert_eq!(stats.spans as u64 + stats.dropped_spans, 250);
    assert_eq!(stats.logs as u64 + stats.dropped_logs, 250);
    assert_eq!(
        stats.metric_points as u64 + stats.dropped_metric_points,
        250
    );
    let spans = store.spans(&span_query()).await.unwrap();
    assert_eq!(spans.last().unwrap().start, newest);
    assert_eq!(
        spans.first().unwrap().start,
        newest - Duration::seconds(stats.spans as i64 - 1)
    );
    let logs = store
        .logs(&LogQuery {
            range: everything(),
            service: None,
            contains: None,
            min_level: None,
            limit: usize::MAX,
        })
        .await
        .unwrap();
    assert_eq!(logs.last().unwrap().at, newest);
    let series = store
        .metrics(&MetricQuery {
            range: everything(),
            service: Some("cart".into()),
            metric: Some("cpu".into()),
        })
        .await
        .unwrap();
    assert_eq!(series[0].points.last().unwrap().at, newest);
}

#[tokio::test]
async fn the_store_answers_as_a_telemetry_source() {
    let store = OtlpStore::new(OtlpStoreConfig::default());
    assert_eq!(store.time_bounds().await.unwrap(), None);
    let at = recent();
    store.ingest_spans(vec![span(at, 1), span(at, 2)]);
    store.ingest_logs(vec![log(at)]);
    store.ingest_metrics(vec![sample(at, 0.5)]);
    assert_eq!(store.services().await.unwrap(), vec!["cart", "frontend"]);
    let mut query = span_query();
    query.service = Some("frontend".into());
    assert_eq!(store.spans(&query).await.unwrap().len(), 1);
    assert!(store.changes(everything(), None).await.unwrap().is_empty());
    let stats = store.stats();
    assert_eq!(
        (stats.spans, stats.logs, stats.metric_points, stats.series),
        (2, 1, 1, 1)
    );
    assert_eq!((stats.services, stats.prunes), (2, 0));
    assert_eq!(store.snapshot().counts().spans, 2);
}

#[test]
fn ingest_and_queries_run_side_by_side() {
    let store = Arc::new(OtlpStore::new(OtlpStoreConfig {
        max_spans: 5_000,
        ..OtlpStoreConfig::default()
    }));
    let start = recent() - Duration::minutes(30);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for batch in 0..50 {
                    let spans = (0..40)
                        .map(|i| {
                            span(
                                start + Duration::milliseconds(batch * 40 + i),
                                w * 10_000 + i as u64,
                            )
                        })
                        .collect();
                    store.ingest_spans(spans);
                }
            })
        })
        .collect();
    let reader = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            let mut seen = 0;
            for _ in 0..50 {
                seen = seen.max(store.stats().spans);
            }
            seen
        })
    };
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(reader.join().unwrap() <= 8_000);
    let stats = store.stats();
    assert_eq!(stats.ingested_spans, 8_000);
    assert!(stats.spans <= 5_000, "{stats:?}");
    assert_eq!(stats.spans as u64 + stats.dropped_spans, 8_000);
}
