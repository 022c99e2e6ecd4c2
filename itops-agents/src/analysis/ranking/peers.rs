//! Load shared by every service. When users arrive or leave, every service's request rate
//! moves at once: that says nothing about which service is at fault. What does is a service
//! whose traffic breaks from the pattern of its peers (its callers stop reaching it, it
//! stalls while the others carry on, it keeps serving while the others starve).
//!
//! Each throughput series is read relative to the system's common mode: at every instant,
//! the median over all throughput series of their change against their own baseline. The
//! series a service is scored on is its rate with that shared swing taken out.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{MetricPoint, MetricSeries, TimeRange};

use crate::analysis::signal_kind::{classify, SignalKind};
use crate::analysis::stats::median;

/// Fewest services whose traffic makes a common mode worth taking out.
const MIN_SERVICES: usize = 3;
/// Fewest baseline samples a series needs to be put on the common scale.
const MIN_BASELINE: usize = 3;

/// The suffix of a throughput series read relative to its peers.
pub(crate) const RELATIVE_SUFFIX: &str = " relative to peers";

/// How the load every service shares moved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SharedLoad {
    /// How far it moved at most, either way (a factor, 1 when it did not).
    pub(crate) swing: f64,
    /// Its typical level after the baseline against the baseline (a factor: 2 when every
    /// service's traffic doubled together, 1 when it did not move or is unknown).
    pub(crate) after: f64,
    /// Its lowest level after the baseline against the baseline (a factor: 0.1 when every
    /// service lost nine requests in ten at once, 1 when it did not fall or is unknown).
    pub(crate) low: f64,
}

impl Default for SharedLoad {
    fn default() -> Self {
        Self::NONE
    }
}

impl SharedLoad {
    const NONE: SharedLoad = SharedLoad {
        swing: 1.0,
        after: 1.0,
        low: 1.0,
    };

    /// Whether every service's traffic fell together to half or less at some point after
    /// the baseline: clients held up somewhere, sending fewer requests everywhere.
    pub(crate) fn collapsed(&self) -> bool {
        self.low.is_finite() && self.low <= 0.5
    }

    /// How strongly more work arrived at every service at once, 0–1: nothing below a
    /// quarter more (the drift of ordinary traffic over minutes), fully at twice as much.
    pub(crate) fn rise(&self) -> f64 {
        if !self.after.is_finite() || self.after <= 0.0 {
            return 0.0;
        }
        ((self.after.ln() - 1.25f64.ln()) / (2.0f64.ln() - 1.25f64.ln())).clamp(0.0, 1.0)
    }
}

/// `metrics` with each throughput series replaced by its rate relative to the system's
/// common mode, when at least three services report throughput; unchanged otherwise; and
/// how that common mode moved.
pub(crate) fn relative_to_peers(
    metrics: Vec<MetricSeries>,
    baseline: TimeRange,
) -> (Vec<MetricSeries>, SharedLoad) {
    let throughput: Vec<usize> = metrics
        .iter()
        .enumerate()
        .filter(|(_, s)| classify(&s.metric) == SignalKind::Throughput)
        .map(|(i, _)| i)
        .collect();
    let services: std::collections::BTreeSet<&str> = throughput
        .iter()
        .map(|i| metrics[*i].service.as_str())
        .collect();
    if services.len() < MIN_SERVICES {
        return (metrics, SharedLoad::NONE);
    }
    let Some(step) = common_step(throughput.iter().map(|i| &metrics[*i])) else {
        return (metrics, SharedLoad::NONE);
    };
    let origin = baseline.start;
    let bucket = |at: DateTime<Utc>| (at - origin).num_milliseconds().div_euclid(step);

    // Each series' log change against its baseline median, per time bucket.
    let mut logs: HashMap<usize, (f64, Vec<(i64, f64)>)> = HashMap::new();
    let mut by_bucket: HashMap<i64, Vec<f64>> = HashMap::new();
    for &i in &throughput {
        let series = &metrics[i];
        let base: Vec<f64> = series
            .points
            .iter()
            .filter(|p| baseline.contains(p.at) && p.value.is_finite())
            .map(|p| p.value)
            .collect();
        if base.len() < MIN_BASELINE {
            continue;
        }
        let level = median(&base);
        if level <= 0.0 || !level.is_finite() {
            continue;
        }
        let mut sums: Vec<(i64, f64, usize)> = Vec::new();
        for p in series.points.iter().filter(|p| p.value.is_finite()) {
            let change = (p.value.max(level * 1e-3) / level).ln();
            let b = bucket(p.at);
            match sums.last_mut() {
                Some(last) if last.0 == b => {
                    last.1 += change;
                    last.2 += 1;
                }
                _ => sums.push((b, change, 1)),
            }
        }
        let changes: Vec<(i64, f64)> = sums
            .into_iter()
            .map(|(b, sum, n)| (b, sum / n as f64))
            .collect();
        for (b, change) in &changes {
            by_bucket.entry(*b).or_default().push(*change);
        }
        logs.insert(i, (level, changes));
    }
    let common: HashMap<i64, f64> = by_bucket
        .into_iter()
        .filter(|(_, v)| v.len() >= MIN_SERVICES)
        .map(|(b, v)| (b, median(&v)))
        .collect();
    if common.is_empty() {
        return (metrics, SharedLoad::NONE);
    }
    let swing = common.values().map(|c| c.abs()).fold(0.0, f64::max).exp();
    let first_after = bucket(baseline.end);
    let after: Vec<f64> = common
        .iter()
        .filter(|(b, _)| **b >= first_after)
        .map(|(_, c)| *c)
        .collect();
    let shared = SharedLoad {
        swing,
        after: if after.is_empty() {
            1.0
        } else {
            median(&after).exp()
        },
        low: after.iter().copied().fold(0.0, f64::min).exp(),
    };

    let mut out = Vec::with_capacity(metrics.len());
    for (i, series) in metrics.into_iter().enumerate() {
        let Some((level, changes)) = logs.remove(&i) else {
            out.push(series);
            continue;
        };
        let points = changes
            .into_iter()
            .filter_map(|(b, change)| {
                let shared = common.get(&b)?;
                Some(MetricPoint {
                    at: origin + Duration::milliseconds(b * step),
                    value: level * (change - shared).exp(),
                })
            })
            .collect();
        out.push(MetricSeries {
            service: series.service,
            metric: format!("{}{RELATIVE_SUFFIX}", series.metric),
            points,
        });
    }
    (out, shared)
}

