//! The root-cause agent: investigates with tools in a bounded ReAct loop and answers with a
//! validated [`RootCauseFinding`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use itops_core::engine::{EngineConfig, Transcript};
use itops_core::tool::input_schema_for;
use itops_core::{
    DynTool, FaultKind, IncidentContext, LanguageModel, Result, RootCauseFinding, RunContext,
};
use serde::{Deserialize, Serialize};

use crate::agents::prompt::{context_block, incident_block, SAFETY_RULES};
use crate::agents::react::{Brief, Finished, ReactAgent, Role};

/// A finished investigation: the finding and how it was reached.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Investigation {
    /// The validated finding.
    pub finding: RootCauseFinding,
    /// Every step of the ReAct loop.
    pub transcript: Transcript,
    /// Whether the model's answer needed a repair.
    pub repaired: bool,
}

/// Finds where an incident originated, and the kind of fault, with evidence: the
/// root-cause [`Role`] on the ReAct engine.
pub type RootCauseAgent = ReactAgent<RootCauseRole>;

/// The root-cause role: its prompt and task; the answer is a validated
/// [`RootCauseFinding`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RootCauseRole {
    /// When the incident began or was detected, unless the run says (see
    /// [`RunContext::detected_at`]); inferred from the data when neither does.
    pub at: Option<DateTime<Utc>>,
}

#[async_trait]
impl Role for RootCauseRole {
    type Outcome = Investigation;
    type Scratch = ();

    fn name(&self) -> &str {
        "root_cause"
    }

    fn step(&self) -> &str {
        "investigate"
    }

    fn system_prompt(&self) -> String {
        let fault_kinds: Vec<&str> = FaultKind::ALL.iter().map(FaultKind::as_str).collect();
        format!(
            "You are the root-cause agent of itops, an incident-response system.\n\
             Goal: find the service where the incident ORIGINATED (not the callers that merely suffer \
             from it) and the kind of fault, with evidence from telemetry.\n\
             Method: state a hypothesis, test it with a tool, revise it from what the tool returned. \
             Start with rank_anomalies; then inspect the leading candidates' logs, traces and recent \
             changes; check the knowledge base for similar runbooks and past incidents. Stop when \
             the evidence is consistent or your budget runs out.\n\
             Answer with ONE JSON object and nothing else, matching this JSON schema:\n{schema}\n\
             Candidates are ranked best first; confidence is between 0 and 1 and should reflect how \
             sure the evidence makes you. Fault kinds: {kinds}.\n{rules}",
            schema = input_schema_for::<RootCauseFinding>(),
            kinds = fault_kinds.join(", "),
            rules = SAFETY_RULES,
        )
    }

    /// At most 12 steps.
    fn config(&self) -> EngineConfig {
        EngineConfig {
            max_steps: 12,
            ..EngineConfig::default()
        }
    }

    async fn brief(&self, context: &IncidentContext, run: &RunContext) -> Result<Brief<()>> {
        let incident = &context.incident;
        let at = run.detected_at().or(self.at);
        let mut ctx = serde_json::json!({
            "role": "root_cause",
            "incident_id": incident.id,
            "affected_services": incident.affected_services,
        });
        if let Some(at) = at {
            ctx["at"] = serde_json::json!(at);
        }
        if let Some(triage) = &context.triage {
            ctx["triage"] =
                serde_json::json!({"severity": triage.severity, "urgency": triage.urgency});
        }
        let task = format!(
            "Investigate this incident and find its root cause.\n{}\n{}{}",
            incident_block(incident),
            at.map(|at| format!("The incident began or was detected at {at}.\n"))
                .unwrap_or_default(),
            context_block(&ctx)
        );
        Ok(Brief::new(task, ()))
    }

    async fn conclude(
        &self,
        _context: &IncidentContext,
        finished: Finished<'_>,
        (): (),
    ) -> Result<Investigation> {
        let (finding, repaired) = finished.answer(RootCauseFinding::validate).await?;
        Ok(Investigation {
            finding,
            transcript: finished.transcript,
            repaired,
        })
    }
}

impl ReactAgent<RootCauseRole> {
    /// An agent using `model` and `tools` (usually the telemetry and knowledge tools) with
    /// default bounds (12 steps).
    pub fn new(model: Arc<dyn LanguageModel>, tools: Vec<Arc<dyn DynTool>>) -> Result<Self> {
        Self::from_role(RootCauseRole::default(), model, tools).checked()
    }

    /// An agent with explicit engine bounds.
    pub fn with_config(
        model: Arc<dyn LanguageModel>,
        tools: Vec<Arc<dyn DynTool>>,
        config: EngineConfig,
    ) -> Result<Self> {
        Self::from_role(RootCauseRole::default(), model, tools)
            .bounded(config)
            .checked()
    }

    /// Investigates around this time (the incident's start or detection) instead of
    /// inferring it, unless a run gives its own.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.role_mut().at = Some(at);
        self
    }
}
