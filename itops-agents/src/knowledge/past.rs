//! Learning from past incidents: a resolved incident becomes a knowledge document (what
//! was seen, where the fault was, what fixed it), found later by `search_knowledge` and
//! `similar_incidents` like any runbook.

use chrono::{DateTime, Utc};
use itops_core::workflow::{ActionState, WorkflowCheckpoint};
use itops_core::{DocumentKind, Error, Incident, KnowledgeDocument, KnowledgeStore, Result};

use super::runbooks::ACTION_TAG_PREFIX;

/// The knowledge-base id of a past incident's document.
pub fn past_incident_id(incident: &Incident) -> String {
    format!("incident-{}", incident.id)
}

/// The document a resolved incident teaches: symptoms (title, description, services), the
/// root cause, the actions that ran successfully (tagged `action:<id>` as runbooks are), and
/// what verification saw.
pub fn past_incident_document(
    incident: &Incident,
    checkpoint: &WorkflowCheckpoint,
    now: DateTime<Utc>,
) -> KnowledgeDocument {
    let data = &checkpoint.data;
    let mut body = format!("Symptoms: {}\n", incident.title);
    if !incident.description.trim().is_empty() {
        body.push_str(&format!("{}\n", incident.description.trim()));
    }
    let mut tags = vec![format!("severity:{}", incident.severity)];
    let mut services = incident.affected_services.clone();
    if let Some(finding) = &data.finding {
        body.push_str(&format!("\nRoot cause: {}\n", finding.summary));
        if let Some(top) = finding.top() {
            body.push_str(&format!("Origin: {} ({})\n", top.service, top.fault));
            tags.push(format!("fault:{}", top.fault));
            if !services.contains(&top.service) {
                services.push(top.service.clone());
            }
        }
    }
    if let Some(plan) = &data.plan {
        let worked: Vec<_> = plan
            .actions
            .iter()
            .filter(|a| {
                data.actions
                    .iter()
                    .any(|r| r.action_id == a.id && r.state == ActionState::Succeeded)
            })
            .collect();
        if !worked.is_empty() {
            body.push_str("\nFixed by:\n");
        }
        for action in worked {
            body.push_str(&format!("- {} on {}\n", action.catalogue_id, action.target));
            let tag = format!("{ACTION_TAG_PREFIX}{}", action.catalogue_id);
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    if let Some(verification) = &data.verification {
        body.push_str(&format!("\nVerified: {}\n", verification.summary));
    }
    KnowledgeDocument {
        id: past_incident_id(incident),
        kind: DocumentKind::PastIncident,
        title: incident.title.clone(),
        body,
        tags,
        services,
        updated_at: now,
        version: 0,
    }
}

/// Stores what a resolved incident teaches (replacing an earlier version of the same
/// incident's document). Returns the stored document.
pub async fn learn_from_incident(
    store: &dyn KnowledgeStore,
    incident: &Incident,
    checkpoint: &WorkflowCheckpoint,
    now: DateTime<Utc>,
) -> Result<KnowledgeDocument> {
    let mut document = past_incident_document(incident, checkpoint, now);
    match store.get_document(&document.id).await {
        Ok(stored) => document.version = stored.version,
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    store.put_document(&document).await
}
