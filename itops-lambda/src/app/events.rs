//! Live events: a store wrapper that publishes every timeline entry and incident change as it
//! is written, whoever writes it (API, workflow, agents), for the SSE endpoint and metrics.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::store::{
    AgentState, AgentStateStore, CheckpointStore, IncidentFilter, IncidentPage, IncidentStore,
    KnowledgeStore, TimelineStore,
};
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{
    DocumentKind, Incident, IncidentId, IncidentStatus, KnowledgeDocument, Result, StateStore,
    TimelineEntry,
};
use tokio::sync::broadcast;

/// Something that changed.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// An entry was appended to a timeline.
    Timeline(TimelineEntry),
    /// An incident was created or updated.
    Incident(Incident),
    /// An incident was deleted.
    Deleted(IncidentId),
}

impl Event {
    /// The incident the event is about.
    pub(crate) fn incident_id(&self) -> IncidentId {
        match self {
            Event::Timeline(e) => e.incident_id,
            Event::Incident(i) => i.id,
            Event::Deleted(id) => *id,
        }
    }
}

/// Fan-out of events to every subscriber (slow subscribers lag and re-read the store).
#[derive(Clone, Debug)]
pub(crate) struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus {
    /// A bus buffering up to `capacity` events per subscriber.
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self { tx }
    }

    /// Subscribes to every event from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    fn publish(&self, event: Event) {
        // Nobody listening is fine.
        let _ = self.tx.send(event);
    }
}

/// A [`StateStore`] that publishes what it writes on an [`EventBus`].
pub(crate) struct PublishingStore {
    inner: Arc<dyn StateStore>,
    bus: EventBus,
}

impl PublishingStore {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn StateStore>, bus: EventBus) -> Self {
        Self { inner, bus }
    }
}

#[async_trait]
impl IncidentStore for PublishingStore {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = self.inner.create_incident(incident).await?;
        self.bus.publish(Event::Incident(stored.clone()));
        Ok(stored)
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.inner.get_incident(id).await
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = self.inner.update_incident(incident).await?;
        self.bus.publish(Event::Incident(stored.clone()));
        Ok(stored)
    }

    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        self.inner.delete_incident(id).await?;
        self.bus.publish(Event::Deleted(id));
        Ok(())
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        self.inner.list_incidents(filter).await
    }

    async fn count_incidents_by_status(&self) -> Result<Vec<(IncidentStatus, u64)>> {
        self.inner.count_incidents_by_status().await
    }
}

#[async_trait]
impl TimelineStore for PublishingStore {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        let stored = self.inner.append_timeline(entry).await?;
        self.bus.publish(Event::Timeline(stored.clone()));
        Ok(stored)
    }

    async fn timeline(
        &self,
        incident_id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        self.inner.timeline(incident_id, after_seq, limit).await
    }
}

#[async_trait]
impl AgentStateStore for PublishingStore {
    async fn get_agent_state(
        &self,
        incident_id: IncidentId,
        agent: &str,
    ) -> Result<Option<AgentState>> {
        self.inner.get_agent_state(incident_id, agent).await
    }

    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState> {
        self.inner.put_agent_state(state).await
    }
}

#[async_trait]
impl CheckpointStore for PublishingStore {
    async fn get_checkpoint(&self, incident_id: IncidentId) -> Result<Option<WorkflowCheckpoint>> {
        self.inner.get_checkpoint(incident_id).await
    }

    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint> {
        self.inner.put_checkpoint(checkpoint).await
    }

    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>> {
        self.inner.unfinished_checkpoints().await
    }
}

#[async_trait]
impl KnowledgeStore for PublishingStore {
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument> {
        self.inner.put_document(document).await
    }

    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument> {
        self.inner.get_document(id).await
    }

    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>> {
        self.inner.list_documents(kind).await
    }

    async fn delete_document(&self, id: &str) -> Result<()> {
        self.inner.delete_document(id).await
    }
}
