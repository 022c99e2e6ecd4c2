//! The ranking's signals one at a time, each on a small system built to show what it is
//! for: the incident time as a responder sees it, host-level and system-wide signals,
//! direction, success ratios, sustained shifts, changes weighed by trouble, traces kept for
//! less time than metrics, and a ranking even when nothing moved much.
#![allow(clippy::unwrap_used)]

mod ranking_support;

use chrono::Duration;
use itops_agents::analysis::ranking::AnomalyRanking;
use itops_core::telemetry::{ChangeEvent, Span, SpanStatus, TelemetryIndex};
use ranking_support::{rank_at, t0, wobble};

const SERVICES: [&str; 5] = ["frontend", "checkout", "cart", "payments", "catalog"];

/// `samples` points `step` apart of `f(i)` for `metric` on `service`.
fn series(
    idx: &mut TelemetryIndex,
    service: &str,
    metric: &str,
    samples: i64,
    step: Duration,
    f: impl Fn(i64) -> f64,
) {
    for i in 0..samples {
        idx.add_metric(service, metric, t0() + step * (i as i32), f(i));
    }
}

fn order(ranking: &AnomalyRanking) -> Vec<&str> {
    ranking
        .candidates
        .iter()
        .map(|c| c.service.as_str())
        .collect()
}

#[tokio::test]
async fn an_alert_that_fires_as_the_fault_begins_still_gets_a_ranking() {
    // Metrics a minute apart, only three minutes of them before the fault, which begins at
    // the detection time itself; the data runs on for five minutes after it.
    let mut idx = TelemetryIndex::new();
    let minute = Duration::minutes(1);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(&mut idx, service, "cpu_usage_percent", 9, minute, |i| {
            let hot = *service == "cart" && i >= 3;
            (if hot { 95.0 } else { 30.0 }) + wobble(i, k)
        });
        series(&mut idx, service, "latency_p99_ms", 9, minute, |i| {
            40.0 + wobble(i, k + 7)
        });
    }
    let at = t0() + Duration::minutes(3);
    let ranking = rank_at(&idx, at).await;
    assert_eq!(order(&ranking).first(), Some(&"cart"), "{ranking:#?}");
    // Detected late, at the end of the data: the same answer.
    let late = rank_at(&idx, t0() + Duration::minutes(8)).await;
    assert_eq!(order(&late).first(), Some(&"cart"), "{late:#?}");
}

#[tokio::test]
async fn data_that_begins_two_samples_before_the_fault_still_names_the_service_that_moved() {
    // Metrics a minute apart that begin two minutes before the fault: too few to measure
    // the baseline's noise. Cart's cpu triples; the rest wobbles by a few percent.
    let mut idx = TelemetryIndex::new();
    let minute = Duration::minutes(1);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(&mut idx, service, "cpu_usage_percent", 7, minute, |i| {
            let hot = *service == "cart" && i >= 2;
            (if hot { 90.0 } else { 30.0 }) + wobble(i, k)
        });
        series(&mut idx, service, "latency_p99_ms", 7, minute, |i| {
            40.0 + 2.0 * wobble(i, k + 7)
        });
    }
    let ranking = rank_at(&idx, t0() + Duration::minutes(2)).await;
    assert_eq!(order(&ranking), vec!["cart"], "{ranking:#?}");
}

#[tokio::test]
async fn with_nothing_changed_before_the_alert_the_incident_is_compared_from_the_alert() {
    // Ten quiet minutes, then cart's latency climbs from the detection time on: the data
    // before the alert shows no change, so the fault began with the alert, not five
    // minutes earlier (which would mix five quiet minutes into the incident window).
    let mut idx = TelemetryIndex::new();
    let minute = Duration::minutes(1);
    for (k, service) in SERVICES.iter().enumerate() {
        series(&mut idx, service, "latency_p99_ms", 16, minute, |i| {
            (if *service == "cart" && i >= 10 {
                400.0
            } else {
                40.0
            }) + wobble(i, k as i64)
        });
    }
    let at = t0() + Duration::minutes(10);
    let ranking = rank_at(&idx, at).await;
    assert_eq!(ranking.at, at, "{:?}", ranking.notes);
    assert_eq!(order(&ranking).first(), Some(&"cart"), "{ranking:#?}");
}

