//! The triage agent: scores severity and urgency, and routes the incident (security events
//! → escalate to humans now; everything else is investigated automatically, critical ones
//! while people are paged).

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::engine::{EngineConfig, ReactEngine, StepHook, Transcript};
use itops_core::tool::input_schema_for;
use itops_core::{
    Agent, DynTool, IncidentContext, LanguageModel, Message, Result, TriageAssessment,
};
use serde::{Deserialize, Serialize};

use crate::agents::prompt::{context_block, incident_block, SAFETY_RULES};
use crate::agents::structured::{final_text, parse_with_repair};

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

/// Scores an incident and routes it.
pub struct TriageAgent {
    model: Arc<dyn LanguageModel>,
    engine: ReactEngine,
    system: String,
}

fn system_prompt() -> String {
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

impl TriageAgent {
    /// An agent using `model` and `tools` (usually `list_alarms`), at most 4 steps.
    pub fn new(model: Arc<dyn LanguageModel>, tools: Vec<Arc<dyn DynTool>>) -> Result<Self> {
        let system = system_prompt();
        let config = EngineConfig {
            max_steps: 4,
            ..EngineConfig::default()
        };
        let engine = ReactEngine::builder(model.clone())
            .system(system.clone())
            .tools(tools)
            .config(config)
            .build()?;
        Ok(Self {
            model,
            engine,
            system,
        })
    }

    /// Triages the incident; `hooks` see every step.
    pub async fn assess(
        &self,
        context: &IncidentContext,
        hooks: &[Arc<dyn StepHook>],
    ) -> Result<Triage> {
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
        let transcript = self
            .engine
            .run_with_hooks(vec![Message::user(task)], hooks)
            .await;
        let answer = final_text(&transcript, "triage", incident.id)?;
        let (assessment, repaired) = parse_with_repair::<TriageAssessment>(
            self.model.as_ref(),
            Some(self.system.clone()),
            transcript.messages.clone(),
            &answer,
            TriageAssessment::validate,
        )
        .await?;
        Ok(Triage {
            assessment,
            transcript,
            repaired,
        })
    }
}

#[async_trait]
impl Agent for TriageAgent {
    type Outcome = TriageAssessment;

    fn name(&self) -> &str {
        "triage"
    }

    async fn run(&self, context: &IncidentContext) -> Result<TriageAssessment> {
        Ok(self.assess(context, &[]).await?.assessment)
    }
}
