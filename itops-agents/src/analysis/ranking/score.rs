//! Scoring: each service's evidence split into what starts there and what it inherits,
//! the links by which a service's trouble points at a dependency, and the flow of blame
//! from victims to what their trouble points at.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::ChangeEvent;
use itops_core::Evidence;

use crate::analysis::ranking::evidence::evidence;
use crate::analysis::ranking::logs::LogAnomaly;
use crate::analysis::ranking::metrics::SeriesAnomaly;
use crate::analysis::ranking::{edges, fault, peers, traces, window};
use crate::analysis::ranking::{Profile, RankedService, ScoreBreakdown};
use crate::analysis::signal_kind::SignalKind;
use crate::analysis::stats::round_sig;
use links::{incoming_transit, link, rising_into, transit_culprit};

mod links;

/// How much later than a caller's a dependency's anomaly may begin and still explain the
/// caller's (onsets are known to a sample or two).
const ONSET_SLACK: Duration = Duration::seconds(60);
/// How long before a service's anomaly a change event still counts as its likely trigger.
const CHANGE_LOOKBACK: Duration = Duration::minutes(45);

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

/// How much of a series' anomaly a caller inherits from what it calls (1: it is a
/// symptom; 0: it starts where it is seen).
fn symptom_share(s: &SeriesAnomaly) -> f64 {
    match s.kind {
        SignalKind::Latency | SignalKind::Errors => 1.0,
        // Fewer requests is a symptom; more is a load source — but a rate that only rose
        // against its peers' (it kept serving while the others lost traffic) is not.
        SignalKind::Throughput if s.z < 0.0 || s.metric.ends_with(peers::RELATIVE_SUFFIX) => 1.0,
        // In-flight requests and busy workers pile up behind a slow dependency, but a pool
        // can also be the fault itself.
        SignalKind::Saturation => 0.5,
        _ => 0.0,
    }
}

/// How much a signal kind's local anomaly says about the service itself: a host-level
/// measure is shared by every service on the machine.
fn own_weight(kind: SignalKind) -> f64 {
    if kind == SignalKind::Host {
        0.3
    } else {
        1.0
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
    /// How much longer the calls to it take on the way (compressed): delay on its own
    /// network interface, seen by its callers but not by its own spans.
    transit_in: f64,
    /// How much the mix of its outgoing calls changed (compressed).
    call_mix: f64,
    /// How strongly its requests stopped making calls they used to make (compressed).
    pattern: f64,
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
        let trace_local = own_latency
            .max(own_errors)
            .max(self.transit_in)
            .max(self.call_mix)
            + if self.stopped { 2.0 } else { 0.0 }
            + PATTERN_WEIGHT * self.pattern;
        let trace_propagating = self.total_latency
            + 2.0 * self.origin_errors * blamed
            + 2.0 * self.self_latency * waiting;
        let local = self.metric_local + trace_local + 0.5 * self.log * (1.0 - blamed) + self.quiet;
        let propagating =
            self.metric_propagating + 0.5 * trace_propagating + 0.5 * self.log * (1.0 + blamed);
        (local, propagating)
    }
}

/// Weight of a broken call pattern against the other trace evidence: requests that stop
/// making a call while nothing fails are rare without a change in the service's own code
/// path, so one counts as much as a strong shift of several metrics.
const PATTERN_WEIGHT: f64 = 4.0;

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
    onset: Option<DateTime<Utc>>,
    stopped: bool,
    /// It went down: restarted over and over, or its readiness fell (see
    /// [`edges::went_down`]).
    down: bool,
    /// Trouble of its own, apart from the load its callers send it.
    own_trouble: bool,
    /// How strongly a change just before its trouble suggests it (0–1: the closer, the more).
    change_weight: f64,
    /// The dependency its calls to take clearly longer in transit, and by how many ms
    /// (see [`transit_culprit`]).
    transit: Option<(&'a str, f64)>,
}

/// The evidence the services are scored on, besides their metric anomalies.
#[derive(Clone, Copy)]
pub(super) struct Signals<'a> {
    pub(super) logs: &'a HashMap<String, LogAnomaly>,
    pub(super) traces: &'a traces::TraceAnalysis,
    pub(super) changes: &'a [ChangeEvent],
    /// (caller, callee) pairs that metric names say are calls, whatever the series did.
    pub(super) named_calls: &'a BTreeSet<(String, String)>,
}