#[tokio::test]
async fn a_change_before_the_alert_that_the_incident_does_not_carry_is_not_its_onset() {
    // Catalog's latency stepped up a little four minutes before the alert (a batch job) and
    // stayed there; with the alert, cart's latency, cpu, errors and queue all jumped. Every
    // signal of the incident was normal until the alert: it began there.
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(15);
    let at = t0() + Duration::minutes(30);
    let cart = [
        "latency_p99_ms",
        "cpu_usage_percent",
        "error_rate",
        "queue_depth",
    ];
    for (k, service) in SERVICES.iter().enumerate() {
        for (m, metric) in cart.iter().enumerate() {
            series(&mut idx, service, metric, 160, step, |i| {
                let when = t0() + step * (i as i32);
                let stepped = *service == "catalog" && m == 0 && when >= at - Duration::minutes(4);
                let hit = *service == "cart" && when >= at;
                let base = 40.0 + wobble(i, (k * 4 + m) as i64);
                if hit {
                    base * 8.0
                } else if stepped {
                    base + 30.0
                } else {
                    base
                }
            });
        }
    }
    let ranking = rank_at(&idx, at).await;
    assert_eq!(ranking.at, at, "{:?}", ranking.notes);
    assert_eq!(order(&ranking).first(), Some(&"cart"), "{ranking:#?}");
}

#[tokio::test]
async fn host_level_metrics_do_not_outrank_the_service_whose_own_cpu_saturated() {
    // Every service on the node sees the node's cpu climb a lot; only payments' own cpu
    // rose, by less.
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(15);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(
            &mut idx,
            service,
            "node_cpu_usage_percent",
            240,
            step,
            |i| {
                (if i >= 160 && *service == "catalog" {
                    95.0
                } else {
                    20.0
                }) + wobble(i, k)
            },
        );
        series(&mut idx, service, "cpu_usage_percent", 240, step, |i| {
            (if i >= 160 && *service == "payments" {
                60.0
            } else {
                30.0
            }) + wobble(i, k + 3)
        });
    }
    let ranking = rank_at(&idx, t0() + step * 170).await;
    assert_eq!(order(&ranking).first(), Some(&"payments"), "{ranking:#?}");
}

#[tokio::test]
async fn a_host_metric_that_is_a_machines_only_cpu_measure_counts_as_its_own() {
    // Monitoring of machines: each service is a host, with its cpu named for the host and
    // no other cpu measure. payments' cpu saturates; the front end, whose requests wait on
    // it, is slower (payments' own latency measure, at its load balancer, barely moves).
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(15);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(&mut idx, service, "host_cpu_utilization", 240, step, |i| {
            (if i >= 160 && *service == "payments" {
                97.0
            } else {
                30.0 + 5.0 * k as f64
            }) + wobble(i, k)
        });
        series(&mut idx, service, "latency_ms", 240, step, |i| {
            let slower = if *service == "frontend" && i >= 160 {
                15.0
            } else {
                0.0
            };
            40.0 + slower + wobble(i, k + 5)
        });
    }
    let ranking = rank_at(&idx, t0() + step * 175).await;
    assert_eq!(order(&ranking).first(), Some(&"payments"), "{ranking:#?}");
}

#[tokio::test]
async fn traffic_every_service_loses_at_once_points_at_the_one_that_breaks_from_it() {
    // Traffic-only data: users leave and every service's request rate halves, except
    // checkout's, which holds on (its callers' retries keep reaching it).
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(5);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        let level = 10.0 * (k + 1) as f64;
        series(
            &mut idx,
            service,
            "request_rate_per_second",
            180,
            step,
            |i| {
                let load = if i >= 120 && *service != "checkout" {
                    0.5
                } else {
                    1.0
                };
                level * load * (1.0 + 0.02 * wobble(i, k))
            },
        );
        series(&mut idx, service, "success_rate_percent", 180, step, |_| {
            100.0
        });
    }
    let ranking = rank_at(&idx, t0() + step * 120).await;
    assert_eq!(order(&ranking).first(), Some(&"checkout"), "{ranking:#?}");
    assert!(
        ranking.notes.iter().any(|n| n.contains("moved together")),
        "{:?}",
        ranking.notes
    );
}

