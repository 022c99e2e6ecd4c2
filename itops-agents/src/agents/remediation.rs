//! The remediation agent: proposes typed actions from the catalogue, each checked by the
//! policy in the engine's tool hook, and returns them as a [`RemediationPlan`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use itops_core::catalogue::ActionCatalogue;
use itops_core::engine::{EngineConfig, StopReason, Transcript};
use itops_core::{
    DynTool, Error, IncidentContext, LanguageModel, RemediationAction, RemediationPlan, Result,
    RunContext, TelemetrySource, Tool, ToolCall,
};
use serde::{Deserialize, Serialize};

use crate::agents::prompt::{context_block, incident_block, untrusted, SAFETY_RULES};
use crate::agents::react::{Brief, Finished, ReactAgent, Role};
use crate::agents::structured::extract_json;
use crate::policy::{ActionPolicy, ActionTargets, PolicyHook, PROPOSE_ACTION};

/// A finished planning run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Planning {
    /// The validated plan (possibly empty: nothing safe to do, so escalate).
    pub plan: RemediationPlan,
    /// Whether the policy wants a human decision before it runs.
    pub needs_approval: bool,
    /// Every step of the ReAct loop.
    pub transcript: Transcript,
}

/// Proposes remediation actions for a root-cause finding: the remediation [`Role`] on the
/// ReAct engine.
pub type RemediationAgent = ReactAgent<RemediationRole>;

/// The remediation role: the model proposes catalogue actions through a `propose_action`
/// tool of its own run, each checked by the policy in the engine's tool hook; the plan is
/// what was accepted, with the model's rationale.
#[derive(Clone)]
pub struct RemediationRole {
    policy: ActionPolicy,
    catalogue: ActionCatalogue,
    targets: Option<ActionTargets>,
    telemetry: Option<Arc<dyn TelemetrySource>>,
}

impl std::fmt::Debug for RemediationRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemediationRole")
            .field("policy", &self.policy)
            .field("targets", &self.targets)
            .field("telemetry", &self.telemetry.is_some())
            .finish_non_exhaustive()
    }
}

impl RemediationRole {
    /// The role under `policy`, over the standard catalogue.
    pub fn new(policy: ActionPolicy) -> Self {
        Self {
            policy,
            catalogue: ActionCatalogue::standard(),
            targets: None,
            telemetry: None,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ActionPolicy {
        &self.policy
    }

    /// The services actions may target in this run: the fixed targets if given, else those
    /// the telemetry implicates now, else those the incident reports as affected.
    async fn targets(&self, context: &IncidentContext) -> ActionTargets {
        if let Some(targets) = &self.targets {
            return targets.clone();
        }
        match &self.telemetry {
            Some(source) => ActionTargets::from_telemetry(source.as_ref(), &context.incident).await,
            None => ActionTargets::of_incident(&context.incident),
        }
    }
}

/// What a remediation run keeps for its conclusion: the actions `propose_action` accepted.
pub struct Proposed(Arc<Mutex<Vec<RemediationAction>>>);

/// Arguments of `propose_action`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ProposeActionArgs {
    /// The catalogue id (restart_service, rollback_deployment, scale_out, failover_dependency, toggle_feature_flag, clear_cache, raise_pool_limit).
    pub catalogue_id: String,
    /// The service to act on; must be one the telemetry implicates (listed in the task).
    pub target: String,
    /// The action's parameters, matching its schema in the catalogue.
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    /// immediate, corrective or preventive (default immediate).
    #[serde(default)]
    pub phase: Option<String>,
    /// What should change in telemetry if it works.
    #[serde(default)]
    pub expected_effect: Option<String>,
}

/// What `propose_action` answers.
#[derive(Debug, Serialize)]
pub struct ProposalReceipt {
    /// The action was added to the plan.
    pub accepted: bool,
    /// Its id.
    pub action_id: String,
    /// Its risk, from the catalogue.
    pub risk: itops_core::RiskLevel,
    /// Whether it will wait for a human decision.
    pub needs_approval: bool,
}

/// Adds a catalogue action to the plan being built (after the policy hook let it through).
struct ProposeAction {
    catalogue: ActionCatalogue,
    policy: ActionPolicy,
    proposed: Arc<Mutex<Vec<RemediationAction>>>,
}

#[async_trait]
impl Tool for ProposeAction {
    type Args = ProposeActionArgs;
    type Output = ProposalReceipt;

