//! End to end: traces exported as OTLP requests, decoded, ingested, and ranked. The
//! service whose spans turned slow and failing comes first.

use chrono::{DateTime, Duration, DurationRound, Utc};
use itops_agents::analysis::ranking::{rank_anomalies, RankingOptions};
use itops_stack::otlp::{decode_traces, DEFAULT_MAX_BODY_BYTES};
use itops_stack::{OtlpStore, OtlpStoreConfig};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::support::*;

/// One trace every this many seconds, for two hours; the fault starts at minute 100.
const EVERY_SECONDS: i64 = 5;
const MINUTES: i64 = 120;
const FAULT_MINUTE: i64 = 100;

/// A deterministic wobble in [-1, 1].
fn wobble(i: i64, salt: i64) -> f64 {
    (((i * 7919 + salt * 104_729) % 17) as f64 - 8.0) / 8.0
}

/// The spans of trace `i` by service: frontend calls cart (which calls catalog) and
/// payments. From the fault on, cart's own time grows twentyfold and 40 % of its calls
/// fail (and with them the frontend's request).
fn trace(i: i64, t0: DateTime<Utc>) -> Vec<(&'static str, Span)> {
    let start = t0 + Duration::seconds(i * EVERY_SECONDS);
    let faulty = i * EVERY_SECONDS >= FAULT_MINUTE * 60;
    let cart_fails = faulty && i % 5 < 2;
    let catalog_ms = (8.0 + 2.0 * wobble(i, 1)) as u64;
    let cart_own_ms = if faulty {
        250.0 + 30.0 * wobble(i, 2)
    } else {
        12.0 + 3.0 * wobble(i, 2)
    } as u64;
    let payments_ms = (25.0 + 4.0 * wobble(i, 3)) as u64;
    let cart_ms = cart_own_ms + catalog_ms;
    let frontend_ms = 5 + cart_ms + payments_ms;
    let id = |k: u64| i as u64 * 10 + k;
    let spec = |k: u64,
                parent: Option<u64>,
                name: &'static str,
                offset_ms: i64,
                duration_ms: u64,
                error: bool| SpanSpec {
        trace: i as u64,
        id: id(k),
        parent: parent.map(id),
        name,
        start: start + Duration::milliseconds(offset_ms),
        duration_ms,
        error,
    };
    vec![
        (
            "frontend",
            span(&spec(1, None, "GET /checkout", 0, frontend_ms, cart_fails)),
        ),
        (
            "cart",
            span(&spec(2, Some(1), "POST /cart", 2, cart_ms, cart_fails)),
        ),
        (
            "catalog",
            span(&spec(3, Some(2), "GET /item", 4, catalog_ms, false)),
        ),
        (
            "payments",
            span(&spec(
                4,
                Some(1),
                "charge",
                3 + cart_ms as i64,
                payments_ms,
                false,
            )),
        ),
    ]
}

#[tokio::test]
async fn a_service_whose_ingested_spans_turned_slow_and_failing_ranks_first() {
    let t0 = (Utc::now() - Duration::hours(3))
        .duration_trunc(Duration::minutes(1))
        .unwrap();
    let store = OtlpStore::new(OtlpStoreConfig::default());
    let traces_total = MINUTES * 60 / EVERY_SECONDS;
    let mut accepted = 0;
    // Requests of 50 traces, every other one gzipped, as an exporter's batches.
    for (n, first) in (0..traces_total).step_by(50).enumerate() {
        let mut by_service: Vec<(Option<&str>, Vec<Span>)> =
            ["frontend", "cart", "catalog", "payments"]
                .into_iter()
                .map(|s| (Some(s), Vec::new()))
                .collect();
        for i in first..(first + 50).min(traces_total) {
            for (service, span) in trace(i, t0) {
                if let Some((_, spans)) = by_service.iter_mut().find(|(s, _)| *s == Some(service)) {
                    spans.push(span);
                }
            }
        }
        let body = traces(by_service).encode_to_vec();
        let decoded = if n % 2 == 0 {
            decode_traces(&body, PROTOBUF, DEFAULT_MAX_BODY_BYTES)
        } else {
            decode_traces(&gzip(&body), PROTOBUF_GZIP, DEFAULT_MAX_BODY_BYTES)
        }
        .unwrap();
        assert_eq!(decoded.rejected, 0);
        accepted += decoded.accepted;
        store.ingest_spans(decoded.items);
    }
    assert_eq!(accepted, traces_total as u64 * 4);
    assert_eq!(store.stats().spans as u64, accepted);

    let options = RankingOptions {
        at: Some(t0 + Duration::minutes(FAULT_MINUTE + 5)),
        max_candidates: Some(3),
    };
    let ranking = rank_anomalies(&store, &options).await.unwrap();
    let first = ranking.candidates.first().map(|c| c.service.as_str());
    assert_eq!(first, Some("cart"), "{ranking:#?}");
}
