//! Metric anomalies: each series' incident window against its own baseline.

use chrono::{DateTime, Utc};
use itops_core::telemetry::MetricSeries;

use crate::analysis::ranking::onset::typical_step;
use crate::analysis::ranking::window::Windows;
use crate::analysis::ranking::{change_point, sustained};
use crate::analysis::signal_kind::{
    classify, classify_own, is_headroom_measure, is_success_measure, names_a_count, SignalKind,
};
use crate::analysis::stats::{median, quantile_sorted};

/// Robust z-scores are capped here before compression: beyond it, "very anomalous" is all
/// that can be said, and one flat-lined series must not outweigh every other signal.
const Z_CAP: f64 = 1_000.0;
/// A deviation counts from this many robust standard deviations.
pub(crate) const Z_THRESHOLD: f64 = 3.0;
/// When nothing reaches [`Z_THRESHOLD`], weaker shifts from this many are ranked instead
/// (with a note that the evidence is weak), so that something that moved still gets a
/// ranking.
pub(crate) const WEAK_Z_THRESHOLD: f64 = 1.5;

/// How one series behaved in the incident window compared with its baseline.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SeriesAnomaly {
    pub(crate) service: String,
    pub(crate) metric: String,
    pub(crate) kind: SignalKind,
    /// Compressed strength, `ln(1 + z)`: 0 for normal, ~2.5 for z = 10, ~7 at the cap.
    pub(crate) score: f64,
    /// Signed sustained deviation (median of the strongest third of incident samples), in
    /// robust standard deviations.
    pub(crate) z: f64,
    pub(crate) baseline_median: f64,
    pub(crate) incident_median: f64,
    /// The most extreme incident value.
    pub(crate) incident_extreme: f64,
    /// The first incident sample beyond the threshold.
    pub(crate) onset: Option<DateTime<Utc>>,
    /// Change per sample of a least-squares line through the incident window, in robust
    /// standard deviations: a steady climb (a leak) shows here.
    pub(crate) trend: f64,
    /// Sudden falls back toward the baseline in the incident window (restarts).
    pub(crate) resets: usize,
    /// The series had samples before the incident and none during it.
    pub(crate) stopped: bool,
}

/// Whether a series is a cumulative counter: named like one (`_total`, `_count`, `_sum`)
/// or never decreasing except at resets while mostly increasing.
pub fn is_counter(series: &MetricSeries) -> bool {
    let name = series.metric.to_ascii_lowercase();
    let named = ["_total", "_count", "_sum", ".total", ".count", ".sum"]
        .iter()
        .any(|s| name.ends_with(s));
    let values: Vec<f64> = series
        .points
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    if values.len() < 3 || values.iter().any(|v| *v < 0.0) {
        return false;
    }
    let steps = values.len() - 1;
    let up = values.windows(2).filter(|w| w[1] > w[0]).count();
    let down = values.windows(2).filter(|w| w[1] < w[0]).count();
    // A counter only falls at a reset, and then to near zero.
    let resets_look_right = values
        .windows(2)
        .filter(|w| w[1] < w[0])
        .all(|w| w[1] <= w[0] * 0.5);
    // A counter named as one may also fall part of the way: a sum over replicas drops by
    // one replica's count when that replica restarts.
    (named && down * 10 <= steps)
        || (up * 2 > steps && down * 50 <= steps && resets_look_right && up > 3)
}

/// A counter as a per-second rate; any other series unchanged. The rate across a reset
/// is unknown (the counter may have restarted from zero, or only some replicas' part of a
/// summed counter may have), so that interval has no point.
pub fn as_rate_if_counter(series: MetricSeries) -> MetricSeries {
    if !is_counter(&series) {
        return series;
    }
    let mut points = Vec::with_capacity(series.points.len().saturating_sub(1));
    for w in series.points.windows(2) {
        let dt = (w[1].at - w[0].at).num_milliseconds() as f64 / 1000.0;
        if dt <= 0.0
            || !w[0].value.is_finite()
            || !w[1].value.is_finite()
            || w[1].value < w[0].value
        {
            continue;
        }
        points.push(itops_core::telemetry::MetricPoint {
            at: w[1].at,
            value: (w[1].value - w[0].value) / dt,
        });
    }
    MetricSeries {
        service: series.service,
        metric: series.metric,
        points,
    }
}

/// Scores one series; `None` when it has too few samples on either side.
#[cfg(test)]
pub(crate) fn score_series(series: &MetricSeries, windows: &Windows) -> Option<SeriesAnomaly> {
    score_series_from(series, windows, Z_THRESHOLD, false)
}

