//! The baseline and incident windows around the incident's start, and what counts in them.

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{MetricSeries, TimeRange};

/// The fewest events the baseline's rate must predict for the incident window before
/// their absence means something: a Poisson count with this mean is zero less than once in
/// 20,000 times.
pub(crate) const MIN_EXPECTED_EVENTS: f64 = 10.0;

/// The incident's start and the two windows compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Windows {
    pub(crate) at: DateTime<Utc>,
    pub(crate) baseline: TimeRange,
    pub(crate) incident: TimeRange,
}

impl Windows {
    /// How many events the baseline's rate predicts for the incident window.
    pub(crate) fn expected_in_incident(&self, baseline_count: usize) -> f64 {
        baseline_count as f64 / seconds(self.baseline) * seconds(self.incident)
    }

    /// Whether something steady in the baseline (at least 20 events) all but stopped in the
    /// incident window (under a tenth of its baseline rate) for at least a minute. A shorter
    /// incident window (a signal whose record ends soon after the onset) cannot tell a
    /// stop from a pause, nor can a rate so low that the window would hold only a few
    /// events: at least [`MIN_EXPECTED_EVENTS`] must have been due (a quiet caller at night
    /// makes none for minutes on end by chance).
    pub(crate) fn fell_silent(&self, baseline_count: usize, incident_count: usize) -> bool {
        let expected = self.expected_in_incident(baseline_count);
        self.incident.end - self.incident.start >= Duration::minutes(1)
            && baseline_count >= 20
            && expected >= MIN_EXPECTED_EVENTS
            && (incident_count as f64) < 0.1 * expected
    }
}

impl Windows {
    /// The windows cut to the time a signal covers (`None`: unchanged); an empty cut is an
    /// empty window at the edge, which holds nothing.
    pub(crate) fn within(&self, extent: Option<TimeRange>) -> Windows {
        let Some(extent) = extent else {
            return *self;
        };
        let cut = |r: TimeRange| {
            let start = r.start.max(extent.start).min(r.end);
            let end = r.end.min(extent.end).max(start);
            TimeRange { start, end }
        };
        Windows {
            at: self.at,
            baseline: cut(self.baseline),
            incident: cut(self.incident),
        }
    }
}

/// Length of a range in seconds, at least a millisecond.
pub(crate) fn seconds(range: TimeRange) -> f64 {
    (range.end - range.start).num_milliseconds().max(1) as f64 / 1000.0
}

/// Poisson z of an observed count against the count a baseline rate predicts.
pub(crate) fn excess_z(observed: usize, expected: f64) -> f64 {
    (observed as f64 - expected) / (expected + 1.0).sqrt()
}

/// Longest baseline used before the incident, in minutes.
pub const MAX_BASELINE_MINUTES: i64 = 120;
/// Longest incident window used after its start, in minutes.
pub const MAX_INCIDENT_MINUTES: i64 = 60;
pub(crate) const MAX_BASELINE: Duration = Duration::minutes(MAX_BASELINE_MINUTES);
pub(crate) const MAX_INCIDENT: Duration = Duration::minutes(MAX_INCIDENT_MINUTES);

/// The part of `series` within `[from, to]`.
pub(crate) fn clip(series: &MetricSeries, from: DateTime<Utc>, to: DateTime<Utc>) -> MetricSeries {
    MetricSeries {
        service: series.service.clone(),
        metric: series.metric.clone(),
        points: series
            .points
            .iter()
            .filter(|p| p.at >= from && p.at <= to)
            .cloned()
            .collect(),
    }
}

/// Windows around `at`, bounded by the data.
pub(crate) fn around(at: DateTime<Utc>, data: TimeRange) -> Windows {
    let baseline_start = (at - MAX_BASELINE).max(data.start);
    let incident_end = (at + MAX_INCIDENT)
        .min(data.end)
        .max(at + Duration::seconds(1));
    Windows {
        at,
        baseline: TimeRange {
            start: baseline_start.min(at),
            end: at,
        },
        incident: TimeRange {
            start: at,
            end: incident_end,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn too_few_events_due_cannot_tell_a_stop_from_chance() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        let windows = around(
            at,
            TimeRange {
                start: at - Duration::minutes(40),
                end: at + Duration::minutes(5),
            },
        );
        let baseline = (windows.baseline.end - windows.baseline.start).num_seconds() as f64;
        let incident = (windows.incident.end - windows.incident.start).num_seconds() as f64;
        // A quiet caller: 30 calls in the baseline predict a handful in the incident window,
        // and none arriving happens by chance.
        let quiet = 30;
        assert!(windows.expected_in_incident(quiet) < MIN_EXPECTED_EVENTS);
        assert!(!windows.fell_silent(quiet, 0));
        // A busy one: the same silence is a stop.
        let busy = (2.0 * MIN_EXPECTED_EVENTS * baseline / incident).ceil() as usize;
        assert!(windows.fell_silent(busy, 0));
    }

    #[test]
    fn a_window_shorter_than_a_minute_never_fell_silent() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        let data = TimeRange {
            start: at - Duration::minutes(10),
            end: at + Duration::minutes(10),
        };
        let windows = around(at, data);
        assert!(windows.fell_silent(600, 0));
        // Cut to a record that ends 20 seconds into the incident, or before it began.
        for end in [at + Duration::seconds(20), at - Duration::seconds(30)] {
            let cut = windows.within(Some(TimeRange {
                start: data.start,
                end,
            }));
            assert!(!cut.fell_silent(600, 0), "{cut:?}");
        }
    }

    #[test]
    fn a_record_that_begins_at_the_onset_has_an_empty_baseline() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 10, 0).unwrap();
        let windows = around(
            at,
            TimeRange {
                start: at - Duration::minutes(10),
                end: at + Duration::minutes(10),
            },
        );
        let cut = windows.within(Some(TimeRange {
            start: at,
            end: at + Duration::minutes(2),
        }));
        assert!(!cut.baseline.contains(at), "{cut:?}");
        assert!(cut.incident.contains(at));
    }
}
