//! Anomaly ranking: which services changed when the incident began, and which of them is
//! the origin rather than a victim.
//!
//! For every service, the incident window is compared with a baseline window before it,
//! across every signal present:
//!
//! - **metrics** — each series against its own baseline with robust z-scores (median and
//!   IQR/MAD with floors), kept apart by what they measure (latency, errors, cpu, memory,
//!   disk, network, saturation, throughput, restarts; read from the metric's name), and a
//!   caller's failing or slower series that name another service taken as its calls to it;
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
//! in its errors (from logs) is discounted: it is probably a victim. Earlier onsets and
//! nearby changes add weight. Every signal is optional: with metrics only, the ranking uses
//! metrics and onsets and says so.

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, SpanQuery, TimeRange,
};
use itops_core::{Error, Evidence, FaultKind, Result, TelemetrySource};
use serde::{Deserialize, Serialize};

mod change_point;
mod cues;
mod edges;
mod evidence;
mod fault;
mod hosts;
mod logs;
mod metrics;
mod onset;
mod patterns;
mod peers;
mod score;
mod sustained;
mod traces;
mod window;

use logs::LogAnomaly;
use metrics::SeriesAnomaly;
pub use metrics::{as_rate_if_counter, is_counter};
pub use onset::detected_onset;
use onset::{incident_onset, onset_signals, typical_step, MAX_LEAD};
use traces::TraceAnomaly;
pub use window::{MAX_BASELINE_MINUTES, MAX_INCIDENT_MINUTES};

/// Most log records and spans read for one ranking.
const SCAN_LIMIT: usize = 2_000_000;
/// How far after the last sample a detection time still counts as the data's edge.
const EDGE_SLACK: Duration = Duration::minutes(15);
/// How far before the detection time a live source (one without fixed bounds) is read.
const LIVE_LOOKBACK: Duration = Duration::hours(3);

/// The time the spans cover (by their start), if any.
fn span_extent(spans: &[itops_core::telemetry::Span]) -> Option<TimeRange> {
    let first = spans.iter().map(|s| s.start).min()?;
    let last = spans.iter().map(|s| s.start).max()?;
    Some(TimeRange {
        start: first,
        end: last + Duration::seconds(1),
    })
}

/// The time the log records cover, if any.
fn log_extent(records: &[itops_core::telemetry::LogRecord]) -> Option<TimeRange> {
    let first = records.iter().map(|r| r.at).min()?;
    let last = records.iter().map(|r| r.at).max()?;
    Some(TimeRange {
        start: first,
        end: last + Duration::seconds(1),
    })
}

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
    /// How much longer calls to it take in transit, from its callers' side (compressed).
    pub(crate) transit_in: f64,
    /// The callers whose calls to it take longer in transit, with the median time around
    /// such a call before and during the incident (ms).
    pub(crate) transit_from: Vec<(&'a str, (f64, f64))>,
    pub(crate) changes: Vec<&'a ChangeEvent>,
    /// How the load every service shares moved.
    pub(crate) shared: peers::SharedLoad,
    /// Whether its requests' time is measured at all (a latency series, or spans), moved
    /// or not.
    pub(crate) latency_measured: bool,
    /// How many of its callers' logs say its answers came back and would not do (invalid,
    /// malformed, a value missing: see [`LogAnomaly::rejects`]).
    pub(crate) answers_rejected: usize,
}

/// Appends to `clear` the services of `weaker` (a ranking on weaker shifts) it does not
/// hold, in their order, each scored below the last of `clear` (the first at half of it);
/// how many were added.
fn append_tentative(clear: &mut Vec<RankedService>, weaker: Vec<RankedService>) -> usize {
    let floor = clear.last().map_or(0.0, |c| c.score);
    let tail: Vec<RankedService> = weaker
        .into_iter()
        .filter(|w| w.score > 0.0 && !clear.iter().any(|c| c.service == w.service))
        .collect();
    let Some(top) = tail.first().map(|t| t.score) else {
        return 0;
    };
    let added = tail.len();
    for mut t in tail {
        t.score = crate::analysis::stats::round_sig(0.5 * floor * t.score / top, 4);
        clear.push(t);
    }
    added
}

