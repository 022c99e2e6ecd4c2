//! Anomaly ranking: which services changed when the incident began, and which of them is
//! the origin rather than a victim.
//!
//! For every service, the incident window is compared with a baseline window before it,
//! across every signal present:
//!
//! - **metrics** — each series against its own baseline with robust z-scores (median and
//!   IQR/MAD with floors), kept apart by what they measure (latency, errors, cpu, memory,
//!   disk, network, saturation, throughput, restarts; read from the metric's name);
//! - **logs** — error bursts (Poisson z against the baseline rate), message templates never
//!   seen before (numbers and ids masked), services that fall silent or log far less for
//!   their load, and the other services that new or failing messages name;
//! - **traces** — each service's *own* (exclusive) latency, errors that start at the service
//!   rather than below it, calls that stop, and the call graph;
//! - **change events** — deploys, config and flag changes at the service shortly before its
//!   anomaly began.
//!
//! Evidence is split into *local* signals (resources, own latency, errors originating here,
//! change events) and *propagating* ones (latency, errors and throughput that callers inherit
//! from what they call); failures a service blames on a believably troubled dependency,
//! and time spent waiting on it, move from the first to the second. A service whose
//! propagating anomaly is explained by an anomalous service it calls (from traces) or names
//! in its errors (from logs) is discounted: it is probably a victim. Earlier onsets and nearby changes add weight. Every signal is optional:
//! with metrics only, the ranking uses metrics and onsets and says so.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{
    ChangeEvent, LogQuery, MetricQuery, MetricSeries, SpanQuery, TimeRange,
};
use itops_core::{Error, Evidence, FaultKind, Result, TelemetrySource};
use serde::{Deserialize, Serialize};

use crate::analysis::signal_kind::SignalKind;
use crate::analysis::stats::round_sig;

mod fault;
mod logs;
mod metrics;
mod traces;
mod window;

use logs::LogAnomaly;
use metrics::SeriesAnomaly;
pub use metrics::{as_rate_if_counter, is_counter};
use traces::TraceAnomaly;
pub use window::{MAX_BASELINE_MINUTES, MAX_INCIDENT_MINUTES};

/// Most log records and spans read for one ranking.
const SCAN_LIMIT: usize = 2_000_000;
/// How far after the last sample a detection time still counts as the data's edge.
const EDGE_SLACK: Duration = Duration::minutes(15);
/// How far before the detection time a live source (one without fixed bounds) is read.
const LIVE_LOOKBACK: Duration = Duration::hours(3);
/// How long before detection the incident is assumed to start when no onset shows.
const DEFAULT_LEAD: Duration = Duration::minutes(5);
/// The earliest an inferred onset may be before detection.
const MAX_LEAD: Duration = Duration::minutes(10);
/// How much later than a caller's a dependency's anomaly may begin and still explain the
/// caller's (onsets are known to a sample or two).
const ONSET_SLACK: Duration = Duration::seconds(60);
/// How long before a service's anomaly a change event still counts as its likely trigger.
const CHANGE_LOOKBACK: Duration = Duration::minutes(45);

/// What to rank.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RankingOptions {
    /// When the incident was detected (or began): its onset is looked for in the ten minutes
    /// before. Inferred from the metrics when absent.
    pub at: Option<DateTime<Utc>>,
    /// How many candidates to return (default 5).
    pub max_candidates: Option<usize>,
}

/// Which signals the ranking could use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalCoverage {
    /// Metric series with samples on both sides.
    pub metric_series: usize,
    /// Log records in the windows.
    pub log_records: usize,
    /// Spans in the windows.
    pub spans: usize,
    /// Change events in the windows.
    pub changes: usize,
}

/// How a candidate's score was made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    /// Local evidence: resources, own latency, errors starting here.
    pub local: f64,
    /// Propagating evidence: latency, errors, throughput.
    pub propagating: f64,
    /// Share of the propagating evidence explained by an anomalous dependency (0–1).
    pub explained_by_dependency: f64,
    /// The dependency that explains it.
    pub explained_by: Option<String>,
    /// Added for the earliest onset.
    pub onset_bonus: f64,
    /// Added for a change event just before the anomaly.
    pub change_bonus: f64,
}

