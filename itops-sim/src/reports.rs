//! Detection and incident reports: when would monitoring have noticed, and what would the
//! person or pager that noticed have written?
//!
//! Alert rules of the kind most teams run (error ratio, p99 latency, unreachable targets,
//! memory near the limit, disk almost full, consumer lag) watch every service against its
//! own baseline. The report describes the symptoms where they were seen, usually on the
//! services nearest the users, not where the fault started.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rng::SimRng;
use super::simulator::ServiceHealth;
use super::topology::{ServiceKind, Topology};
use itops_core::domain::{NewIncident, Severity};

/// What a reporter or an alert would have filed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentReport {
    /// One-line summary.
    pub title: String,
    /// What was observed, in the reporter's words.
    pub description: String,
    /// How bad it looked.
    pub severity: Severity,
    /// The services the report names: where the symptoms were seen.
    pub affected_services: Vec<String>,
    /// Who or what reported it.
    pub detected_by: String,
    /// When it was detected.
    pub detected_at: DateTime<Utc>,
}

impl IncidentReport {
    /// The report as a new incident for the workflow.
    pub fn to_new_incident(&self) -> NewIncident {
        let mut n = NewIncident::new(self.title.clone(), self.severity)
            .description(self.description.clone())
            .source(self.detected_by.clone());
        for s in &self.affected_services {
            n = n.service(s.clone());
        }
        n
    }
}

/// The signal an alert fired on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlertSignal {
    Errors,
    Latency,
    Unreachable,
    Memory,
    Disk,
    Lag,
    Restarts,
}

/// One firing alert.
#[derive(Clone, Debug)]
pub(crate) struct Alert {
    pub(crate) service: usize,
    pub(crate) signal: AlertSignal,
    pub(crate) at: DateTime<Utc>,
    pub(crate) value: f64,
    pub(crate) baseline: f64,
}

#[derive(Clone, Debug, Default)]
struct Baseline {
    samples: f64,
    err: f64,
    p99: f64,
    rate: f64,
    lag: f64,
    restarts: f64,
}

/// Evaluates alert rules tick by tick.
#[derive(Clone, Debug)]
pub(crate) struct Detector {
    baselines: Vec<Baseline>,
    /// Per service and signal: since when the condition has held.
    pending: Vec<[Option<DateTime<Utc>>; 7]>,
    memory_limits: Vec<f64>,
    pub(crate) fired: Vec<Alert>,
}

impl Detector {
    pub(crate) fn new(topo: &Topology) -> Self {
        let n = topo.services().len();
        Self {
            baselines: vec![Baseline::default(); n],
            pending: vec![[None; 7]; n],
            memory_limits: topo.services().iter().map(|s| s.memory_limit_mb).collect(),
            fired: Vec::new(),
        }
    }

    /// Learns what normal looks like.
    pub(crate) fn learn(&mut self, health: &[ServiceHealth]) {
        for (s, h) in health.iter().enumerate() {
            let b = &mut self.baselines[s];
            b.samples += 1.0;
            let k = 1.0 / b.samples;
            b.err += (h.error_rate - b.err) * k;
            b.p99 += (h.latency_p99_ms - b.p99) * k;
            b.rate += (h.request_rate - b.rate) * k;
            b.lag += (h.consumer_lag.unwrap_or(0.0) - b.lag) * k;
            b.restarts = h.restarts as f64;
        }
    }

    /// Checks the rules at `at`; returns alerts that started firing now.
    pub(crate) fn observe(&mut self, at: DateTime<Utc>, health: &[ServiceHealth]) -> Vec<Alert> {
        let mut new = Vec::new();
        for (s, h) in health.iter().enumerate() {
            let b = self.baselines[s].clone();
            let lag = h.consumer_lag.unwrap_or(0.0);
            let checks: [(AlertSignal, bool, f64, f64, i64); 7] = [
                (
                    AlertSignal::Errors,
                    h.reachable
                        && h.request_rate > 0.2
                        && h.error_rate > (4.0 * b.err + 0.01).max(0.03),
                    h.error_rate,
                    b.err,
                    120,
                ),
                (
                    AlertSignal::Latency,
                    h.reachable
                        && h.request_rate > 0.2
                        && h.latency_p99_ms > (2.5 * b.p99).max(b.p99 + 150.0),
                    h.latency_p99_ms,
                    b.p99,
                    180,
                ),
                (
                    AlertSignal::Unreachable,
                    b.rate > 0.5 && (!h.reachable || h.ready < 0.5),
                    0.0,
                    b.rate,
                    60,
                ),
                (
                    AlertSignal::Memory,
                    h.memory_mb > 0.9 * self.memory_limits[s],
                    h.memory_mb,
                    self.memory_limits[s],
                    300,
                ),
                (
                    AlertSignal::Disk,
                    h.disk_used.is_some_and(|d| d > 0.9),
                    h.disk_used.unwrap_or(0.0),
                    0.9,
                    120,
                ),
                (
                    // Like KubePodCrashLooping / an OOMKilled alert: repeated restarts.
                    AlertSignal::Restarts,
                    h.restarts as f64 >= b.restarts + 2.0,
                    h.restarts as f64 - b.restarts,
                    b.restarts,
                    0,
                ),
                (
                    AlertSignal::Lag,
                    lag > 10.0 * b.lag + 500.0,
                    lag,
                    b.lag,
                    300,
                ),
            ];
            for (k, (signal, holds, value, baseline, hold_s)) in checks.into_iter().enumerate() {
                let since = &mut self.pending[s][k];
                if !holds {
                    *since = None;
                    continue;
                }
                let start = *since.get_or_insert(at);
                let already = self
                    .fired
                    .iter()
                    .any(|a| a.service == s && a.signal == signal);
                if !already && (at - start).num_seconds() >= hold_s {
                    let alert = Alert {
                        service: s,
                        signal,
                        at,
                        value,
                        baseline,
                    };
                    self.fired.push(alert.clone());
                    new.push(alert);
                }
            }
        }
        new
    }
}

