//! Alert intake: Prometheus Alertmanager and Grafana webhooks, PagerDuty (v3) and Opsgenie
//! webhooks, CloudWatch alarms (through SNS or EventBridge) and the simulator's monitor
//! become incidents. Repeats of an alert (same
//! group or alarm) land on the open incident as notes instead of opening another, and
//! alerts of other groups that fire for the same fault join it ([`Correlation`]).

use std::sync::Arc;

use itops_core::incidents::{add_note, open_incident};
use itops_core::store::{incidents_with_status, IncidentFilter};
use itops_core::text::{clip, prefix};
use itops_core::{
    Actor, Clock, Error, Incident, IncidentStatus, NewIncident, Result, Severity, StateStore,
    TimelineKind,
};
use serde::Serialize;
use serde_json::Value;

use super::Orchestrator;

mod claims;
mod correlate;
mod vendors;

pub(crate) use claims::AlertClaims;
pub(crate) use correlate::{Correlation, DEFAULT_CORRELATION_WINDOW};
pub(crate) use vendors::{parse_grafana, parse_opsgenie, parse_pagerduty};

/// What an alert source said.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AlertEvent {
    /// Something is wrong: open (or add to) an incident.
    Firing(NewIncident),
    /// The source says the condition cleared.
    Resolved {
        /// The alert's dedup key.
        dedup_key: String,
        /// What cleared.
        title: String,
    },
    /// Something that neither opens nor clears anything (an acknowledgement, a note added
    /// at the source): accepted and left alone.
    Ignored {
        /// What it was.
        what: String,
    },
}

/// The outcome for one alert.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub(crate) struct IntakeResult {
    /// The incident the alert landed on (none for a cleared alert with no open incident).
    pub incident: Option<Incident>,
    /// Whether a new incident was opened.
    pub created: bool,
    /// Whether the alert joined, on this call, an open incident another alert opened for
    /// the same fault (correlation); false for a repeat of an alert already on it.
    pub correlated: bool,
}

/// Turns alerts into incidents.
#[derive(Clone)]
pub(crate) struct Intake {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    workflows: Arc<dyn Orchestrator>,
    auto_start: bool,
    /// Serialises the find-or-open of one alert, so concurrent repeats open one incident
    /// in this process.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Claims on dedup keys shared with other processes (Lambda instances), if any.
    claims: Option<Arc<dyn AlertClaims>>,
    /// Which open incident an alert of another group joins (off unless set).
    correlation: Correlation,
}

impl Intake {
    /// Intake writing to `store`; starts the workflow of new incidents when `auto_start`.
    pub(crate) fn new(
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        workflows: Arc<dyn Orchestrator>,
        auto_start: bool,
    ) -> Self {
        Self {
            store,
            clock,
            workflows,
            auto_start,
            gate: Arc::default(),
            claims: None,
            correlation: Correlation::off(),
        }
    }

    /// Lands alerts that relate to an open incident by `correlation` on it instead of
    /// opening another. Within one process the intake handles one alert at a time, so
    /// groups arriving together open one incident; processes sharing [`AlertClaims`] only
    /// agree on repeats of one alert, not on correlation.
    pub(crate) fn with_correlation(mut self, correlation: Correlation) -> Self {
        self.correlation = correlation;
        self
    }

    /// Claims dedup keys through `claims` before opening an alert's incident, so that
    /// processes receiving the same alert at once open one incident between them (the
    /// Lambda functions' alarm intake; `itops serve` is one process).
    #[cfg(feature = "aws")]
    pub(crate) fn with_claims(mut self, claims: Arc<dyn AlertClaims>) -> Self {
        self.claims = Some(claims);
        self
    }

    async fn open_for(&self, key: &str) -> Result<Option<Incident>> {
        let page = self
            .store
            .list_incidents(&IncidentFilter {
                dedup_key: Some(key.to_string()),
                limit: Some(50),
                ..IncidentFilter::default()
            })
            .await?;
        Ok(page.items.into_iter().find(|i| !i.status.is_terminal()))
    }