/// One ranked service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankedService {
    /// The service.
    pub service: String,
    /// Higher is more likely the origin.
    pub score: f64,
    /// The fault kind its evidence suggests.
    pub fault: FaultKind,
    /// Share of the fault-kind votes the suggested kind got (0–1).
    pub fault_confidence: f64,
    /// When its anomaly began, when known.
    pub onset: Option<DateTime<Utc>>,
    /// How the score was made.
    pub breakdown: ScoreBreakdown,
    /// What backs it.
    pub evidence: Vec<Evidence>,
}

/// The result of a ranking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRanking {
    /// The incident start used.
    pub at: DateTime<Utc>,
    /// Whether `at` was inferred from the data.
    pub at_inferred: bool,
    /// The baseline window.
    pub baseline: TimeRange,
    /// The incident window.
    pub incident: TimeRange,
    /// Candidates, most likely origin first.
    pub candidates: Vec<RankedService>,
    /// What the ranking could see.
    pub coverage: SignalCoverage,
    /// Caveats (missing signals, inferred times).
    pub notes: Vec<String>,
}

/// Everything known about one service.
pub(crate) struct Profile<'a> {
    pub(crate) series: Vec<&'a SeriesAnomaly>,
    pub(crate) logs: Option<&'a LogAnomaly>,
    /// How strongly it went quiet for its load, and the log lines its load predicted (see
    /// [`LogAnomaly::quieted`]).
    pub(crate) quiet: (f64, f64),
    pub(crate) traces: Option<&'a TraceAnomaly>,
    pub(crate) changes: Vec<&'a ChangeEvent>,
}

/// Ranks the services of `source` by how likely each is the origin of the incident.
pub async fn rank_anomalies(
    source: &dyn TelemetrySource,
    options: &RankingOptions,
) -> Result<AnomalyRanking> {
    let data = match (source.time_bounds().await?, options.at) {
        (Some(data), _) => data,
        // A live source (CloudWatch) has no fixed range: read the hours before detection.
        (None, Some(at)) => TimeRange::new(at - LIVE_LOOKBACK, at + EDGE_SLACK)?,
        (None, None) => {
            return Err(Error::invalid(
                "telemetry",
                "there is no telemetry to rank: the source is empty, or live without a \
                 detection time (give `at`)",
            ))
        }
    };
    let mut notes = Vec::new();
    // Counters become rates: a cumulative total always "rises" and says nothing by its level.
    let all_metrics: Vec<_> = source
        .metrics(&MetricQuery {
            range: data,
            service: None,
            metric: None,
        })
        .await?
        .into_iter()
        .map(metrics::as_rate_if_counter)
        .collect();
    let (at, at_inferred) = match options.at {
        Some(mut at) => {
            if at > data.end && at - data.end <= EDGE_SLACK {
                // Detected just after the last sample (live data arrives in scrapes).
                at = data.end;
            }
            if !data.contains(at) && at != data.end {
                return Err(Error::invalid(
                    "at",
                    format!(
                        "{at} is outside the telemetry, which runs from {} to {}",
                        data.start, data.end
                    ),
                ));
            }
            // `at` is usually when someone noticed; the incident began a little earlier.
            // Look for the onset in the minutes before (both a live system, whose data ends
            // at detection, and an export that runs past it).
            let recent: Vec<MetricSeries> = all_metrics
                .iter()
                .map(|s| window::clip(s, at - Duration::minutes(MAX_INCIDENT_MINUTES), at))
                .collect();
            // An onset older than the longest lead is more likely a slow drift than this
            // incident's start; none at all means a default lead.
            let onset = window::infer_start(&recent)
                .filter(|t| *t < at - Duration::seconds(30))
                .map_or(at - DEFAULT_LEAD, |t| t.max(at - MAX_LEAD))
                .max(data.start);
            notes.push(format!(
                "incident noticed at {at}; comparing from its inferred onset {onset}"
            ));
            (onset, false)
        }
        None => match window::infer_start(&all_metrics) {
            Some(at) => {
                notes.push(format!("incident start inferred from the metrics: {at}"));
                (at, true)
            }
            None => {
                let at = data.start + (data.end - data.start) / 2;
                notes.push(format!("no clear change point in the metrics; comparing the two halves of the data at {at}"));
                (at, true)
            }
        },
    };
    let windows = window::around(at, data);
    if windows.baseline.end - windows.baseline.start < Duration::minutes(1) {
        notes.push(
            "less than a minute of data before the incident: the baseline is thin".to_string(),
        );
    }
    let both = TimeRange {
        start: windows.baseline.start,
        end: windows.incident.end,
    };
    let services = source.services().await?;

    let series: Vec<SeriesAnomaly> = all_metrics
        .iter()
        .filter_map(|s| metrics::score_series(s, &windows))
        .collect();
    let records = source
        .logs(&LogQuery {
            range: both,
            service: None,
            contains: None,
            min_level: None,
            limit: SCAN_LIMIT,
        })
        .await?;
    let logs = logs::score_logs(&records, &windows, &services);
    let spans = source
        .spans(&SpanQuery {
            range: both,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: SCAN_LIMIT,
        })
        .await?;
    let traces = traces::analyse(&spans, &windows);
    let changes = source
        .changes(
            TimeRange {
                start: windows.baseline.start,
                end: windows.incident.end,
            },
            None,
        )
        .await?;

    let coverage = SignalCoverage {
        metric_series: series.len(),
        log_records: records.len(),
        spans: spans.len(),
        changes: changes.len(),
    };
    if coverage.metric_series == 0 {
        notes.push("no metric series with samples before and during the incident".to_string());
    }
    if coverage.log_records == 0 {
        notes.push("no logs: log evidence unavailable".to_string());
    }
    if coverage.spans == 0 {
        notes.push("no traces: the call graph is unknown, so origins are told from victims by local evidence and onset order only".to_string());
    }

    let mut candidates = score_services(&services, &series, &logs, &traces, &changes, &windows);
    candidates.truncate(options.max_candidates.unwrap_or(5).max(1));
    if candidates.is_empty() {
        notes.push(
            "no service changed significantly between the baseline and the incident window"
                .to_string(),
        );
    }
    Ok(AnomalyRanking {
        at,
        at_inferred,
        baseline: windows.baseline,
        incident: windows.incident,
        candidates,
        coverage,
        notes,
    })
}

