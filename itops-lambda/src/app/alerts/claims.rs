//! Opening an alert's incident when several processes may receive the same alert at once
//! (Lambda instances): the alert's dedup key is claimed with a conditional write first, and
//! the incident is created under the id the claim names, so exactly one is opened.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::incidents::add_note;
use itops_core::{Actor, Error, IncidentId, NewIncident, Result, TimelineEntry, TimelineKind};

use super::{Intake, IntakeResult};

/// Claims on alert dedup keys shared by every process that takes alerts.
#[async_trait]
pub(crate) trait AlertClaims: Send + Sync {
    /// Claims `key` for `incident` (or takes over a claim naming `replace`, an incident that
    /// ended); of concurrent claimants exactly one wins. Returns the incident the key
    /// belongs to now.
    async fn claim(
        &self,
        key: &str,
        incident: IncidentId,
        replace: Option<IncidentId>,
    ) -> Result<IncidentId>;
}

impl Intake {
    /// Opens the incident of a firing alert with dedup key `key` through `claims`: the one
    /// the claim names, created here unless another process did; an alert for an incident
    /// that exists already lands on it as a note.
    pub(super) async fn open_claimed(
        &self,
        claims: &Arc<dyn AlertClaims>,
        key: &str,
        report: NewIncident,
        actor: &Actor,
    ) -> Result<IntakeResult> {
        let now = self.clock.now();
        let mine = report.into_incident(now)?;
        let mut replace = None;
        for _ in 0..4 {
            let holder = claims.claim(key, mine.id, replace).await?;
            let mut incident = mine.clone();
            incident.id = holder;
            match self.store.create_incident(&incident).await {
                Ok(created) => {
                    let payload = serde_json::to_value(&created)
                        .map_err(|e| Error::serialization("the incident", e))?;
                    let entry = TimelineEntry::new(
                        created.id,
                        now,
                        actor.clone(),
                        TimelineKind::Created,
                        format!("incident opened: {}", created.title),
                    )
                    .with_payload(payload);
                    self.store.append_timeline(&entry).await?;
                    if self.auto_start {
                        self.workflows.start(created.id).await?;
                    }
                    return Ok(IntakeResult {
                        incident: Some(created),
                        created: true,
                        correlated: false,
                    });
                }
                Err(Error::AlreadyExists { .. }) => {
                    let existing = self.store.get_incident(holder).await?;
                    if existing.status.is_terminal() && holder != mine.id {
                        // The key's last incident has ended: this alert opens a new one.
                        replace = Some(holder);
                        continue;
                    }
                    add_note(
                        self.store.as_ref(),
                        now,
                        actor,
                        existing.id,
                        &format!("alert fired again: {}", mine.title),
                    )
                    .await?;
                    return Ok(IntakeResult {
                        incident: Some(existing),
                        created: false,
                        correlated: false,
                    });
                }
                Err(error) => return Err(error),
            }
        }
        Err(Error::Storage {
            message: format!("could not claim alert key '{key}': other claimants kept winning"),
            source: None,
        })
    }
}
