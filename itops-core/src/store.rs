//! Durable state: small store traits, combined as [`StateStore`], with memory and SQLite backends.
//!
//! Every update is optimistic: a record carries the version its writer read (0 for a new
//! one), the store refuses the write with [`Error::Conflict`](crate::Error::Conflict) when
//! the stored version differs, and otherwise stores it as version + 1.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Incident, IncidentStatus, Severity, TimelineEntry};
use crate::error::Result;
use crate::id::IncidentId;
use crate::knowledge::{DocumentKind, KnowledgeDocument};
use crate::workflow::WorkflowCheckpoint;

mod memory;
mod observed;
#[cfg(feature = "sqlite")]
mod sqlite;
mod version;

pub use memory::MemoryStore;
/// The approval rules every backend applies the same way, for backends outside this crate.
pub use memory::{approval_as_of, approval_matches};
pub use observed::{Observed, StoreObserver, Write};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
/// The version rules every backend applies the same way, for backends outside this crate.
pub use version::{
    check_new, check_version, checked_next, new_stored, next_stored, next_version,
    version_conflict, Versioned,
};

/// Default page size of [`IncidentStore::list_incidents`].
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page size of [`IncidentStore::list_incidents`].
pub const MAX_PAGE_SIZE: usize = 500;

/// Which incidents to list. Results are newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only incidents naming this affected service.
    pub service: Option<String>,
    /// Only incidents created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only incidents created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Only incidents alerts with this dedup key land on: their own key, or one of their
    /// [`Incident::correlated_keys`].
    pub dedup_key: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<usize>,
    /// Continue after this incident (the previous page's `next_cursor`).
    pub cursor: Option<IncidentId>,
}

impl IncidentFilter {
    /// The page size to use: the limit clamped to `1..=MAX_PAGE_SIZE`.
    pub fn page_size(&self) -> usize {
        self.limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// Whether `incident` passes every filter except the cursor.
    pub fn matches(&self, incident: &Incident) -> bool {
        self.status.is_none_or(|s| incident.status == s)
            && self.severity.is_none_or(|s| incident.severity == s)
            && self
                .service
                .as_ref()
                .is_none_or(|s| incident.affected_services.iter().any(|a| a == s))
            && self.created_after.is_none_or(|t| incident.created_at >= t)
            && self.created_before.is_none_or(|t| incident.created_at < t)
            && self
                .dedup_key
                .as_ref()
                .is_none_or(|k| incident.has_alert_key(k))
    }
}

/// One page of incidents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncidentPage {
    /// The incidents, newest first.
    pub items: Vec<Incident>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<IncidentId>,
}

/// Every incident in `status`, all pages, newest first.
pub async fn incidents_with_status(
    store: &dyn IncidentStore,
    status: IncidentStatus,
) -> Result<Vec<Incident>> {
    let mut incidents = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_incidents(&IncidentFilter {
                status: Some(status),
                limit: Some(MAX_PAGE_SIZE),
                cursor,
                ..IncidentFilter::default()
            })
            .await?;
        incidents.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(incidents),
        }
    }
}

/// Per-agent scratch state for one incident (memory across steps or restarts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    /// The incident.
    pub incident_id: IncidentId,
    /// The agent's name.
    pub agent: String,
    /// Whatever the agent keeps.
    pub data: serde_json::Value,
    /// Optimistic-concurrency version: 0 before it is stored.
    pub version: u64,
}

/// Incidents.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Stores a new incident (its `version` must be 0); returns it at version 1.
    async fn create_incident(&self, incident: &Incident) -> Result<Incident>;

    /// The incident, or `NotFound`.
    async fn get_incident(&self, id: IncidentId) -> Result<Incident>;

    /// Stores `incident` if the stored version equals `incident.version`; returns it at version + 1.
    async fn update_incident(&self, incident: &Incident) -> Result<Incident>;

    /// Deletes the incident with its timeline, agent state and checkpoint.
    async fn delete_incident(&self, id: IncidentId) -> Result<()>;

    /// A page of incidents, newest first.
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage>;

    /// How many incidents are in each status (a status without any may be left out). The
    /// default reads every incident once, page by page; a store that can count in one
    /// query (SQLite, memory) does.
    async fn count_incidents_by_status(&self) -> Result<Vec<(IncidentStatus, u64)>> {
        let mut counts: Vec<(IncidentStatus, u64)> = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .list_incidents(&IncidentFilter {
                    limit: Some(MAX_PAGE_SIZE),
                    cursor,
                    ..IncidentFilter::default()
                })
                .await?;
            for incident in &page.items {
                match counts.iter_mut().find(|(s, _)| *s == incident.status) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((incident.status, 1)),
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(counts),
            }
        }
    }
}

/// The append-only incident timeline.
#[async_trait]
pub trait TimelineStore: Send + Sync {
    /// Appends an entry; returns it with its `seq` (1, 2, ... per incident).
    /// `NotFound` if the incident does not exist.
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry>;

    /// Entries with `seq > after_seq`, oldest first, at most `limit`.
    async fn timeline(
        &self,
        incident_id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>>;
}

/// Agent scratch state.
#[async_trait]
pub trait AgentStateStore: Send + Sync {
    /// The agent's state for the incident, if any.
    async fn get_agent_state(
        &self,
        incident_id: IncidentId,
        agent: &str,
    ) -> Result<Option<AgentState>>;

    /// Stores the state if the stored version equals `state.version` (0: none yet).
    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState>;
}

/// Workflow checkpoints.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The incident's checkpoint, if its workflow started.
    async fn get_checkpoint(&self, incident_id: IncidentId) -> Result<Option<WorkflowCheckpoint>>;

    /// Stores the checkpoint if the stored version equals `checkpoint.version` (0: none yet).
    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint>;

    /// Checkpoints whose workflow has not reached a terminal state, oldest first.
    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>>;
}

/// Knowledge-base documents.
#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    /// Stores the document if the stored version equals `document.version` (0: new).
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument>;

    /// The document, or `NotFound`.
    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument>;

    /// Documents of one kind (or all), ordered by id.
    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>>;

    /// Deletes the document; `NotFound` if absent.
    async fn delete_document(&self, id: &str) -> Result<()>;
}

/// Everything itops keeps: incidents, timelines, agent state, checkpoints, knowledge.
pub trait StateStore:
    IncidentStore + TimelineStore + AgentStateStore + CheckpointStore + KnowledgeStore
{
}

impl<T> StateStore for T where
    T: IncidentStore + TimelineStore + AgentStateStore + CheckpointStore + KnowledgeStore
{
}