fn top_two(scores: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = scores.filter(|s| *s > 0.0).collect();
    v.sort_by(|a, b| b.total_cmp(a));
    v.first().copied().unwrap_or(0.0) + 0.25 * v.get(1).copied().unwrap_or(0.0)
}

/// How strongly a change `before` a service's trouble began suggests it caused it: fully
/// within a few minutes (configuration applies at once, a rollout takes minutes), less and
/// less up to half an hour, and a little beyond (a leak a deploy brought in takes a while).
fn change_weight(before: Duration) -> f64 {
    let minutes = before.num_seconds() as f64 / 60.0;
    if minutes <= 3.0 {
        1.0
    } else {
        (1.0 - 0.8 * (minutes - 3.0) / 27.0).max(0.2)
    }
}

/// The service's request rate in the incident window over its baseline rate: from its
/// throughput metrics, else from its spans. `None` when neither shows it.
fn load_ratio(
    service: &str,
    series: &[SeriesAnomaly],
    trace: Option<&traces::TraceAnomaly>,
    windows: &window::Windows,
) -> Option<f64> {
    let (before, during) = series
        .iter()
        .filter(|s| s.service == service && s.kind == SignalKind::Throughput && !s.stopped)
        .filter(|s| s.baseline_median > 0.0 && s.incident_median.is_finite())
        .fold((0.0, 0.0), |(b, d), s| {
            (b + s.baseline_median, d + s.incident_median)
        });
    if before > 0.0 {
        return Some(during / before);
    }
    let (base, incident) = trace?.span_counts;
    (base >= 20).then(|| incident as f64 / windows.expected_in_incident(base))
}

