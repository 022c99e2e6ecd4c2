//! Dropping what is older than a cutoff, signal by signal: a retention window (the live
//! simulator, an ingest store) or a cap on how much is held (oldest first).
//!
//! The index is rebuilt in place: what is kept is moved, not copied, and names no longer
//! used (a trace whose spans all went, a service that fell silent) are forgotten, so an
//! index pruned again and again stays the size of what it holds.

use chrono::{DateTime, Utc};

use super::{from_nanos, to_nanos, TelemetryCounts, TelemetryIndex};

/// The oldest instant each signal keeps, for [`TelemetryIndex::retain`]: entries at or
/// after it stay (spans by start), older ones are dropped; `None` keeps the whole signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// Metric samples.
    pub metrics: Option<DateTime<Utc>>,
    /// Log records.
    pub logs: Option<DateTime<Utc>>,
    /// Spans, by start.
    pub spans: Option<DateTime<Utc>>,
    /// Change events.
    pub changes: Option<DateTime<Utc>>,
}

impl Cutoffs {
    /// The same cutoff for every signal.
    pub fn since(at: DateTime<Utc>) -> Self {
        Self {
            metrics: Some(at),
            logs: Some(at),
            spans: Some(at),
            changes: Some(at),
        }
    }

    /// The later of the two cutoffs of each signal (what both would drop is dropped).
    pub fn later(self, other: Cutoffs) -> Self {
        let later = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Self {
            metrics: later(self.metrics, other.metrics),
            logs: later(self.logs, other.logs),
            spans: later(self.spans, other.spans),
            changes: later(self.changes, other.changes),
        }
    }
}

/// Cutoffs in the index's nanoseconds (`i64::MIN`: keep everything).
struct Nanos {
    metrics: i64,
    logs: i64,
    spans: i64,
    changes: i64,
}

impl Nanos {
    fn of(cutoffs: &Cutoffs) -> Self {
        let nanos = |at: Option<DateTime<Utc>>| at.map_or(i64::MIN, to_nanos);
        Self {
            metrics: nanos(cutoffs.metrics),
            logs: nanos(cutoffs.logs),
            spans: nanos(cutoffs.spans),
            changes: nanos(cutoffs.changes),
        }
    }
}

impl TelemetryIndex {
    /// Drops everything older than `since` (every signal; spans by start); returns what
    /// was dropped.
    pub fn retain_since(&mut self, since: DateTime<Utc>) -> TelemetryCounts {
        self.retain(&Cutoffs::since(since))
    }

    /// Drops, in each signal, what is older than its cutoff; returns what was dropped
    /// (`services` and `series`: those left with nothing at all). Costs one pass over
    /// what is kept, and nothing when nothing is older than its cutoff.
    pub fn retain(&mut self, cutoffs: &Cutoffs) -> TelemetryCounts {
        let cut = Nanos::of(cutoffs);
        if !self.holds_older(&cut) {
            return TelemetryCounts::default();
        }
        let before = self.counts();
        let old = std::mem::take(self);
        // Old ids to new, each name interned once when first met.
        let mut services = Remap::new(old.services.len());
        let mut metrics = Remap::new(old.metric_names.len());
        let mut operations = Remap::new(old.operations.len());
        let mut traces = Remap::new(old.trace_ids.len());
        for mut series in old.series {
            series.points.drop_before(cut.metrics);
            let (Some(&(first, _)), Some(&(last, _))) =
                (series.points.all().first(), series.points.all().last())
            else {
                continue;
            };
            series.service = services.get(series.service, || {
                self.service_id(old.services.name(series.service))
            });
            series.metric = metrics.get(series.metric, || {
                self.metric_names
                    .intern(old.metric_names.name(series.metric))
            });
            let id = self.series.len();
            self.series_by_key
                .insert((series.service, series.metric), id);
            if let Some(signals) = self.per_service.get_mut(series.service) {
                signals.series.push(id);
            }
            self.metric_points += series.points.all().len();
            self.widen_bounds(first);
            self.widen_bounds(last);
            self.series.push(series);
        }
        self.logs
            .reserve_exact(old.logs.iter().filter(|log| log.at >= cut.logs).count());
        for mut log in old.logs.into_iter().filter(|log| log.at >= cut.logs) {
            log.service = services.get(log.service, || {
                self.service_id(old.services.name(log.service))
            });
            let id = self.logs.len();
            if let Some(signals) = self.per_service.get_mut(log.service) {
                signals.logs.push_unordered(log.at, id);
            }
            self.widen_bounds(log.at);
            self.logs.push(log);
        }
        self.spans
            .reserve_exact(old.spans.iter().filter(|s| s.start >= cut.spans).count());
        for mut span in old.spans.into_iter().filter(|span| span.start >= cut.spans) {
            span.service = services.get(span.service, || {
                self.service_id(old.services.name(span.service))
            });
            span.operation = operations.get(span.operation, || {
                self.operations.intern(old.operations.name(span.operation))
            });
            span.trace = traces.get(span.trace, || {
                self.trace_spans.push(Vec::new());
                self.trace_ids.intern(old.trace_ids.name(span.trace))
            });
            let id = self.spans.len();
            if let Some(spans) = self.trace_spans.get_mut(span.trace) {
                spans.push(id);
            }
            if let Some(signals) = self.per_service.get_mut(span.service) {
                signals.spans.push_unordered(span.start, id);
            }
            self.widen_bounds(span.start);
            self.spans.push(span);
        }
        for mut change in old.changes {
            let at = to_nanos(change.event.at);
            if at < cut.changes {
                continue;
            }
            change.service = services.get(change.service, || {
                self.service_id(old.services.name(change.service))
            });
            let id = self.changes.len();
            self.change_times.push_unordered(at, id);
            self.widen_bounds(at);
            self.changes.push(change);
        }
        self.finish_load();
        let after = self.counts();
        TelemetryCounts {
            services: before.services - after.services,
            series: before.series - after.series,
            metric_points: before.metric_points - after.metric_points,
            logs: before.logs - after.logs,
            spans: before.spans - after.spans,
            changes: before.changes - after.changes,
        }
    }

