//! One signal judged across the three windows: was it a symptom during the incident, and
//! is it healthy again after the fix settled?
//!
//! A symptom is a move in the worse direction (latency up, success down, ...) of the
//! sustained worst of the incident window (the median of its worst third, so a single
//! spike does not count) beyond a tolerance taken from the baseline's own variability
//! (median and IQR or MAD, whichever is wider) with a floor relative to its level. It is
//! healthy again when the median after the fix is no worse than the expected level (the
//! baseline, or for cpu and saturation the baseline at today's traffic) plus that
//! tolerance; better than the baseline is healthy. Restarts are counted instead: as many
//! as the baseline's pace would give, no more.

use chrono::{DateTime, Utc};
use itops_core::telemetry::MetricSeries;
use serde::Serialize;

use super::signals::Symptom;

/// The share of a symptom's move that may remain for it to count as healed.
const MOSTLY_BACK: f64 = 0.2;

/// A time window, `[from, to)`.
pub(crate) type Window = (DateTime<Utc>, DateTime<Utc>);

/// The three windows a verification compares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Windows {
    pub(crate) baseline: Window,
    pub(crate) during: Window,
    pub(crate) after: Window,
}

/// How far a symptom must have moved, and how close it must come back, in robust
/// standard deviations of the baseline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Thresholds {
    pub(crate) symptom_z: f64,
    pub(crate) recovered_z: f64,
}

/// One signal compared across the three windows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalCheck {
    /// The service.
    pub service: String,
    /// The metric (a counter is compared as its per-second rate; restarts as a count).
    pub metric: String,
    /// What it shows.
    pub symptom: Symptom,
    /// Median before the incident (restarts: how many in the window).
    pub baseline: f64,
    /// The sustained worst during the incident, before the fix.
    pub during: f64,
    /// Median after the fix settled.
    pub after: f64,
    /// The level it should be back at: the baseline, or for a signal that follows load
    /// (cpu, saturation) the baseline scaled by the change in the service's request rate
    /// since (traffic that grew through the morning keeps the cpu up, fixed or not).
    pub expected: f64,
    /// How far from the expected level (in the worse direction) still counts as healthy.
    pub tolerance: f64,
    /// How many times the least move that counts as a symptom it moved (1 is barely).
    pub strength: f64,
    /// Whether it is healthy again (back within tolerance, or better than before).
    pub recovered: bool,
    /// Whether it climbs again after the fix at the pace it climbed during the incident
    /// (what a restart does to a leak): healthy for now, not for long.
    pub regrowing: bool,
}

/// Judges `series` (already a rate if it was a counter); `None` when it was no symptom or
/// has too few samples.
pub(crate) fn judge(
    series: &MetricSeries,
    symptom: Symptom,
    windows: &Windows,
    load: f64,
    thresholds: Thresholds,
) -> Option<SignalCheck> {
    let (pb, pd, pa) = (
        points(series, windows.baseline),
        points(series, windows.during),
        points(series, windows.after),
    );
    let values = |pts: &[(f64, f64)]| pts.iter().map(|p| p.1).collect::<Vec<f64>>();
    let (b, d, a) = (values(&pb), values(&pd), values(&pa));
    if b.len() < 3 || d.len() < 2 || a.len() < 2 {
        return None;
    }
    let worse = symptom.worse(&series.metric);
    let base = median(&b);
    let fraction = b
        .iter()
        .chain(&d)
        .chain(&a)
        .all(|v| (0.0..=1.0).contains(v));
    let material = symptom.material(base, fraction);
    let sigma = robust_sigma(&b);
    // The sustained worst of the incident: the median of its worst third.
    let mut ranked: Vec<f64> = d.iter().map(|v| v * worse).collect();
    ranked.sort_by(|x, y| y.total_cmp(x));
    let third = ranked.len().div_ceil(3).max(1);
    let dur = median(&ranked[..third]) * worse;
    let shift = (dur - base) * worse;
    let bar = (thresholds.symptom_z * sigma).max(material);
    if shift < bar {
        return None;
    }
    let load = if symptom.follows_load() { load } else { 1.0 };
    let expected = base * load;
    let tolerance = (thresholds.recovered_z * sigma * load.max(1.0)).max(material * load.max(1.0));
    let aft = median(&a);
    // Back within the baseline's range, or most of the way back (what is left is small
    // beside what the incident did: a spike absorbed by more replicas still runs a little
    // warmer than before it).
    let left = (aft - expected) * worse;
    let level_back = left <= tolerance || left <= MOSTLY_BACK * shift;
    // Something that accumulates (leaked memory, connections, disk) and climbed steadily
    // during the incident, climbing again at the same pace after the fix, visibly and
    // without slowing down (a warm-up slows), is back only until it gets there again.
    let span = |p: &[(f64, f64)]| p.last().map_or(0.0, |x| x.0) - p.first().map_or(0.0, |x| x.0);
    let growth = slope(&pd) * worse;
    let trending = growth > 0.0 && growth * span(&pd) >= 0.5 * shift;
    let half = pa.len() / 2;
    let regrowing = symptom.accumulates()
        && trending
        && slope(&pa) * worse >= 0.5 * growth
        && slope(&pa) * worse * span(&pa) >= tolerance
        && (pa.len() < 4 || slope(&pa[half..]) * worse >= 0.5 * growth);
    Some(SignalCheck {
        service: series.service.clone(),
        metric: series.metric.clone(),
        symptom,
        baseline: round_sig(base),
        during: round_sig(dur),
        after: round_sig(aft),
        expected: round_sig(expected),
        tolerance: round_sig(tolerance),
        strength: round_sig(shift / bar),
        recovered: level_back,
        regrowing: level_back && regrowing,
    })
}