/// How much of each signal kind's anomaly a caller inherits from what it calls (1: it is a
/// symptom; 0: it starts where it is seen).
fn symptom_share(kind: SignalKind, z: f64) -> f64 {
    match kind {
        SignalKind::Latency | SignalKind::Errors => 1.0,
        // Fewer requests is a symptom; more is a load source.
        SignalKind::Throughput if z < 0.0 => 1.0,
        // In-flight requests and busy workers pile up behind a slow dependency, but a pool
        // can also be the fault itself.
        SignalKind::Saturation => 0.5,
        _ => 0.0,
    }
}

/// The pieces of a service's anomaly score, before they are split into local and
/// propagating evidence.
struct Parts {
    metric_local: f64,
    metric_propagating: f64,
    self_latency: f64,
    /// Share (0–1) of the growth of its own span time that is time in transit to one
    /// dependency (delay on the way, which its own spans cannot tell from its work).
    in_transit: f64,
    origin_errors: f64,
    total_latency: f64,
    log: f64,
    quiet: f64,
    stopped: bool,
}

impl Parts {
    /// Local and propagating evidence, when `blamed` (0–1) of the service's failures are
    /// reported by its own messages as coming from another service.
    fn split(&self, blamed: f64) -> (f64, f64) {
        let own_errors = self.origin_errors * (1.0 - blamed);
        // Its own time grows while it waits on a dependency: in transit to it, or on calls
        // to it that fail (and so leave no span of theirs) when its failures blame it.
        let waiting = self.in_transit.max(blamed);
        let own_latency = self.self_latency * (1.0 - waiting);
        let trace_local = own_latency.max(own_errors) + if self.stopped { 2.0 } else { 0.0 };
        let trace_propagating = self.total_latency
            + 2.0 * self.origin_errors * blamed
            + 2.0 * self.self_latency * waiting;
        let local = self.metric_local + trace_local + 0.5 * self.log * (1.0 - blamed) + self.quiet;
        let propagating =
            self.metric_propagating + 0.5 * trace_propagating + 0.5 * self.log * (1.0 + blamed);
        (local, propagating)
    }
}

struct Scored<'a> {
    service: &'a str,
    profile: Profile<'a>,
    parts: Parts,
    /// Evidence that starts here.
    local: f64,
    /// Evidence a caller can inherit from its dependencies.
    propagating: f64,
    /// Share of this service's anomaly that looks inherited (0–1).
    symptom: f64,
    /// Its own resource signals (cpu, memory, disk, network, restarts) changed.
    resource: f64,
    onset: Option<DateTime<Utc>>,
    stopped: bool,
    /// Trouble of its own, apart from the load its callers send it.
    own_trouble: bool,
    /// How strongly a change just before its trouble suggests it (0–1: the closer, the more).
    change_weight: f64,
}

/// The dependency whose calls from `caller` take longer in transit (delay on the way there
/// or back, which the dependency's own spans do not show), with how many ms longer. Time
/// around calls also grows when the caller itself is slow, so one dependency counts only
/// when its calls grew clearly more than the caller's other calls, and not when the
/// caller's own resources changed (`resource`).
fn transit_culprit<'t>(
    caller: &str,
    resource: f64,
    traces: &'t traces::TraceAnalysis,
) -> Option<(&'t str, f64)> {
    if resource >= 1.0 {
        return None;
    }
    let grew = |e: &traces::EdgeAnomaly| (e.transit_ms.1 - e.transit_ms.0).max(0.0);
    let mut calls: Vec<(&str, f64, bool)> = traces
        .edges
        .iter()
        .filter(|((c, _), _)| c == caller)
        .map(|((_, d), e)| (d.as_str(), grew(e), e.transit > 0.0))
        .collect();
    if calls.len() < 2 {
        return None;
    }
    calls.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (first, second) = (calls[0], calls[1]);
    (first.2 && first.1 >= 1.5 * second.1).then_some((first.0, first.1))
}

