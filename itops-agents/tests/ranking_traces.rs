//! What traces tell the ranking: delay on the way to a service, from its callers' spans (the
//! time a caller spends around a call grows while the callee's own spans do not), traces
//! that cover less time than the metrics, where requests from outside the traced system
//! enter it, and requests that stop making calls they used to make. Each test builds a small traced system.
#![allow(clippy::unwrap_used)]

mod ranking_support;

use chrono::{DateTime, Duration, Utc};
use itops_agents::analysis::ranking::AnomalyRanking;
use itops_core::telemetry::{Span, SpanStatus, TelemetryIndex};
use itops_core::FaultKind;
use ranking_support::{rank_at, t0, wobble};

const CALLEES: [&str; 4] = ["cart", "catalog", "currency", "payments"];

/// Minute metrics for `minutes`: every service's latency steady, the caller's (frontend)
/// rising from `fault` on, and, when `busy_caller`, the caller's cpu rising with it.
fn metrics(idx: &mut TelemetryIndex, minutes: i64, fault: DateTime<Utc>, busy_caller: bool) {
    for (k, service) in std::iter::once("frontend").chain(CALLEES).enumerate() {
        for i in 0..minutes {
            let at = t0() + Duration::minutes(i);
            let hit = service == "frontend" && at >= fault;
            let latency = if hit { 400.0 } else { 40.0 };
            idx.add_metric(service, "latency_p99_ms", at, latency + wobble(i, k as i64));
            let cpu = if hit && busy_caller { 70.0 } else { 30.0 };
            idx.add_metric(
                service,
                "cpu_usage_percent",
                at,
                cpu + wobble(i, k as i64 + 5),
            );
        }
    }
}

/// One request every 200 ms from `from` to `to`: frontend calls each callee in turn, each
/// call a client span of frontend's with the callee's server span under it; calls to `slow`
/// spend `delay_ms` more on the way from `fault` on, while its own span stays short.
fn traces(
    idx: &mut TelemetryIndex,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    fault: DateTime<Utc>,
    slow: &str,
    delay_ms: i64,
) {
    traces_with_a_far_callee(idx, from, to, fault, slow, delay_ms, ("", 0));
}

/// [`traces`], with the calls to `far.0` always `far.1` ms longer on the way (a callee in
/// another zone: that is how it always was).
fn traces_with_a_far_callee(
    idx: &mut TelemetryIndex,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    fault: DateTime<Utc>,
    slow: &str,
    delay_ms: i64,
    far: (&str, i64),
) {
    let mut n = 0_i64;
    let mut at = from;
    let ms = |v: i64| (v * 1_000_000) as u64;
    while at < to {
        let trace = format!("t{n}");
        let span = |id: String, parent: Option<String>, service: &str, start, duration_ns| Span {
            trace_id: trace.clone(),
            span_id: id,
            parent_span_id: parent,
            service: service.into(),
            operation: "call".into(),
            start,
            duration_ns,
            status: SpanStatus::Ok,
        };
        let mut offset = 1_i64;
        for (k, callee) in CALLEES.iter().enumerate() {
            let own = 3 + (n + k as i64) % 3;
            let around =
                2 + if *callee == slow && at >= fault {
                    delay_ms
                } else {
                    0
                } + if *callee == far.0 { far.1 } else { 0 };
            let client = at + Duration::milliseconds(offset);
            idx.add_span(span(
                format!("client{k}"),
                Some("root".into()),
                "frontend",
                client,
                ms(own + around),
            ));
            // Half the time in transit on the way there, half on the way back.
            idx.add_span(span(
                format!("server{k}"),
                Some(format!("client{k}")),
                callee,
                client + Duration::milliseconds(around / 2),
                ms(own),
            ));
            offset += own + around + 1;
        }
        idx.add_span(span("root".into(), None, "frontend", at, ms(offset + 1)));
        n += 1;
        at += Duration::milliseconds(200);
    }
}

fn first(ranking: &AnomalyRanking) -> Option<&str> {
    ranking.candidates.first().map(|c| c.service.as_str())
}

#[tokio::test]
async fn a_delay_shows_even_when_the_traces_begin_with_the_incident() {
    // Traces only from the fault on (nothing to compare each call with): calls to cart take
    // 250 ms longer on the way than the calls to every other service.
    let fault = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    metrics(&mut idx, 16, fault, false);
    traces(
        &mut idx,
        fault,
        fault + Duration::minutes(2),
        fault,
        "cart",
        250,
    );
    let ranking = rank_at(&idx, fault).await;
    assert_eq!(first(&ranking), Some("cart"), "{ranking:#?}");
    assert_eq!(ranking.candidates[0].fault, FaultKind::NetworkDelay);
}

