//! Trace anomalies per service: own (exclusive) latency, errors that start at the service
//! rather than in something it calls, calls that stop and broken call patterns (see
//! [`super::patterns`]); plus the call graph.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use itops_core::telemetry::{MetricPoint, MetricSeries, Span, SpanStatus};

use crate::analysis::ranking::change_point;
use crate::analysis::ranking::patterns::{broken_patterns, call_mix, BrokenPattern};
use crate::analysis::ranking::window::{excess_z, Windows};
use crate::analysis::stats::{mad_sigma, mean, median};

/// What a service's spans did in the incident window.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TraceAnomaly {
    /// Compressed strength of the service's own latency shift.
    pub(crate) self_latency: f64,
    /// Baseline and incident median exclusive time, ms.
    pub(crate) self_ms: (f64, f64),
    /// Compressed strength of the burst of errors originating at the service.
    pub(crate) origin_errors: f64,
    /// Errors originating at the service: baseline, incident.
    pub(crate) origin_error_counts: (u64, u64),
    /// Compressed strength of the shift of the service's whole span duration (includes callees).
    pub(crate) total_latency: f64,
    /// Baseline and incident mean whole span duration, ms.
    pub(crate) total_mean_ms: (f64, f64),
    /// The service had spans before and (almost) none during the incident.
    pub(crate) stopped: bool,
    /// Compressed strength of the change in the mix of its outgoing calls (which services
    /// it calls, in what proportions), and the callee whose share moved most with its
    /// share before and during the incident.
    pub(crate) call_mix: (f64, Option<(String, f64, f64)>),
    /// Its strongest broken call pattern: requests of one operation that stopped making a
    /// call they used to make.
    pub(crate) pattern: BrokenPattern,
    /// Its spans: baseline, incident.
    pub(crate) span_counts: (usize, usize),
    pub(crate) onset: Option<DateTime<Utc>>,
    /// A trace showing the anomaly, if any.
    pub(crate) example_trace: Option<String>,
}

/// What calls from one service to another did in the incident window.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct EdgeAnomaly {
    /// Compressed strength of the rise in time spent around the calls (in transit, or
    /// waiting to issue them), which the callee's own spans do not show.
    pub(crate) transit: f64,
    /// Median time around a call, baseline and incident, ms.
    pub(crate) transit_ms: (f64, f64),
    /// Compressed strength of the rise in the duration of the callee's spans under the
    /// caller: the calls take longer once they arrive.
    pub(crate) call: f64,
    /// Mean duration of the callee's spans under the caller, baseline and incident, ms.
    pub(crate) call_mean_ms: (f64, f64),
    /// Calls in the baseline window.
    pub(crate) baseline_calls: usize,
    /// Calls in the incident window.
    pub(crate) incident_calls: usize,
    /// The calls (almost) stopped while the caller kept working.
    pub(crate) stopped: bool,
}

/// Trace analysis of both windows.
#[derive(Debug, Default)]
pub(crate) struct TraceAnalysis {
    pub(crate) per_service: HashMap<String, TraceAnomaly>,
    /// caller → callees.
    pub(crate) callees: BTreeMap<String, BTreeSet<String>>,
    /// (caller, callee) → what the calls did.
    pub(crate) edges: BTreeMap<(String, String), EdgeAnomaly>,
    /// Every service seen in the spans.
    pub(crate) traced: BTreeSet<String>,
    /// The services where traces begin (spans without a parent): where requests from
    /// outside the traced system enter it.
    pub(crate) entries: BTreeSet<String>,
}

#[derive(Default)]
struct Acc {
    self_base: Vec<f64>,
    self_inc: Vec<(DateTime<Utc>, f64, usize)>,
    total_base: Vec<f64>,
    total_inc: Vec<f64>,
    origin_base: u64,
    origin_inc: u64,
    /// Each incident span in turn: when, whether an error started in it, its index.
    origin_flags: Vec<(DateTime<Utc>, bool, usize)>,
}

