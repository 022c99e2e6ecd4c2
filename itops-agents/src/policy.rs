//! The action policy: what may be proposed, and what runs without a human.
//!
//! It is enforced in the engine's tool hook ([`PolicyHook`]), so it holds whatever a model
//! says: an action outside the catalogue, on a service the telemetry does not implicate
//! (see [`ActionTargets`]), or with invalid parameters is refused before the proposal tool
//! ever runs. [`ActionPolicy::admit`] checks it all again right before an action executes,
//! with whether a human approved that very action, so a stored or edited plan cannot slip
//! past it.

use std::collections::BTreeSet;

use async_trait::async_trait;
use itops_core::catalogue::ActionCatalogue;
use itops_core::engine::{StepHook, StepInfo, ToolAction};
use itops_core::{Error, RemediationAction, RemediationPlan, Result, RiskLevel, ToolCall};
use serde::{Deserialize, Serialize};

mod targets;

pub use targets::ActionTargets;

/// The name of the tool through which agents propose actions.
pub const PROPOSE_ACTION: &str = "propose_action";

/// Which actions may run unattended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionPolicy {
    /// Whether any action may run without approval (default: true).
    pub auto_approve: bool,
    /// Highest risk that may run without approval (default: low).
    pub auto_max_risk: RiskLevel,
    /// Whether an action must be reversible to run without approval (default: true).
    pub auto_requires_reversible: bool,
    /// Catalogue ids never allowed, even with approval.
    #[serde(default)]
    pub denied: BTreeSet<String>,
}

impl Default for ActionPolicy {
    fn default() -> Self {
        Self {
            auto_approve: true,
            auto_max_risk: RiskLevel::Low,
            auto_requires_reversible: true,
            denied: BTreeSet::new(),
        }
    }
}

impl ActionPolicy {
    /// A policy under which every action needs approval.
    pub fn always_ask() -> Self {
        Self {
            auto_approve: false,
            ..Self::default()
        }
    }

    /// Whether the action may run without a human decision.
    pub fn runs_unattended(&self, action: &RemediationAction) -> bool {
        self.auto_approve
            && action.risk <= self.auto_max_risk
            && (action.reversible || !self.auto_requires_reversible)
    }

    /// Whether the plan needs a human decision: any action that may not run unattended.
    pub fn requires_approval(&self, plan: &RemediationPlan) -> bool {
        plan.actions.iter().any(|a| !self.runs_unattended(a))
    }

    /// Checks one proposed action: in the catalogue, allowed, valid parameters, risk not
    /// understated, and aimed at a service the evidence implicates.
    pub fn check(
        &self,
        catalogue: &ActionCatalogue,
        action: &RemediationAction,
        implicated: &BTreeSet<String>,
    ) -> Result<()> {
        if self.denied.contains(&action.catalogue_id) {
            return Err(Error::invalid(
                "catalogue_id",
                format!("'{}' is denied by policy", action.catalogue_id),
            ));
        }
        catalogue.validate(action)?;
        if !implicated.contains(&action.target) {
            let listed = if implicated.is_empty() {
                "none".to_string()
            } else {
                implicated.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            return Err(Error::invalid(
                "target",
                format!(
                    "'{}' is not implicated by the telemetry (the ranking's evidence, the \
                     incident's affected services and the call paths between them); services \
                     it implicates: {listed}",
                    action.target,
                ),
            ));
        }
        Ok(())
    }

    /// The check right before an action executes: everything [`check`](Self::check) asks,
    /// and, for an action that may not run unattended, that a human `approved` this very
    /// action.
    pub fn admit(
        &self,
        catalogue: &ActionCatalogue,
        action: &RemediationAction,
        implicated: &BTreeSet<String>,
        approved: bool,
    ) -> Result<()> {
        self.check(catalogue, action, implicated)?;
        if !approved && !self.runs_unattended(action) {
            return Err(Error::invalid(
                "approval",
                format!(
                    "{} on {} ({} risk{}) needs a human approval under the policy, and no \
                     approval covers it",
                    action.catalogue_id,
                    action.target,
                    action.risk,
                    if action.reversible {
                        ""
                    } else {
                        ", irreversible"
                    }
                ),
            ));
        }
        Ok(())
    }
}

/// Refuses `propose_action` calls that break the policy, before the tool runs.
pub struct PolicyHook {
    policy: ActionPolicy,
    catalogue: ActionCatalogue,
    implicated: BTreeSet<String>,
}

impl PolicyHook {
    /// A hook enforcing `policy` over the catalogue, for actions on `implicated` services.
    pub fn new(
        policy: ActionPolicy,
        catalogue: ActionCatalogue,
        implicated: BTreeSet<String>,
    ) -> Self {
        Self {
            policy,
            catalogue,
            implicated,
        }
    }

    /// The action a `propose_action` call describes, with the catalogue's risk and reversibility.
    pub fn action_of(catalogue: &ActionCatalogue, call: &ToolCall) -> Result<RemediationAction> {
        let input = &call.input;
        let id = input
            .get("catalogue_id")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::invalid("catalogue_id", "is required"))?;
        let target = input
            .get("target")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::invalid("target", "is required"))?;
        let entry = catalogue.get(id)?;
        let parameters = match input.get("parameters") {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map.clone(),
            Some(_) => return Err(Error::invalid("parameters", "must be a JSON object")),
        };
        let phase = match input.get("phase").and_then(|v| v.as_str()) {
            Some(p) => p.parse()?,
            None => itops_core::ActionPhase::Immediate,
        };
        Ok(RemediationAction {
            id: itops_core::ActionId::new(),
            catalogue_id: entry.id.to_string(),
            target: target.to_string(),
            parameters,
            risk: entry.risk,
            reversible: entry.reversible,
            expected_effect: input
                .get("expected_effect")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| entry.expected_effect.to_string()),
            phase,
        })
    }
}

#[async_trait]
impl StepHook for PolicyHook {
    async fn before_tool(&self, _info: &StepInfo, call: &ToolCall) -> Result<ToolAction> {
        if call.name != PROPOSE_ACTION {
            return Ok(ToolAction::Run);
        }
        let verdict = Self::action_of(&self.catalogue, call)
            .and_then(|a| self.policy.check(&self.catalogue, &a, &self.implicated));
        Ok(match verdict {
            Ok(()) => ToolAction::Run,
            Err(e) => ToolAction::Skip {
                observation: format!("refused by policy: {e}"),
            },
        })
    }
}