pub(super) fn score_services<'a>(
    services: &'a [String],
    series: &'a [SeriesAnomaly],
    signals: &Signals<'a>,
    windows: &window::Windows,
    shared: peers::SharedLoad,
) -> Vec<RankedService> {
    let Signals {
        logs,
        traces,
        changes,
        named_calls,
    } = *signals;
    let mut by_service: BTreeMap<&str, Vec<&SeriesAnomaly>> = BTreeMap::new();
    for s in series.iter().filter(|s| s.score > 0.0 || s.stopped) {
        by_service.entry(s.service.as_str()).or_default().push(s);
    }

    // Each caller's transit culprit, from its own resources' view (computed once).
    let culprits: HashMap<&str, &str> = traces
        .callees
        .keys()
        .filter_map(|caller| {
            let resource = by_service.get(caller.as_str()).map_or(0.0, |series| {
                top_two(
                    series
                        .iter()
                        .filter(|s| symptom_share(s) == 0.0 && s.kind != SignalKind::Host)
                        .map(|s| s.score),
                )
            });
            transit_culprit(caller, resource, traces).map(|(c, _)| (caller.as_str(), c))
        })
        .collect();
    // The services whose requests' time some series measures, moved or not.
    let timed: HashSet<&str> = series
        .iter()
        .filter(|s| s.kind == SignalKind::Latency)
        .map(|s| s.service.as_str())
        .collect();
    // How many services' logs say each other service's answers would not do.
    let mut rejected_by: HashMap<&str, usize> = HashMap::new();
    for log in logs.values() {
        for other in log.rejected.keys().filter(|o| log.rejects(o)) {
            *rejected_by.entry(other.as_str()).or_default() += 1;
        }
    }
    let mut scored: Vec<Scored<'a>> = Vec::new();
    for service in services {
        let mut anomalous = by_service.remove(service.as_str()).unwrap_or_default();
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
        // How much its own resource signals (cpu, memory, disk, network, restarts) changed.
        let resource = top_two(
            anomalous
                .iter()
                .filter(|s| symptom_share(s) == 0.0 && s.kind != SignalKind::Host)
                .map(|s| s.score),
        );
        let transit = transit_culprit(service, resource, traces);
        let stopped = trace.is_some_and(|t| t.stopped)
            || log.is_some_and(|l| l.stopped)
            || anomalous.iter().any(|s| s.stopped);
        let transit_in = incoming_transit(service, traces, &culprits);
        let down = edges::went_down(&anomalous);
        let parts = Parts {
            transit_in,
            metric_local: top_two(
                anomalous
                    .iter()
                    .map(|s| s.score * (1.0 - symptom_share(s)) * own_weight(s.kind)),
            ),
            metric_propagating: top_two(anomalous.iter().map(|s| s.score * symptom_share(s))),
            self_latency: trace.map_or(0.0, |t| t.self_latency),
            call_mix: trace.map_or(0.0, |t| t.call_mix.0),
            pattern: trace.map_or(0.0, |t| t.pattern.strength),
            in_transit: match (trace, transit) {
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
            || trace.is_some_and(|t| {
                t.self_latency > 0.0
                    || t.origin_errors > 0.0
                    || t.call_mix.0 > 0.0
                    || t.pattern.strength > 0.0
            })
            || anomalous.iter().any(|s| {
                s.score >= 1.0
                    && s.kind != SignalKind::Throughput
                    && s.kind != SignalKind::Host
                    && symptom_share(s) < 1.0
            });
        scored.push(Scored {
            service,
            profile: Profile {
                series: anomalous,
                logs: log,
                quiet: quieted,
                traces: trace,
                transit_in,
                transit_from: if transit_in > 0.0 {
                    rising_into(service, traces)
                        .map(|(caller, e)| (caller, e.transit_ms))
                        .collect()
                } else {
                    Vec::new()
                },
                changes: nearby_changes,
                shared,
                latency_measured: trace.is_some() || timed.contains(service.as_str()),
                answers_rejected: rejected_by.get(service.as_str()).copied().unwrap_or(0),
            },
            parts,
            local,
            propagating,
            symptom: 0.0,
            onset,
            stopped,
            down,
            own_trouble,
            change_weight,
            transit,
        });
    }
    // Failures a service's own messages blame on another service came from there, when the
    // blame is believable: the other shows trouble of its own that began no later, or more
    // than one service blames it. One service alone blaming a healthy dependency more often
    // has the fault itself (a wrong endpoint, a timeout set too low).
    let mut blamers: HashMap<&str, usize> = HashMap::new();
    for log in scored.iter().filter_map(|s| s.profile.logs) {
        for other in log.mentions.keys().filter(|o| log.blames(o) > 0.0) {
            *blamers.entry(other.as_str()).or_default() += 1;
        }
    }
    let by_name: HashMap<&str, &Scored<'_>> = scored.iter().map(|s| (s.service, s)).collect();
    let blamed: Vec<f64> = scored
        .iter()
        .map(|s| {
            let Some(log) = s.profile.logs else {
                return 0.0;
            };
            log.blamed_share(|other| {
                blamers.get(other).is_some_and(|n| *n >= 2)
                    || (log.rejects(other) && s.change_weight == 0.0)
                    || by_name.get(other).is_some_and(|d| {
                        d.own_trouble
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
    let named = edges::from_metrics(series, services);
    let n = scored.len();
    let mut links: Vec<Vec<(usize, f64, &'static str)>> = vec![Vec::new(); n];
    for (i, caller) in scored.iter().enumerate() {
        if caller.local + caller.propagating <= 0.0 {
            continue;
        }
        for (j, dependency) in scored.iter().enumerate() {
            if i != j {
                let (w, why) = link(caller, dependency, traces, &named, named_calls);
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
    // A service changed (deployed, reconfigured) just before its trouble keeps up to half
    // of it, the more the closer the change: its own change explains it as well as what it
    // calls does.
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
    // Enough held blame to be a candidate on its evidence.
    let evidenced = |i: usize| mass[i] > 0.05;
    let mut ranked: Vec<RankedService> = scored
        .iter()
        .enumerate()
        // A service changed just before the incident is a suspect even with nothing of its
        // own that moved (a release that changed only what it answers): listed after every
        // service with evidence, the closest change first.
        .filter(|(i, s)| evidenced(*i) || s.change_weight > 0.0)
        .map(|(i, s)| {
            let onset_bonus = if s.onset.is_some() && s.onset == earliest {
                0.5
            } else {
                0.0
            };
            // A change counts by the trouble at the changed service: a rollout moves the
            // resources of every service it restarts, so a change whose service shows no
            // symptoms (errors, latency, failing logs) counts for little.
            let symptoms =
                s.propagating + s.parts.self_latency + s.parts.origin_errors + s.parts.log;
            let change_bonus = if own[i] <= 0.0 {
                0.0
            } else {
                s.change_weight * (0.25 + 0.75 * (symptoms / 2.0).min(1.0)) * (1.0 + 0.3 * mass[i])
            };
            let score = if evidenced(i) {
                mass[i] + onset_bonus + change_bonus
            } else {
                0.05 * s.change_weight
            };
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