    /// Starts the workflows of incidents an alert opened but whose workflow never started:
    /// opening stores the incident, then its `created` entry, then the workflow's first
    /// checkpoint, and the process may die in between. Alerts always carry a dedup key;
    /// an incident with one is taken for an alert's unless its `created` entry names
    /// someone else (people start the workflows of incidents they report). Run at
    /// startup; returns how many were started.
    pub(crate) async fn start_unstarted(&self) -> Result<usize> {
        if !self.auto_start {
            return Ok(0);
        }
        let mut started = 0;
        for incident in incidents_with_status(self.store.as_ref(), IncidentStatus::Open).await? {
            if incident.dedup_key.is_none()
                || self.store.get_checkpoint(incident.id).await?.is_some()
            {
                continue;
            }
            let created = self.store.timeline(incident.id, 0, 1).await?;
            let by_alert = created.first().is_none_or(|e| {
                e.kind == TimelineKind::Created && matches!(e.actor, Actor::Integration(_))
            });
            if by_alert {
                tracing::warn!(incident_id = %incident.id, "starting a workflow a stop interrupted");
                self.workflows.start(incident.id).await?;
                started += 1;
            }
        }
        Ok(started)
    }

    /// Handles one alert event from `source`.
    pub(crate) async fn handle(&self, source: &str, event: AlertEvent) -> Result<IntakeResult> {
        let actor = Actor::Integration(source.to_string());
        let _one_at_a_time = self.gate.lock().await;
        match event {
            AlertEvent::Firing(report) => {
                if let Some(key) = &report.dedup_key {
                    if let Some(open) = self.open_for(key).await? {
                        add_note(
                            self.store.as_ref(),
                            self.clock.now(),
                            &actor,
                            open.id,
                            &format!("alert fired again: {}", report.title),
                        )
                        .await?;
                        return Ok(IntakeResult {
                            incident: Some(open),
                            created: false,
                            correlated: false,
                        });
                    }
                }
                if let Some(joined) = self.join_correlated(source, &report).await? {
                    return Ok(joined);
                }
                if let (Some(key), Some(claims)) = (report.dedup_key.clone(), &self.claims) {
                    return self.open_claimed(claims, &key, report, &actor).await;
                }
                let incident =
                    open_incident(self.store.as_ref(), self.clock.now(), &actor, report).await?;
                if self.auto_start {
                    self.workflows.start(incident.id).await?;
                }
                Ok(IntakeResult {
                    incident: Some(incident),
                    created: true,
                    correlated: false,
                })
            }
            // A clear is noted on the incident the alert landed on (opened or joined) and
            // closes nothing: verification or a person does, and other alerts on the
            // incident may still fire.
            AlertEvent::Resolved { dedup_key, title } => {
                let open = self.open_for(&dedup_key).await?;
                if let Some(open) = &open {
                    add_note(
                        self.store.as_ref(),
                        self.clock.now(),
                        &actor,
                        open.id,
                        &format!("the alert source reports the condition cleared: {title}"),
                    )
                    .await?;
                }
                Ok(IntakeResult {
                    incident: open,
                    created: false,
                    correlated: false,
                })
            }
            AlertEvent::Ignored { what } => {
                tracing::debug!(source, %what, "alert event ignored");
                Ok(IntakeResult {
                    incident: None,
                    created: false,
                    correlated: false,
                })
            }
        }
    }
}

pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) fn severity_word(word: &str) -> Option<Severity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" | "page" | "p1" | "sev1" | "disaster" | "emergency" => Some(Severity::Critical),
        "high" | "error" | "major" | "p2" | "sev2" => Some(Severity::High),
        "warning" | "warn" | "medium" | "minor" | "p3" | "sev3" => Some(Severity::Medium),
        "info" | "low" | "none" | "p4" | "sev4" | "p5" => Some(Severity::Low),
        _ => None,
    }
}

/// Parses an Alertmanager webhook (version 4): one incident per alert group.
pub(crate) fn parse_alertmanager(body: &Value) -> Result<AlertEvent> {
    parse_alertmanager_from(body, "alertmanager")
}

