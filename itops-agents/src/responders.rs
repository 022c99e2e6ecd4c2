//! The three agents of the incident workflow, wired to one model, the telemetry tools and
//! the knowledge base, as `itops investigate` and the workflow runner use them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use itops_core::catalogue::ActionCatalogue;
use itops_core::engine::StepHook;
use itops_core::{
    DynTool, IncidentContext, LanguageModel, RemediationAction, Result, TelemetrySource,
};

use crate::agents::{
    Investigation, Planning, RemediationAgent, RootCauseAgent, Triage, TriageAgent,
};
use crate::policy::{ActionPolicy, ActionTargets};
use crate::tools::telemetry_tools;

/// Triage, root-cause and remediation agents sharing a model and tools.
#[derive(Clone)]
pub struct Responders {
    model: Arc<dyn LanguageModel>,
    source: Arc<dyn TelemetrySource>,
    telemetry: Vec<Arc<dyn DynTool>>,
    knowledge: Vec<Arc<dyn DynTool>>,
    policy: ActionPolicy,
}

impl std::fmt::Debug for Responders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responders")
            .field("model", &self.model.name())
            .field("telemetry_tools", &self.telemetry.len())
            .field("knowledge_tools", &self.knowledge.len())
            .field("policy", &self.policy)
            .finish()
    }
}

impl Responders {
    /// Agents using `model`, the standard telemetry tools over `telemetry`, the given
    /// knowledge tools (e.g. `search_knowledge`, `similar_incidents`), and `policy` for plans.
    pub fn new(
        model: Arc<dyn LanguageModel>,
        telemetry: Arc<dyn TelemetrySource>,
        knowledge: Vec<Arc<dyn DynTool>>,
        policy: ActionPolicy,
    ) -> Self {
        Self {
            model,
            source: telemetry.clone(),
            telemetry: telemetry_tools(telemetry),
            knowledge,
            policy,
        }
    }

    /// The model's name.
    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    /// The action policy.
    pub fn policy(&self) -> &ActionPolicy {
        &self.policy
    }

    fn all_tools(&self) -> Vec<Arc<dyn DynTool>> {
        let mut tools = self.telemetry.clone();
        tools.extend(self.knowledge.iter().cloned());
        tools
    }

    /// Scores and routes the incident.
    pub async fn triage(
        &self,
        context: &IncidentContext,
        hooks: &[Arc<dyn StepHook>],
    ) -> Result<Triage> {
        TriageAgent::new(self.model.clone(), self.all_tools())?
            .assess(context, hooks)
            .await
    }

    /// Finds the root cause; `at` is when the incident was detected (inferred from the data
    /// when `None`).
    pub async fn investigate(
        &self,
        context: &IncidentContext,
        at: Option<DateTime<Utc>>,
        hooks: &[Arc<dyn StepHook>],
    ) -> Result<Investigation> {
        let mut agent = RootCauseAgent::new(self.model.clone(), self.all_tools())?;
        if let Some(at) = at {
            agent = agent.at(at);
        }
        agent.investigate(context, hooks).await
    }

    /// The services the telemetry implicates in the incident: what actions may target.
    pub async fn targets(&self, context: &IncidentContext) -> ActionTargets {
        ActionTargets::from_telemetry(self.source.as_ref(), &context.incident).await
    }

    /// Proposes the remediation of `context.finding`, on services the telemetry implicates.
    pub async fn plan(
        &self,
        context: &IncidentContext,
        hooks: &[Arc<dyn StepHook>],
    ) -> Result<Planning> {
        let targets = self.targets(context).await;
        // The knowledge base for what to do, the telemetry to size it (e.g. replicas).
        RemediationAgent::new(self.model.clone(), self.all_tools(), self.policy.clone())
            .with_targets(targets)
            .plan(context, hooks)
            .await
    }

    /// The policy's check right before `action` executes (see [`ActionPolicy::admit`]):
    /// the catalogue, the denied list, a target the telemetry implicates now, and a human
    /// approval (`approved`) when the action may not run unattended.
    pub async fn admit(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
        approved: bool,
    ) -> Result<()> {
        let targets = self.targets(context).await;
        self.policy.admit(
            &ActionCatalogue::standard(),
            action,
            &targets.services(),
            approved,
        )
    }
}