/// Each service's span durations as a series (the median of every ten seconds, in ms),
/// for finding when the incident began.
pub(crate) fn duration_series(spans: &[Span]) -> Vec<MetricSeries> {
    const BUCKET_MS: i64 = 10_000;
    let mut buckets: BTreeMap<(&str, i64), Vec<f64>> = BTreeMap::new();
    for s in spans {
        let b = s.start.timestamp_millis().div_euclid(BUCKET_MS);
        buckets
            .entry((s.service.as_str(), b))
            .or_default()
            .push(s.duration_ns as f64 / 1e6);
    }
    let mut out: BTreeMap<&str, Vec<MetricPoint>> = BTreeMap::new();
    for ((service, b), durations) in buckets {
        let Some(at) = DateTime::from_timestamp_millis(b * BUCKET_MS) else {
            continue;
        };
        out.entry(service).or_default().push(MetricPoint {
            at,
            value: median(&durations),
        });
    }
    // The first and last buckets of a record are partial: their medians are not levels.
    out.into_iter()
        .filter(|(_, points)| points.len() > 2)
        .map(|(service, mut points)| {
            points.pop();
            points.remove(0);
            (service, points)
        })
        .map(|(service, points)| MetricSeries {
            service: service.to_string(),
            metric: "span_duration_ms".to_string(),
            points,
        })
        .collect()
}