/// An Alertmanager-shaped webhook from `source` (Alertmanager itself, or Grafana's).
pub(crate) fn parse_alertmanager_from(body: &Value, source: &str) -> Result<AlertEvent> {
    let alerts = body
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::invalid(
                "alerts",
                "an Alertmanager webhook carries an 'alerts' array",
            )
        })?;
    if alerts.is_empty() {
        return Err(Error::invalid("alerts", "is empty"));
    }
    let group_key = str_at(body, &["groupKey"])
        .map(str::to_string)
        .or_else(|| str_at(&alerts[0], &["fingerprint"]).map(str::to_string))
        .ok_or_else(|| {
            Error::invalid(
                "groupKey",
                "is missing (and the alerts have no fingerprint)",
            )
        })?;
    let dedup_key = format!("{source}:{}", prefix(&group_key, 400));
    // The group's common labels and annotations, else the first alert's.
    let common = |field: &str, key: &str| {
        let group_field = if field == "labels" {
            "commonLabels"
        } else {
            "commonAnnotations"
        };
        str_at(body, &[group_field, key]).or_else(|| str_at(&alerts[0], &[field, key]))
    };
    let name = common("labels", "alertname").unwrap_or("alert");
    let title = common("annotations", "summary")
        .map(str::to_string)
        .unwrap_or_else(|| {
            let on = common("labels", "service")
                .or_else(|| common("labels", "job"))
                .map(|s| format!(" on {s}"))
                .unwrap_or_default();
            format!("{name}{on}")
        });
    let title = clip(&title, 200);
    let status = str_at(body, &["status"]).unwrap_or("firing");
    if status == "resolved" {
        return Ok(AlertEvent::Resolved { dedup_key, title });
    }
    let severity = alerts
        .iter()
        .filter_map(|a| str_at(a, &["labels", "severity"]).and_then(severity_word))
        .max_by_key(Severity::rank)
        .unwrap_or(Severity::High);
    let mut services: Vec<String> = Vec::new();
    for a in alerts {
        for key in ["service", "app", "job", "container", "deployment"] {
            if let Some(s) = str_at(a, &["labels", key]) {
                let s = prefix(s, 100).to_string();
                if !services.contains(&s) && services.len() < 10 {
                    services.push(s);
                }
                break;
            }
        }
    }
    let mut description = String::new();
    for a in alerts.iter().take(20) {
        let line = str_at(a, &["annotations", "description"])
            .or_else(|| str_at(a, &["annotations", "summary"]))
            .unwrap_or(name);
        let since = str_at(a, &["startsAt"]).unwrap_or("?");
        description.push_str(&format!("- {} (since {since})\n", clip(line, 500)));
    }
    let mut report = NewIncident::new(title, severity)
        .description(clip(&description, 9000))
        .source(source)
        .dedup_key(dedup_key);
    report.affected_services = services;
    Ok(AlertEvent::Firing(report))
}

/// Parses a CloudWatch alarm: an SNS notification (whose `Message` is the alarm as JSON), an
/// EventBridge "CloudWatch Alarm State Change" event, or the bare alarm.
pub(crate) fn parse_cloudwatch(body: &Value) -> Result<AlertEvent> {
    if str_at(body, &["Type"]) == Some("SubscriptionConfirmation") {
        return Err(Error::invalid(
            "Type",
            "an SNS subscription confirmation: confirm it by opening its SubscribeURL; itops does not fetch URLs",
        ));
    }
    let alarm: Value = match str_at(body, &["Message"]) {
        Some(message) => serde_json::from_str(message).map_err(|e| {
            Error::invalid("Message", format!("is not a CloudWatch alarm as JSON: {e}"))
        })?,
        None => body.clone(),
    };
    // EventBridge shape.
    if let Some(detail) = alarm.get("detail") {
        let name = str_at(detail, &["alarmName"])
            .ok_or_else(|| Error::invalid("detail.alarmName", "is missing"))?;
        let state = str_at(detail, &["state", "value"]).unwrap_or("ALARM");
        let reason = str_at(detail, &["state", "reason"]).unwrap_or("");
        let description = str_at(detail, &["configuration", "description"]).unwrap_or("");
        let mut services = Vec::new();
        if let Some(metrics) = detail
            .pointer("/configuration/metrics")
            .and_then(Value::as_array)
        {
            for m in metrics {
                if let Some(dims) = m
                    .pointer("/metricStat/metric/dimensions")
                    .and_then(Value::as_object)
                {
                    for v in dims.values().filter_map(Value::as_str) {
                        push_service(&mut services, v);
                    }
                }
            }
        }
        return Ok(cloudwatch_event(name, state, reason, description, services));
    }
    let name = str_at(&alarm, &["AlarmName"])
        .ok_or_else(|| Error::invalid("AlarmName", "is missing: not a CloudWatch alarm"))?;
    let state = str_at(&alarm, &["NewStateValue"]).unwrap_or("ALARM");
    let reason = str_at(&alarm, &["NewStateReason"]).unwrap_or("");
    let description = str_at(&alarm, &["AlarmDescription"]).unwrap_or("");
    let mut services = Vec::new();
    if let Some(dims) = alarm
        .pointer("/Trigger/Dimensions")
        .and_then(Value::as_array)
    {
        for d in dims {
            if let Some(v) = str_at(d, &["value"]) {
                push_service(&mut services, v);
            }
        }
    }
    Ok(cloudwatch_event(name, state, reason, description, services))
}