#[tokio::test]
async fn failing_calls_a_caller_measures_per_dependency_point_at_the_dependency() {
    // Metrics only. Catalog answers wrongly and its own series stay quiet; checkout's calls
    // to it fail (a series of checkout's that names catalog), so checkout fails, and so does
    // the frontend that calls checkout. Its calls to cart stay fine.
    let mut idx = TelemetryIndex::new();
    let minute = Duration::minutes(1);
    let broken = |i: i64, healthy: f64, failing: f64| if i >= 20 { failing } else { healthy };
    let ratio = |service: &str, metric: &str, failing: f64, k: i64, idx: &mut TelemetryIndex| {
        series(idx, service, metric, 30, minute, |i| {
            broken(i, 100.0, failing) - wobble(i, k).abs() * 0.05
        });
    };
    ratio("frontend", "success_rate_percent", 70.0, 1, &mut idx);
    ratio(
        "frontend",
        "calls_to_checkout_success_rate_percent",
        70.0,
        2,
        &mut idx,
    );
    ratio("checkout", "success_rate_percent", 60.0, 3, &mut idx);
    ratio(
        "checkout",
        "calls_to_catalog_success_rate_percent",
        50.0,
        4,
        &mut idx,
    );
    ratio(
        "checkout",
        "calls_to_cart_success_rate_percent",
        100.0,
        5,
        &mut idx,
    );
    for (k, service) in ["catalog", "cart"].iter().enumerate() {
        ratio(
            service,
            "success_rate_percent",
            100.0,
            6 + k as i64,
            &mut idx,
        );
        series(&mut idx, service, "cpu_usage_percent", 30, minute, |i| {
            30.0 + wobble(i, 8 + k as i64)
        });
    }
    let ranking = rank_at(&idx, t0() + Duration::minutes(20)).await;
    assert_eq!(order(&ranking).first(), Some(&"catalog"), "{ranking:#?}");
    assert!(!order(&ranking).contains(&"cart"), "{ranking:#?}");
}

#[tokio::test]
async fn latency_that_fell_is_not_a_symptom_and_a_success_ratio_that_fell_is() {
    // cart's latency recovers from a slow baseline (better, not a fault); payments' success
    // ratio drops from 100 % to 85 %.
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(15);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(&mut idx, service, "latency_p99_ms", 240, step, |i| {
            (if *service == "cart" && i < 160 {
                900.0
            } else {
                40.0
            }) + wobble(i, k)
        });
        series(
            &mut idx,
            service,
            "request_success_rate_percent",
            240,
            step,
            |i| {
                if *service == "payments" && i >= 160 {
                    85.0 + wobble(i, k)
                } else {
                    100.0
                }
            },
        );
    }
    let ranking = rank_at(&idx, t0() + step * 170).await;
    assert_eq!(order(&ranking).first(), Some(&"payments"), "{ranking:#?}");
    assert!(!order(&ranking).contains(&"cart"), "{ranking:#?}");
}

#[tokio::test]
async fn a_single_sample_spike_does_not_outrank_a_sustained_shift() {
    // One-second samples: frontend's latency spikes for one sample to fifty times its level;
    // catalog's cpu doubles and stays there.
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(1);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(&mut idx, service, "latency_p90_seconds", 600, step, |i| {
            if *service == "frontend" && i == 400 {
                5.0
            } else {
                0.1 + 0.005 * wobble(i, k)
            }
        });
        series(&mut idx, service, "cpu_usage_millicores", 600, step, |i| {
            (if *service == "catalog" && i >= 300 {
                200.0
            } else {
                100.0
            }) + 3.0 * wobble(i, k + 2)
        });
    }
    let ranking = rank_at(&idx, t0() + step * 300).await;
    assert_eq!(order(&ranking).first(), Some(&"catalog"), "{ranking:#?}");
}

#[tokio::test]
async fn a_release_counts_by_the_trouble_at_the_service_it_changed() {
    // Two services are released shortly before the incident. cart's rollout restarts its
    // pods (its memory falls and its cpu warms up) but it serves fine; payments' release
    // brings latency. The later release is cart's.
    let mut idx = TelemetryIndex::new();
    let minute = Duration::minutes(1);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        let cart = *service == "cart";
        series(&mut idx, service, "memory_usage_percent", 40, minute, |i| {
            (if cart && i >= 30 { 10.0 } else { 45.0 }) + wobble(i, k)
        });
        series(&mut idx, service, "cpu_usage_percent", 40, minute, |i| {
            (if cart && i >= 30 { 70.0 } else { 30.0 }) + wobble(i, k + 2)
        });
        series(&mut idx, service, "latency_ms", 40, minute, |i| {
            (if *service == "payments" && i >= 30 {
                100.0
            } else {
                40.0
            }) + wobble(i, k + 4)
        });
    }
    for (service, minutes) in [("payments", 27), ("cart", 29)] {
        idx.add_change(ChangeEvent {
            at: t0() + Duration::minutes(minutes),
            service: service.into(),
            kind: "deploy".into(),
            description: format!("rolling update of {service} to v2"),
            version: Some("v2".into()),
            actor: None,
        });
    }
    let ranking = rank_at(&idx, t0() + Duration::minutes(33)).await;
    assert_eq!(order(&ranking).first(), Some(&"payments"), "{ranking:#?}");
}

