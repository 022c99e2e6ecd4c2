//! The keys of every record in the table (see the table design in the crate docs).

use chrono::{DateTime, Utc};
use itops_core::{ApprovalId, ApprovalStatus, DocumentKind, IncidentId, IncidentStatus};

use super::item::{seq_key, time_key};

/// Partition of an incident and everything that belongs to it.
pub(crate) fn incident_pk(id: IncidentId) -> String {
    format!("INC#{id}")
}
/// Sort key of the incident record itself.
pub(crate) const INCIDENT_SK: &str = "INCIDENT";
/// Sort-key prefix of timeline entries.
pub(crate) const TIMELINE_PREFIX: &str = "TL#";
/// Sort key of timeline entry `seq`.
pub(crate) fn timeline_sk(seq: u64) -> String {
    format!("{TIMELINE_PREFIX}{}", seq_key(seq))
}
/// Sort key of one agent's state.
pub(crate) fn agent_sk(agent: &str) -> String {
    format!("AGENT#{agent}")
}
/// Sort key of the workflow checkpoint.
pub(crate) const CHECKPOINT_SK: &str = "CHECKPOINT";

/// Partition of a knowledge document.
pub(crate) fn document_pk(id: &str) -> String {
    format!("DOC#{id}")
}
/// Sort key of a knowledge document.
pub(crate) const DOCUMENT_SK: &str = "DOC";

/// Partition of an approval.
pub(crate) fn approval_pk(id: ApprovalId) -> String {
    format!("APPROVAL#{id}")
}
/// Sort key of an approval.
pub(crate) const APPROVAL_SK: &str = "APPROVAL";

/// GSI1 partition of all incidents (sorted by id: newest last).
pub(crate) const ALL_INCIDENTS: &str = "INCIDENTS";
/// GSI2 partition of the incidents in one status.
pub(crate) fn incidents_in(status: IncidentStatus) -> String {
    format!("INCIDENTS#{status}")
}
/// GSI1 partition of unfinished checkpoints (sparse: finished ones leave it).
pub(crate) const UNFINISHED_CHECKPOINTS: &str = "CHECKPOINTS#UNFINISHED";
/// GSI1 partition of all documents (sorted by id).
pub(crate) const ALL_DOCUMENTS: &str = "DOCS";
/// GSI2 partition of the documents of one kind.
pub(crate) fn documents_of(kind: DocumentKind) -> String {
    format!("DOCS#{kind}")
}
/// GSI1 partition of one incident's approvals.
pub(crate) fn approvals_of(incident: IncidentId) -> String {
    format!("APPROVALS#INC#{incident}")
}
/// GSI2 partition of the approvals with one stored status.
pub(crate) fn approvals_in(status: ApprovalStatus) -> String {
    format!("APPROVALS#{status}")
}
/// Sort key of an approval in its collections: request time, then id.
pub(crate) fn approval_order(requested_at: DateTime<Utc>, id: ApprovalId) -> String {
    format!("{}#{id}", time_key(requested_at))
}
