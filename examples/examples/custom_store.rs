//! Plug in your own `StateStore`, and prove it behaves like the built-in ones with the
//! conformance suite from `itops_core::testing` (feature `test-utils`).
//!
//! `cargo run -p itops-examples --example custom_store`
//!
//! The store keeps every record as JSON under a string key in one ordered key-value table
//! — the shape of etcd, FoundationDB, Redis or a DynamoDB table — with keys chosen so that
//! prefix scans give the orders the traits promise. An in-memory `BTreeMap` stands in for
//! the database; each operation runs under one lock, as a real backend would run it in one
//! transaction or with one conditional write. The rules every backend shares (versions,
//! filters, page sizes) come from `itops_core::store`, so they cannot drift.

use std::collections::btree_map::Range;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use itops_core::store::{checked_next, new_stored, AgentState, IncidentFilter, IncidentPage};
use itops_core::testing::state_store_conformance;
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::TimelineEntry;
use itops_core::{
    AgentStateStore, CheckpointStore, DocumentKind, Error, Incident, IncidentId, IncidentStore,
    KnowledgeDocument, KnowledgeStore, NewIncident, Result, Severity, StateStore, TimelineStore,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The key of each record. Incident ids are UUIDv7, so their text sorts by creation time.
mod key {
    use itops_core::IncidentId;

    pub(crate) const INCIDENTS: &str = "incident/";
    pub(crate) const CHECKPOINTS: &str = "checkpoint/";
    pub(crate) const DOCUMENTS: &str = "document/";

    pub(crate) fn incident(id: IncidentId) -> String {
        format!("{INCIDENTS}{id}")
    }
    pub(crate) fn timeline(id: IncidentId) -> String {
        format!("timeline/{id}/")
    }
    /// Zero-padded, so entries sort by sequence number.
    pub(crate) fn timeline_entry(id: IncidentId, seq: u64) -> String {
        format!("timeline/{id}/{seq:020}")
    }
    pub(crate) fn agent_states(id: IncidentId) -> String {
        format!("agent/{id}/")
    }
    pub(crate) fn agent_state(id: IncidentId, agent: &str) -> String {
        format!("agent/{id}/{agent}")
    }
    pub(crate) fn checkpoint(id: IncidentId) -> String {
        format!("{CHECKPOINTS}{id}")
    }
    pub(crate) fn document(id: &str) -> String {
        format!("{DOCUMENTS}{id}")
    }
}

/// The first key after every key starting with `prefix` (which ends in `/`).
fn end_of(prefix: &str) -> String {
    format!("{}0", prefix.trim_end_matches('/'))
}

/// One ordered table of JSON records.
#[derive(Default)]
struct Table(BTreeMap<String, String>);

impl Table {
    fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.0
            .get(key)
            .map(|json| serde_json::from_str(json).map_err(|e| Error::serialization(key, e)))
            .transpose()
    }

    fn put<T: Serialize>(&mut self, key: String, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).map_err(|e| Error::serialization(&key, e))?;
        self.0.insert(key, json);
        Ok(())
    }

    /// Keys and records under `prefix`, in key order. Every prefix ends in `/`, and `0` is
    /// the character after `/`, so the range ends where the prefix does.
    fn scan(&self, prefix: &str) -> Range<'_, String, String> {
        self.0.range(prefix.to_string()..end_of(prefix))
    }

    fn decode<T: DeserializeOwned>((key, json): (&String, &String)) -> Result<T> {
        serde_json::from_str(json).map_err(|e| Error::serialization(key.as_str(), e))
    }

    fn delete_prefix(&mut self, prefix: &str) {
        let keys: Vec<String> = self.scan(prefix).map(|(k, _)| k.clone()).collect();
        for key in keys {
            self.0.remove(&key);
        }
    }
}

/// A `StateStore` over an ordered key-value table.
#[derive(Default)]
struct KvStore {
    table: Mutex<Table>,
}

impl KvStore {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Every operation checks before it writes, so a poisoned lock still guards
        // consistent data.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl IncidentStore for KvStore {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = new_stored("incident", incident)?;
        let mut table = self.lock();
        let key = key::incident(incident.id);
        if table.0.contains_key(&key) {
            return Err(Error::AlreadyExists {
                entity: "incident",
                id: incident.id.to_string(),
            });
        }
        table.put(key, &stored)?;
        Ok(stored)
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.lock()
            .get(&key::incident(id))?
            .ok_or_else(|| Error::not_found("incident", id))
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        let mut table = self.lock();
        let key = key::incident(incident.id);
        let current: Incident = table
            .get(&key)?
            .ok_or_else(|| Error::not_found("incident", incident.id))?;
        let stored = checked_next("incident", incident.id, incident, Some(current.version))?;
        table.put(key, &stored)?;
        Ok(stored)
    }

    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        let mut table = self.lock();
        if table.0.remove(&key::incident(id)).is_none() {
            return Err(Error::not_found("incident", id));
        }
        table.delete_prefix(&key::timeline(id));
        table.delete_prefix(&key::agent_states(id));
        table.0.remove(&key::checkpoint(id));
        Ok(())
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        let page_size = filter.page_size();
        // Newest first: backwards from the cursor (exclusive) or from the last incident.
        let end = filter
            .cursor
            .map_or_else(|| end_of(key::INCIDENTS), key::incident);
        let table = self.lock();
        let mut items = Vec::new();
        for record in table.0.range(key::INCIDENTS.to_string()..end).rev() {
            let incident: Incident = Table::decode(record)?;
            if filter.matches(&incident) {
                items.push(incident);
                if items.len() > page_size {
                    break;
                }
            }
        }
        let next_cursor = if items.len() > page_size {
            items.truncate(page_size);
            items.last().map(|i| i.id)
        } else {
            None
        };
        Ok(IncidentPage { items, next_cursor })
    }
}