    /// The cutoff that keeps at most the `keep` newest spans (by start): `None` when the
    /// index holds no more than that. Spans starting at the same instant are kept or
    /// dropped together, so fewer may be kept when the oldest kept instant is shared.
    pub fn span_cutoff_keeping(&self, keep: usize) -> Option<DateTime<Utc>> {
        cutoff_keeping(self.spans.iter().map(|span| span.start), keep)
    }

    /// The cutoff that keeps at most the `keep` newest log records (see
    /// [`TelemetryIndex::span_cutoff_keeping`]).
    pub fn log_cutoff_keeping(&self, keep: usize) -> Option<DateTime<Utc>> {
        cutoff_keeping(self.logs.iter().map(|log| log.at), keep)
    }

    /// The cutoff that keeps at most the `keep` newest metric samples, over all series
    /// (see [`TelemetryIndex::span_cutoff_keeping`]).
    pub fn metric_cutoff_keeping(&self, keep: usize) -> Option<DateTime<Utc>> {
        cutoff_keeping(
            self.series
                .iter()
                .flat_map(|series| series.points.all().iter().map(|&(at, _)| at)),
            keep,
        )
    }

    /// Whether any signal holds something older than its cutoff (each column is in time
    /// order, so its first entry says).
    fn holds_older(&self, cut: &Nanos) -> bool {
        let first_before = |entries: &[(i64, usize)], cutoff: i64| {
            entries.first().is_some_and(|&(at, _)| at < cutoff)
        };
        self.series.iter().any(|s| {
            s.points
                .all()
                .first()
                .is_some_and(|&(at, _)| at < cut.metrics)
        }) || self
            .per_service
            .iter()
            .any(|s| first_before(s.logs.all(), cut.logs) || first_before(s.spans.all(), cut.spans))
            || first_before(self.change_times.all(), cut.changes)
    }
}

/// Old ids (of the index being rebuilt) to new ones, filled as each is first met.
struct Remap(Vec<Option<usize>>);

impl Remap {
    fn new(len: usize) -> Self {
        Self(vec![None; len])
    }

    /// The new id of `old`, made by `new` the first time.
    fn get(&mut self, old: usize, new: impl FnOnce() -> usize) -> usize {
        match self.0.get_mut(old) {
            Some(Some(id)) => *id,
            Some(slot) => *slot.insert(new()),
            None => new(),
        }
    }
}

