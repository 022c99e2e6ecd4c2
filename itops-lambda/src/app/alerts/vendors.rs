//! Alert webhooks of the paging and dashboard services: Grafana-managed alerts (the
//! webhook contact point), PagerDuty (v3 webhook subscriptions) and Opsgenie (the Webhook
//! integration). Each becomes an [`AlertEvent`] whose dedup key follows the source's own
//! notion of "the same alert", so repeats land on one incident.

use itops_core::{Error, NewIncident, Result, Severity};
use serde_json::Value;

use itops_core::text::{clip, prefix};

use super::{parse_alertmanager_from, push_service, severity_word, str_at, AlertEvent};

/// Parses a Grafana-managed alert notification (the webhook contact point). Its body is
/// Alertmanager's webhook with a few fields more (`orgId`, `title`, `state`, `message`):
/// one incident per alert group, under the dedup key `grafana:<groupKey>`.
pub(crate) fn parse_grafana(body: &Value) -> Result<AlertEvent> {
    parse_alertmanager_from(body, "grafana")
}

/// Parses a PagerDuty v3 webhook event: `incident.triggered` (and `incident.reopened`)
/// open an incident, `incident.resolved` clears it; the others (acknowledged, annotated,
/// escalated, ...) are accepted and ignored. The dedup key is PagerDuty's incident id.
pub(crate) fn parse_pagerduty(body: &Value) -> Result<AlertEvent> {
    let event = body.get("event").ok_or_else(|| {
        Error::invalid("event", "a PagerDuty v3 webhook carries an 'event' object")
    })?;
    let kind = str_at(event, &["event_type"])
        .ok_or_else(|| Error::invalid("event.event_type", "is missing"))?;
    let data = event
        .get("data")
        .ok_or_else(|| Error::invalid("event.data", "is missing"))?;
    let id = str_at(data, &["id"])
        .ok_or_else(|| Error::invalid("event.data.id", "is missing (the incident's id)"))?;
    let dedup_key = format!("pagerduty:{}", prefix(id, 200));
    let title = clip(
        str_at(data, &["title"])
            .or_else(|| str_at(data, &["summary"]))
            .unwrap_or("PagerDuty incident"),
        200,
    );
    match kind {
        "incident.triggered" | "incident.reopened" => {}
        "incident.resolved" => return Ok(AlertEvent::Resolved { dedup_key, title }),
        other => {
            return Ok(AlertEvent::Ignored {
                what: format!("PagerDuty {other}"),
            })
        }
    }
    let severity = str_at(data, &["priority", "summary"])
        .and_then(severity_word)
        .or_else(|| match str_at(data, &["urgency"]) {
            Some("low") => Some(Severity::Medium),
            Some("high") => Some(Severity::High),
            _ => None,
        })
        .unwrap_or(Severity::High);
    let mut services = Vec::new();
    if let Some(service) = str_at(data, &["service", "summary"]) {
        push_service(&mut services, service);
    }
    let mut description = format!("PagerDuty incident {id}");
    if let Some(url) = str_at(data, &["html_url"]) {
        description.push_str(&format!(" ({})", clip(url, 300)));
    }
    if let Some(service) = services.first() {
        description.push_str(&format!(" on service {service}"));
    }
    let mut report = NewIncident::new(title, severity)
        .description(description)
        .source("pagerduty")
        .dedup_key(dedup_key);
    report.affected_services = services;
    Ok(AlertEvent::Firing(report))
}

/// Parses an Opsgenie Webhook integration call: `Create` opens an incident, `Close`
/// clears it, the other actions (Acknowledge, AddNote, ...) are accepted and ignored. The
/// dedup key is the alert's alias (Opsgenie's own deduplication key), else its id. The
/// services are the alert's `service` detail, its `service:NAME` tags, else its entity.
pub(crate) fn parse_opsgenie(body: &Value) -> Result<AlertEvent> {
    let action = str_at(body, &["action"])
        .ok_or_else(|| Error::invalid("action", "an Opsgenie webhook carries an 'action'"))?;
    let alert = body
        .get("alert")
        .ok_or_else(|| Error::invalid("alert", "an Opsgenie webhook carries an 'alert' object"))?;
    let key = str_at(alert, &["alias"])
        .or_else(|| str_at(alert, &["alertId"]))
        .ok_or_else(|| Error::invalid("alert.alias", "is missing (and so is alert.alertId)"))?;
    let dedup_key = format!("opsgenie:{}", prefix(key, 400));
    let title = clip(str_at(alert, &["message"]).unwrap_or("Opsgenie alert"), 200);
    match action {
        "Create" => {}
        "Close" | "Delete" => return Ok(AlertEvent::Resolved { dedup_key, title }),
        other => {
            return Ok(AlertEvent::Ignored {
                what: format!("Opsgenie {other}"),
            })
        }
    }
    let severity = str_at(alert, &["priority"])
        .and_then(severity_word)
        .unwrap_or(Severity::High);
    let mut services = Vec::new();
    if let Some(service) = str_at(alert, &["details", "service"]) {
        push_service(&mut services, service);
    }
    for tag in alert
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(service) = tag.strip_prefix("service:") {
            push_service(&mut services, service.trim());
        }
    }
    if services.is_empty() {
        if let Some(entity) = str_at(alert, &["entity"]) {
            push_service(&mut services, entity);
        }
    }
    let description = str_at(alert, &["description"]).unwrap_or("");
    let mut report = NewIncident::new(title, severity)
        .description(clip(description, 9000))
        .source("opsgenie")
        .dedup_key(dedup_key);
    report.affected_services = services;
    Ok(AlertEvent::Firing(report))
}

#[cfg(test)]
mod tests;