/// How strongly `caller`'s trouble points at `dependency` (0–1), and why.
fn link(
    caller: &Scored<'_>,
    dependency: &Scored<'_>,
    traces: &traces::TraceAnalysis,
) -> (f64, &'static str) {
    let mut best = (0.0, "");
    let mut consider = |w: f64, why: &'static str| {
        if w > best.0 {
            best = (w, why);
        }
    };
    if let Some(share) = caller
        .profile
        .logs
        .map(|logs| logs.blames(dependency.service))
        .filter(|share| *share > 0.0)
    {
        consider(share.max(0.3), "its failing messages name it");
    }
    if transit_culprit(caller.service, caller.resource, traces)
        .is_some_and(|(culprit, _)| culprit == dependency.service)
    {
        consider(
            1.0,
            "calls to it take longer in transit than its other calls",
        );
    }
    if let Some(edge) = traces
        .edges
        .get(&(caller.service.to_string(), dependency.service.to_string()))
    {
        if edge.stopped {
            // Calls stop when the dependency is gone, or when the caller fails before it
            // gets to make them. Its own failures tell which: they name the dependency in
            // the first case; a dependency that stopped altogether says so itself.
            let says_why = caller
                .profile
                .logs
                .is_none_or(|l| l.blames(dependency.service) > 0.0);
            let weight = if says_why || dependency.stopped {
                0.8
            } else {
                0.3
            };
            consider(weight, "calls to it stopped");
        }
        // Calls to the dependency take longer, and they account for much of the time the
        // caller's requests gained: that latency is the dependency's.
        if let Some(t) = caller.profile.traces.filter(|_| edge.call > 0.0) {
            let gained = t.span_counts.1 as f64 * (t.total_mean_ms.1 - t.total_mean_ms.0);
            let via = edge.incident_calls as f64 * (edge.call_mean_ms.1 - edge.call_mean_ms.0);
            if gained > 0.0 && via >= 0.3 * gained && caller.propagating > 0.0 {
                consider((via / gained).min(1.0), "its calls to it take longer");
            }
        }
    }
    // Calling a dependency whose own health changed: only its local evidence counts (a
    // dependency that merely gets fewer requests because its caller fails is not a cause).
    let calls = traces
        .callees
        .get(caller.service)
        .is_some_and(|c| c.contains(dependency.service));
    // A dependency whose trouble began clearly later cannot explain the caller's. The links
    // above see the calls or the messages themselves, so they stand unless it began much
    // later (onsets are estimates); this one only infers, so a little later is enough.
    let later_by = match (caller.onset, dependency.onset) {
        (Some(c), Some(d)) => d - c,
        _ => Duration::zero(),
    };
    if later_by > Duration::minutes(5) {
        return (0.0, "");
    }
    if calls && (dependency.local >= 1.0 || dependency.stopped) && later_by <= ONSET_SLACK * 2 {
        let relative = dependency.local / caller.propagating.max(1.0);
        consider(
            0.5 * relative.clamp(0.3, 1.0),
            "it calls it and its own signals changed",
        );
    }
    best
}