#[tokio::test]
async fn traces_that_begin_at_the_metrics_onset_are_compared_from_their_own_change() {
    // Detected five minutes late. The minute metrics (the caller's latency and cpu) place
    // the onset at 10:00, where the spans kept begin; calls to cart take 300 ms longer on
    // the way from 12:20 (metrics can be a step or two off). Calls to payments always took
    // that long (it is far away). Split at 10:00, the traces have no baseline, and cart's
    // calls look like payments' always did; split where they change, only cart's grew.
    let onset = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    metrics(&mut idx, 16, onset, true);
    traces_with_a_far_callee(
        &mut idx,
        onset,
        onset + Duration::minutes(4),
        onset + Duration::seconds(140),
        "cart",
        300,
        ("payments", 300),
    );
    let ranking = rank_at(&idx, onset + Duration::minutes(5)).await;
    assert_eq!(first(&ranking), Some("cart"), "{ranking:#?}");
}

#[tokio::test]
async fn a_callee_singled_out_in_transit_is_named_even_when_its_caller_is_busy() {
    // The caller's own cpu rose too (time around its calls could be its own slowness), but
    // only the calls to payments grew, a hundredfold more than the others.
    let fault = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    metrics(&mut idx, 16, fault, true);
    traces(
        &mut idx,
        fault - Duration::minutes(2),
        fault + Duration::minutes(2),
        fault,
        "payments",
        500,
    );
    let ranking = rank_at(&idx, fault + Duration::minutes(5)).await;
    assert_eq!(first(&ranking), Some("payments"), "{ranking:#?}");
}

#[tokio::test]
async fn traces_that_end_before_the_onset_do_not_read_as_calls_stopping() {
    // The spans were kept only until just after the fault; the metrics show it a minute
    // later. That the record ends is no evidence that any service stopped.
    let fault = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    metrics(&mut idx, 16, fault + Duration::minutes(1), false);
    traces(
        &mut idx,
        fault - Duration::minutes(2),
        fault + Duration::seconds(20),
        fault,
        "none",
        0,
    );
    let ranking = rank_at(&idx, fault + Duration::minutes(5)).await;
    let text = serde_json::to_string(&ranking).unwrap();
    assert!(!text.contains("spans stopped"), "{text}");
    assert!(!text.contains("calls to it stopped"), "{text}");
    assert_eq!(first(&ranking), Some("frontend"), "{ranking:#?}");
}

#[tokio::test]
async fn a_probe_outside_the_traced_system_points_at_where_the_traces_begin() {
    // A synthetic probe (no spans, only its success ratio) sees most of its requests fail
    // from the fault on; frontend, where every trace begins, started using more cpu.
    // The probe's failures are frontend's, not the probe's own.
    let fault = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    metrics(&mut idx, 16, t0() + Duration::minutes(99), false);
    for i in 0..16 {
        let at = t0() + Duration::minutes(i);
        let hit = at >= fault;
        let success = if hit { 20.0 } else { 100.0 };
        idx.add_metric("probe", "success_rate_percent", at, success);
        let cpu = if hit { 370.0 } else { 300.0 };
        idx.add_metric("frontend", "cpu_usage_millicores", at, cpu + wobble(i, 11));
    }
    traces(
        &mut idx,
        fault - Duration::minutes(2),
        fault + Duration::minutes(2),
        fault,
        "none",
        0,
    );
    let ranking = rank_at(&idx, fault).await;
    assert_eq!(first(&ranking), Some("frontend"), "{ranking:#?}");
}

