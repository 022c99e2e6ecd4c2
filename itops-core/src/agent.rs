//! The `Agent` trait: incident context in, a typed outcome out.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{Incident, RemediationPlan, RootCauseFinding, TriageAssessment};
use crate::error::Result;

/// What an agent knows when it starts: the incident and what earlier agents concluded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncidentContext {
    /// The incident.
    pub incident: Incident,
    /// The triage assessment, once triage ran.
    pub triage: Option<TriageAssessment>,
    /// The root-cause finding, once the investigation ran.
    pub finding: Option<RootCauseFinding>,
    /// The remediation plan, once planning ran.
    pub plan: Option<RemediationPlan>,
}

impl IncidentContext {
    /// Context with only the incident.
    pub fn new(incident: Incident) -> Self {
        Self {
            incident,
            triage: None,
            finding: None,
            plan: None,
        }
    }
}

/// An agent: takes the incident context, returns a typed outcome
/// (`TriageAssessment`, `RootCauseFinding`, `RemediationPlan`, or your own).
#[async_trait]
pub trait Agent: Send + Sync {
    /// The typed outcome.
    type Outcome: Serialize + DeserializeOwned + Send;

    /// A name for the timeline.
    fn name(&self) -> &str;

    /// Runs the agent.
    async fn run(&self, context: &IncidentContext) -> Result<Self::Outcome>;
}
