//! [`Observed`]: a [`StateStore`](super::StateStore) that passes every call to the store it
//! wraps and tells a [`StoreObserver`] about each write.
//!
//! One wrapper for everything that watches a store rather than being one: publishing changes
//! as they are written, counting conflicts, or stepping in before a write in a test.

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    AgentState, AgentStateStore, CheckpointStore, IncidentFilter, IncidentPage, IncidentStore,
    KnowledgeStore, TimelineStore,
};
use crate::domain::{Incident, IncidentStatus, TimelineEntry};
use crate::error::{Error, Result};
use crate::id::IncidentId;
use crate::knowledge::{DocumentKind, KnowledgeDocument};
use crate::workflow::WorkflowCheckpoint;

/// A write, as a [`StoreObserver`] sees it: before it and when it is refused, the record as
/// given; after it, the record as stored (with its new version or `seq`).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Write<'a> {
    /// [`IncidentStore::create_incident`].
    CreateIncident(&'a Incident),
    /// [`IncidentStore::update_incident`].
    UpdateIncident(&'a Incident),
    /// [`IncidentStore::delete_incident`].
    DeleteIncident(IncidentId),
    /// [`TimelineStore::append_timeline`].
    AppendTimeline(&'a TimelineEntry),
    /// [`AgentStateStore::put_agent_state`].
    PutAgentState(&'a AgentState),
    /// [`CheckpointStore::put_checkpoint`].
    PutCheckpoint(&'a WorkflowCheckpoint),
    /// [`KnowledgeStore::put_document`].
    PutDocument(&'a KnowledgeDocument),
    /// [`KnowledgeStore::delete_document`].
    DeleteDocument(&'a str),
}

/// What an [`Observed`] store tells about its writes. Every method does nothing by default;
/// a closure taking a [`Write`] is an observer of accepted writes.
#[async_trait]
pub trait StoreObserver: Send + Sync {
    /// Before `write` reaches the store; an error refuses the write without calling it.
    async fn before(&self, _write: Write<'_>) -> Result<()> {
        Ok(())
    }

    /// After the store accepted `write`.
    fn written(&self, _write: Write<'_>) {}

    /// After the store refused `write` with `error`.
    fn refused(&self, _write: Write<'_>, _error: &Error) {}
}

#[async_trait]
impl<F> StoreObserver for F
where
    F: Fn(Write<'_>) + Send + Sync,
{
    fn written(&self, write: Write<'_>) {
        self(write);
    }
}

/// A store that passes every call to `S` and tells `O` about each write. Reads pass straight
/// through; it is a [`StateStore`](super::StateStore) whenever `S` is one.
pub struct Observed<S: ?Sized, O> {
    observer: O,
    store: Arc<S>,
}

impl<S: ?Sized, O> Observed<S, O> {
    /// Wraps `store`, telling `observer` about its writes.
    pub fn new(store: Arc<S>, observer: O) -> Self {
        Self { observer, store }
    }

    /// The wrapped store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }
}

impl<S: ?Sized, O: std::fmt::Debug> std::fmt::Debug for Observed<S, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("observer", &self.observer)
            .finish_non_exhaustive()
    }
}

impl<S: ?Sized, O: StoreObserver> Observed<S, O> {
    /// Runs one write: `before`, the call, then `written` with the record `stored` finds in
    /// the result (`None`: the write as asked), or `refused`.
    async fn write<T, F>(
        &self,
        asked: Write<'_>,
        call: impl FnOnce() -> F,
        stored: impl for<'x> FnOnce(&'x T) -> Option<Write<'x>>,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        self.observer.before(asked).await?;
        match call().await {
            Ok(value) => {
                self.observer.written(stored(&value).unwrap_or(asked));
                Ok(value)
            }
            Err(error) => {
                self.observer.refused(asked, &error);
                Err(error)
            }
        }
    }
}

#[async_trait]
impl<S: IncidentStore + ?Sized, O: StoreObserver> IncidentStore for Observed<S, O> {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        self.write(
            Write::CreateIncident(incident),
            || self.store.create_incident(incident),
            |stored| Some(Write::CreateIncident(stored)),
        )
        .await
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.store.get_incident(id).await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        self.write(
            Write::UpdateIncident(incident),
            || self.store.update_incident(incident),
            |stored| Some(Write::UpdateIncident(stored)),
        )
        .await
    }

    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        self.write(
            Write::DeleteIncident(id),
            || self.store.delete_incident(id),
            |_| None,
        )
        .await
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        self.store.list_incidents(filter).await
    }

    async fn count_incidents_by_status(&self) -> Result<Vec<(IncidentStatus, u64)>> {
        self.store.count_incidents_by_status().await
    }
}

#[async_trait]
impl<S: TimelineStore + ?Sized, O: StoreObserver> TimelineStore for Observed<S, O> {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        self.write(
            Write::AppendTimeline(entry),
            || self.store.append_timeline(entry),
            |stored| Some(Write::AppendTimeline(stored)),
        )
        .await
    }

    async fn timeline(
        &self,
        incident_id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        self.store.timeline(incident_id, after_seq, limit).await
    }
}

#[async_trait]
impl<S: AgentStateStore + ?Sized, O: StoreObserver> AgentStateStore for Observed<S, O> {
    async fn get_agent_state(
        &self,
        incident_id: IncidentId,
        agent: &str,
    ) -> Result<Option<AgentState>> {
        self.store.get_agent_state(incident_id, agent).await
    }

    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState> {
        self.write(
            Write::PutAgentState(state),
            || self.store.put_agent_state(state),
            |stored| Some(Write::PutAgentState(stored)),
        )
        .await
    }
}

#[async_trait]
impl<S: CheckpointStore + ?Sized, O: StoreObserver> CheckpointStore for Observed<S, O> {
    async fn get_checkpoint(&self, incident_id: IncidentId) -> Result<Option<WorkflowCheckpoint>> {
        self.store.get_checkpoint(incident_id).await
    }

    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint> {
        self.write(
            Write::PutCheckpoint(checkpoint),
            || self.store.put_checkpoint(checkpoint),
            |stored| Some(Write::PutCheckpoint(stored)),
        )
        .await
    }

    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>> {
        self.store.unfinished_checkpoints().await
    }
}

#[async_trait]
impl<S: KnowledgeStore + ?Sized, O: StoreObserver> KnowledgeStore for Observed<S, O> {
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument> {
        self.write(
            Write::PutDocument(document),
            || self.store.put_document(document),
            |stored| Some(Write::PutDocument(stored)),
        )
        .await
    }

    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument> {
        self.store.get_document(id).await
    }

    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>> {
        self.store.list_documents(kind).await
    }

    async fn delete_document(&self, id: &str) -> Result<()> {
        self.write(
            Write::DeleteDocument(id),
            || self.store.delete_document(id),
            |_| None,
        )
        .await
    }
}
