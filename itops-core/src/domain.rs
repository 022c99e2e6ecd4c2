//! Domain types: incidents, the timeline, evidence and the agents' typed outcomes.

pub mod evidence;
pub mod finding;
pub mod incident;
pub mod remediation;
pub mod timeline;
pub mod triage;

pub use evidence::Evidence;
pub use finding::{FaultKind, RootCauseCandidate, RootCauseFinding};
pub use incident::{Incident, IncidentStatus, NewIncident, Severity};
pub use remediation::{ActionPhase, RemediationAction, RemediationPlan, RiskLevel};
pub use timeline::{Actor, TimelineEntry, TimelineKind};
pub use triage::{Route, TriageAssessment};