/// [`score_series`] with deviations counting from `threshold` robust standard deviations;
/// `own_hosts`: a host-level metric is the service's own (see `hosts::own_host_series`).
pub(crate) fn score_series_from(
    series: &MetricSeries,
    windows: &Windows,
    threshold: f64,
    own_hosts: bool,
) -> Option<SeriesAnomaly> {
    let mut baseline: Vec<f64> = Vec::new();
    let mut incident: Vec<(DateTime<Utc>, f64)> = Vec::new();
    for p in &series.points {
        if !p.value.is_finite() {
            continue;
        }
        if windows.baseline.contains(p.at) {
            baseline.push(p.value);
        } else if windows.incident.contains(p.at) {
            incident.push((p.at, p.value));
        }
    }
    incident.sort_by_key(|(t, _)| *t);
    let kind = match classify(&series.metric) {
        SignalKind::Host if own_hosts => classify_own(&series.metric),
        kind => kind,
    };
    if baseline.is_empty() {
        if !appeared(series, kind, &incident, windows) {
            return None;
        }
        // Nothing was counted before: none happened.
        baseline.push(0.0);
    }
    let mut sorted = baseline.clone();
    sorted.sort_by(f64::total_cmp);
    let center = quantile_sorted(&sorted, 0.5);
    if incident.is_empty() {
        // A series that goes silent is a signal in itself (a process that died, a scrape
        // target that vanished) — but a weak one, since exports also just end.
        let stopped = sorted.len() >= 5;
        return stopped.then(|| SeriesAnomaly {
            service: series.service.clone(),
            metric: series.metric.clone(),
            kind,
            score: 1.0,
            z: 0.0,
            baseline_median: center,
            incident_median: f64::NAN,
            incident_extreme: f64::NAN,
            onset: Some(windows.incident.start),
            trend: 0.0,
            resets: 0,
            stopped: true,
        });
    }
    let success = is_success_measure(&series.metric);
    // What an error or success ratio reads at full (read once, for the two floors).
    let full = if success || kind == SignalKind::Errors {
        ratio_full(series, success)
    } else {
        None
    };
    let spread =
        robust_spread(&sorted, series, full.filter(|_| success)).max(material_spread(kind, full));
    // A success ratio's fall is its anomaly: turned, it reads like an error rate. What is
    // left of a resource (free memory, idle cpu) falls as its use rises: turned, it reads
    // like the use.
    let sign = if success || is_headroom_measure(&series.metric) {
        -1.0
    } else {
        1.0
    };
    let z_of = |v: f64| (sign * (v - center) / spread).clamp(-Z_CAP, Z_CAP);

    let mut deviations: Vec<f64> = incident.iter().map(|(_, v)| z_of(*v)).collect();
    deviations.sort_by(|a, b| b.abs().total_cmp(&a.abs()));
    // "Sustained": what the incident samples reach for about a minute (at least two
    // samples unless each sums up minutes, at most 30 % of them): a single-sample spike is
    // not enough, and a fault whose effect lasts a minute of a long window still counts.
    let step = typical_step(std::slice::from_ref(series)).unwrap_or(chrono::Duration::minutes(1));
    let sustained = sustained::deviation(&deviations, sustained::rank(&incident, step));
    let peak = deviations[0];
    // A sustained shift is what counts; the peak adds a little on top (a lone spike alone
    // is noise: scrapes catch one-off outliers all the time).
    // Latency or errors that fell are better than before, not a symptom (a slow baseline
    // that recovered, a caller that sends less).
    let improved = matches!(kind, SignalKind::Latency | SignalKind::Errors) && sustained < 0.0;
    let strength = if sustained.abs() >= threshold && !improved {
        sustained.abs() + 0.1 * peak.abs().min(2.0 * sustained.abs())
    } else {
        0.0
    };
    // A resource in use less than before is mostly a consequence (less work arrived, a
    // process restarted) or a recovery; its rise is how a fault of the service itself
    // shows. A fall counts half.
    let fell = matches!(
        kind,
        SignalKind::Cpu | SignalKind::Memory | SignalKind::Disk | SignalKind::Saturation
    ) && sustained < 0.0;
    let score = strength.ln_1p() * if fell { 0.5 } else { 1.0 };

    // Where the samples turned anomalous in the sustained direction (not the first stray one).
    let flags: Vec<bool> = incident
        .iter()
        .map(|(_, v)| {
            let z = z_of(*v);
            z.abs() >= threshold && z * sustained >= 0.0
        })
        .collect();
    let onset = change_point::flagged_onset(&flags).map(|i| incident[i].0);
    let values: Vec<f64> = incident.iter().map(|(_, v)| *v).collect();
    let extreme = values
        .iter()
        .copied()
        .max_by(|a, b| (a - center).abs().total_cmp(&(b - center).abs()))
        .unwrap_or(center);
    Some(SeriesAnomaly {
        service: series.service.clone(),
        metric: series.metric.clone(),
        kind,
        score,
        z: sustained,
        baseline_median: center,
        incident_median: median(&values),
        incident_extreme: extreme,
        onset,
        trend: sign * slope(&values) / spread,
        resets: resets(&values, center, spread),
        stopped: false,
    })
}