#[tokio::test]
async fn traces_kept_for_less_time_than_the_metrics_do_not_read_as_every_service_stopping() {
    // Metrics for an hour; spans only for the four minutes around the fault, where cart's
    // own time grows tenfold.
    let mut idx = TelemetryIndex::new();
    let minute = Duration::minutes(1);
    for (k, service) in SERVICES.iter().enumerate() {
        series(&mut idx, service, "latency_p99_ms", 60, minute, |i| {
            40.0 + wobble(i, k as i64)
        });
    }
    let fault = t0() + Duration::minutes(40);
    for n in 0..480_i64 {
        let at = fault - Duration::minutes(2) + Duration::milliseconds(n * 500);
        let slow = at >= fault;
        let trace = format!("t{n}");
        let span = |id: &str, parent: Option<&str>, service: &str, ms: u64| Span {
            trace_id: trace.clone(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            service: service.into(),
            operation: "call".into(),
            start: at,
            duration_ns: ms * 1_000_000,
            status: SpanStatus::Ok,
        };
        let cart_ms = if slow { 200 } else { 20 };
        idx.add_span(span("a", None, "frontend", 30 + cart_ms));
        idx.add_span(span("b", Some("a"), "cart", cart_ms));
    }
    let ranking = rank_at(&idx, fault + Duration::minutes(1)).await;
    assert_eq!(order(&ranking).first(), Some(&"cart"), "{ranking:#?}");
    let text = serde_json::to_string(&ranking).unwrap();
    assert!(!text.contains("spans stopped"), "{text}");
}

#[tokio::test]
async fn when_nothing_moves_clearly_the_weaker_shifts_are_ranked_and_said_to_be_tentative() {
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(15);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        series(&mut idx, service, "latency_ms", 240, step, |i| {
            let shift = if *service == "cart" && i >= 160 {
                2.0
            } else {
                0.0
            };
            40.0 + shift + wobble(i, k)
        });
    }
    let ranking = rank_at(&idx, t0() + step * 170).await;
    assert_eq!(order(&ranking).first(), Some(&"cart"), "{ranking:#?}");
    assert!(
        ranking.notes.iter().any(|n| n.contains("tentative")),
        "{:?}",
        ranking.notes
    );
    // Nothing at all moved: no candidates, and the notes say so.
    let mut flat = TelemetryIndex::new();
    for service in SERVICES {
        series(&mut flat, service, "latency_ms", 240, step, |_| 40.0);
    }
    let ranking = rank_at(&flat, t0() + step * 170).await;
    assert!(ranking.candidates.is_empty(), "{ranking:#?}");
}

#[tokio::test]
async fn bad_data_gives_a_ranking_of_what_it_supports_never_a_panic() {
    let mut idx = TelemetryIndex::new();
    let step = Duration::seconds(30);
    for (k, service) in SERVICES.iter().enumerate() {
        let k = k as i64;
        // NaN and infinite samples, a duplicate timestamp, and samples out of order.
        for i in (0..120).rev() {
            let v = match i % 17 {
                0 => f64::NAN,
                5 => f64::INFINITY,
                _ if *service == "cart" && i >= 80 => 90.0,
                _ => 30.0 + wobble(i, k),
            };
            idx.add_metric(service, "cpu_usage_percent", t0() + step * (i as i32), v);
        }
        idx.add_metric(service, "cpu_usage_percent", t0(), 30.0);
    }
    // A single sample, a service seen only after the incident, and a crowd of services.
    idx.add_metric("lonely", "latency_ms", t0() + step * 3, 10.0);
    for i in 90..100 {
        idx.add_metric("newcomer", "latency_ms", t0() + step * i, 50.0);
    }
    for n in 0..2000 {
        let name = format!("svc-{n}");
        idx.add_metric(&name, "latency_ms", t0() + step * 10, 5.0);
        idx.add_metric(&name, "latency_ms", t0() + step * 90, 5.0 + (n % 3) as f64);
    }
    let ranking = rank_at(&idx, t0() + step * 85).await;
    assert_eq!(order(&ranking).first(), Some(&"cart"), "{ranking:#?}");
}