/// The typical sampling interval of `series`, in milliseconds (the median gap between
/// consecutive samples, at least a second). `None` without two samples anywhere.
fn common_step<'a>(series: impl Iterator<Item = &'a MetricSeries>) -> Option<i64> {
    let mut gaps: Vec<f64> = Vec::new();
    for s in series {
        gaps.extend(
            s.points
                .windows(2)
                .map(|w| (w[1].at - w[0].at).num_milliseconds() as f64)
                .filter(|g| *g > 0.0),
        );
    }
    (!gaps.is_empty()).then(|| (median(&gaps) as i64).max(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(i: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(10 * i)
    }

    fn series(service: &str, f: impl Fn(i64) -> f64) -> MetricSeries {
        MetricSeries {
            service: service.into(),
            metric: "request_rate".into(),
            points: (0..60)
                .map(|i| MetricPoint {
                    at: t(i),
                    value: f(i),
                })
                .collect(),
        }
    }

    #[test]
    fn a_swing_every_service_shares_is_taken_out_and_one_that_breaks_from_it_stays() {
        // Load halves at i = 30 everywhere; "b" also loses all but a tenth of its traffic.
        let load = |i: i64| if i < 30 { 1.0 } else { 0.5 };
        let metrics = vec![
            series("a", |i| 100.0 * load(i)),
            series("b", |i| 40.0 * load(i) * if i < 30 { 1.0 } else { 0.1 }),
            series("c", |i| 10.0 * load(i)),
            series("d", |i| 20.0 * load(i)),
        ];
        let baseline = TimeRange {
            start: t(0),
            end: t(30),
        };
        let (out, shared) = relative_to_peers(metrics, baseline);
        assert!((shared.swing - 2.0).abs() < 0.01, "{shared:?}");
        // It fell: no more work arrived.
        assert!((shared.after - 0.5).abs() < 0.01, "{shared:?}");
        assert_eq!(shared.rise(), 0.0);
        let last = |name: &str| {
            out.iter()
                .find(|s| s.service == name)
                .and_then(|s| s.points.last())
                .map(|p| p.value)
                .unwrap()
        };
        assert!((last("a") - 100.0).abs() < 1e-6, "{}", last("a"));
        assert!((last("c") - 10.0).abs() < 1e-6);
        assert!((last("b") - 4.0).abs() < 1e-6, "{}", last("b"));
        assert!(out.iter().all(|s| s.metric.ends_with(RELATIVE_SUFFIX)));
    }

    /// How the load moved when three services' traffic goes from its level to `factor`
    /// times it at once, after a 30-sample baseline.
    fn shared_when_all_move_by(factor: f64) -> SharedLoad {
        let load = move |i: i64| if i < 30 { 1.0 } else { factor };
        let metrics = vec![
            series("a", |i| 100.0 * load(i)),
            series("b", |i| 40.0 * load(i)),
            series("c", |i| 10.0 * load(i)),
        ];
        let baseline = TimeRange {
            start: t(0),
            end: t(30),
        };
        relative_to_peers(metrics, baseline).1
    }

    #[test]
    fn traffic_that_doubles_everywhere_is_a_shared_rise() {
        let shared = shared_when_all_move_by(2.0);
        assert!((shared.after - 2.0).abs() < 0.01, "{shared:?}");
        assert_eq!(shared.rise(), 1.0);
        assert!(!shared.collapsed());
        let drift = SharedLoad {
            swing: 1.1,
            after: 1.1,
            low: 1.0,
        };
        assert_eq!(drift.rise(), 0.0);
    }

    #[test]
    fn traffic_that_falls_to_a_fifth_everywhere_has_collapsed() {
        let shared = shared_when_all_move_by(0.2);
        assert!((shared.low - 0.2).abs() < 0.01, "{shared:?}");
        assert!(shared.collapsed());
    }

    #[test]
    fn fewer_than_three_services_are_left_as_they_are() {
        let metrics = vec![series("a", |_| 1.0), series("b", |_| 2.0)];
        let baseline = TimeRange {
            start: t(0),
            end: t(30),
        };
        let (out, shared) = relative_to_peers(metrics.clone(), baseline);
        assert_eq!(out, metrics);
        assert_eq!(shared, SharedLoad::NONE);
    }
}