    fn name(&self) -> &str {
        PROPOSE_ACTION
    }

    fn description(&self) -> &str {
        "Propose one remediation action from the catalogue for the plan. Only catalogue actions on \
         services the telemetry implicates (listed in the task) are accepted; the catalogue sets \
         risk and reversibility."
    }

    async fn call(&self, args: ProposeActionArgs) -> Result<ProposalReceipt> {
        let call = ToolCall {
            id: String::new(),
            name: PROPOSE_ACTION.into(),
            input: serde_json::json!({
                "catalogue_id": args.catalogue_id,
                "target": args.target,
                "parameters": args.parameters,
                "phase": args.phase,
                "expected_effect": args.expected_effect,
            }),
        };
        let action = PolicyHook::action_of(&self.catalogue, &call)?;
        // Checked again here, whatever hooks the engine was built with.
        self.catalogue.validate(&action)?;
        let mut proposed = self.proposed.lock().unwrap_or_else(|p| p.into_inner());
        if proposed
            .iter()
            .any(|a| a.catalogue_id == action.catalogue_id && a.target == action.target)
        {
            return Err(Error::invalid(
                "catalogue_id",
                format!(
                    "{} on {} is already in the plan",
                    action.catalogue_id, action.target
                ),
            ));
        }
        let receipt = ProposalReceipt {
            accepted: true,
            action_id: action.id.to_string(),
            risk: action.risk,
            needs_approval: !self.policy.runs_unattended(&action),
        };
        proposed.push(action);
        Ok(receipt)
    }
}

fn system_prompt(catalogue: &ActionCatalogue) -> String {
    let entries: Vec<serde_json::Value> =
        catalogue.entries().iter().map(|e| e.describe()).collect();
    format!(
        "You are the remediation agent of itops, an incident-response system.\n\
         Goal: propose the smallest set of safe actions that fixes the root cause in the finding, \
         using ONLY the action catalogue below, through the propose_action tool (one call per \
         action; immediate mitigation first). Act only on the services the task lists as implicated \
         by the telemetry; a proposal on any other service is refused. Check \
         the knowledge base for runbooks first when it is available. If no catalogue action fits, \
         propose nothing: the incident will go to a human.\n\
         Action catalogue:\n{catalogue}\n\
         When done, answer with ONE JSON object: {{\"rationale\": \"why these actions, and what to verify\"}}.\n{rules}",
        catalogue = serde_json::to_string_pretty(&entries).unwrap_or_default(),
        rules = SAFETY_RULES,
    )
}

#[async_trait]
impl Role for RemediationRole {
    type Outcome = Planning;
    type Scratch = Proposed;

    fn name(&self) -> &str {
        "remediation"
    }

    fn step(&self) -> &str {
        "plan"
    }

    fn system_prompt(&self) -> String {
        system_prompt(&self.catalogue)
    }

    /// At most 8 steps.
    fn config(&self) -> EngineConfig {
        EngineConfig {
            max_steps: 8,
            ..EngineConfig::default()
        }
    }