fn score_services(
    services: &[String],
    series: &[SeriesAnomaly],
    logs: &HashMap<String, LogAnomaly>,
    traces: &traces::TraceAnalysis,
    changes: &[ChangeEvent],
    windows: &window::Windows,
) -> Vec<RankedService> {
    let mut by_service: BTreeMap<&str, Vec<&SeriesAnomaly>> = BTreeMap::new();
    for s in series.iter().filter(|s| s.score > 0.0 || s.stopped) {
        by_service.entry(s.service.as_str()).or_default().push(s);
    }

    let mut scored: Vec<Scored<'_>> = Vec::new();
    for service in services {
        let mut anomalous = by_service
            .get(service.as_str())
            .cloned()
            .unwrap_or_default();
        anomalous.sort_by(|a, b| b.score.total_cmp(&a.score));
        let trace = traces.per_service.get(service);
        let quieted = match (
            logs.get(service),
            load_ratio(service, series, trace, windows),
        ) {
            (Some(l), Some(load)) => l.quieted(load),
            _ => (0.0, 0.0),
        };
        let quiet = quieted.0;
        let log = logs.get(service).filter(|l| l.score > 0.0 || quiet > 0.0);
        let resource = top_two(
            anomalous
                .iter()
                .filter(|s| symptom_share(s.kind, s.z) == 0.0)
                .map(|s| s.score),
        );
        let stopped = trace.is_some_and(|t| t.stopped)
            || log.is_some_and(|l| l.stopped)
            || anomalous.iter().any(|s| s.stopped);
        let parts = Parts {
            metric_local: top_two(
                anomalous
                    .iter()
                    .map(|s| s.score * (1.0 - symptom_share(s.kind, s.z))),
            ),
            metric_propagating: top_two(
                anomalous
                    .iter()
                    .map(|s| s.score * symptom_share(s.kind, s.z)),
            ),
            self_latency: trace.map_or(0.0, |t| t.self_latency),
            in_transit: match (trace, transit_culprit(service, resource, traces)) {
                (Some(t), Some((_, grew_ms))) if t.self_ms.1 > t.self_ms.0 => {
                    (grew_ms / (t.self_ms.1 - t.self_ms.0)).clamp(0.0, 1.0)
                }
                _ => 0.0,
            },
            origin_errors: trace.map_or(0.0, |t| t.origin_errors),
            total_latency: trace.map_or(0.0, |t| t.total_latency),
            log: log.map_or(0.0, |l| l.score),
            quiet,
            stopped,
        };
        // When its trouble began: the earliest onset among its stronger signals (a weak
        // series that wanders early says little about when the service changed).
        let onsets: Vec<(DateTime<Utc>, f64)> = anomalous
            .iter()
            .filter_map(|s| s.onset.map(|t| (t, s.score)))
            .chain(log.and_then(|l| l.onset.map(|t| (t, l.score.max(quiet)))))
            .chain(trace.and_then(|t| t.onset.map(|at| (at, t.self_latency.max(t.origin_errors)))))
            .collect();
        let strongest = onsets.iter().map(|(_, w)| *w).fold(0.0, f64::max);
        let onset = onsets
            .iter()
            .filter(|(_, w)| *w >= 0.5 * strongest)
            .map(|(t, _)| *t)
            .min();
        let (local, propagating) = parts.split(0.0);
        let nearby_changes: Vec<&ChangeEvent> = changes
            .iter()
            .filter(|c| c.service == *service)
            .filter(|c| {
                // A change shortly before the service's own onset, or before the incident's
                // (a service's onset estimate can run early on a noisy series).
                let anchor = onset.unwrap_or(windows.at);
                c.at >= anchor - CHANGE_LOOKBACK
                    && c.at <= anchor.max(windows.at) + Duration::minutes(2)
            })
            .collect();
        let change_weight = nearby_changes
            .iter()
            .map(|c| change_weight(onset.unwrap_or(windows.at).min(windows.at) - c.at))
            .fold(0.0, f64::max);
        // Its own trouble, apart from the load its callers send it.
        let own_trouble = stopped
            || quiet > 0.0
            || trace.is_some_and(|t| t.self_latency > 0.0 || t.origin_errors > 0.0)
            || anomalous.iter().any(|s| {
                s.score >= 1.0
                    && s.kind != SignalKind::Throughput
                    && symptom_share(s.kind, s.z) < 1.0
            });
        scored.push(Scored {
            service,
            profile: Profile {
                series: anomalous,
                logs: log,
                quiet: quieted,
                traces: trace,
                changes: nearby_changes,
            },
            parts,
            local,
            propagating,
            symptom: 0.0,
            resource,
            onset,
            stopped,
            own_trouble,
            change_weight,
        });
    }
    // Failures a service's own messages blame on another service came from there, when the
    // blame is believable: the other shows trouble of its own that began no later, or more
    // than one service blames it. One service alone blaming a healthy dependency more often
    // has the fault itself (a wrong endpoint, a timeout set too low).
    let blamed: Vec<f64> = scored
        .iter()
        .map(|s| {
            let Some(log) = s.profile.logs else {
                return 0.0;
            };
            log.blamed_share(|other| {
                let blamers = scored
                    .iter()
                    .filter(|b| b.profile.logs.is_some_and(|l| l.blames(other) > 0.0))
                    .count();
                blamers >= 2
                    || scored.iter().any(|d| {
                        d.service == other
                            && d.own_trouble
                            && match (d.onset, s.onset) {
                                (Some(d), Some(c)) => d <= c + ONSET_SLACK,
                                _ => true,
                            }
                    })
            })
        })
        .collect();
    for (s, blamed) in scored.iter_mut().zip(blamed) {
        (s.local, s.propagating) = s.parts.split(blamed);
        s.symptom = if s.local + s.propagating > 0.0 {
            s.propagating / (s.local + s.propagating)
        } else {
            0.0
        };
    }

    // Blame flows from callers that suffer to the dependencies their trouble points at.
    let n = scored.len();
    let mut links: Vec<Vec<(usize, f64, &'static str)>> = vec![Vec::new(); n];
    for (i, caller) in scored.iter().enumerate() {
        if caller.local + caller.propagating <= 0.0 {
            continue;
        }
        for (j, dependency) in scored.iter().enumerate() {
            if i != j {
                let (w, why) = link(caller, dependency, traces);
                if w > 0.0 {
                    links[i].push((j, w, why));
                }
            }
        }
    }
    let victim: Vec<f64> = (0..n)
        .map(|i| links[i].iter().map(|(_, w, _)| *w).fold(0.0, f64::max) * scored[i].symptom)
        .collect();
    let own: Vec<f64> = scored.iter().map(|s| s.local + s.propagating).collect();
    // Each service passes a share (0.8 × how much of its anomaly looks inherited) of all it
    // holds — its own anomaly and what its callers passed on — to the dependencies its
    // trouble points at, split by link strength; blame travels down chains of victims. The
    // steady state of that flow is the fixed point of x = own + passed(x).
    // A service changed (deployed, reconfigured) just before its trouble keeps half of it:
    // its own change explains it as well as what it calls does.
    let share: Vec<f64> = victim
        .iter()
        .zip(&scored)
        .map(|(v, s)| 0.8 * v * (1.0 - 0.5 * s.change_weight))
        .collect();
    let mut held = own.clone();
    for _ in 0..50 {
        let mut next = own.clone();
        for i in 0..n {
            let total: f64 = links[i].iter().map(|(_, w, _)| w).sum();
            if total <= 0.0 || share[i] <= 0.0 {
                continue;
            }
            for (j, w, _) in &links[i] {
                next[*j] += held[i] * share[i] * w / total;
            }
        }
        let change: f64 = next.iter().zip(&held).map(|(a, b)| (a - b).abs()).sum();
        held = next;
        if change < 1e-6 {
            break;
        }
    }
    let mass: Vec<f64> = (0..n).map(|i| held[i] * (1.0 - share[i])).collect();

    let earliest = scored
        .iter()
        .filter(|s| s.local + s.propagating > 0.0)
        .filter_map(|s| s.onset)
        .min();
    let mut ranked: Vec<RankedService> = scored
        .iter()
        .enumerate()
        .filter(|(i, _)| mass[*i] > 0.05)
        .map(|(i, s)| {
            let onset_bonus = if s.onset.is_some() && s.onset == earliest {
                0.5
            } else {
                0.0
            };
            let change_bonus = if own[i] <= 0.0 {
                0.0
            } else {
                s.change_weight * (1.0 + 0.3 * mass[i])
            };
            let score = mass[i] + onset_bonus + change_bonus;
            let explainer = links[i]
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|_| victim[i] > 0.0);
            let (fault, fault_confidence) = fault::infer(&s.profile);
            let mut evidence = evidence(s.service, &s.profile, windows);
            // What the callers' trouble says about this service.
            for (c, caller_links) in links.iter().enumerate() {
                if let Some((_, w, why)) = caller_links.iter().find(|(j, _, _)| *j == i) {
                    if *w >= 0.5 && victim[c] > 0.0 {
                        evidence.push(Evidence::Metric {
                            service: scored[c].service.to_string(),
                            metric: "dependency".into(),
                            start: windows.baseline.start,
                            end: windows.incident.end,
                            summary: format!(
                                "{} is in trouble and {why} ({})",
                                scored[c].service, s.service
                            ),
                        });
                    }
                }
            }
            RankedService {
                service: s.service.to_string(),
                score: round_sig(score, 4),
                fault,
                fault_confidence: round_sig(fault_confidence, 2),
                onset: s.onset,
                breakdown: ScoreBreakdown {
                    local: round_sig(s.local, 3),
                    propagating: round_sig(s.propagating, 3),
                    explained_by_dependency: round_sig(victim[i], 2),
                    explained_by: explainer.map(|(j, _, _)| scored[*j].service.to_string()),
                    onset_bonus,
                    change_bonus: round_sig(change_bonus, 3),
                },
                evidence,
            }
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.onset.cmp(&b.onset))
            .then(a.service.cmp(&b.service))
    });
    ranked
}