/// Judges a restart count (cumulative, or a per-second rate if it was read as a counter):
/// a symptom when the incident had more restarts than the baseline's pace gives; healthy
/// when the settled window has no more than that pace allows. Its strength is low when
/// the settled window is too short to have seen two restarts at the incident's pace.
pub(crate) fn judge_restarts(series: &MetricSeries, windows: &Windows) -> Option<SignalCheck> {
    let count = |w: Window| -> Option<(f64, f64)> {
        let pts = points(series, w);
        if pts.len() < 2 {
            return None;
        }
        let added: f64 = pts.windows(2).map(|p| (p[1].1 - p[0].1).max(0.0)).sum();
        let seconds = (w.1 - w.0).num_milliseconds() as f64 / 1000.0;
        Some((added, seconds.max(1.0)))
    };
    let (base, base_s) = count(windows.baseline)?;
    let (dur, dur_s) = count(windows.during)?;
    let (aft, aft_s) = count(windows.after)?;
    let pace = base / base_s;
    let allowed = |seconds: f64| {
        let expected = pace * seconds;
        (expected, (3.0 * expected.sqrt()).max(0.5))
    };
    let (expected_during, slack) = allowed(dur_s);
    let bar = expected_during + slack.max(1.0);
    if dur < bar {
        return None;
    }
    let (expected, tolerance) = allowed(aft_s);
    Some(SignalCheck {
        service: series.service.clone(),
        metric: series.metric.clone(),
        symptom: Symptom::Restarts,
        baseline: round_sig(base),
        during: round_sig(dur),
        after: round_sig(aft),
        expected: round_sig(expected),
        tolerance: round_sig(tolerance),
        // Restarts that come in cycles (a leak's OOM kills) prove nothing by their absence
        // from a window too short to have seen one at the incident's pace.
        strength: round_sig((dur / bar).min(dur / dur_s * aft_s)),
        recovered: aft <= expected + tolerance,
        regrowing: false,
    })
}

/// The (seconds since the window's start, value) points of `series` within `[from, to)`.
pub(crate) fn points(series: &MetricSeries, (from, to): Window) -> Vec<(f64, f64)> {
    series
        .points
        .iter()
        .filter(|p| p.at >= from && p.at < to && p.value.is_finite())
        .map(|p| ((p.at - from).num_milliseconds() as f64 / 1000.0, p.value))
        .collect()
}

/// Median; 0 for no values.
pub(crate) fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Linear-interpolated quantile; 0 for no values.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The baseline's spread as a standard deviation: the wider of IQR / 1.349 and
/// 1.4826 × MAD (both robust to the odd outlier; IQR also sees a two-level baseline).
pub(crate) fn robust_sigma(values: &[f64]) -> f64 {
    let iqr = (quantile(values, 0.75) - quantile(values, 0.25)) / 1.349;
    let m = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    iqr.max(1.4826 * median(&deviations))
}

/// Least-squares slope of (seconds, value) points; 0 for fewer than two.
pub(crate) fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx <= 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

/// Rounds to four significant digits, for reports.
pub(crate) fn round_sig(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let digits = 4 - value.abs().log10().ceil() as i32;
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}