    async fn brief(&self, context: &IncidentContext, _run: &RunContext) -> Result<Brief<Proposed>> {
        let incident = &context.incident;
        let Some(finding) = &context.finding else {
            return Err(Error::invalid(
                "finding",
                "the remediation agent needs a root-cause finding; run the investigation first",
            ));
        };
        // The model's finding is not trusted to name targets: text anyone can write (a log
        // line, the incident's description) may have steered it.
        let implicated: BTreeSet<String> = self.targets(context).await.services();
        let proposed = Arc::new(Mutex::new(Vec::new()));
        let candidates: Vec<serde_json::Value> = finding
            .candidates
            .iter()
            .take(5)
            .map(|c| {
                let changes: Vec<String> = c
                    .evidence
                    .iter()
                    .filter(|e| matches!(e, itops_core::Evidence::Change { .. }))
                    .map(|e| e.summary().to_string())
                    .collect();
                serde_json::json!({"service": c.service, "fault": c.fault, "confidence": c.confidence, "changes": changes})
            })
            .collect();
        let ctx = serde_json::json!({"role": "remediation", "incident_id": incident.id, "candidates": candidates, "targets": implicated});
        let listed = if implicated.is_empty() {
            "none (propose nothing)".to_string()
        } else {
            implicated.iter().cloned().collect::<Vec<_>>().join(", ")
        };
        let task = format!(
            "Plan the remediation of this incident.\n{}\nServices the telemetry implicates \
             (the only allowed targets): {listed}\nRoot-cause finding:\n{}\n{}",
            incident_block(incident),
            untrusted(
                "root-cause finding",
                &serde_json::to_string_pretty(finding).unwrap_or_default()
            ),
            context_block(&ctx)
        );
        let mut brief = Brief::new(task, Proposed(proposed.clone()));
        brief.tools.push(Arc::new(ProposeAction {
            catalogue: self.catalogue.clone(),
            policy: self.policy.clone(),
            proposed,
        }));
        brief.hooks.push(Arc::new(PolicyHook::new(
            self.policy.clone(),
            self.catalogue.clone(),
            implicated,
        )));
        Ok(brief)
    }

    async fn conclude(
        &self,
        context: &IncidentContext,
        finished: Finished<'_>,
        proposed: Proposed,
    ) -> Result<Planning> {
        let incident = &context.incident;
        let transcript = finished.transcript;
        // The plan is what the tool accepted: a run out of budget or stopped by a hook
        // still proposes those; only a failed model or hook fails the step.
        match &transcript.stop_reason {
            StopReason::ModelFailed { message } | StopReason::HookFailed { message } => {
                return Err(Error::Step {
                    step: "plan".into(),
                    incident: incident.id.to_string(),
                    message: message.clone(),
                })
            }
            _ => {}
        }
        let actions = proposed.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let answer = transcript.final_answer.clone().unwrap_or_default();
        let rationale = extract_json(&answer)
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
            .and_then(|v| {
                v.get("rationale")
                    .and_then(|r| r.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| answer.trim().to_string());
        let rationale = if rationale.is_empty() {
            format!(
                "{} action(s) proposed ({:?})",
                actions.len(),
                transcript.stop_reason
            )
        } else {
            rationale
        };
        let plan = RemediationPlan {
            incident_id: incident.id,
            actions,
            rationale,
        };
        plan.validate()?;
        Ok(Planning {
            needs_approval: self.policy.requires_approval(&plan),
            plan,
            transcript,
        })
    }
}

impl ReactAgent<RemediationRole> {
    /// An agent using `model`, extra `tools` (e.g. knowledge search), and the policy, over the
    /// standard catalogue.
    pub fn new(
        model: Arc<dyn LanguageModel>,
        tools: Vec<Arc<dyn DynTool>>,
        policy: ActionPolicy,
    ) -> Self {
        Self::from_role(RemediationRole::new(policy), model, tools)
    }

    /// The services actions may target (see [`ActionTargets::from_telemetry`]); without
    /// them (or [`Self::with_telemetry`]), only the services the incident reports as
    /// affected.
    pub fn with_targets(mut self, targets: ActionTargets) -> Self {
        self.role_mut().targets = Some(targets);
        self
    }

    /// Reads the services actions may target from `telemetry` at each run (see
    /// [`ActionTargets::from_telemetry`]), unless fixed targets were given.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn TelemetrySource>) -> Self {
        self.role_mut().telemetry = Some(telemetry);
        self
    }

    /// Replaces the engine bounds.
    pub fn with_config(self, config: EngineConfig) -> Self {
        self.bounded(config)
    }

    /// The policy.
    pub fn policy(&self) -> &ActionPolicy {
        self.role().policy()
    }
}