#[async_trait]
impl TimelineStore for KvStore {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        let mut table = self.lock();
        if !table.0.contains_key(&key::incident(entry.incident_id)) {
            return Err(Error::not_found("incident", entry.incident_id));
        }
        let prefix = key::timeline(entry.incident_id);
        let last: Option<TimelineEntry> = table
            .scan(&prefix)
            .next_back()
            .map(Table::decode)
            .transpose()?;
        let seq = last.map_or(1, |e| e.seq.saturating_add(1));
        let mut stored = entry.clone();
        stored.seq = seq;
        table.put(key::timeline_entry(entry.incident_id, seq), &stored)?;
        Ok(stored)
    }

    async fn timeline(
        &self,
        id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        let table = self.lock();
        let from = key::timeline_entry(id, after_seq.saturating_add(1));
        table
            .0
            .range(from..end_of(&key::timeline(id)))
            .take(limit)
            .map(Table::decode)
            .collect()
    }
}

#[async_trait]
impl AgentStateStore for KvStore {
    async fn get_agent_state(&self, id: IncidentId, agent: &str) -> Result<Option<AgentState>> {
        self.lock().get(&key::agent_state(id, agent))
    }

    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState> {
        let mut table = self.lock();
        let key = key::agent_state(state.incident_id, &state.agent);
        let current: Option<AgentState> = table.get(&key)?;
        let id = format!("{}/{}", state.incident_id, state.agent);
        let stored = checked_next("agent state", id, state, current.map(|s| s.version))?;
        table.put(key, &stored)?;
        Ok(stored)
    }
}

#[async_trait]
impl CheckpointStore for KvStore {
    async fn get_checkpoint(&self, id: IncidentId) -> Result<Option<WorkflowCheckpoint>> {
        self.lock().get(&key::checkpoint(id))
    }

    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint> {
        let mut table = self.lock();
        let key = key::checkpoint(checkpoint.incident_id);
        let current: Option<WorkflowCheckpoint> = table.get(&key)?;
        let id = checkpoint.incident_id;
        let stored = checked_next("checkpoint", id, checkpoint, current.map(|c| c.version))?;
        table.put(key, &stored)?;
        Ok(stored)
    }

    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>> {
        // Oldest first is key order (by incident id).
        let table = self.lock();
        let all: Vec<WorkflowCheckpoint> = table
            .scan(key::CHECKPOINTS)
            .map(Table::decode)
            .collect::<Result<_>>()?;
        Ok(all.into_iter().filter(|c| !c.is_finished()).collect())
    }
}

#[async_trait]
impl KnowledgeStore for KvStore {
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument> {
        document.validate()?;
        let mut table = self.lock();
        let key = key::document(&document.id);
        let current: Option<KnowledgeDocument> = table.get(&key)?;
        let stored = checked_next(
            "document",
            &document.id,
            document,
            current.map(|d| d.version),
        )?;
        table.put(key, &stored)?;
        Ok(stored)
    }

    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument> {
        self.lock()
            .get(&key::document(id))?
            .ok_or_else(|| Error::not_found("document", id))
    }

    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>> {
        let table = self.lock();
        let all: Vec<KnowledgeDocument> = table
            .scan(key::DOCUMENTS)
            .map(Table::decode)
            .collect::<Result<_>>()?;
        Ok(all
            .into_iter()
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .collect())
    }

    async fn delete_document(&self, id: &str) -> Result<()> {
        self.lock()
            .0
            .remove(&key::document(id))
            .map(|_| ())
            .ok_or_else(|| Error::not_found("document", id))
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // Every case gets a fresh, empty store.
    let report = state_store_conformance(|| async { KvStore::default() }).await;
    print!("{report}");
    report.ensure_passed()?;

    // Plugged in where itops takes a store (the workflow runner, the incident tools, the
    // timeline hook, `itops_mcp` servers): an `Arc<dyn StateStore>`.
    let store: std::sync::Arc<dyn StateStore> = std::sync::Arc::new(KvStore::default());
    let incident = NewIncident::new("Checkout latency above 2 s", Severity::High)
        .service("checkout")
        .into_incident(chrono::Utc::now())?;
    let stored = store.create_incident(&incident).await?;
    let page = store.list_incidents(&IncidentFilter::default()).await?;
    println!(
        "\nstored '{}' at version {}; {} incident(s) listed",
        stored.title,
        stored.version,
        page.items.len()
    );
    Ok(())
}
