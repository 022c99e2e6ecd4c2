//! Incident operations shared by every front end (the REST API, the MCP incident tools,
//! alert intake): each change is validated, stored and recorded on the timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::incident::{validate_description, validate_services, validate_title};
use crate::domain::{
    Actor, Incident, IncidentStatus, NewIncident, Severity, TimelineEntry, TimelineKind,
};
use crate::error::{Error, Result};
use crate::id::IncidentId;
use crate::store::StateStore;

/// Longest accepted note.
pub const MAX_NOTE_CHARS: usize = 4000;

/// Opens an incident: validates the report, stores it and records `created` on its timeline.
pub async fn open_incident(
    store: &dyn StateStore,
    now: DateTime<Utc>,
    actor: &Actor,
    report: NewIncident,
) -> Result<Incident> {
    let incident = store.create_incident(&report.into_incident(now)?).await?;
    let payload =
        serde_json::to_value(&incident).map_err(|e| Error::serialization("the incident", e))?;
    let entry = TimelineEntry::new(
        incident.id,
        now,
        actor.clone(),
        TimelineKind::Created,
        format!("incident opened: {}", incident.title),
    )
    .with_payload(payload);
    store.append_timeline(&entry).await?;
    Ok(incident)
}

/// A change to an incident's fields. Absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentEdit {
    /// The version the editor read; the edit is refused (`Conflict`) if the incident changed since.
    #[serde(default)]
    pub version: Option<u64>,
    /// New title (1 to 200 characters).
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// New affected services (replaces the list).
    #[serde(default)]
    pub affected_services: Option<Vec<String>>,
    /// Close the incident by hand: `resolved` or `escalated` only (the workflow moves the
    /// other states, and stops at its next step when it sees a closed incident).
    #[serde(default)]
    pub status: Option<IncidentStatus>,
}

impl IncidentEdit {
    /// Whether the edit changes nothing.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.severity.is_none()
            && self.affected_services.is_none()
            && self.status.is_none()
    }
}

/// Applies `edit` to incident `id`, stores it and records what changed on the timeline.
/// `Invalid` for an empty edit or a bad field, `Conflict` for a stale version,
/// `InvalidTransition` for a status the edit may not set.
pub async fn edit_incident(
    store: &dyn StateStore,
    now: DateTime<Utc>,
    actor: &Actor,
    id: IncidentId,
    edit: IncidentEdit,
) -> Result<Incident> {
    if edit.is_empty() {
        return Err(Error::invalid(
            "body",
            "nothing to change: give title, description, severity, affected_services or status",
        ));
    }
    let mut incident = store.get_incident(id).await?;
    if let Some(expected) = edit.version {
        if expected != incident.version {
            return Err(Error::Conflict {
                entity: "incident",
                id: id.to_string(),
                expected,
                actual: incident.version,
            });
        }
    }
    let mut changed = Vec::new();
    if let Some(title) = edit.title {
        incident.title = validate_title(&title)?;
        changed.push("title");
    }
    if let Some(description) = edit.description {
        validate_description(&description)?;
        incident.description = description;
        changed.push("description");
    }
    if let Some(severity) = edit.severity {
        incident.severity = severity;
        changed.push("severity");
    }
    if let Some(services) = edit.affected_services {
        incident.affected_services = validate_services(services)?;
        changed.push("affected_services");
    }
    let from = incident.status;
    if let Some(status) = edit.status {
        if !status.is_terminal() {
            return Err(Error::invalid(
                "status",
                "only resolved or escalated can be set by hand; the workflow moves the others",
            ));
        }
        if from.is_terminal() && from != status {
            return Err(Error::InvalidTransition {
                from: from.to_string(),
                to: status.to_string(),
                reason: Some("the incident is closed already".to_string()),
            });
        }
        if from != status {
            incident.status = status;
            changed.push("status");
        }
    }
    incident.updated_at = now;
    // Compare against the version read above, so an edit racing another write is refused.
    let updated = store.update_incident(&incident).await?;
    let entry = if updated.status != from {
        TimelineEntry::new(
            id,
            now,
            actor.clone(),
            TimelineKind::StatusChanged,
            format!("{from} → {} (by hand)", updated.status),
        )
        .with_payload(serde_json::json!({
            "from": from, "to": updated.status, "fields": changed,
        }))
    } else {
        TimelineEntry::new(
            id,
            now,
            actor.clone(),
            TimelineKind::Updated,
            format!("changed {}", changed.join(", ")),
        )
        .with_payload(serde_json::json!({ "fields": changed }))
    };
    store.append_timeline(&entry).await?;
    Ok(updated)
}

/// Appends a note (1 to [`MAX_NOTE_CHARS`] characters) to an incident's timeline.
pub async fn add_note(
    store: &dyn StateStore,
    now: DateTime<Utc>,
    actor: &Actor,
    id: IncidentId,
    text: &str,
) -> Result<TimelineEntry> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::invalid(
            "text",
            format!("must be 1 to {MAX_NOTE_CHARS} characters"),
        ));
    }
    store.get_incident(id).await?;
    let entry = TimelineEntry::new(id, now, actor.clone(), TimelineKind::Note, text);
    store.append_timeline(&entry).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, TimelineStore};

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn opening_records_created_and_edits_record_what_changed() {
        let store = MemoryStore::default();
        let actor = Actor::Human("ops".into());
        let incident = open_incident(
            &store,
            now(),
            &actor,
            NewIncident::new("Checkout slow", Severity::High).service("checkout"),
        )
        .await
        .unwrap();
        let edited = edit_incident(
            &store,
            now(),
            &actor,
            incident.id,
            IncidentEdit {
                version: Some(incident.version),
                severity: Some(Severity::Critical),
                ..IncidentEdit::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(edited.severity, Severity::Critical);
        let stale = edit_incident(
            &store,
            now(),
            &actor,
            incident.id,
            IncidentEdit {
                version: Some(incident.version),
                title: Some("x".into()),
                ..IncidentEdit::default()
            },
        )
        .await;
        assert!(matches!(stale, Err(Error::Conflict { .. })), "{stale:?}");
        let closed = edit_incident(
            &store,
            now(),
            &actor,
            incident.id,
            IncidentEdit {
                status: Some(IncidentStatus::Escalated),
                ..IncidentEdit::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(closed.status, IncidentStatus::Escalated);
        let kinds: Vec<TimelineKind> = store
            .timeline(incident.id, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                TimelineKind::Created,
                TimelineKind::Updated,
                TimelineKind::StatusChanged
            ]
        );
    }

    #[tokio::test]
    async fn bad_edits_and_notes_are_refused_with_the_field() {
        let store = MemoryStore::default();
        let actor = Actor::System;
        let incident = open_incident(
            &store,
            now(),
            &actor,
            NewIncident::new("Disk full", Severity::Low),
        )
        .await
        .unwrap();
        for (edit, field) in [
            (IncidentEdit::default(), "body"),
            (
                IncidentEdit {
                    title: Some("   ".into()),
                    ..IncidentEdit::default()
                },
                "title",
            ),
            (
                IncidentEdit {
                    status: Some(IncidentStatus::Executing),
                    ..IncidentEdit::default()
                },
                "status",
            ),
        ] {
            match edit_incident(&store, now(), &actor, incident.id, edit).await {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected Invalid({field}), got {other:?}"),
            }
        }
        assert!(add_note(&store, now(), &actor, incident.id, " ")
            .await
            .is_err());
        let missing = add_note(&store, now(), &actor, IncidentId::new(), "hi").await;
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
    }
}
