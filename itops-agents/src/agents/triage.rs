//! The triage agent: scores severity and urgency, and routes the incident (security events
//! → escalate to humans now; everything else is investigated automatically, critical ones
//! while people are paged).

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::engine::{EngineConfig, Transcript};
use itops_core::tool::input_schema_for;
use itops_core::{DynTool, IncidentContext, LanguageModel, Result, RunContext, TriageAssessment};
use serde::{Deserialize, Serialize};

use crate::agents::prompt::{context_block, incident_block, SAFETY_RULES};
use crate::agents::react::{Brief, Finished, ReactAgent, Role};

/// A finished triage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Triage {
    /// The validated assessment.
    pub assessment: TriageAssessment,
    /// Every step of the ReAct loop.
    pub transcript: Transcript,
    /// Whether the model's answer needed a repair.
    pub repaired: bool,
}

/// Scores an incident and routes it: the triage [`Role`] on the ReAct engine.
pub type TriageAgent = ReactAgent<TriageRole>;

/// The triage role: its prompt and task; the answer is a validated [`TriageAssessment`].
#[derive(Clone, Copy, Debug, Default)]
pub struct TriageRole;

#[async_trait]
impl Role for TriageRole {
    type Outcome = Triage;
    type Scratch = ();

    fn name(&self) -> &str {
        "triage"
    }

    fn step(&self) -> &str {
        "triage"
    }

    fn system_prompt(&self) -> String {
        format!(
            "You are the triage agent of itops, an incident-response system.\n\
             Goal: assess how bad the incident is and where it goes next. Severity: critical \
             (customer-facing outage, data loss or security breach), high (major degradation), \
             medium (partial degradation with a workaround), low (minor). Urgency 1 (can wait) to \
             10 (now). Route: 'escalate' hands it to humans immediately (security events, or what \
             automation must not touch); 'investigate' lets the root-cause agent work on it \
             (critical incidents too: say 'page the on-call engineer' in next_steps). Use \
             list_alarms to see how widely telemetry is affected when it is available.\n\
             Answer with ONE JSON object and nothing else, matching this JSON schema:\n{schema}\n{rules}",
            schema = input_schema_for::<TriageAssessment>(),
            rules = SAFETY_RULES,
        )
    }

    /// At most 4 steps.
    fn config(&self) -> EngineConfig {
        EngineConfig {
            max_steps: 4,
            ..EngineConfig::default()
        }
    }

    async fn brief(&self, context: &IncidentContext, _run: &RunContext) -> Result<Brief<()>> {
        let incident = &context.incident;
        let ctx = serde_json::json!({
            "role": "triage",
            "incident_id": incident.id,
            "reported_severity": incident.severity,
            "affected_services": incident.affected_services,
            "title": incident.title,
            "description": incident.description,
        });
        let task = format!(
            "Triage this incident.\n{}\n{}",
            incident_block(incident),
            context_block(&ctx)
        );
        Ok(Brief::new(task, ()))
    }

    async fn conclude(
        &self,
        _context: &IncidentContext,
        finished: Finished<'_>,
        (): (),
    ) -> Result<Triage> {
        let (assessment, repaired) = finished.answer(TriageAssessment::validate).await?;
        Ok(Triage {
            assessment,
            transcript: finished.transcript,
            repaired,
        })
    }
}

impl ReactAgent<TriageRole> {
    /// An agent using `model` and `tools` (usually `list_alarms`), at most 4 steps.
    pub fn new(model: Arc<dyn LanguageModel>, tools: Vec<Arc<dyn DynTool>>) -> Result<Self> {
        Self::from_role(TriageRole, model, tools).checked()
    }
}
