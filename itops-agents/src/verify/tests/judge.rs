//! The judgement of single signals: tolerances, directions, restarts, the load.

use itops_core::telemetry::{MetricPoint, MetricSeries};
use itops_core::FaultKind;

use super::super::judge::{self, judge, Thresholds, Windows};
use super::super::{load_change, resource_symptoms, Symptom};
use super::{at, samples, wobble, DETECTED, FIXED, UNTIL};

fn windows() -> Windows {
    Windows {
        baseline: (at(0.0), at(DETECTED - 10.0)),
        during: (at(DETECTED - 10.0), at(FIXED)),
        after: (at(FIXED + 2.0), at(UNTIL)),
    }
}

const THRESHOLDS: Thresholds = Thresholds {
    symptom_z: 4.0,
    recovered_z: 3.0,
};

fn series(metric: &str, points: Vec<(f64, f64)>) -> MetricSeries {
    MetricSeries {
        service: "checkout".into(),
        metric: metric.into(),
        points: points
            .into_iter()
            .map(|(m, value)| MetricPoint { at: at(m), value })
            .collect(),
    }
}

#[test]
fn a_noisy_baseline_is_no_symptom_but_a_real_3x_latency_is() {
    // A latency swinging between 60 and 180 ms: during the incident it swings the same way
    // (a little higher at worst). Its own spread says that is normal.
    let noisy = |m: f64| 120.0 + 60.0 * (m * 3.7).sin();
    let same_noise = series(
        "latency_p99_ms",
        samples(|m| noisy(m) + if m >= 40.0 { 15.0 } else { 0.0 }),
    );
    assert!(judge(&same_noise, Symptom::Latency, &windows(), 1.0, THRESHOLDS).is_none());
    // Three times the level, though, is a symptom; back at the level after the fix, healed.
    let tripled = series(
        "latency_p99_ms",
        samples(|m| {
            if (40.0..FIXED).contains(&m) {
                3.0 * noisy(m) + 240.0
            } else {
                noisy(m)
            }
        }),
    );
    let check = judge(&tripled, Symptom::Latency, &windows(), 1.0, THRESHOLDS);
    assert!(check.as_ref().is_some_and(|c| c.recovered), "{check:?}");
}

#[test]
fn errors_from_next_to_nothing_are_no_symptom() {
    // An error ratio of 0 with the odd failed request, now 0.4 %: "baseline 0" is no reason
    // to call 0.4 % an incident that persists.
    let errors = series(
        "error_rate",
        samples(|m| {
            if m >= 40.0 {
                0.004
            } else if (m * 2.0) as i64 % 9 == 0 {
                0.001
            } else {
                0.0
            }
        }),
    );
    assert!(judge(&errors, Symptom::Errors, &windows(), 1.0, THRESHOLDS).is_none());
    // 8 % is.
    let burst = series(
        "error_rate",
        samples(|m| {
            if (40.0..FIXED).contains(&m) {
                0.08
            } else {
                0.001
            }
        }),
    );
    assert!(judge(&burst, Symptom::Errors, &windows(), 1.0, THRESHOLDS).is_some());
}

#[test]
fn restarts_are_counted_not_compared_as_levels() {
    // A cumulative restart count: OOM kills during the incident, none after the restart.
    // Its level stays up for good; what matters is that it stopped rising.
    let restarts = series(
        "restart_count",
        samples(|m| match m {
            m if m < 45.0 => 2.0,
            m if m < FIXED => 2.0 + (m - 44.0).floor(),
            _ => 14.0,
        }),
    );
    let check = judge::judge_restarts(&restarts, &windows());
    assert!(
        check
            .as_ref()
            .is_some_and(|c| c.recovered && c.strength >= 2.0),
        "{check:?}"
    );
    // Three kills in sixteen minutes: a four-minute window without one proves nothing.
    let rare = series(
        "restart_count",
        samples(|m| match m {
            m if m < 44.0 => 2.0,
            m if m < 49.0 => 3.0,
            m if m < 54.0 => 4.0,
            _ => 5.0,
        }),
    );
    let check = judge::judge_restarts(&rare, &windows());
    assert!(
        check
            .as_ref()
            .is_some_and(|c| c.recovered && c.strength < 2.0),
        "{check:?}"
    );
}

