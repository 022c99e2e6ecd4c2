//! In-memory `StateStore` and `ApprovalGate`.
//!
//! Everything lives behind one mutex, so each operation is atomic; the lock is never held
//! across an `.await`. Good for tests, examples and short-lived single-process runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    AgentState, AgentStateStore, CheckpointStore, IncidentFilter, IncidentPage, IncidentStore,
    KnowledgeStore, TimelineStore,
};
use crate::approval::{
    Approval, ApprovalFilter, ApprovalGate, ApprovalPage, ApprovalRequest, ApprovalTicket,
    ApprovalToken, Decision,
};
use crate::clock::{Clock, SystemClock};
use crate::domain::{Incident, IncidentStatus, TimelineEntry};
use crate::error::{Error, Result};
use crate::id::{ApprovalId, IncidentId};
use crate::knowledge::{DocumentKind, KnowledgeDocument};
use crate::workflow::WorkflowCheckpoint;

use super::version::{checked_next, new_stored};

/// A `StateStore` and `ApprovalGate` kept in process memory; lost when dropped.
#[derive(Debug)]
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    // Ordered by id, which for UUIDv7 is creation order.
    incidents: BTreeMap<IncidentId, Incident>,
    timelines: HashMap<IncidentId, Vec<TimelineEntry>>,
    agent_states: HashMap<(IncidentId, String), AgentState>,
    checkpoints: BTreeMap<IncidentId, WorkflowCheckpoint>,
    documents: BTreeMap<String, KnowledgeDocument>,
    approvals: BTreeMap<ApprovalId, StoredApproval>,
}

#[derive(Debug)]
struct StoredApproval {
    approval: Approval,
    token_hash: String,
}