/// Analyses `spans` (covering both windows).
pub(crate) fn analyse(spans: &[Span], windows: &Windows) -> TraceAnalysis {
    let mut analysis = TraceAnalysis::default();
    if spans.is_empty() {
        return analysis;
    }
    let index: HashMap<(&str, &str), usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id.as_str(), s.span_id.as_str()), i))
        .collect();
    let mut child_time = vec![0u64; spans.len()];
    let mut child_error = vec![false; spans.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, s) in spans.iter().enumerate() {
        analysis.traced.insert(s.service.clone());
        let Some(parent) = s.parent_span_id.as_deref() else {
            analysis.entries.insert(s.service.clone());
            continue;
        };
        let Some(&p) = index.get(&(s.trace_id.as_str(), parent)) else {
            continue;
        };
        child_time[p] = child_time[p].saturating_add(s.duration_ns);
        if s.status == SpanStatus::Error {
            child_error[p] = true;
        }
        children[p].push(i);
        let caller = &spans[p].service;
        if caller != &s.service {
            analysis
                .callees
                .entry(caller.clone())
                .or_default()
                .insert(s.service.clone());
        }
    }
    analysis.edges = edges(spans, &children, windows);
    let mut patterns = broken_patterns(spans, &children, windows, &analysis.callees);

    let mut per_service: HashMap<&str, Acc> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        let in_baseline = windows.baseline.contains(s.start);
        if !in_baseline && !windows.incident.contains(s.start) {
            continue;
        }
        // Children may overlap (parallel calls): own time never goes below zero.
        let own_ms = s.duration_ns.saturating_sub(child_time[i]) as f64 / 1e6;
        let total_ms = s.duration_ns as f64 / 1e6;
        let origin_error = s.status == SpanStatus::Error && !child_error[i];
        let acc = per_service.entry(s.service.as_str()).or_default();
        if in_baseline {
            acc.self_base.push(own_ms);
            acc.total_base.push(total_ms);
            acc.origin_base += u64::from(origin_error);
        } else {
            acc.self_inc.push((s.start, own_ms, i));
            acc.total_inc.push(total_ms);
            acc.origin_flags.push((s.start, origin_error, i));
            acc.origin_inc += u64::from(origin_error);
        }
    }

    for (service, acc) in per_service {
        let incident_self: Vec<f64> = acc.self_inc.iter().map(|(_, v, _)| *v).collect();
        let (self_latency, self_onset, self_example) = shift(&acc.self_base, &acc.self_inc);
        let total_latency = shift(
            &acc.total_base,
            &acc.total_inc
                .iter()
                .map(|v| (windows.incident.start, *v, 0))
                .collect::<Vec<_>>(),
        )
        .0;
        let z = excess_z(
            acc.origin_inc as usize,
            windows.expected_in_incident(acc.origin_base as usize),
        );
        let origin_errors = if z >= 3.0 { z.ln_1p() } else { 0.0 };
        let stopped = windows.fell_silent(acc.self_base.len(), acc.self_inc.len());
        let error_onset = if origin_errors > 0.0 {
            let mut flags = acc.origin_flags;
            flags.sort_by_key(|(t, _, _)| *t);
            let anomalous: Vec<bool> = flags.iter().map(|(_, e, _)| *e).collect();
            change_point::flagged_onset(&anomalous).map(|k| (flags[k].0, flags[k].2))
        } else {
            None
        };
        let onset = match (self_onset, error_onset.map(|(t, _)| t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let example = error_onset
            .map(|(_, i)| i)
            .or(self_example)
            .map(|i| spans[i].trace_id.clone());
        analysis.per_service.insert(
            service.to_string(),
            TraceAnomaly {
                self_latency,
                self_ms: (median(&acc.self_base), median(&incident_self)),
                origin_errors,
                origin_error_counts: (acc.origin_base, acc.origin_inc),
                total_latency,
                total_mean_ms: (mean(&acc.total_base), mean(&acc.total_inc)),
                stopped,
                call_mix: call_mix(service, &analysis.edges),
                pattern: patterns.remove(service).unwrap_or_default(),
                span_counts: (acc.self_base.len(), incident_self.len()),
                onset,
                example_trace: example,
            },
        );
    }
    analysis
}

/// Per caller → callee edge: the time the caller spends around each call (before the
/// callee's span starts and after it ends, up to the neighbouring calls or the caller's own
/// start and end). Network delay on the callee's interface shows here and nowhere in the
/// callee's own spans. Also: calls that stop.
fn edges(
    spans: &[Span],
    children: &[Vec<usize>],
    windows: &Windows,
) -> BTreeMap<(String, String), EdgeAnomaly> {
    #[derive(Default)]
    struct EdgeAcc {
        base: Vec<f64>,
        inc: Vec<f64>,
        call_base: Vec<f64>,
        call_inc: Vec<f64>,
    }
    let mut acc: BTreeMap<(&str, &str), EdgeAcc> = BTreeMap::new();
    for (p, kids) in children.iter().enumerate() {
        let parent = &spans[p];
        let in_baseline = windows.baseline.contains(parent.start);
        if kids.is_empty() || (!in_baseline && !windows.incident.contains(parent.start)) {
            continue;
        }
        let p_start = parent.start.timestamp_nanos_opt().unwrap_or(0);
        let p_end = p_start.saturating_add(i64::try_from(parent.duration_ns).unwrap_or(i64::MAX));
        let mut ordered: Vec<(i64, i64, usize)> = kids
            .iter()
            .map(|&k| {
                let start = spans[k].start.timestamp_nanos_opt().unwrap_or(0);
                (
                    start,
                    start.saturating_add(i64::try_from(spans[k].duration_ns).unwrap_or(i64::MAX)),
                    k,
                )
            })
            .collect();
        ordered.sort_unstable();
        for (j, &(start, end, k)) in ordered.iter().enumerate() {
            if spans[k].service == parent.service {
                continue;
            }
            // A gap between two calls is shared by both: half each. A gap at the caller's
            // start or end belongs to this call alone.
            let prev_end = ordered[..j]
                .iter()
                .map(|o| o.1)
                .filter(|e| *e <= start)
                .max();
            let next_start = ordered[j + 1..]
                .iter()
                .map(|o| o.0)
                .filter(|s| *s >= end)
                .min();
            let before = match prev_end {
                Some(e) if e > p_start => (start - e).max(0) as f64 / 2.0,
                _ => (start - p_start).max(0) as f64,
            };
            let after = match next_start {
                Some(s) if s < p_end => (s - end).max(0) as f64 / 2.0,
                _ => (p_end - end).max(0) as f64,
            };
            let around_ms = (before + after) / 1e6;
            let e = acc
                .entry((parent.service.as_str(), spans[k].service.as_str()))
                .or_default();
            let call_ms = spans[k].duration_ns as f64 / 1e6;
            if in_baseline {
                e.base.push(around_ms);
                e.call_base.push(call_ms);
            } else {
                e.inc.push(around_ms);
                e.call_inc.push(call_ms);
            }
        }
    }
    // Time in transit is much the same on every call inside one deployment: when the
    // traces hold no baseline at all (they begin with the incident), each edge is judged
    // against the other edges in the incident. An edge that is merely quiet while the others
    // have a baseline is not judged: its calls are too few to tell.
    let no_baseline = acc.values().all(|e| e.base.len() < MIN_BASELINE_CALLS);
    let peers: Vec<f64> = acc
        .values()
        .filter(|e| no_baseline && e.inc.len() >= MIN_INCIDENT_CALLS)
        .map(|e| median(&e.inc))
        .collect();
    acc.into_iter()
        .map(|((caller, callee), e)| {
            let stopped = windows.fell_silent(e.base.len(), e.inc.len());
            let (transit, before_ms) = if e.base.len() >= MIN_BASELINE_CALLS {
                (rise(&e.base, &e.inc), median(&e.base))
            } else if peers.len() >= MIN_PEER_EDGES {
                (rise_over(&peers, &e.inc), median(&peers))
            } else {
                (0.0, median(&e.base))
            };
            let anomaly = EdgeAnomaly {
                transit,
                transit_ms: (before_ms, median(&e.inc)),
                call: rise(&e.call_base, &e.call_inc),
                call_mean_ms: (mean(&e.call_base), mean(&e.call_inc)),
                baseline_calls: e.call_base.len(),
                incident_calls: e.call_inc.len(),
                stopped,
            };
            ((caller.to_string(), callee.to_string()), anomaly)
        })
        .collect()
}

/// Fewest baseline durations a rise is judged against.
const MIN_BASELINE_CALLS: usize = 5;
/// Fewest edges (the one judged included) an edge without a baseline is judged against.
const MIN_PEER_EDGES: usize = 3;
/// Fewest incident durations a rise is judged on.
const MIN_INCIDENT_CALLS: usize = 3;

/// Compressed strength of a rise of the incident median of durations (ms) over the
/// baseline's, in robust standard deviations (with floors: a tenth of the median, half a
/// millisecond); 0 below three, or with too few samples.
fn rise(baseline: &[f64], incident: &[f64]) -> f64 {
    if baseline.len() < MIN_BASELINE_CALLS {
        return 0.0;
    }
    rise_over(baseline, incident)
}

/// [`rise`] over any number of baseline values (the medians of other edges).
fn rise_over(baseline: &[f64], incident: &[f64]) -> f64 {
    if baseline.is_empty() || incident.len() < MIN_INCIDENT_CALLS {
        return 0.0;
    }
    let center = median(baseline);
    let spread = mad_sigma(baseline).max(center.abs() * 0.1).max(0.5);
    let z = (median(incident) - center) / spread;
    if z >= 3.0 {
        z.min(1_000.0).ln_1p()
    } else {
        0.0
    }
}

/// Compressed strength of the shift of the incident median over the baseline, the first
/// incident span beyond the threshold, and the slowest incident span.
fn shift(
    baseline: &[f64],
    incident: &[(DateTime<Utc>, f64, usize)],
) -> (f64, Option<DateTime<Utc>>, Option<usize>) {
    if baseline.len() < 5 || incident.len() < 3 {
        return (0.0, None, None);
    }
    let center = median(baseline);
    let spread = mad_sigma(baseline).max(center.abs() * 0.05).max(0.01);
    let values: Vec<f64> = incident.iter().map(|(_, v, _)| *v).collect();
    let z = (median(&values) - center) / spread;
    if z < 3.0 {
        return (0.0, None, None);
    }
    let mut in_order: Vec<&(DateTime<Utc>, f64, usize)> = incident.iter().collect();
    in_order.sort_by_key(|(t, _, _)| *t);
    let flags: Vec<bool> = in_order
        .iter()
        .map(|(_, v, _)| (v - center) / spread >= 3.0)
        .collect();
    let onset = change_point::flagged_onset(&flags).map(|k| in_order[k].0);
    let slowest = incident
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(_, _, i)| *i);
    (z.min(1_000.0).ln_1p(), onset, slowest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ranking::window::around;
    use chrono::{Duration, TimeZone};
    use itops_core::telemetry::TimeRange;

    fn t(i: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(i)
    }

    fn span(
        trace: &str,
        id: &str,
        parent: Option<&str>,
        service: &str,
        at: DateTime<Utc>,
        ms: u64,
        error: bool,
    ) -> Span {
        Span {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            service: service.into(),
            operation: "op".into(),
            start: at,
            duration_ns: ms * 1_000_000,
            status: if error {
                SpanStatus::Error
            } else {
                SpanStatus::Ok
            },
        }
    }

    #[test]
    fn a_quiet_edge_is_not_judged_against_the_others_when_they_have_a_baseline() {
        // api calls db and queue every minute (2 ms around each call) and cache only now and
        // then (50 ms around each call, as always): one cache call before the incident,
        // three in it. Too few to tell a change, and not a reason to compare cache with the
        // others.
        let mut spans = Vec::new();
        let at = |i: i64, ms: i64| t(i) + Duration::milliseconds(ms);
        for i in 0..60 {
            for (callee, around) in [("db", 2), ("queue", 2)] {
                let tr = format!("{callee}{i}");
                spans.push(span(&tr, "a", None, "api", t(i), 5 + around as u64, false));
                spans.push(span(
                    &tr,
                    "b",
                    Some("a"),
                    callee,
                    at(i, around / 2),
                    5,
                    false,
                ));
            }
            if [10, 45, 50, 55].contains(&i) {
                let tr = format!("cache{i}");
                spans.push(span(&tr, "a", None, "api", t(i), 55, false));
                spans.push(span(&tr, "b", Some("a"), "cache", at(i, 25), 5, false));
            }
        }
        let windows = around(
            t(40),
            TimeRange {
                start: t(0),
                end: t(60),
            },
        );
        let a = analyse(&spans, &windows);
        let cache = &a.edges[&("api".to_string(), "cache".to_string())];
        assert_eq!(cache.transit, 0.0, "{cache:?}");
        // With no baseline at all (traces that begin with the incident), it stands out.
        let late: Vec<Span> = spans.into_iter().filter(|s| s.start >= t(40)).collect();
        let a = analyse(
            &late,
            &windows.within(Some(TimeRange {
                start: t(40),
                end: t(60),
            })),
        );
        let cache = &a.edges[&("api".to_string(), "cache".to_string())];
        assert!(cache.transit > 0.0, "{cache:?}");
    }

    #[test]
    fn duration_series_leave_out_the_partial_first_and_last_buckets() {
        // Spans every second for a minute: six ten-second buckets, of which the first and
        // last may have been cut by the record's ends.
        let spans: Vec<Span> = (0..60)
            .map(|i| {
                let at = t(0) + Duration::seconds(i);
                span(&format!("t{i}"), "a", None, "api", at, 10, false)
            })
            .collect();
        let series = duration_series(&spans);
        assert_eq!(series.len(), 1);
        let times: Vec<_> = series[0].points.iter().map(|p| p.at).collect();
        let expected: Vec<_> = (1..5).map(|b| t(0) + Duration::seconds(b * 10)).collect();
        assert_eq!(times, expected);
        // Too short a record for a level: no series.
        assert!(duration_series(&spans[..15]).is_empty());
    }

    #[test]
    fn own_latency_and_error_origin_land_on_the_callee() {
        let mut spans = Vec::new();
        for i in 0..60 {
            let bad = i >= 40;
            let tr = format!("t{i}");
            let db_ms = if bad { 400 } else { 5 + (i % 3) as u64 };
            spans.push(span(&tr, "a", None, "api", t(i), 10 + db_ms, bad));
            spans.push(span(&tr, "b", Some("a"), "db", t(i), db_ms, bad));
        }
        let windows = around(
            t(40),
            TimeRange {
                start: t(0),
                end: t(60),
            },
        );
        let a = analyse(&spans, &windows);
        assert_eq!(a.callees["api"], BTreeSet::from(["db".to_string()]));
        let db = &a.per_service["db"];
        let api = &a.per_service["api"];
        assert!(db.self_latency > 2.0, "{db:?}");
        assert_eq!(
            api.self_latency, 0.0,
            "the caller's own time did not change: {api:?}"
        );
        assert!(api.total_latency > 2.0);
        assert!(db.origin_errors > 0.0);
        assert_eq!(api.origin_errors, 0.0, "api's errors come from db: {api:?}");
        assert_eq!(db.onset, Some(t(40)));
    }
}
