//! The scoring of one series: floors, ratios, spikes, trends and resets.
use super::*;
use crate::analysis::ranking::window::around;
use chrono::{Duration, TimeZone};
use itops_core::telemetry::{MetricPoint, TimeRange};

fn t(i: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(i)
}

fn series(metric: &str, f: impl Fn(i64) -> f64) -> MetricSeries {
    MetricSeries {
        service: "svc".into(),
        metric: metric.into(),
        points: (0..60)
            .map(|i| MetricPoint {
                at: t(i),
                value: f(i),
            })
            .collect(),
    }
}

fn windows() -> Windows {
    around(
        t(40),
        TimeRange {
            start: t(0),
            end: t(60),
        },
    )
}

#[test]
fn an_error_ratio_must_move_by_a_percent_of_requests_to_count() {
    // From no errors at all: one request in a thousand failing is no anomaly, a fifth
    // of them is; the same holds for a percentage, and a success ratio's fall.
    let ratio = |after: f64| series("error_rate", move |i| if i >= 40 { after } else { 0.0 });
    let score = |s: &MetricSeries| score_series(s, &windows()).map_or(0.0, |a| a.score);
    assert_eq!(score(&ratio(0.001)), 0.0);
    assert!(score(&ratio(0.2)) > 1.0);
    let percent = series("error_percent", |i| if i >= 40 { 0.1 } else { 0.0 });
    assert_eq!(score(&percent), 0.0);
    let success = series("success_ratio", |i| if i >= 40 { 0.999 } else { 1.0 });
    assert_eq!(score(&success), 0.0);
    let failing = series("success_ratio", |i| if i >= 40 { 0.8 } else { 1.0 });
    assert!(score(&failing) > 1.0);
    // A success percentage is judged by its shortfall from full, as the error ratio it
    // mirrors: from all requests succeeding, a tenth of them failing is an anomaly (not
    // a move within 5 % of its level of 100).
    let success_percent = series("success_rate_percent", |i| {
        if (40..46).contains(&i) {
            90.0
        } else {
            100.0
        }
    });
    assert!(score(&success_percent) > 1.0);
    // So is an availability that says it is a percentage only by reading 0-100.
    let availability = series("Availability", |i| if i >= 40 { 92.0 } else { 100.0 });
    assert!(score(&availability) > 1.0);
    // A count of successes is no percentage, however near 100 it runs: its fall from
    // 97 to 92 a minute is 5 % of the count, not five points of requests failing.
    let successes = series("SuccessfulRequestCount", |i| {
        if i >= 40 {
            92.0
        } else {
            96.0 + (i % 3) as f64
        }
    });
    assert_eq!(score(&successes), 0.0);
    let noise = series(
        "success_rate_percent",
        |i| if i == 45 { 99.5 } else { 100.0 },
    );
    assert_eq!(score(&noise), 0.0);
    // A count of errors has no such scale: one a minute from none still counts.
    let count = series("errors_per_second", |i| if i >= 40 { 0.02 } else { 0.0 });
    assert!(score(&count) > 0.0);
}

#[test]
fn an_error_count_that_appears_with_the_incident_is_read_against_none() {
    // Exported from its first error on (before, nothing was counted).
    let from = |metric: &str, first: i64, value: f64| MetricSeries {
        points: series(metric, |_| value)
            .points
            .into_iter()
            .filter(|p| p.at >= t(first))
            .collect(),
        ..series(metric, |_| value)
    };
    let score = |s: &MetricSeries| score_series(s, &windows()).map(|a| a.score);
    assert!(score(&from("http_5xx_per_second", 40, 12.0)).unwrap_or(0.0) > 3.0);
    assert!(score(&from("container_restarts", 42, 3.0)).unwrap_or(0.0) > 3.0);
    // One stray sample is not a change; a latency or a cpu that appears is a new
    // instance, and a success ratio no count: none is judged.
    assert_eq!(score(&from("http_5xx_per_second", 59, 12.0)), None);
    assert_eq!(score(&from("latency_seconds", 40, 0.2)), None);
    assert_eq!(score(&from("cpu_usage", 40, 0.9)), None);
    assert_eq!(score(&from("success_ratio", 40, 0.5)), None);
}

