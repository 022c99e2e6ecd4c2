//! Correlation: when one fault makes several alert rules fire, each source sends its own
//! group (or alarm, or page), each with its own dedup key. An alert that relates to an
//! incident another alert opened a short while ago joins that incident instead of opening
//! its own, so one fault gets one incident, one investigation and one fix.
//!
//! The rule, in full: a firing alert joins an incident when
//! - the incident was opened by an alert (it has a dedup key; incidents people report are
//!   left alone, their workflow is theirs to start) and is not closed (resolved or
//!   escalated),
//! - it was opened at most the correlation window before now (default 10 minutes; a
//!   window of 0 turns correlation off),
//! - and the alert names a service the incident names, or a service directly connected to
//!   one of them in the configured dependency map (a service and the services it calls;
//!   the relation goes both ways). An alert that names no service joins nothing.
//!
//! Of several such incidents the alert joins the one sharing a service over one merely
//! connected, then the oldest. Nothing else (cluster, namespace, alert name) is taken for a
//! relation: those are shared by faults that have nothing to do with each other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::domain::incident::{MAX_AFFECTED_SERVICES, MAX_CORRELATED_KEYS};
use itops_core::store::{IncidentFilter, MAX_PAGE_SIZE};
use itops_core::{Actor, Error, Incident, NewIncident, Result, TimelineEntry, TimelineKind};
use serde_json::json;

use super::{Intake, IntakeResult};

/// The correlation window when the configuration names none.
pub(crate) const DEFAULT_CORRELATION_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Attempts to record an alert on an incident that other writers (the workflow) update too.
const JOIN_ATTEMPTS: usize = 4;

/// Which open incident a new alert belongs to (see the module's documentation).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Correlation {
    window: Duration,
    /// Services directly connected to each service, both ways.
    links: BTreeMap<String, BTreeSet<String>>,
}

impl Default for Correlation {
    fn default() -> Self {
        Self::new(DEFAULT_CORRELATION_WINDOW)
    }
}

/// Why an alert belongs to an incident.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Relation {
    /// Both name this service.
    SharedService(String),
    /// The alert's service and the incident's are directly connected.
    Connected {
        /// The alert's service.
        alert: String,
        /// The incident's service.
        incident: String,
    },
}

impl Relation {
    /// In words, for the timeline.
    pub(crate) fn describe(&self) -> String {
        match self {
            Relation::SharedService(service) => format!("both concern {service}"),
            Relation::Connected { alert, incident } => {
                format!("{alert} and {incident} are connected")
            }
        }
    }
}

impl Correlation {
    /// Correlation over `window` (zero: off), with no dependency map.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            links: BTreeMap::new(),
        }
    }

    /// No correlation: every alert group opens its own incident.
    pub(crate) fn off() -> Self {
        Self::new(Duration::ZERO)
    }

    /// Takes `dependencies` (each service and the services it calls) as the topology:
    /// alerts on connected services relate.
    pub(crate) fn with_dependencies(
        mut self,
        dependencies: &BTreeMap<String, Vec<String>>,
    ) -> Self {
        for (service, calls) in dependencies {
            for callee in calls {
                if callee == service {
                    continue;
                }
                self.links
                    .entry(service.clone())
                    .or_default()
                    .insert(callee.clone());
                self.links
                    .entry(callee.clone())
                    .or_default()
                    .insert(service.clone());
            }
        }
        self
    }

    /// The window; zero when correlation is off.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    /// Why the alert `report` belongs to `incident` at `now`, or `None` when it does not.
    pub(crate) fn relation(
        &self,
        incident: &Incident,
        report: &NewIncident,
        now: DateTime<Utc>,
    ) -> Option<Relation> {
        if self.window.is_zero()
            || incident.dedup_key.is_none()
            || incident.status.is_terminal()
            || incident.correlated_keys.len() >= MAX_CORRELATED_KEYS
        {
            return None;
        }
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        if now.signed_duration_since(incident.created_at) > window {
            return None;
        }
        let alert: Vec<&str> = report
            .affected_services
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(shared) = alert
            .iter()
            .find(|s| incident.affected_services.iter().any(|i| i == *s))
        {
            return Some(Relation::SharedService((*shared).to_string()));
        }
        for service in &alert {
            let Some(neighbours) = self.links.get(*service) else {
                continue;
            };
            if let Some(other) = incident
                .affected_services
                .iter()
                .find(|i| neighbours.contains(*i))
            {
                return Some(Relation::Connected {
                    alert: (*service).to_string(),
                    incident: other.clone(),
                });
            }
        }
        None
    }

    /// Of `incidents`, the one `report` joins at `now` (see the module's documentation).
    pub(crate) fn pick(
        &self,
        incidents: Vec<Incident>,
        report: &NewIncident,
        now: DateTime<Utc>,
    ) -> Option<(Incident, Relation)> {
        incidents
            .into_iter()
            .filter_map(|i| self.relation(&i, report, now).map(|r| (i, r)))
            .min_by(|(a, ra), (b, rb)| {
                let rank = |r: &Relation| matches!(r, Relation::Connected { .. });
                rank(ra)
                    .cmp(&rank(rb))
                    .then(a.created_at.cmp(&b.created_at))
                    .then(a.id.cmp(&b.id))
            })
    }
}

