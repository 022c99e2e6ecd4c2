//! When an incident began: the change point of its signals before the time it was detected.

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{MetricQuery, MetricSeries, Span, SpanQuery, TimeRange};
use itops_core::{Result, TelemetrySource};

use super::{change_point, metrics, peers, traces, window, SCAN_LIMIT};

/// How long before detection the incident is assumed to start when no onset shows.
const DEFAULT_LEAD: Duration = Duration::minutes(5);
/// The earliest an inferred onset may be before detection.
pub(super) const MAX_LEAD: Duration = Duration::minutes(10);
/// How much data before the detection time the onset is judged against.
const ONSET_CONTEXT: Duration = Duration::minutes(40);
/// How much data after the detection time (when there is any) is read to check that a
/// change before it carried into the incident.
const ONSET_FOLLOW: Duration = Duration::minutes(5);

/// When the incident detected at `at` began, from the telemetry of `source`: the change
/// point of its metrics and span durations in the ten minutes before `at` that carried into
/// the incident (see the ranking's onset), or `None` when nothing changed before `at` (the
/// fault began with the alert, or shows no change point). The ranking compares from the
/// same onset; verification ends its baseline there.
pub async fn detected_onset(
    source: &dyn TelemetrySource,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    // A live source (no fixed bounds): the data is what there is around `at`.
    let data = match source.time_bounds().await? {
        Some(data) => data,
        None => TimeRange::new(at - ONSET_CONTEXT, at + ONSET_FOLLOW)?,
    };
    let range = TimeRange {
        start: (at - ONSET_CONTEXT).max(data.start),
        end: (at + ONSET_FOLLOW)
            .min(data.end)
            .max((at - ONSET_CONTEXT).max(data.start)),
    };
    let all: Vec<MetricSeries> = source
        .metrics(&MetricQuery {
            range,
            service: None,
            metric: None,
        })
        .await?
        .into_iter()
        .map(metrics::as_rate_if_counter)
        .collect();
    let spans = source
        .spans(&SpanQuery {
            range,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: SCAN_LIMIT,
        })
        .await?;
    let signals = onset_signals(&all, &spans, data, at);
    Ok(change_point_before(&signals, at, data).filter(|t| *t < at))
}

/// The series the onset is looked for in: every metric, throughput read relative to the
/// load every service shares (so that a drift in traffic does not pass for the onset), and
/// each service's span durations.
pub(super) fn onset_signals(
    all_metrics: &[MetricSeries],
    spans: &[Span],
    data: TimeRange,
    at: DateTime<Utc>,
) -> Vec<MetricSeries> {
    let (mut signals, _) = peers::relative_to_peers(
        all_metrics.to_vec(),
        TimeRange {
            start: data.start,
            end: at,
        },
    );
    signals.extend(traces::duration_series(spans));
    signals
}

/// The consensus change point of `metrics` in the `MAX_LEAD` before `at`, judged on up to
/// `ONSET_CONTEXT` of data before it; when data follows `at`, only one the incident
/// carried on (the signals that moved after `at` were not mostly back to normal between
/// it and `at`: else it was something else, and the fault began with the alert, `at`).
fn change_point_before(
    metrics: &[MetricSeries],
    at: DateTime<Utc>,
    data: TimeRange,
) -> Option<DateTime<Utc>> {
    let context: Vec<MetricSeries> = metrics
        .iter()
        .map(|s| window::clip(s, at - ONSET_CONTEXT, at))
        .collect();
    let candidates = TimeRange {
        start: at - MAX_LEAD,
        end: at,
    };
    let onset = change_point::infer_start_within(&context, Some(candidates))?;
    let unfolds_after = data.end - at >= Duration::minutes(1);
    if unfolds_after && onset < at {
        let follow: Vec<MetricSeries> = metrics
            .iter()
            .map(|s| window::clip(s, at - ONSET_CONTEXT, at + ONSET_FOLLOW))
            .collect();
        let share = change_point::carried_into(&follow, onset, at);
        if share.is_some_and(|share| share < 0.25) {
            return Some(at);
        }
    }
    Some(onset)
}

/// The onset of an incident detected at `at`: the consensus change point of the metrics in
/// the `MAX_LEAD` before `at`, judged on up to `ONSET_CONTEXT` of data before it (data after
/// `at` is the incident unfolding: it is scored, not searched for the start). Without a
/// clear change point, `DEFAULT_LEAD` before `at`. Always leaves a baseline of at least
/// three samples when the data before `at` holds them, else the onset is `at` itself (an
/// alert that fired as the fault began).
pub(super) fn incident_onset(
    metrics: &[MetricSeries],
    at: DateTime<Utc>,
    data: TimeRange,
) -> DateTime<Utc> {
    // Without a change point before `at`: when the data runs on after it, the fault shows
    // from `at` (an alert that fired as it began); in live data that ends at `at`, it is
    // assumed to have begun `DEFAULT_LEAD` before.
    let unfolds_after = data.end - at >= Duration::minutes(1);
    let fallback = if unfolds_after { at } else { at - DEFAULT_LEAD };
    let onset = change_point_before(metrics, at, data).unwrap_or(fallback);
    // Keep a baseline: at least three samples of the typical series (a robust level needs
    // them), and at least a quarter of the data before `at`, up to a minute. When even
    // that is more than the data before `at` holds, the onset is `at`.
    let step = typical_step(metrics).unwrap_or(Duration::zero());
    let least = ((at - data.start).min(Duration::minutes(4)) / 4).max(step * 3);
    if data.start + least > at {
        return at.max(data.start);
    }
    onset.max(data.start + least).min(at.max(data.start))
}

/// The median gap between consecutive samples over all series (of one series: its
/// typical interval, which a gap in it does not change); `None` with no two samples.
pub(super) fn typical_step(metrics: &[MetricSeries]) -> Option<Duration> {
    let mut gaps: Vec<f64> = metrics
        .iter()
        .flat_map(|s| s.points.windows(2))
        .map(|w| (w[1].at - w[0].at).num_milliseconds() as f64)
        .filter(|g| *g > 0.0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    Some(Duration::milliseconds(gaps[gaps.len() / 2] as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use itops_core::telemetry::MetricPoint;

    #[test]
    fn the_step_is_the_series_typical_gap_not_a_gap_in_it() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap_or_default();
        let series = |seconds: &[i64]| MetricSeries {
            service: "svc".into(),
            metric: "latency".into(),
            points: seconds
                .iter()
                .map(|s| MetricPoint {
                    at: t(*s),
                    value: 1.0,
                })
                .collect(),
        };
        // A sample a minute with four minutes missing: still a sample a minute.
        let gapped = series(&[0, 60, 120, 180, 420, 480]);
        assert_eq!(typical_step(&[gapped]), Some(Duration::seconds(60)));
        assert_eq!(typical_step(&[series(&[0])]), None);
    }
}