#[test]
fn a_level_shift_scores_and_a_steady_series_does_not() {
    let shifted = score_series(
        &series("latency_ms", |i| {
            if i >= 40 {
                500.0
            } else {
                50.0 + (i % 4) as f64
            }
        }),
        &windows(),
    )
    .unwrap();
    assert!(shifted.score > 3.0, "{shifted:?}");
    assert_eq!(shifted.kind, SignalKind::Latency);
    assert_eq!(shifted.onset, Some(t(40)));
    let steady =
        score_series(&series("latency_ms", |i| 50.0 + (i % 4) as f64), &windows()).unwrap();
    assert_eq!(steady.score, 0.0, "{steady:?}");
}

#[test]
fn a_single_spike_is_weaker_than_a_sustained_shift() {
    let spike = score_series(
        &series(
            "cpu",
            |i| if i == 45 { 90.0 } else { 20.0 + (i % 3) as f64 },
        ),
        &windows(),
    )
    .unwrap();
    let sustained = score_series(
        &series(
            "cpu",
            |i| if i >= 40 { 90.0 } else { 20.0 + (i % 3) as f64 },
        ),
        &windows(),
    )
    .unwrap();
    assert!(
        sustained.score > spike.score + 1.0,
        "{spike:?} {sustained:?}"
    );
}

#[test]
fn a_climb_with_resets_shows_trend_and_resets() {
    let leak = score_series(
        &series("memory", |i| {
            if i >= 40 {
                40.0 + ((i - 40) % 7) as f64 * 8.0
            } else {
                40.0
            }
        }),
        &windows(),
    )
    .unwrap();
    assert!(leak.resets >= 2, "{leak:?}");
    assert!(leak.score > 0.0);
}

#[test]
fn a_dip_high_above_the_baseline_is_not_a_reset() {
    // Memory grown fourfold by a process that hogs the machine, giving back a tenth
    // of it now and then: it never starts afresh.
    let hog = score_series(
        &series("memory", |i| match i {
            40..=49 => 100.0,
            50..=59 if i % 3 == 0 => 90.0,
            50..=59 => 110.0,
            _ => 25.0,
        }),
        &windows(),
    )
    .unwrap();
    assert_eq!(hog.resets, 0, "{hog:?}");
}

#[test]
fn counters_become_rates() {
    let counter = series("http_requests_total", |i| (i * 60) as f64);
    assert!(is_counter(&counter));
    let rate = as_rate_if_counter(counter);
    assert!(rate.points.iter().all(|p| (p.value - 1.0).abs() < 1e-9));
    let gauge = series("cpu", |i| 20.0 + (i % 3) as f64);
    assert!(!is_counter(&gauge));
    // A counter with a reset, and a sum over replicas that falls by one replica's part
    // as it restarts: the rate stays the rate, with no point across the fall.
    let reset = series("errors_total", |i| {
        if i < 30 {
            (i * 60) as f64
        } else {
            ((i - 30) * 60) as f64
        }
    });
    let partial = series("requests_total", |i| {
        let base = 1_000_000.0 + (i * 60) as f64;
        if i < 30 {
            base
        } else {
            base - 400_000.0
        }
    });
    for counter in [reset, partial] {
        assert!(is_counter(&counter));
        let n = counter.points.len();
        let rate = as_rate_if_counter(counter);
        assert_eq!(rate.points.len(), n - 2);
        assert!(rate.points.iter().all(|p| (p.value - 1.0).abs() < 1e-9));
    }
}

#[test]
fn a_series_that_goes_silent_is_noted() {
    let mut s = series("request_rate", |_| 100.0);
    s.points.retain(|p| p.at < t(40));
    let a = score_series(&s, &windows()).unwrap();
    assert!(a.stopped);
}