impl Intake {
    /// Lands the firing alert `report` from `source` on the open incident it correlates
    /// with, if any: the alert's services join the incident's, its dedup key is recorded
    /// (so its repeats and its clear land there too), the severity rises to the alert's
    /// when higher, and the timeline says so. `None` when the alert joins nothing.
    pub(super) async fn join_correlated(
        &self,
        source: &str,
        report: &NewIncident,
    ) -> Result<Option<IntakeResult>> {
        if self.correlation.window().is_zero() || report.affected_services.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let since = chrono::Duration::from_std(self.correlation.window())
            .ok()
            .and_then(|w| now.checked_sub_signed(w));
        let page = self
            .store
            .list_incidents(&IncidentFilter {
                created_after: since,
                limit: Some(MAX_PAGE_SIZE),
                ..IncidentFilter::default()
            })
            .await?;
        let Some((mut incident, mut relation)) = self.correlation.pick(page.items, report, now)
        else {
            return Ok(None);
        };
        for _ in 0..JOIN_ATTEMPTS {
            let before = incident.clone();
            let mut updated = incident.clone();
            let added = merge(&mut updated, report);
            updated.updated_at = now;
            match self.store.update_incident(&updated).await {
                Ok(stored) => {
                    self.record_join(source, report, &before, &stored, &relation, &added)
                        .await?;
                    return Ok(Some(IntakeResult {
                        incident: Some(stored),
                        created: false,
                        correlated: true,
                    }));
                }
                Err(Error::Conflict { .. }) => {
                    // The workflow moved it meanwhile: read it again and check it still takes
                    // the alert (it may have closed).
                    incident = self.store.get_incident(before.id).await?;
                    match self.correlation.relation(&incident, report, now) {
                        Some(again) => relation = again,
                        None => return Ok(None),
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Err(Error::Storage {
            message: format!(
                "could not add an alert to incident {}: it kept changing",
                incident.id
            ),
            source: None,
        })
    }

    async fn record_join(
        &self,
        source: &str,
        report: &NewIncident,
        before: &Incident,
        after: &Incident,
        relation: &Relation,
        added: &[String],
    ) -> Result<()> {
        let mut summary = format!(
            "alert '{}' from {source} joined this incident ({})",
            report.title,
            relation.describe()
        );
        if !added.is_empty() {
            summary.push_str(&format!(
                "; affected services now include {}",
                added.join(", ")
            ));
        }
        if after.severity != before.severity {
            summary.push_str(&format!(
                "; severity {} → {}",
                before.severity, after.severity
            ));
        }
        let entry = TimelineEntry::new(
            after.id,
            self.clock.now(),
            Actor::Integration(source.to_string()),
            TimelineKind::Note,
            summary,
        )
        .with_payload(json!({
            "correlated_alert": {
                "source": source,
                "title": report.title,
                "dedup_key": report.dedup_key,
                "services": report.affected_services,
                "severity": report.severity,
                "added_services": added,
                "relation": relation.describe(),
            }
        }));
        self.store.append_timeline(&entry).await.map(|_| ())
    }
}

/// Adds the alert's services (as many as fit), its dedup key and its severity, when
/// higher, to `incident`; returns the services added.
fn merge(incident: &mut Incident, report: &NewIncident) -> Vec<String> {
    let mut added = Vec::new();
    for service in &report.affected_services {
        let service = service.trim();
        if service.is_empty()
            || incident.affected_services.iter().any(|s| s == service)
            || incident.affected_services.len() >= MAX_AFFECTED_SERVICES
        {
            continue;
        }
        incident.affected_services.push(service.to_string());
        added.push(service.to_string());
    }
    if let Some(key) = &report.dedup_key {
        if !incident.has_alert_key(key) {
            incident.correlated_keys.push(key.clone());
        }
    }
    if report.severity.rank() > incident.severity.rank() {
        incident.severity = report.severity;
    }
    added
}

#[cfg(test)]
mod tests;