/// The earliest instant at or after which at most `keep` of `times` fall; `None` when
/// there are no more than `keep`.
fn cutoff_keeping(times: impl Iterator<Item = i64>, keep: usize) -> Option<DateTime<Utc>> {
    let mut times: Vec<i64> = times.collect();
    let drop = times.len().checked_sub(keep).filter(|&n| n > 0)?;
    if keep == 0 {
        let newest = times.iter().copied().max()?;
        return Some(from_nanos(newest.saturating_add(1)));
    }
    // The oldest kept: everything after it in sorted order is newer or equal.
    let (older, &mut first_kept, _) = times.select_nth_unstable(drop);
    // Entries older in order but at the same instant would be kept with it: keep only
    // what is strictly newer then.
    let cutoff = if older.contains(&first_kept) {
        first_kept.saturating_add(1)
    } else {
        first_kept
    };
    Some(from_nanos(cutoff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{ChangeEvent, LogRecord, Span, SpanQuery, SpanStatus, TimeRange};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn span(trace: &str, service: &str, start: i64) -> Span {
        Span {
            trace_id: trace.into(),
            span_id: format!("{trace}-{start}"),
            parent_span_id: None,
            service: service.into(),
            operation: "op".into(),
            start: at(start),
            duration_ns: 1,
            status: SpanStatus::Ok,
        }
    }

    fn log(service: &str, seconds: i64) -> LogRecord {
        LogRecord {
            at: at(seconds),
            service: service.into(),
            message: format!("line {seconds}"),
            level: None,
            trace_id: None,
            span_id: None,
        }
    }

    fn filled() -> TelemetryIndex {
        let mut index = TelemetryIndex::new();
        for s in 0..10 {
            index.add_metric("api", "cpu", at(s), s as f64);
            index.add_log(log(if s < 5 { "old" } else { "api" }, s));
            index.add_span(span(&format!("t{}", s / 2), "api", s));
        }
        index.add_change(ChangeEvent {
            at: at(1),
            service: "old".into(),
            kind: "deploy".into(),
            description: "v1".into(),
            version: None,
            actor: None,
        });
        index
    }

    #[test]
    fn retain_since_drops_what_is_older_and_forgets_unused_names() {
        let mut index = filled();
        let dropped = index.retain_since(at(5));
        assert_eq!(dropped.metric_points, 5);
        assert_eq!(dropped.logs, 5);
        assert_eq!(dropped.spans, 5);
        assert_eq!(dropped.changes, 1);
        assert_eq!(dropped.services, 1, "'old' emitted nothing after 5");
        assert_eq!(index.services(), vec!["api"]);
        assert_eq!(index.time_bounds().unwrap().start, at(5));
        assert_eq!(index.trace_ids.len(), 3, "t2 (one span kept), t3, t4");
        let all = SpanQuery {
            range: TimeRange::new(at(0), at(100)).unwrap(),
            service: None,
            trace_id: Some("t2".into()),
            errors_only: false,
            limit: usize::MAX,
        };
        assert_eq!(index.spans(&all).len(), 1);
        // Nothing older left: a second call is free and drops nothing.
        assert_eq!(index.retain_since(at(5)), TelemetryCounts::default());
        // Adds after a prune land in order.
        index.add_span(span("t9", "api", 7));
        let spans = index.spans(&SpanQuery {
            trace_id: None,
            ..all
        });
        let starts: Vec<DateTime<Utc>> = spans.iter().map(|s| s.start).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
        assert_eq!(spans.len(), 6);
    }

    #[test]
    fn cutoffs_per_signal_and_caps_keep_the_newest() {
        let mut index = filled();
        let keep_spans = index.span_cutoff_keeping(3).unwrap();
        assert_eq!(keep_spans, at(7));
        assert_eq!(index.span_cutoff_keeping(10), None);
        let dropped = index.retain(&Cutoffs {
            spans: Some(keep_spans),
            ..Cutoffs::default()
        });
        assert_eq!(dropped.spans, 7);
        assert_eq!(dropped.logs + dropped.metric_points + dropped.changes, 0);
        assert_eq!(index.counts().spans, 3);
        // Samples at one instant go together: never more than asked for.
        let mut same = TelemetryIndex::new();
        for s in [1, 2, 2, 2, 3] {
            same.add_metric("api", "cpu", at(s), 0.0);
        }
        assert_eq!(
            same.metric_cutoff_keeping(3),
            Some(at(2) + chrono::Duration::nanoseconds(1))
        );
        same.retain(&Cutoffs {
            metrics: same.metric_cutoff_keeping(3),
            ..Cutoffs::default()
        });
        assert_eq!(same.counts().metric_points, 1);
        assert_eq!(
            index.log_cutoff_keeping(0),
            Some(at(9) + chrono::Duration::nanoseconds(1))
        );
    }

    #[test]
    fn later_takes_the_later_cutoff_of_each_signal() {
        let a = Cutoffs {
            spans: Some(at(3)),
            ..Cutoffs::since(at(1))
        };
        let b = Cutoffs {
            logs: Some(at(2)),
            ..Cutoffs::default()
        };
        let both = a.later(b);
        assert_eq!(both.spans, Some(at(3)));
        assert_eq!(both.logs, Some(at(2)));
        assert_eq!(both.metrics, Some(at(1)));
        assert_eq!(
            Cutoffs::default().later(Cutoffs::default()),
            Cutoffs::default()
        );
    }
}