/// Writes the report for a case from what alerted and what the entry service looked like.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_report(
    topo: &Topology,
    alerts: &[Alert],
    detected_at: DateTime<Utc>,
    entry_now: &ServiceHealth,
    entry_before: &ServiceHealth,
    recent_change: Option<(String, String)>,
    security: bool,
    rng: &mut SimRng,
) -> IncidentReport {
    let depth = topo.depth();
    let names = topo.names();
    // The symptom side: alerting services nearest the users first.
    let mut alerting: Vec<&Alert> = alerts.iter().collect();
    alerting.sort_by_key(|a| (depth[a.service], a.at));
    let entry = topo.entry;
    let entry_errors = entry_now.error_rate;
    let entry_slow = entry_now.latency_p99_ms / entry_before.latency_p99_ms.max(1.0);
    let entry_impacted = entry_errors > entry_before.error_rate + 0.005 || entry_slow > 1.4;

    let mut affected: Vec<String> = Vec::new();
    if entry_impacted {
        affected.push(names[entry].to_string());
    }
    for a in &alerting {
        let n = names[a.service].to_string();
        if !affected.contains(&n) && affected.len() < 3 {
            affected.push(n);
        }
    }
    if affected.is_empty() {
        affected.push(names[entry].to_string());
    }

    let mut severity = if entry_errors >= 0.2 || !entry_now.reachable {
        Severity::Critical
    } else if entry_errors >= 0.05 || entry_slow >= 3.0 {
        Severity::High
    } else if entry_errors >= 0.01 || entry_slow >= 1.5 {
        Severity::Medium
    } else {
        Severity::Low
    };
    if security && severity.rank() < Severity::High.rank() {
        severity = Severity::High;
    }

    let lead = alerting.first().copied();
    let lead_name = lead.map_or(names[entry], |a| names[a.service]);
    let lead_kind = lead.map(|a| topo.services()[a.service].kind);
    let time = detected_at.format("%H:%M UTC").to_string();
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    let secs = |ms: f64| {
        if ms >= 1000.0 {
            format!("{:.1}s", ms / 1000.0)
        } else {
            format!("{ms:.0}ms")
        }
    };

    let title = if security {
        pick(
            rng,
            &[
                "Surge of failed logins on auth".to_string(),
                "Possible credential-stuffing attack: login failures spiking".to_string(),
                "Unusual login traffic and slow sign-in".to_string(),
            ],
        )
    } else if entry_impacted && severity.rank() >= Severity::High.rank() {
        if entry_errors >= 0.05 {
            pick(
                rng,
                &[
                    format!(
                        "Storefront returning errors ({} of requests)",
                        pct(entry_errors)
                    ),
                    format!("{}: 5xx rate at {}", names[entry], pct(entry_errors)),
                    "Customers cannot complete purchases".to_string(),
                    if lead_name == names[entry] {
                        format!("Elevated error rate on {}", names[entry])
                    } else {
                        format!("Elevated error rate on {} and {lead_name}", names[entry])
                    },
                ],
            )
        } else {
            pick(
                rng,
                &[
                    format!(
                        "Site very slow: {} p99 at {}",
                        names[entry],
                        secs(entry_now.latency_p99_ms)
                    ),
                    "Customers report slow page loads".to_string(),
                    format!(
                        "High latency on {} (p99 {})",
                        names[entry],
                        secs(entry_now.latency_p99_ms)
                    ),
                ],
            )
        }
    } else {
        match lead.map(|a| a.signal) {
            Some(AlertSignal::Errors) => pick(
                rng,
                &[
                    format!("Elevated error rate on {lead_name}"),
                    format!("{lead_name}: error ratio above threshold"),
                    format!("Intermittent failures from {lead_name}"),
                ],
            ),
            Some(AlertSignal::Latency) => pick(
                rng,
                &[
                    format!("High p99 latency on {lead_name}"),
                    format!("{lead_name} responding slowly"),
                ],
            ),
            Some(AlertSignal::Unreachable) => pick(
                rng,
                &[
                    format!("{lead_name} target down"),
                    format!("No traffic reaching {lead_name}"),
                ],
            ),
            Some(AlertSignal::Memory) => pick(
                rng,
                &[
                    format!("{lead_name} memory usage above 90% of limit"),
                    format!("Memory pressure on {lead_name} pods"),
                ],
            ),
            Some(AlertSignal::Disk) => pick(
                rng,
                &[
                    format!("Disk almost full on {lead_name}"),
                    format!("{lead_name} volume above 90%"),
                ],
            ),
            Some(AlertSignal::Restarts) => pick(
                rng,
                &[
                    format!("{lead_name} pods restarting repeatedly"),
                    format!("KubePodCrashLooping: {lead_name}"),
                    format!("{lead_name} containers restarting (OOMKilled)"),
                ],
            ),
            Some(AlertSignal::Lag) => pick(
                rng,
                &[
                    format!("Order processing backlog growing ({lead_name})"),
                    format!("Consumer lag alert: {lead_name}"),
                ],
            ),
            None => "Degraded service reported by users".to_string(),
        }
    };

    let mut parts: Vec<String> = Vec::new();
    if security {
        parts.push(format!(
            "Since around {time} we see a large number of failed sign-ins from many IP addresses; sign-in is slow for real customers."
        ));
    } else if entry_impacted {
        let mut s = format!("Since around {time} the storefront ({}) ", names[entry]);
        if entry_errors > entry_before.error_rate + 0.005 {
            s.push_str(&format!(
                "fails {} of requests (normally {})",
                pct(entry_errors),
                pct(entry_before.error_rate)
            ));
            if entry_slow > 1.4 {
                s.push_str(&format!(
                    " and p99 latency is {} (normally ~{})",
                    secs(entry_now.latency_p99_ms),
                    secs(entry_before.latency_p99_ms)
                ));
            }
        } else {
            s.push_str(&format!(
                "is slow: p99 latency {} against ~{} normally",
                secs(entry_now.latency_p99_ms),
                secs(entry_before.latency_p99_ms)
            ));
        }
        s.push('.');
        parts.push(s);
    } else if lead.is_some() {
        parts.push(format!(
            "Alert fired at {time} on {lead_name}; the storefront looks mostly normal so far."
        ));
    } else {
        parts.push(format!(
            "Reported at {time}: some customers say pages are occasionally slow or fail, no alert has fired."
        ));
    }
    for a in alerting.iter().take(3) {
        let n = names[a.service];
        let line = match a.signal {
            AlertSignal::Errors => format!(
                "{n}: error ratio {} (baseline {}).",
                pct(a.value),
                pct(a.baseline)
            ),
            AlertSignal::Latency => format!(
                "{n}: p99 latency {} (baseline {}).",
                secs(a.value),
                secs(a.baseline)
            ),
            AlertSignal::Unreachable => {
                format!("{n}: health checks failing / no successful scrapes.")
            }
            AlertSignal::Memory => format!(
                "{n}: memory at {:.0}% of its limit.",
                a.value / a.baseline.max(1.0) * 100.0
            ),
            AlertSignal::Disk => format!("{n}: volume {:.0}% full.", a.value * 100.0),
            AlertSignal::Lag => format!("{n}: consumer lag {:.0} messages and rising.", a.value),
            AlertSignal::Restarts => format!(
                "{n}: {:.0} container restarts in the last minutes.",
                a.value
            ),
        };
        if !parts.iter().any(|p| p.contains(&line)) {
            parts.push(line);
        }
    }
    if severity == Severity::Critical {
        parts.push(pick(
            rng,
            &[
                "Support is getting customer complaints about failed checkouts.".to_string(),
                "Conversion has dropped sharply on the dashboard.".to_string(),
                "Synthetic checkout probe failing from all regions.".to_string(),
            ],
        ));
    }
    if let Some((service, what)) = recent_change {
        if rng.chance(0.35) {
            parts.push(format!(
                "Possibly related: {what} on {service} shortly before."
            ));
        }
    }
    if lead_kind == Some(ServiceKind::Worker) {
        parts.push("Order confirmation emails are delayed.".to_string());
    }

    let weights: &[(&str, f64)] = match severity {
        Severity::Critical => &[
            ("alertmanager", 4.0),
            ("pagerduty", 3.0),
            ("synthetic-monitor", 2.0),
            ("customer-support", 1.0),
        ],
        Severity::High => &[
            ("alertmanager", 4.0),
            ("grafana", 2.0),
            ("synthetic-monitor", 1.0),
            ("customer-support", 1.0),
        ],
        Severity::Medium => &[
            ("alertmanager", 3.0),
            ("grafana", 2.0),
            ("on-call engineer", 2.0),
        ],
        Severity::Low => &[("grafana", 2.0), ("on-call engineer", 2.0), ("slack", 1.0)],
    };
    let w: Vec<f64> = weights.iter().map(|(_, w)| *w).collect();
    let detected_by = weights[rng.weighted(&w)].0.to_string();

    IncidentReport {
        title,
        description: parts.join(" "),
        severity,
        affected_services: affected,
        detected_by,
        detected_at,
    }
}

fn pick(rng: &mut SimRng, options: &[String]) -> String {
    rng.pick(options).cloned().unwrap_or_default()
}