/// Ranks the services of `source` by how likely each is the origin of the incident.
pub async fn rank_anomalies(
    source: &dyn TelemetrySource,
    options: &RankingOptions,
) -> Result<AnomalyRanking> {
    let ranking = rank_from(source, options, false).await?;
    // An onset inferred before the detection time can be wrong (a change point in the
    // noise of a short record): when nothing changed from it while the data runs on after
    // the detection time, the incident is compared from the detection time itself.
    let Some(detected) = options.at else {
        return Ok(ranking);
    };
    let unfolds_after = ranking.incident.end - detected >= Duration::minutes(1);
    if !ranking.candidates.is_empty() || ranking.at >= detected || !unfolds_after {
        return Ok(ranking);
    }
    let mut retried = rank_from(source, options, true).await?;
    if retried.candidates.is_empty() {
        return Ok(ranking);
    }
    retried.notes.insert(
        0,
        format!(
            "no service changed from the onset inferred at {}; compared from the detection \
             time instead",
            ranking.at
        ),
    );
    Ok(retried)
}

/// The ranking, from the onset inferred before `options.at` or, `from_detection`, from
/// `options.at` itself.
async fn rank_from(
    source: &dyn TelemetrySource,
    options: &RankingOptions,
    from_detection: bool,
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
    // The spans are read first: their durations help find the onset too. Only as far as
    // the windows can reach around a known detection time.
    let span_range = match options.at {
        Some(at) => {
            let start = (at - MAX_LEAD - window::MAX_BASELINE).max(data.start);
            TimeRange {
                start,
                end: (at + window::MAX_INCIDENT).min(data.end).max(start),
            }
        }
        None => data,
    };
    let spans = source
        .spans(&SpanQuery {
            range: span_range,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: SCAN_LIMIT,
        })
        .await?;
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
            // `at` is when the incident was detected: its fault began up to MAX_LEAD before,
            // or at `at` itself (an alert that fired as it began). Data after `at`, when
            // the export runs on, is the incident unfolding and is used too.
            // The load every service shares is read out first, so that a drift in traffic
            // does not pass for the onset (against all the data before `at`).
            let onset = if from_detection {
                at
            } else {
                let signals = onset_signals(&all_metrics, &spans, data, at);
                incident_onset(&signals, at, data)
            };
            notes.push(format!(
                "incident detected at {at}; comparing from its onset {onset}{}",
                if onset == at { "" } else { " (inferred)" }
            ));
            (onset, false)
        }
        None => match change_point::infer_start(&all_metrics) {
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

    // Load every service shares is read out of each one's throughput.
    let raw_metrics = all_metrics.clone();
    let (all_metrics, shared) = peers::relative_to_peers(all_metrics, windows.baseline);
    let swing = shared.swing;
    if swing >= 1.5 {
        notes.push(format!(
            "the traffic of every service moved together by up to {swing:.1}x: each service's \
             throughput is read relative to that shared swing"
        ));
    }
    // A host-level series that is a service's only measure of what it measures, and that
    // no other service shows, is the service's own (the services are the machines).
    let own_hosts = hosts::own_host_series(&raw_metrics);
    if !own_hosts.is_empty() {
        notes.push(format!(
            "{} host-level series are read as their services' own (no other measure of the \
             same thing beside them, and no other service shows them)",
            own_hosts.len()
        ));
    }
    let score_all = |metrics: &[MetricSeries], threshold: f64| -> Vec<SeriesAnomaly> {
        metrics
            .iter()
            .filter_map(|s| {
                let own = own_hosts.contains(&(s.service.clone(), s.metric.clone()));
                metrics::score_series_from(s, &windows, threshold, own)
            })
            .collect()
    };
    let mut series = score_all(&all_metrics, metrics::Z_THRESHOLD);
    let records = source
        .logs(&LogQuery {
            range: both,
            service: None,
            contains: None,
            min_level: None,
            limit: SCAN_LIMIT,
        })
        .await?;
    // Lines that give whoever reads them instructions are not telemetry: set aside.
    let (records, planted): (Vec<LogRecord>, Vec<LogRecord>) = records
        .into_iter()
        .partition(|r| !cues::addresses_the_reader(&r.message));
    if !planted.is_empty() {
        notes.push(format!(
            "{} log lines that give the reader instructions (\"ignore previous \
             instructions\", \"the root cause is\") were set aside: they are not telemetry",
            planted.len()
        ));
    }
    let logs = logs::score_logs(&records, &windows.within(log_extent(&records)), &services);
    // Traces and logs are often kept for a shorter time than metrics: each is compared
    // only over the time it covers, so that its end does not read as every service stopping.
    // Metrics place the onset only to within their step; finer traces place it within
    // that (when the onset was inferred before the detection time).
    let extent = span_extent(&spans);
    let trace_onset = match options.at {
        Some(detected) if at < detected => {
            let durations = traces::duration_series(&spans);
            let step = typical_step(&all_metrics).unwrap_or(Duration::zero());
            let refined = change_point::refine_onset(at, &durations, step);
            change_point::onset_where_traces_begin(refined, detected, &durations, step, extent)
        }
        _ => at,
    };
    let trace_windows = window::around(trace_onset, data).within(extent);
    let traces = traces::analyse(&spans, &trace_windows);
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

    // Calls that metric names tell of, whatever the series did (`call_to_cart_success_rate`
    // on checkout: checkout calls cart), beside those the spans show.
    let named_calls = edges::named_calls(
        raw_metrics
            .iter()
            .map(|s| (s.service.as_str(), s.metric.as_str())),
        &services,
    );
    let signals = score::Signals {
        logs: &logs,
        traces: &traces,
        changes: &changes,
        named_calls: &named_calls,
    };
    let rank_on = |series: &[SeriesAnomaly]| {
        score::score_services(&services, series, &signals, &windows, shared)
    };
    let mut candidates = rank_on(&series);
    let any_clear = !candidates.is_empty();
    // Nothing clear: rank the weaker shifts, and then the shared swing of the traffic
    // itself, and say so.
    let fallbacks = [
        (&all_metrics, "weaker shifts"),
        (
            &raw_metrics,
            "weaker shifts, the traffic every service shares included",
        ),
    ];
    for (metrics, what) in fallbacks {
        if !candidates.is_empty() {
            break;
        }
        series = score_all(metrics, metrics::WEAK_Z_THRESHOLD);
        candidates = rank_on(&series);
        if !candidates.is_empty() {
            notes.push(format!(
                "no signal moved by {} robust deviations; ranked on {what} (from {}), so the \
                 ranking is tentative",
                metrics::Z_THRESHOLD,
                metrics::WEAK_Z_THRESHOLD
            ));
        }
    }
    let max_candidates = options.max_candidates.unwrap_or(5).max(1);
    // Fewer clear suspects than asked for: the services whose shifts were weaker follow
    // them, as tentative (a root whose only trace is a modest change in its traffic). A
    // ranking that already came from the weaker shifts has nothing to add.
    if any_clear && candidates.len() < max_candidates {
        let clear = candidates.len();
        let weaker = rank_on(&score_all(&all_metrics, metrics::WEAK_Z_THRESHOLD));
        let added = append_tentative(&mut candidates, weaker).min(max_candidates - clear);
        if added > 0 {
            notes.push(format!(
                "the last {added} candidates moved by less than {} robust deviations (from \
                 {}): tentative",
                metrics::Z_THRESHOLD,
                metrics::WEAK_Z_THRESHOLD
            ));
        }
    }
    candidates.truncate(max_candidates);
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