#[test]
fn cpu_is_back_when_it_is_where_the_baseline_would_be_at_the_new_traffic() {
    // A hot loop drove the cpu from 20 % to 45 %; after the fix it is at 28 %, while the
    // morning's traffic grew by a fifth (20 % then is 24 % now).
    let cpu = series(
        "cpu_usage",
        samples(|m| {
            (match m {
                m if m < 40.0 => 0.20,
                m if m < FIXED => 0.45,
                _ => 0.28,
            }) + 0.002 * wobble(m)
        }),
    );
    let requests = series(
        "request_rate",
        samples(|m| if m < 40.0 { 100.0 } else { 120.0 } + wobble(m)),
    );
    let w = windows();
    let load = load_change(&[cpu.clone(), requests], w.baseline, w.after);
    assert!((load - 1.2).abs() < 0.05, "{load}");
    let check = |load| judge(&cpu, Symptom::Cpu, &w, load, THRESHOLDS);
    assert!(check(load).is_some_and(|c| c.recovered));
    // At the baseline's traffic, the same 28 % would still be off.
    assert!(check(1.0).is_some_and(|c| !c.recovered));
}

#[test]
fn a_fraction_that_barely_moved_is_no_symptom_but_a_real_move_is() {
    let pool = |during: f64, after: f64| {
        series(
            "pool_utilization",
            samples(move |m| match m {
                m if m < 40.0 => 0.010,
                m if m < FIXED => during,
                _ => after,
            }),
        )
    };
    // 1.0 % to 1.5 % of a pool: not a symptom, whatever the baseline's quiet.
    assert!(judge(
        &pool(0.015, 0.012),
        Symptom::Saturation,
        &windows(),
        1.0,
        THRESHOLDS
    )
    .is_none());
    // 10 % to 60 %, staying there: a symptom that did not recover.
    let check = judge(
        &pool(0.60, 0.58),
        Symptom::Saturation,
        &windows(),
        1.0,
        THRESHOLDS,
    );
    assert!(check.is_some_and(|c| !c.recovered));
}

#[test]
fn symptoms_and_which_way_is_worse_from_metric_names() {
    let cases = [
        ("latency_p99_ms", Some(Symptom::Latency), 1.0),
        (
            "http_server_requests_errors_total",
            Some(Symptom::Errors),
            1.0,
        ),
        ("request_success_rate_percent", Some(Symptom::Success), -1.0),
        ("availability", Some(Symptom::Success), -1.0),
        ("db_pool_utilization", Some(Symptom::Saturation), 1.0),
        ("memory_usage_mb", Some(Symptom::Memory), 1.0),
        ("FreeableMemory", Some(Symptom::Memory), -1.0),
        ("cpu_idle_percent", Some(Symptom::Cpu), -1.0),
        ("node_filesystem_avail_bytes", Some(Symptom::Disk), -1.0),
        ("disk_usage_percent", Some(Symptom::Disk), 1.0),
        ("restart_count", Some(Symptom::Restarts), 1.0),
        (
            "hikaricp_connections_pending",
            Some(Symptom::Saturation),
            1.0,
        ),
        ("pg_stat_activity_count", None, 1.0),
        ("request_rate", None, 1.0),
        ("kube_deployment_status_replicas_available", None, 1.0),
    ];
    for (metric, symptom, worse) in cases {
        assert_eq!(Symptom::of(metric), symptom, "{metric}");
        if let Some(s) = symptom {
            assert_eq!(s.worse(metric), worse, "{metric}");
        }
    }
    assert!(Symptom::Latency.user_facing() && !Symptom::Memory.user_facing());
    assert_eq!(resource_symptoms(FaultKind::MemoryLeak), &[Symptom::Memory]);
    assert!(resource_symptoms(FaultKind::BadDeploy).is_empty());
}