fn num(v: f64) -> String {
    let r = round_sig(v, 3);
    if r.fract() == 0.0 && r.abs() < 1e15 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

fn evidence(service: &str, profile: &Profile<'_>, windows: &window::Windows) -> Vec<Evidence> {
    let mut out = Vec::new();
    for s in profile.series.iter().take(3) {
        let summary = if s.stopped {
            format!(
                "{} stopped reporting (baseline median {})",
                s.metric,
                num(s.baseline_median)
            )
        } else {
            let mut text = format!(
                "{}: baseline median {} → incident median {} (extreme {}), robust z {:+.1}",
                s.metric,
                num(s.baseline_median),
                num(s.incident_median),
                num(s.incident_extreme),
                s.z
            );
            if let Some(onset) = s.onset {
                text.push_str(&format!(", from {}", onset.format("%H:%M:%S")));
            }
            if s.resets > 0 {
                text.push_str(&format!(", {} sudden drop(s)", s.resets));
            }
            text
        };
        out.push(Evidence::Metric {
            service: service.to_string(),
            metric: s.metric.clone(),
            start: windows.baseline.start,
            end: windows.incident.end,
            summary,
        });
    }
    if let Some(l) = profile.logs {
        let mut summary = format!(
            "error lines {} before → {} during (Poisson z {:.1})",
            l.baseline_errors, l.incident_errors, l.error_z
        );
        if !l.new_templates.is_empty() {
            summary.push_str(&format!(
                "; {} new message template(s)",
                l.new_templates.len()
            ));
        }
        if l.stopped {
            summary.push_str("; the service stopped logging");
        } else if profile.quiet.0 > 0.0 {
            summary.push_str(&format!(
                "; it went quiet for its load: {} lines in the incident window, about {} \
                 expected at its usual lines per request, with no failures logged in their place",
                l.lines.1,
                num(profile.quiet.1)
            ));
        }
        if !l.mentions.is_empty() {
            let named: Vec<String> = l
                .mentions
                .iter()
                .map(|(s, n)| format!("{s} ×{n}"))
                .collect();
            summary.push_str(&format!("; failing messages name {}", named.join(", ")));
        }
        out.push(Evidence::Logs {
            service: service.to_string(),
            samples: l
                .new_templates
                .iter()
                .take(3)
                .map(|t| t.sample.chars().take(240).collect())
                .collect(),
            count: l.incident_errors,
            summary,
        });
    }
    if let Some(t) = profile.traces {
        let mut parts = Vec::new();
        if t.self_latency > 0.0 {
            parts.push(format!(
                "own span time {} ms → {} ms",
                num(t.self_ms.0),
                num(t.self_ms.1)
            ));
        }
        if t.origin_errors > 0.0 {
            parts.push(format!(
                "errors starting here {} → {}",
                t.origin_error_counts.0, t.origin_error_counts.1
            ));
        }
        if t.stopped {
            parts.push("its spans stopped".to_string());
        }
        if !parts.is_empty() {
            out.push(Evidence::Trace {
                trace_id: t.example_trace.clone().unwrap_or_default(),
                span_ids: Vec::new(),
                service: service.to_string(),
                summary: parts.join("; "),
            });
        }
    }
    for c in &profile.changes {
        out.push(Evidence::Change {
            service: service.to_string(),
            kind: c.kind.clone(),
            at: c.at,
            summary: format!(
                "{} {}{}",
                c.kind,
                c.description,
                c.version
                    .as_ref()
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default()
            ),
        });
    }
    out
}
