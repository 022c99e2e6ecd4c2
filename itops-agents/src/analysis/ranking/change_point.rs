//! Change points: where a series, a set of series or a run of events changes, and the
//! incident's onset placed from them.

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{MetricSeries, TimeRange};

use crate::analysis::ranking::window;
use crate::analysis::stats::{mad_sigma, median};

/// The onset `onset`, found in metrics sampled every `step`, placed more finely by the
/// change point of finer `series` (e.g. span durations) when theirs falls within two steps
/// after it: a sampled metric shows a change only to within its step, and an exporter
/// stamps a sample at the start or at the end of the interval it sums up. Otherwise
/// `onset`.
pub(crate) fn refine_onset(
    onset: DateTime<Utc>,
    series: &[MetricSeries],
    step: Duration,
) -> DateTime<Utc> {
    if step <= Duration::zero() || series.is_empty() {
        return onset;
    }
    // Looked for twice as far as it may move the onset, so that a change further on does
    // not show as a split at the edge of the reach.
    let reach = step * 2;
    let within = TimeRange {
        start: onset - reach * 2,
        end: onset + reach * 2,
    };
    match infer_start_within(series, Some(within)) {
        Some(finer) if finer > onset && finer - onset <= reach => finer,
        _ => onset,
    }
}

/// Where to split traces that begin within a metric step of the onset the metrics place
/// (spans are often kept for a shorter time than metrics): that onset leaves them almost
/// no baseline, while the metrics can place it only to within their step. Then the traces'
/// own change point after their first step (their first third, when they cover less than
/// three steps) and before the detection time is taken, when they show one. Traces that begin more than a step after the onset began with the fault
/// under way: they have no baseline to find, and `onset` stands.
pub(crate) fn onset_where_traces_begin(
    onset: DateTime<Utc>,
    detected: DateTime<Utc>,
    series: &[MetricSeries],
    step: Duration,
    extent: Option<TimeRange>,
) -> DateTime<Utc> {
    let Some(extent) = extent else {
        return onset;
    };
    // Their own baseline: a metric step of them, or a third of them when they are short.
    let lead = step.min((extent.end - extent.start) / 3);
    let begins_with_it = extent.start + lead > onset && extent.start <= onset + step;
    if step <= Duration::zero() || !begins_with_it {
        return onset;
    }
    let within = TimeRange {
        start: extent.start + lead,
        end: detected.min(extent.end),
    };
    if within.end <= within.start {
        return onset;
    }
    match infer_start_within(series, Some(within)) {
        Some(own) if own > onset => own,
        _ => onset,
    }
}

/// The most likely incident start, from the metric series: each series proposes the split
/// that best separates two levels (weighted by how strongly it separates them); the start is
/// the earliest strong split in the densest cluster of proposals. `None` without usable series.
pub(crate) fn infer_start(series: &[MetricSeries]) -> Option<DateTime<Utc>> {
    infer_start_within(series, None)
}

