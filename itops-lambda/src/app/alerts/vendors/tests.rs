//! The payloads are written from each service's documented webhook examples.
#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

fn firing(event: AlertEvent) -> NewIncident {
    match event {
        AlertEvent::Firing(report) => report,
        other => panic!("not a firing alert: {other:?}"),
    }
}

#[test]
fn a_grafana_notification_is_an_alert_group() {
    let body = json!({
        "receiver": "itops", "status": "firing", "orgId": 1,
        "groupKey": "{}/{}:{alertname=\"CheckoutErrors\"}",
        "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical"},
        "commonAnnotations": {"summary": "checkout 5xx above 5 %"},
        "externalURL": "http://grafana:3000/", "version": "1",
        "title": "[FIRING:1] CheckoutErrors", "state": "alerting", "message": "...",
        "alerts": [{"status": "firing", "labels": {"alertname": "CheckoutErrors", "service": "checkout", "severity": "critical"},
                    "annotations": {"summary": "checkout 5xx above 5 %"},
                    "startsAt": "2026-12-07T09:40:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "a1b2c3", "generatorURL": "http://grafana:3000/alerting/grafana/x/view",
                    "values": {"B": 6.2}}]
    });
    let report = firing(parse_grafana(&body).unwrap());
    assert_eq!(report.title, "checkout 5xx above 5 %");
    assert_eq!(report.severity, Severity::Critical);
    assert_eq!(report.affected_services, ["checkout"]);
    assert_eq!(report.source, "grafana");
    assert!(report
        .dedup_key
        .as_deref()
        .is_some_and(|k| k.starts_with("grafana:{}/{}")));
    let mut resolved = body.clone();
    resolved["status"] = json!("resolved");
    assert!(matches!(
        parse_grafana(&resolved).unwrap(),
        AlertEvent::Resolved { dedup_key, .. } if dedup_key.starts_with("grafana:")
    ));
}

fn pagerduty(event_type: &str) -> Value {
    json!({"event": {
        "id": "01DEN3RZBUPJ7ZLEKNRRAIEMPG", "event_type": event_type,
        "resource_type": "incident", "occurred_at": "2026-12-07T09:41:00.000Z",
        "agent": {"type": "service_reference", "id": "PLH1HKV", "summary": "Checkout"},
        "client": null,
        "data": {
            "id": "PGR0VU2", "type": "incident", "self": "https://api.pagerduty.com/incidents/PGR0VU2",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "number": 2,
            "status": "triggered", "incident_key": "d3640fbd41094207a1c11e58e46b1662",
            "created_at": "2026-12-07T09:40:58Z", "title": "Checkout error rate above 5 %",
            "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                        "self": "https://api.pagerduty.com/services/PF9KMXH", "summary": "checkout",
                        "type": "service_reference"},
            "assignees": [], "escalation_policy": {"id": "PTNRX5F", "summary": "Default", "type": "escalation_policy_reference"},
            "teams": [], "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "urgency": "high", "conference_bridge": null, "resolve_reason": null
        }
    }})
}

#[test]
fn a_pagerduty_incident_opens_and_resolves_and_the_rest_is_ignored() {
    let report = firing(parse_pagerduty(&pagerduty("incident.triggered")).unwrap());
    assert_eq!(report.title, "Checkout error rate above 5 %");
    assert_eq!(report.severity, Severity::Critical, "P1");
    assert_eq!(report.affected_services, ["checkout"]);
    assert_eq!(report.dedup_key.as_deref(), Some("pagerduty:PGR0VU2"));
    assert!(report.description.contains("PGR0VU2"));
    assert!(matches!(
        parse_pagerduty(&pagerduty("incident.resolved")).unwrap(),
        AlertEvent::Resolved { dedup_key, .. } if dedup_key == "pagerduty:PGR0VU2"
    ));
    assert!(matches!(
        parse_pagerduty(&pagerduty("incident.acknowledged")).unwrap(),
        AlertEvent::Ignored { .. }
    ));
    let error = parse_pagerduty(&json!({"messages": []})).unwrap_err();
    assert!(error.to_string().contains("event"), "{error}");
}

fn opsgenie(action: &str) -> Value {
    json!({
        "action": action,
        "alert": {
            "alertId": "70413a06-38d6-4c85-92b8-5ebc900d42e2", "message": "payments latency p99 above 2 s",
            "tags": ["team:shop", "service:payments"], "tinyId": "1791", "entity": "payments-api",
            "alias": "payments-latency", "createdAt": 1796550060000_i64, "updatedAt": 1796550060000_i64,
            "username": "Alert API", "description": "p99 2.4 s for 5 minutes", "team": "",
            "responders": [], "teams": [], "actions": [], "details": {"region": "eu"},
            "priority": "P2", "source": "prometheus"
        },
        "source": {"name": "", "type": "API"},
        "integrationName": "itops", "integrationId": "0d6b5b0b-7d3b-4f9c-a8b4-0a3b0c5d6e7f",
        "integrationType": "Webhook"
    })
}

#[test]
fn an_opsgenie_alert_opens_and_closes_and_the_rest_is_ignored() {
    let report = firing(parse_opsgenie(&opsgenie("Create")).unwrap());
    assert_eq!(report.title, "payments latency p99 above 2 s");
    assert_eq!(report.severity, Severity::High, "P2");
    assert_eq!(
        report.affected_services,
        ["payments"],
        "from the service: tag"
    );
    assert_eq!(
        report.dedup_key.as_deref(),
        Some("opsgenie:payments-latency")
    );
    assert!(matches!(
        parse_opsgenie(&opsgenie("Close")).unwrap(),
        AlertEvent::Resolved { dedup_key, .. } if dedup_key == "opsgenie:payments-latency"
    ));
    assert!(matches!(
        parse_opsgenie(&opsgenie("Acknowledge")).unwrap(),
        AlertEvent::Ignored { .. }
    ));
    let mut entity_only = opsgenie("Create");
    entity_only["alert"]["tags"] = json!([]);
    let report = firing(parse_opsgenie(&entity_only).unwrap());
    assert_eq!(report.affected_services, ["payments-api"]);
    let error = parse_opsgenie(&json!({"action": "Create"})).unwrap_err();
    assert!(error.to_string().contains("alert"), "{error}");
}