impl MemoryStore {
    /// An empty store reading time from `clock` (used for approval expiry).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every operation validates before it mutates, so a poisoned lock still guards
        // consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

// Approval rules every backend shares (SQLite here, DynamoDB in itops-aws), so that they
// cannot drift; re-exported from `store`.

/// Whether an approval passes `filter` as of `now` (status as reported at that time).
pub fn approval_matches(
    filter: &ApprovalFilter,
    approval: &Approval,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    filter
        .incident_id
        .is_none_or(|id| approval.incident_id == id)
        && filter.status.is_none_or(|s| approval.status_at(now) == s)
}

/// The approval as reported at `now`: a pending one past its expiry reads as expired.
pub fn approval_as_of(mut approval: Approval, now: chrono::DateTime<chrono::Utc>) -> Approval {
    approval.status = approval.status_at(now);
    approval
}

#[async_trait]
impl IncidentStore for MemoryStore {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = new_stored("incident", incident)?;
        let mut state = self.lock();
        if state.incidents.contains_key(&incident.id) {
            return Err(Error::AlreadyExists {
                entity: "incident",
                id: incident.id.to_string(),
            });
        }
        state.incidents.insert(stored.id, stored.clone());
        Ok(stored)
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.lock()
            .incidents
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::not_found("incident", id))
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        let mut state = self.lock();
        let current = state
            .incidents
            .get_mut(&incident.id)
            .ok_or_else(|| Error::not_found("incident", incident.id))?;
        let stored = checked_next("incident", incident.id, incident, Some(current.version))?;
        *current = stored.clone();
        Ok(stored)
    }

    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        let mut state = self.lock();
        if state.incidents.remove(&id).is_none() {
            return Err(Error::not_found("incident", id));
        }
        state.timelines.remove(&id);
        state
            .agent_states
            .retain(|(incident_id, _), _| *incident_id != id);
        state.checkpoints.remove(&id);
        Ok(())
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        let page_size = filter.page_size();
        let state = self.lock();
        let upper = match filter.cursor {
            Some(cursor) => std::ops::Bound::Excluded(cursor),
            None => std::ops::Bound::Unbounded,
        };
        let mut items: Vec<Incident> = state
            .incidents
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, incident)| incident)
            .filter(|incident| filter.matches(incident))
            .take(page_size.saturating_add(1))
            .cloned()
            .collect();
        let next_cursor = if items.len() > page_size {
            items.truncate(page_size);
            items.last().map(|incident| incident.id)
        } else {
            None
        };
        Ok(IncidentPage { items, next_cursor })
    }

    async fn count_incidents_by_status(&self) -> Result<Vec<(IncidentStatus, u64)>> {
        let state = self.lock();
        let mut counts: Vec<(IncidentStatus, u64)> = Vec::new();
        for incident in state.incidents.values() {
            match counts.iter_mut().find(|(s, _)| *s == incident.status) {
                Some((_, n)) => *n += 1,
                None => counts.push((incident.status, 1)),
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl TimelineStore for MemoryStore {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        let mut state = self.lock();
        if !state.incidents.contains_key(&entry.incident_id) {
            return Err(Error::not_found("incident", entry.incident_id));
        }
        let timeline = state.timelines.entry(entry.incident_id).or_default();
        let mut stored = entry.clone();
        stored.seq = u64::try_from(timeline.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        timeline.push(stored.clone());
        Ok(stored)
    }

    async fn timeline(
        &self,
        incident_id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        let state = self.lock();
        let Some(timeline) = state.timelines.get(&incident_id) else {
            return Ok(Vec::new());
        };
        // Entries are stored in seq order starting at 1, so entry `seq` sits at index seq - 1.
        let start = usize::try_from(after_seq)
            .unwrap_or(usize::MAX)
            .min(timeline.len());
        Ok(timeline[start..].iter().take(limit).cloned().collect())
    }
}

#[async_trait]
impl AgentStateStore for MemoryStore {
    async fn get_agent_state(
        &self,
        incident_id: IncidentId,
        agent: &str,
    ) -> Result<Option<AgentState>> {
        Ok(self
            .lock()
            .agent_states
            .get(&(incident_id, agent.to_string()))
            .cloned())
    }

    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState> {
        let mut guard = self.lock();
        let key = (state.incident_id, state.agent.clone());
        let current = guard.agent_states.get(&key).map(|s| s.version);
        let stored = checked_next(
            "agent state",
            format!("{}/{}", state.incident_id, state.agent),
            state,
            current,
        )?;
        guard.agent_states.insert(key, stored.clone());
        Ok(stored)
    }
}

#[async_trait]
impl CheckpointStore for MemoryStore {
    async fn get_checkpoint(&self, incident_id: IncidentId) -> Result<Option<WorkflowCheckpoint>> {
        Ok(self.lock().checkpoints.get(&incident_id).cloned())
    }

    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint> {
        let mut state = self.lock();
        let current = state
            .checkpoints
            .get(&checkpoint.incident_id)
            .map(|c| c.version);
        let stored = checked_next("checkpoint", checkpoint.incident_id, checkpoint, current)?;
        state.checkpoints.insert(stored.incident_id, stored.clone());
        Ok(stored)
    }

    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>> {
        // Oldest first means by incident id, which is time-ordered.
        Ok(self
            .lock()
            .checkpoints
            .values()
            .filter(|c| !c.is_finished())
            .cloned()
            .collect())
    }
}

#[async_trait]
impl KnowledgeStore for MemoryStore {
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument> {
        document.validate()?;
        let mut state = self.lock();
        let current = state.documents.get(&document.id).map(|d| d.version);
        let stored = checked_next("document", &document.id, document, current)?;
        state.documents.insert(stored.id.clone(), stored.clone());
        Ok(stored)
    }

    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument> {
        self.lock()
            .documents
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found("document", id))
    }

    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>> {
        Ok(self
            .lock()
            .documents
            .values()
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .cloned()
            .collect())
    }

    async fn delete_document(&self, id: &str) -> Result<()> {
        self.lock()
            .documents
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| Error::not_found("document", id))
    }
}

#[async_trait]
impl ApprovalGate for MemoryStore {
    async fn request(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        let approval = Approval::pending(&request, self.clock.now())?;
        let token = ApprovalToken::generate();
        let mut state = self.lock();
        if state.approvals.contains_key(&approval.id) {
            return Err(Error::AlreadyExists {
                entity: "approval",
                id: approval.id.to_string(),
            });
        }
        state.approvals.insert(
            approval.id,
            StoredApproval {
                approval: approval.clone(),
                token_hash: token.hash(),
            },
        );
        Ok(ApprovalTicket { approval, token })
    }

    async fn get(&self, id: ApprovalId) -> Result<Approval> {
        let now = self.clock.now();
        self.lock()
            .approvals
            .get(&id)
            .map(|stored| approval_as_of(stored.approval.clone(), now))
            .ok_or_else(|| Error::not_found("approval", id))
    }

    async fn get_with_token(&self, id: ApprovalId, token: &ApprovalToken) -> Result<Approval> {
        let now = self.clock.now();
        let state = self.lock();
        let stored = state
            .approvals
            .get(&id)
            .ok_or_else(|| Error::not_found("approval", id))?;
        approval_as_of(stored.approval.clone(), now).check_token(token, &stored.token_hash)
    }

    async fn decide(&self, id: ApprovalId, decision: Decision) -> Result<Approval> {
        let now = self.clock.now();
        let mut state = self.lock();
        let stored = state
            .approvals
            .get_mut(&id)
            .ok_or_else(|| Error::not_found("approval", id))?;
        let decided = stored.approval.decide(&decision, &stored.token_hash, now)?;
        stored.approval = decided.clone();
        Ok(decided)
    }

    async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        let now = self.clock.now();
        let state = self.lock();
        let mut approvals: Vec<Approval> = state
            .approvals
            .values()
            .filter(|stored| approval_matches(filter, &stored.approval, now))
            .map(|stored| approval_as_of(stored.approval.clone(), now))
            .collect();
        approvals.sort_by_key(|a| (a.requested_at, a.id));
        Ok(approvals)
    }

    async fn list_page(&self, filter: &ApprovalFilter) -> Result<ApprovalPage> {
        let now = self.clock.now();
        let state = self.lock();
        let after = match filter.cursor {
            Some(cursor) => {
                let at = state
                    .approvals
                    .get(&cursor)
                    .ok_or_else(|| Error::not_found("approval", cursor))?;
                Some((at.approval.requested_at, at.approval.id))
            }
            None => None,
        };
        let mut matching: Vec<&Approval> = state
            .approvals
            .values()
            .map(|stored| &stored.approval)
            .filter(|a| after.is_none_or(|after| (a.requested_at, a.id) > after))
            .filter(|a| approval_matches(filter, a, now))
            .collect();
        matching.sort_by_key(|a| (a.requested_at, a.id));
        let size = filter.page_size();
        let mut items: Vec<Approval> = matching
            .into_iter()
            .take(size + 1)
            .map(|a| approval_as_of(a.clone(), now))
            .collect();
        Ok(ApprovalPage::from_overfull(&mut items, size))
    }

    async fn expire_due(&self) -> Result<Vec<Approval>> {
        let now = self.clock.now();
        let mut state = self.lock();
        let mut expired = Vec::new();
        for stored in state.approvals.values_mut() {
            if let Some(approval) = stored.approval.expire(now) {
                stored.approval = approval.clone();
                expired.push(approval);
            }
        }
        expired.sort_by_key(|a| (a.requested_at, a.id));
        Ok(expired)
    }
}