#[tokio::test]
async fn a_service_that_calls_other_things_than_before_is_where_it_changed() {
    // Frontend called cart on every request and catalog on every other one; from the
    // fault on (a release with a bug) it almost stops calling catalog and calls currency
    // instead. Its callees' own spans, its latency and its load are unchanged.
    let fault = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    metrics(&mut idx, 16, t0() + Duration::minutes(99), false);
    let ms = |v: u64| v * 1_000_000;
    for n in 0..1_200_i64 {
        let at = fault - Duration::minutes(2) + Duration::milliseconds(n * 200);
        let trace = format!("t{n}");
        let span = |id: &str, parent: Option<&str>, service: &str, offset: i64, ms: u64| Span {
            trace_id: trace.clone(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            service: service.into(),
            operation: "call".into(),
            start: at + Duration::milliseconds(offset),
            duration_ns: ms,
            status: SpanStatus::Ok,
        };
        idx.add_span(span("root", None, "frontend", 0, ms(20)));
        idx.add_span(span("c1", Some("root"), "frontend", 1, ms(6)));
        idx.add_span(span("s1", Some("c1"), "cart", 2, ms(4)));
        if n % 2 == 0 {
            let second = if at >= fault && n % 10 != 0 {
                "currency"
            } else {
                "catalog"
            };
            idx.add_span(span("c2", Some("root"), "frontend", 8, ms(6)));
            idx.add_span(span("s2", Some("c2"), second, 9, ms(4)));
        }
    }
    let ranking = rank_at(&idx, fault + Duration::minutes(1)).await;
    assert_eq!(first(&ranking), Some("frontend"), "{ranking:#?}");
    let text = serde_json::to_string(&ranking.candidates[0].evidence).unwrap();
    assert!(text.contains("the mix of its calls changed"), "{text}");
}

#[tokio::test]
async fn a_service_whose_requests_stop_making_a_call_while_nothing_fails_is_where_it_broke() {
    // The ad service looked up ads by category on every request. From the fault on (an
    // exception its code swallows) most of its requests return without the lookup; nothing
    // fails and its latency holds. Meanwhile checkout's network traffic rises by half and
    // its latency a little, which on their own would lead the ranking.
    let fault = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    for (k, service) in ["frontend", "ads", "checkout"].into_iter().enumerate() {
        for i in 0..16 {
            let at = t0() + Duration::minutes(i);
            let bytes = if service == "checkout" && at >= fault {
                7_500.0
            } else {
                5_000.0
            };
            idx.add_metric(
                service,
                "network_receive_bytes",
                at,
                bytes + 40.0 * wobble(i, k as i64),
            );
            let latency = if service == "checkout" && at >= fault {
                70.0
            } else {
                40.0
            };
            idx.add_metric(
                service,
                "latency_p99_ms",
                at,
                latency + wobble(i, k as i64 + 3),
            );
        }
    }
    let ms = |v: u64| v * 1_000_000;
    for n in 0..1_800_i64 {
        let at = fault - Duration::minutes(3) + Duration::milliseconds(n * 200);
        let trace = format!("t{n}");
        let span = |id: &str, parent: Option<&str>, service: &str, op: &str, ms: u64| Span {
            trace_id: trace.clone(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            service: service.into(),
            operation: op.into(),
            start: at,
            duration_ns: ms,
            status: SpanStatus::Ok,
        };
        idx.add_span(span("root", None, "frontend", "Home", ms(20)));
        idx.add_span(span("c1", Some("root"), "frontend", "GetAds", ms(8)));
        idx.add_span(span("s1", Some("c1"), "ads", "GetAds", ms(6)));
        if at < fault || n % 10 == 0 {
            idx.add_span(span("l1", Some("s1"), "ads", "AdsByCategory", ms(3)));
        }
        idx.add_span(span("c2", Some("root"), "frontend", "Checkout", ms(8)));
        idx.add_span(span("s2", Some("c2"), "checkout", "Checkout", ms(6)));
    }
    let ranking = rank_at(&idx, fault + Duration::minutes(1)).await;
    assert_eq!(first(&ranking), Some("ads"), "{ranking:#?}");
    let text = serde_json::to_string(&ranking.candidates[0].evidence).unwrap();
    assert!(
        text.contains("its GetAds requests stopped calling ads AdsByCategory"),
        "{text}"
    );
}

#[tokio::test]
async fn when_nothing_changed_from_an_onset_read_in_noise_the_detection_time_is_the_split() {
    // Traces only, kept for two minutes before the detection and a little over one after.
    // A minute and a half before the detection the ad service's own spans grew by half a
    // millisecond (a change point in a short record, but no trouble); from the detection
    // on, calls to catalog spend 300 ms more on the way. Compared from the earlier change,
    // the delayed calls are fewer than the others in the incident window and hide; from
    // the detection time they are all of it.
    let detected = t0() + Duration::minutes(10);
    let mut idx = TelemetryIndex::new();
    let ms = |v: f64| (v * 1_000_000.0) as u64;
    let mut at = detected - Duration::seconds(120);
    let mut n = 0_i64;
    while at < detected + Duration::seconds(70) {
        let trace = format!("t{n}");
        let span = |id: &str, parent: Option<&str>, service: &str, start, duration_ns| Span {
            trace_id: trace.clone(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            service: service.into(),
            operation: "call".into(),
            start,
            duration_ns,
            status: SpanStatus::Ok,
        };
        let ads_own = if at >= detected - Duration::seconds(90) {
            4.6
        } else {
            4.0
        } + 0.01 * wobble(n, 1);
        let catalog_around = if at >= detected { 302.0 } else { 2.0 };
        let calls = [
            ("ads", ads_own, 2.0),
            ("catalog", 3.0 + 0.01 * wobble(n, 2), catalog_around),
        ];
        let mut offset = 1.0;
        for (k, (callee, own, around)) in calls.iter().enumerate() {
            let client = at + Duration::microseconds((offset * 1000.0) as i64);
            let client_id = format!("client{k}");
            idx.add_span(span(
                &client_id,
                Some("root"),
                "frontend",
                client,
                ms(own + around),
            ));
            idx.add_span(span(
                &format!("server{k}"),
                Some(&client_id),
                callee,
                client + Duration::microseconds((around / 2.0 * 1000.0) as i64),
                ms(*own),
            ));
            offset += own + around + 1.0;
        }
        idx.add_span(span("root", None, "frontend", at, ms(offset + 1.0)));
        n += 1;
        at += Duration::milliseconds(200);
    }
    let ranking = rank_at(&idx, detected).await;
    assert_eq!(first(&ranking), Some("catalog"), "{ranking:#?}");
    assert_eq!(ranking.at, detected);
    assert!(
        ranking.notes[0].contains("compared from the detection time instead"),
        "{:?}",
        ranking.notes
    );
}