/// Like [`infer_start`], with each series' split looked for only among the samples within
/// `within` (the rest of the series still tells the levels before and after).
pub(crate) fn infer_start_within(
    series: &[MetricSeries],
    within: Option<TimeRange>,
) -> Option<DateTime<Utc>> {
    let mut proposals: Vec<(DateTime<Utc>, f64)> = series
        .iter()
        .filter_map(|s| best_split(s, within))
        .collect();
    if proposals.is_empty() {
        return None;
    }
    proposals.sort_by(|a, b| b.1.total_cmp(&a.1));
    // Keep the strongest proposals; weak ones are noise.
    let strongest = proposals[0].1;
    proposals.retain(|p| p.1 >= strongest * 0.3);
    let span = proposals.iter().map(|p| p.0).max()? - proposals.iter().map(|p| p.0).min()?;
    // Around a known detection time the onset is looked for among a few minutes: a tighter
    // neighbourhood.
    let radius = if within.is_some() {
        Duration::minutes(1)
    } else {
        (span / 10).max(Duration::minutes(2))
    };
    // The proposal whose neighbourhood carries the most weight.
    let (center, _) = proposals
        .iter()
        .map(|(t, _)| {
            let weight: f64 = proposals
                .iter()
                .filter(|(u, _)| (*u - *t).abs() <= radius)
                .map(|(_, w)| w)
                .sum();
            (*t, weight)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let mut cluster: Vec<(DateTime<Utc>, f64)> = proposals
        .into_iter()
        .filter(|(t, _)| (*t - center).abs() <= radius)
        .collect();
    if within.is_none() {
        return cluster.iter().map(|(t, _)| *t).min();
    }
    // Near a detection time: where a quarter of the cluster's weight has changed (a few
    // noisy early splits do not pull the onset before the fault).
    cluster.sort_by_key(|(t, _)| *t);
    let total: f64 = cluster.iter().map(|(_, w)| w).sum();
    let mut seen = 0.0;
    cluster
        .iter()
        .find(|(_, w)| {
            seen += w;
            seen >= 0.25 * total
        })
        .map(|(t, _)| *t)
}

/// Of the series that moved after `at` (their median from `at` on is three robust
/// deviations off their level before `onset`), the share of their samples between `onset`
/// and `at` that were already off: near 1 when the change at `onset` is the incident's
/// beginning, near 0 when the signals were back to normal in between. `None` when no series
/// moved after `at` or none has samples in between.
pub(crate) fn carried_into(
    series: &[MetricSeries],
    onset: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Option<f64> {
    let (mut off, mut total) = (0usize, 0usize);
    for s in series {
        let values = |keep: &dyn Fn(DateTime<Utc>) -> bool| -> Vec<f64> {
            s.points
                .iter()
                .filter(|p| p.value.is_finite() && keep(p.at))
                .map(|p| p.value)
                .collect()
        };
        let before = values(&|t| t < onset);
        let between = values(&|t| t >= onset && t < at);
        let after = values(&|t| t >= at);
        if before.len() < 3 || between.is_empty() || after.len() < 3 {
            continue;
        }
        let center = median(&before);
        let spread = mad_sigma(&before).max(center.abs() * 0.02).max(1e-9);
        let deviation = |v: f64| (v - center) / spread;
        let moved = deviation(median(&after));
        if moved.abs() < 3.0 {
            continue;
        }
        // Off in the same direction as the incident's move.
        off += between
            .iter()
            .filter(|v| deviation(**v) * moved.signum() >= 3.0)
            .count();
        total += between.len();
    }
    (total > 0).then(|| off as f64 / total as f64)
}

/// The split of one series into before/after: located where the difference of means,
/// weighted by how balanced the split is, is largest (binary segmentation), and weighed by
/// the robust shift of the median there, in robust standard deviations of the "before" part.
fn best_split(series: &MetricSeries, within: Option<TimeRange>) -> Option<(DateTime<Utc>, f64)> {
    let (times, values) = downsample(series, 240);
    let n = values.len();
    if n < 6 {
        return None;
    }
    let min_side = (n / 8).max(2);
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    for v in &values {
        prefix.push(prefix[prefix.len() - 1] + v);
    }
    let total = prefix[n];
    let allowed = |k: &usize| within.is_none_or(|w| w.contains(times[*k]) || times[*k] == w.end);
    let k = (min_side..=n - min_side).filter(allowed).max_by(|&a, &b| {
        let stat = |k: usize| {
            let before = prefix[k] / k as f64;
            let after = (total - prefix[k]) / (n - k) as f64;
            (before - after).abs() * ((k * (n - k)) as f64).sqrt()
        };
        stat(a).total_cmp(&stat(b))
    })?;
    let before = &values[..k];
    let center = median(before);
    let spread = mad_sigma(before).max(center.abs() * 0.02).max(1e-9);
    let shift = (median(&values[k..]) - center).abs() / spread;
    // A change holds for at least three samples: one or two off at the end of the record
    // are as often an artefact of the export (a partial last interval).
    let beyond = values[k..]
        .iter()
        .filter(|v| (**v - center).abs() / spread >= 3.0)
        .count();
    (shift.is_finite() && shift >= 3.0 && beyond >= 3).then(|| (times[k], shift.ln_1p()))
}

/// Where a run of flags (anomalous or not, in time order) turns anomalous: the split that
/// best fits one anomaly rate before and a higher one after (a two-segment Bernoulli
/// change point), then the first flagged element from there. A lone early outlier does not
/// move it, as "the first flagged element" alone would. `None` when nothing is flagged.
pub(crate) fn flagged_onset(flags: &[bool]) -> Option<usize> {
    let first = flags.iter().position(|f| *f)?;
    let n = flags.len();
    let total = flags.iter().filter(|f| **f).count();
    // x ln(x / n), with 0 ln 0 = 0.
    let term = |x: usize, n: usize| {
        if x == 0 || n == 0 {
            0.0
        } else {
            x as f64 * (x as f64 / n as f64).ln()
        }
    };
    let fit = |x: usize, n: usize| term(x, n) + term(n - x, n);
    let whole = fit(total, n);
    let mut best: Option<(usize, f64)> = None;
    let mut before = 0;
    for k in 1..n {
        before += usize::from(flags[k - 1]);
        let after = total - before;
        // Only a rise: the anomaly rate after the split must exceed the one before.
        if after * k <= before * (n - k) {
            continue;
        }
        let gain = fit(before, k) + fit(after, n - k) - whole;
        if best.is_none_or(|(_, g)| gain > g) {
            best = Some((k, gain));
        }
    }
    // A clear change (a likelihood-ratio statistic of at least 2 × 3) moves the onset to
    // where the rate rose; otherwise the anomaly was there from the start.
    match best {
        Some((k, gain)) if gain >= 3.0 => flags[k..].iter().position(|f| *f).map(|i| k + i),
        _ => Some(first),
    }
}

/// Where the rate of events (times in order) within `range` rose: the split that best fits
/// one Poisson rate before and a higher one after. The first event when the rate did not
/// clearly change; `None` without events.
pub(crate) fn rate_onset(events: &[DateTime<Utc>], range: TimeRange) -> Option<DateTime<Utc>> {
    let first = *events.first()?;
    let n = events.len();
    let span = window::seconds(range);
    let term = |x: usize, t: f64| {
        if x == 0 || t <= 0.0 {
            0.0
        } else {
            x as f64 * (x as f64 / t).ln()
        }
    };
    let whole = term(n, span);
    let mut best: Option<(usize, f64)> = None;
    for (k, at) in events.iter().enumerate().skip(1) {
        let before = ((*at - range.start).num_milliseconds().max(0) as f64 / 1000.0).min(span);
        let after = span - before;
        if after <= 0.0 || (n - k) as f64 * before <= k as f64 * after {
            continue;
        }
        let gain = term(k, before) + term(n - k, after) - whole;
        if best.is_none_or(|(_, g)| gain > g) {
            best = Some((k, gain));
        }
    }
    match best {
        Some((k, gain)) if gain >= 3.0 => Some(events[k]),
        _ => Some(first),
    }
}

/// At most `buckets` points: consecutive samples averaged, each bucket stamped with its
/// first sample's time. Non-finite samples are dropped.
pub(crate) fn downsample(series: &MetricSeries, buckets: usize) -> (Vec<DateTime<Utc>>, Vec<f64>) {
    let points: Vec<_> = series
        .points
        .iter()
        .filter(|p| p.value.is_finite())
        .collect();
    let per_bucket = points.len().div_ceil(buckets.max(1)).max(1);
    let mut times = Vec::with_capacity(points.len() / per_bucket + 1);
    let mut values = Vec::with_capacity(points.len() / per_bucket + 1);
    for chunk in points.chunks(per_bucket) {
        times.push(chunk[0].at);
        values.push(chunk.iter().map(|p| p.value).sum::<f64>() / chunk.len() as f64);
    }
    (times, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use itops_core::telemetry::MetricPoint;
    /// `values` a minute apart from midnight.
    fn series(values: &[f64]) -> MetricSeries {
        fine(values, 60)
    }

    /// `values` every `step_s` seconds from midnight.
    fn fine(values: &[f64], step_s: i64) -> MetricSeries {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        MetricSeries {
            service: "s".into(),
            metric: "span_duration".into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| MetricPoint {
                    at: t0 + Duration::seconds(i as i64 * step_s),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn finer_series_place_an_onset_within_the_metrics_step() {
        let minute = |m: i64, s: i64| {
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + Duration::minutes(m)
                + Duration::seconds(s)
        };
        // Span durations every 5 s: the change at 10:40 (second 640).
        let v: Vec<f64> = (0..200)
            .map(|i| if i >= 128 { 90.0 } else { 20.0 } + (i % 3) as f64)
            .collect();
        let spans = [fine(&v, 5)];
        let step = Duration::minutes(1);
        // The metrics, a sample a minute, put it at 10:00: the traces place it at 10:40.
        assert_eq!(refine_onset(minute(10, 0), &spans, step), minute(10, 40));
        // A change in the traces long after the metrics' onset is another matter.
        assert_eq!(refine_onset(minute(6, 0), &spans, step), minute(6, 0));
        // Nor is an onset moved earlier, or by series as coarse as the metrics.
        assert_eq!(refine_onset(minute(11, 0), &spans, step), minute(11, 0));
        assert_eq!(refine_onset(minute(10, 0), &[], step), minute(10, 0));
    }

    #[test]
    fn traces_that_begin_at_the_metrics_onset_are_split_where_they_change() {
        let at = |s: i64| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(s);
        // Spans every 5 s for three minutes from 0 s; their durations change at 100 s.
        let v: Vec<f64> = (0..36)
            .map(|i| if i >= 20 { 90.0 } else { 20.0 } + (i % 3) as f64)
            .collect();
        let spans = [fine(&v, 5)];
        let step = Duration::minutes(1);
        let extent = Some(TimeRange {
            start: at(0),
            end: at(180),
        });
        let detected = at(600);
        // The metrics place the onset at 0 s, where the traces begin: they are split
        // where they change instead, which leaves them a baseline.
        assert_eq!(
            onset_where_traces_begin(at(0), detected, &spans, step, extent),
            at(100)
        );
        // Traces that begin two steps after the onset began with the fault under way:
        // any change they show is not its start.
        assert_eq!(
            onset_where_traces_begin(at(-120), detected, &spans, step, extent),
            at(-120)
        );
        // Traces with a step of their own before the onset are split there as they are.
        assert_eq!(
            onset_where_traces_begin(at(90), detected, &spans, step, extent),
            at(90)
        );
        assert_eq!(
            onset_where_traces_begin(at(0), detected, &spans, step, None),
            at(0)
        );
        // Traces of a minute and a half keep their first half minute as their baseline.
        let short: Vec<f64> = (0..18)
            .map(|i| if i >= 10 { 90.0 } else { 20.0 } + (i % 3) as f64)
            .collect();
        let extent = Some(TimeRange {
            start: at(0),
            end: at(90),
        });
        assert_eq!(
            onset_where_traces_begin(at(0), detected, &[fine(&short, 5)], step, extent),
            at(50)
        );
    }

    #[test]
    fn finds_a_level_shift() {
        let mut v: Vec<f64> = (0..40).map(|i| 10.0 + (i % 3) as f64 * 0.5).collect();
        v.extend((0..20).map(|i| 50.0 + (i % 2) as f64));
        let t = infer_start(&[series(&v)]).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 1, 1, 0, 40, 0).unwrap());
    }

    #[test]
    fn no_shift_no_start() {
        let v: Vec<f64> = (0..60).map(|i| 10.0 + (i % 3) as f64 * 0.5).collect();
        assert!(infer_start(&[series(&v)]).is_none());
    }

    #[test]
    fn a_jump_in_the_last_two_samples_is_not_a_change_point() {
        // A partial last interval in an export: two samples off at the very end.
        let mut v: Vec<f64> = (0..10).map(|i| 10.0 + (i % 3) as f64 * 0.5).collect();
        v.extend([40.0, 42.0]);
        assert_eq!(infer_start(&[series(&v)]), None);
        // Three samples after it are a change.
        v.push(41.0);
        assert_eq!(
            infer_start(&[series(&v)]),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap())
        );
    }

    #[test]
    fn a_change_carries_into_the_incident_or_it_does_not() {
        let t = |i: i64| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(i);
        // Quiet to minute 20, off from then on: everything between 20 and 25 was off.
        let lasting: Vec<f64> = (0..30)
            .map(|i| {
                if i >= 20 {
                    50.0
                } else {
                    10.0 + (i % 3) as f64 * 0.5
                }
            })
            .collect();
        assert_eq!(carried_into(&[series(&lasting)], t(20), t(25)), Some(1.0));
        // Off at minute 20 for one sample, then again from 25: nearly nothing in between.
        let mut passing = lasting.clone();
        for v in passing.iter_mut().take(25).skip(21) {
            *v = 10.0;
        }
        let share = carried_into(&[series(&passing)], t(20), t(25));
        assert!(share.is_some_and(|s| s <= 0.2), "{share:?}");
        // Nothing moved after minute 25: nothing to say.
        let flat: Vec<f64> = (0..30).map(|i| 10.0 + (i % 3) as f64 * 0.5).collect();
        assert_eq!(carried_into(&[series(&flat)], t(20), t(25)), None);
    }

    #[test]
    fn an_onset_is_where_the_anomaly_rate_rises_not_the_first_outlier() {
        // One stray outlier early, then a sustained anomaly from index 30.
        let mut flags = vec![false; 60];
        flags[4] = true;
        for f in flags.iter_mut().skip(30) {
            *f = true;
        }
        flags[33] = false;
        assert_eq!(flagged_onset(&flags), Some(30));
        // Anomalous throughout: the first element.
        assert_eq!(flagged_onset(&[true, true, false, true, true]), Some(0));
        assert_eq!(flagged_onset(&[false, false]), None);
    }

    #[test]
    fn a_rate_onset_ignores_a_stray_early_event() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let range = TimeRange {
            start: t0,
            end: t0 + Duration::minutes(20),
        };
        let mut events = vec![t0 + Duration::seconds(40)];
        events.extend((0..200).map(|i| t0 + Duration::minutes(5) + Duration::seconds(i * 4)));
        assert_eq!(rate_onset(&events, range), Some(t0 + Duration::minutes(5)));
        // A steady trickle has no onset beyond its first event.
        let steady: Vec<_> = (0..20).map(|i| t0 + Duration::minutes(i)).collect();
        assert_eq!(rate_onset(&steady, range), Some(t0));
        assert_eq!(rate_onset(&[], range), None);
    }
}