pub(crate) fn push_service(services: &mut Vec<String>, name: &str) {
    let name = prefix(name, 100).to_string();
    if !name.is_empty() && !services.contains(&name) && services.len() < 10 {
        services.push(name);
    }
}

fn cloudwatch_event(
    name: &str,
    state: &str,
    reason: &str,
    description: &str,
    services: Vec<String>,
) -> AlertEvent {
    let dedup_key = format!("cloudwatch:{}", prefix(name, 400));
    let title = clip(&format!("CloudWatch alarm {name}"), 200);
    if state != "ALARM" {
        return AlertEvent::Resolved { dedup_key, title };
    }
    // A severity word in the description or name (e.g. "[critical]") sets it; else high.
    let severity = description
        .split(|c: char| !c.is_alphanumeric())
        .chain(name.split(|c: char| !c.is_alphanumeric()))
        .find_map(severity_word)
        .unwrap_or(Severity::High);
    let mut report = NewIncident::new(title, severity)
        .description(clip(format!("{description}\n{reason}").trim(), 9000))
        .source("cloudwatch")
        .dedup_key(dedup_key);
    report.affected_services = services;
    AlertEvent::Firing(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alertmanager_groups_become_one_incident_each() {
        let body = json!({
            "version": "4", "status": "firing", "groupKey": "{}:{alertname=\"HighErrorRate\"}",
            "commonLabels": {"alertname": "HighErrorRate"},
            "commonAnnotations": {"summary": "checkout 5xx above 5%"},
            "alerts": [
                {"status": "firing", "labels": {"alertname": "HighErrorRate", "severity": "warning", "service": "checkout"},
                 "annotations": {"description": "5xx at 7%"}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "a"},
                {"status": "firing", "labels": {"alertname": "HighErrorRate", "severity": "critical", "service": "payments"},
                 "annotations": {}, "startsAt": "2026-01-01T00:01:00Z", "fingerprint": "b"}
            ]
        });
        let AlertEvent::Firing(report) = parse_alertmanager(&body).unwrap() else {
            panic!("firing");
        };
        assert_eq!(report.title, "checkout 5xx above 5%");
        assert_eq!(report.severity, Severity::Critical);
        assert_eq!(report.affected_services, ["checkout", "payments"]);
        assert!(report.dedup_key.unwrap().starts_with("alertmanager:"));
        let mut resolved = body.clone();
        resolved["status"] = json!("resolved");
        assert!(matches!(
            parse_alertmanager(&resolved).unwrap(),
            AlertEvent::Resolved { .. }
        ));
        assert!(parse_alertmanager(&json!({"alerts": []})).is_err());
        assert!(parse_alertmanager(&json!({"nope": 1})).is_err());
    }

    #[test]
    fn cloudwatch_alarms_arrive_through_sns_or_eventbridge() {
        let alarm = json!({
            "AlarmName": "payments-p99-latency", "AlarmDescription": "[critical] p99 over 2s",
            "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed",
            "Trigger": {"MetricName": "Latency", "Dimensions": [{"name": "ServiceName", "value": "payments"}]}
        });
        let sns = json!({"Type": "Notification", "Message": alarm.to_string()});
        let AlertEvent::Firing(report) = parse_cloudwatch(&sns).unwrap() else {
            panic!("firing");
        };
        assert_eq!(report.severity, Severity::Critical);
        assert_eq!(report.affected_services, ["payments"]);
        let event = json!({"detail-type": "CloudWatch Alarm State Change", "detail": {
            "alarmName": "db-cpu", "state": {"value": "OK", "reason": "back"}}});
        assert!(matches!(
            parse_cloudwatch(&event).unwrap(),
            AlertEvent::Resolved { .. }
        ));
        let confirm = json!({"Type": "SubscriptionConfirmation", "SubscribeURL": "https://x"});
        assert!(parse_cloudwatch(&confirm).is_err());
        assert!(parse_cloudwatch(&json!({"Message": "not json"})).is_err());
    }
}
