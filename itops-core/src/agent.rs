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

    /// The services a fix should have healed: the finding's most likely origin, the plan's
    /// targets, then the services the incident names (duplicates possible). What
    /// verification checks.
    pub fn implicated_services(&self) -> Vec<String> {
        let mut services: Vec<String> = Vec::new();
        if let Some(finding) = &self.finding {
            services.extend(finding.top().map(|c| c.service.clone()));
        }
        if let Some(plan) = &self.plan {
            services.extend(plan.actions.iter().map(|a| a.target.clone()));
        }
        services.extend(self.incident.affected_services.iter().cloned());
        services
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
