//! The root-cause agent: investigates with tools in a bounded ReAct loop and answers with a
//! validated [`RootCauseFinding`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use itops_core::engine::{EngineConfig, ReactEngine, StepHook, Transcript};
use itops_core::tool::input_schema_for;
use itops_core::{
    Agent, DynTool, FaultKind, IncidentContext, LanguageModel, Message, Result, RootCauseFinding,
};
use serde::{Deserialize, Serialize};

use crate::agents::prompt::{context_block, incident_block, SAFETY_RULES};
use crate::agents::structured::{final_text, parse_with_repair};

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

/// Finds where an incident originated, and the kind of fault, with evidence.
pub struct RootCauseAgent {
    model: Arc<dyn LanguageModel>,
    engine: ReactEngine,
    system: String,
    at: Option<DateTime<Utc>>,
}

fn system_prompt() -> String {
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

impl RootCauseAgent {
    /// An agent using `model` and `tools` (usually the telemetry and knowledge tools) with
    /// default bounds (12 steps).
    pub fn new(model: Arc<dyn LanguageModel>, tools: Vec<Arc<dyn DynTool>>) -> Result<Self> {
        let config = EngineConfig {
            max_steps: 12,
            ..EngineConfig::default()
        };
        Self::with_config(model, tools, config)
    }

    /// An agent with explicit engine bounds.
    pub fn with_config(
        model: Arc<dyn LanguageModel>,
        tools: Vec<Arc<dyn DynTool>>,
        config: EngineConfig,
    ) -> Result<Self> {
        let system = system_prompt();
        let engine = ReactEngine::builder(model.clone())
            .system(system.clone())
            .tools(tools)
            .config(config)
            .build()?;
        Ok(Self {
            model,
            engine,
            system,
            at: None,
        })
    }

    /// Investigates around this time (the incident's start or detection) instead of inferring it.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    fn task(&self, context: &IncidentContext) -> Vec<Message> {
        let incident = &context.incident;
        let mut ctx = serde_json::json!({
            "role": "root_cause",
            "incident_id": incident.id,
            "affected_services": incident.affected_services,
        });
        if let Some(at) = self.at {
            ctx["at"] = serde_json::json!(at);
        }
        if let Some(triage) = &context.triage {
            ctx["triage"] =
                serde_json::json!({"severity": triage.severity, "urgency": triage.urgency});
        }
        vec![Message::user(format!(
            "Investigate this incident and find its root cause.\n{}\n{}{}",
            incident_block(incident),
            self.at
                .map(|at| format!("The incident began or was detected at {at}.\n"))
                .unwrap_or_default(),
            context_block(&ctx)
        ))]
    }

    /// Runs the investigation; `hooks` see every step (e.g. to write the incident's timeline).
    pub async fn investigate(
        &self,
        context: &IncidentContext,
        hooks: &[Arc<dyn StepHook>],
    ) -> Result<Investigation> {
        let transcript = self.engine.run_with_hooks(self.task(context), hooks).await;
        let answer = final_text(&transcript, "investigate", context.incident.id)?;
        let (finding, repaired) = parse_with_repair::<RootCauseFinding>(
            self.model.as_ref(),
            Some(self.system.clone()),
            transcript.messages.clone(),
            &answer,
            RootCauseFinding::validate,
        )
        .await?;
        Ok(Investigation {
            finding,
            transcript,
            repaired,
        })
    }
}

#[async_trait]
impl Agent for RootCauseAgent {
    type Outcome = RootCauseFinding;

    fn name(&self) -> &str {
        "root_cause"
    }

    async fn run(&self, context: &IncidentContext) -> Result<RootCauseFinding> {
        Ok(self.investigate(context, &[]).await?.finding)
    }
}