/// Whether a series with no sample in the baseline is a count of failures or restarts
/// that began with the incident, and so read against none: exporters create an error
/// counter at its first error (a Prometheus label set such as `code="500"`), and cloud
/// monitoring leaves out a period in which nothing was counted. It has to have at least
/// two samples in the incident, and the baseline window a minute of data (other series
/// were there to be seen). A latency or a resource that appears is a new instance, not a
/// change; a success ratio is no count.
fn appeared(
    series: &MetricSeries,
    kind: SignalKind,
    incident: &[(DateTime<Utc>, f64)],
    windows: &Windows,
) -> bool {
    matches!(kind, SignalKind::Errors | SignalKind::Restarts)
        && !is_success_measure(&series.metric)
        && incident.len() >= 2
        && windows.baseline.end - windows.baseline.start >= chrono::Duration::minutes(1)
}

/// Fewest baseline samples whose own spread is trusted.
const MIN_MEASURED_BASELINE: usize = 3;

/// A robust standard deviation of the baseline with floors, so that a flat baseline does not
/// turn every wiggle into an infinite z-score: 5 % of the baseline level, and 1 % of the
/// largest magnitude the series ever reaches. A baseline too short to measure its own noise
/// (one or two samples, as when the data begins just before the incident) is given a
/// quarter of its level, so that only a move of most of its level reaches the threshold.
/// `success_full`, for a success ratio, is what it reads when every request succeeds: its
/// level is then its shortfall from that.
fn robust_spread(sorted_baseline: &[f64], series: &MetricSeries, success_full: Option<f64>) -> f64 {
    let iqr = quantile_sorted(sorted_baseline, 0.75) - quantile_sorted(sorted_baseline, 0.25);
    let center = quantile_sorted(sorted_baseline, 0.5);
    let deviations: Vec<f64> = sorted_baseline.iter().map(|v| (v - center).abs()).collect();
    let mad = median(&deviations) * 1.4826;
    let scale = series
        .points
        .iter()
        .map(|p| p.value.abs())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let level_share = if sorted_baseline.len() < MIN_MEASURED_BASELINE {
        0.25
    } else {
        0.05
    };
    // A success ratio's level is its shortfall from full: 99.9 % success is a failure
    // ratio of 0.1 %, and a fall of a few points from it matters as a rise of an error
    // ratio from 0.1 % does.
    let level = success_full.map_or(center, |full| full - center);
    (iqr / 1.349)
        .max(mad)
        .max(level.abs() * level_share)
        .max(scale * 0.01)
        .max(1e-12)
}

/// The least spread an error or success ratio is judged with, whatever its baseline's own
/// noise: a move of a percent of requests (a point of a percentage) is the least that
/// matters to users, so it is what reaches the anomaly threshold. Without it a service
/// that failed one request in a thousand against a baseline of none outranks one failing a
/// fifth of its requests (a near-zero baseline has a near-zero spread). Counts and rates of
/// errors have no such scale and keep their own.
fn material_spread(kind: SignalKind, full: Option<f64>) -> f64 {
    if kind != SignalKind::Errors {
        return 0.0;
    }
    full.map_or(0.0, |full| full / 100.0 / Z_THRESHOLD)
}

/// What a ratio series reads when all requests count (100 for a percentage, 1 for a
/// fraction), or `None` when it is not a ratio. A `success` measure (a success ratio, an
/// availability) is a ratio by what it means: one that reads above 1 and never above 100
/// is a percentage whatever its name (`Availability` as cloud monitoring reports it),
/// unless the name says it counts (`SuccessfulRequestCount`).
fn ratio_full(series: &MetricSeries, success: bool) -> Option<f64> {
    let values = || {
        series
            .points
            .iter()
            .map(|p| p.value)
            .filter(|v| v.is_finite())
    };
    let percent = {
        let name = series.metric.to_ascii_lowercase();
        name.contains("percent") || name.contains("pct") || name.ends_with('%')
    };
    let within = |full: f64| values().all(|v| (0.0..=full).contains(&v));
    if percent && within(100.0) {
        Some(100.0)
    } else if within(1.0) {
        Some(1.0)
    } else if success && !names_a_count(&series.metric) && within(100.0) {
        Some(100.0)
    } else {
        None
    }
}

/// Least-squares slope per sample.
fn slope(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 3 {
        return 0.0;
    }
    let mean_x = (n - 1) as f64 / 2.0;
    let mean_y = values.iter().sum::<f64>() / n as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        num += dx * (y - mean_y);
        den += dx * dx;
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// Falls back toward `center` (the baseline level) between consecutive samples: of more
/// than 4 robust standard deviations, and undoing at least half of how far the first stood
/// above the baseline (a restart starts afresh; a wobble high above the baseline is not
/// one).
fn resets(values: &[f64], center: f64, spread: f64) -> usize {
    values
        .windows(2)
        .filter(|w| {
            let fall = w[0] - w[1];
            fall > 4.0 * spread && fall >= 0.5 * (w[0] - center)
        })
        .count()
}

#[cfg(test)]
mod tests;
