//! The suites themselves: they must fail a broken backend, not only pass a good one.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::approval::{ApprovalTicket, ApprovalToken};
use itops_core::knowledge::KnowledgeDocument;
use itops_core::store::{AgentState, IncidentFilter, IncidentPage, MemoryStore};
use itops_core::testing::{approval_gate_conformance, state_store_conformance, ConformanceReport};
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{
    AgentStateStore, Approval, ApprovalFilter, ApprovalGate, ApprovalId, ApprovalRequest,
    ApprovalStatus, CheckpointStore, Clock, Decision, DecisionAuth, DocumentKind, Incident,
    IncidentId, IncidentStore, KnowledgeStore, Result, SystemClock, TimelineEntry, TimelineStore,
};

/// A deliberate bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Updates overwrite whatever is stored (no version check).
    LostUpdates,
    /// Lists oldest first.
    OldestFirst,
    /// Panics when deleting an incident.
    PanicOnDelete,
    /// Accepts any token.
    IgnoreTokens,
    /// Reports a pending approval past its expiry as still pending.
    NoExpiryOnRead,
}

/// A `MemoryStore` with one fault.
struct Faulty {
    inner: MemoryStore,
    fault: Fault,
}

impl Faulty {
    fn new(fault: Fault, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: MemoryStore::new(clock),
            fault,
        }
    }
}

#[async_trait]
impl IncidentStore for Faulty {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        self.inner.create_incident(incident).await
    }
    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        self.inner.get_incident(id).await
    }
    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        let mut incident = incident.clone();
        if self.fault == Fault::LostUpdates {
            incident.version = self.inner.get_incident(incident.id).await?.version;
        }
        self.inner.update_incident(&incident).await
    }
    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        if self.fault == Fault::PanicOnDelete {
            panic!("deliberate panic in delete_incident");
        }
        self.inner.delete_incident(id).await
    }
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        let mut page = self.inner.list_incidents(filter).await?;
        if self.fault == Fault::OldestFirst {
            page.items.reverse();
        }
        Ok(page)
    }
}

#[async_trait]
impl TimelineStore for Faulty {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        self.inner.append_timeline(entry).await
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
impl AgentStateStore for Faulty {
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
impl CheckpointStore for Faulty {
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
impl KnowledgeStore for Faulty {
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

#[async_trait]
impl ApprovalGate for Faulty {
    async fn request(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        self.inner.request(request).await
    }
    async fn get(&self, id: ApprovalId) -> Result<Approval> {
        let mut approval = self.inner.get(id).await?;
        if self.fault == Fault::NoExpiryOnRead
            && approval.status == ApprovalStatus::Expired
            && approval.decided_at.is_none()
        {
            approval.status = ApprovalStatus::Pending;
        }
        Ok(approval)
    }
    async fn get_with_token(&self, id: ApprovalId, token: &ApprovalToken) -> Result<Approval> {
        self.inner.get_with_token(id, token).await
    }
    async fn decide(&self, id: ApprovalId, mut decision: Decision) -> Result<Approval> {
        if self.fault == Fault::IgnoreTokens {
            decision.auth = DecisionAuth::Operator;
        }
        self.inner.decide(id, decision).await
    }
    async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        self.inner.list(filter).await
    }
    async fn expire_due(&self) -> Result<Vec<Approval>> {
        self.inner.expire_due().await
    }
}

fn failed(report: &ConformanceReport) -> Vec<&'static str> {
    report.failures().map(|c| c.name).collect()
}

async fn state_report(fault: Fault) -> ConformanceReport {
    state_store_conformance(|| async move { Faulty::new(fault, Arc::new(SystemClock)) }).await
}

async fn gate_report(fault: Fault) -> ConformanceReport {
    approval_gate_conformance(|clock| async move { Faulty::new(fault, Arc::new(clock)) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_updates_are_caught() {
    let report = state_report(Fault::LostUpdates).await;
    let failed = failed(&report);
    assert!(
        failed.contains(&"incident stale update is Conflict"),
        "{report}"
    );
    assert!(
        failed.contains(&"incident concurrent updates: exactly one wins"),
        "{report}"
    );
    assert!(!report.passed());
    assert!(report.ensure_passed().is_err());
}

#[tokio::test]
async fn wrong_listing_order_is_caught() {
    let report = state_report(Fault::OldestFirst).await;
    assert!(
        failed(&report).contains(&"list newest first with cursor pagination"),
        "{report}"
    );
}

#[tokio::test]
async fn a_panicking_backend_fails_its_cases_and_the_suite_goes_on() {
    let report = state_report(Fault::PanicOnDelete).await;
    let case = report
        .cases
        .iter()
        .find(|c| c.name == "incident delete cascades")
        .unwrap();
    assert!(
        case.failure.as_deref().unwrap().contains("panicked"),
        "{report}"
    );
    // Cases after the panicking one still ran and passed.
    assert!(report
        .cases
        .iter()
        .any(|c| c.name.starts_with("knowledge") && c.passed()));
    let text = report.to_string();
    assert!(text.contains("FAIL  incident delete cascades"), "{text}");
}

#[tokio::test]
async fn accepting_any_token_is_caught() {
    let report = gate_report(Fault::IgnoreTokens).await;
    assert!(
        failed(&report).contains(&"wrong token is ApprovalTokenInvalid"),
        "{report}"
    );
}

#[tokio::test]
async fn missing_expiry_on_read_is_caught() {
    let report = gate_report(Fault::NoExpiryOnRead).await;
    assert!(
        failed(&report).contains(&"get reports a pending approval past expiry as expired"),
        "{report}"
    );
}

#[tokio::test]
async fn a_correct_backend_fails_nothing() {
    let report = state_store_conformance(|| async { MemoryStore::default() }).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.failures().count(), 0);
    assert!(report.to_string().contains(&format!(
        "{} of {} cases passed",
        report.cases.len(),
        report.cases.len()
    )));
}
