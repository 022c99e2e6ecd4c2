//! The remediation agent's outcome: typed actions from a catalogue.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::{ActionId, IncidentId};
use crate::word_enum::word_enum;

word_enum! {
    /// How much harm an action can do if it is wrong.
    pub enum RiskLevel as "risk level" {
        /// Safe to run unattended.
        Low = "low",
        /// Noticeable but bounded impact.
        Medium = "medium",
        /// Can cause or widen an outage.
        High = "high",
    }
}

word_enum! {
    /// When in the response an action belongs.
    pub enum ActionPhase as "action phase" {
        /// Stop the bleeding now.
        Immediate = "immediate",
        /// Fix the cause.
        Corrective = "corrective",
        /// Keep it from happening again.
        Preventive = "preventive",
    }
}

/// One typed action from the allow-listed catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemediationAction {
    /// Unique id; the idempotency key of its execution.
    pub id: ActionId,
    /// Catalogue entry (`restart_service`, `rollback_deployment`, ...).
    pub catalogue_id: String,
    /// The service acted on.
    pub target: String,
    /// Typed parameters, validated against the catalogue entry's schema.
    #[serde(default)]
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Risk level.
    pub risk: RiskLevel,
    /// Whether it can be undone.
    pub reversible: bool,
    /// What should change in telemetry if it works (checked by verification).
    pub expected_effect: String,
    /// When in the response it belongs.
    #[serde(default = "default_phase")]
    pub phase: ActionPhase,
}

fn default_phase() -> ActionPhase {
    ActionPhase::Immediate
}

/// The actions proposed for an incident and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemediationPlan {
    /// The incident.
    pub incident_id: IncidentId,
    /// The actions, in execution order.
    pub actions: Vec<RemediationAction>,
    /// Why these actions.
    pub rationale: String,
}

impl RemediationPlan {
    /// The highest risk in the plan, if it has actions.
    pub fn max_risk(&self) -> Option<RiskLevel> {
        self.actions.iter().map(|a| a.risk).max()
    }

    /// Checks structure: ids unique, catalogue ids and targets present.
    pub fn validate(&self) -> Result<()> {
        for (i, a) in self.actions.iter().enumerate() {
            if a.catalogue_id.trim().is_empty() {
                return Err(Error::invalid(
                    format!("actions[{i}].catalogue_id"),
                    "must not be empty",
                ));
            }
            if a.target.trim().is_empty() {
                return Err(Error::invalid(
                    format!("actions[{i}].target"),
                    "must not be empty",
                ));
            }
            if self.actions[..i].iter().any(|b| b.id == a.id) {
                return Err(Error::invalid(
                    format!("actions[{i}].id"),
                    "action ids must be unique within a plan",
                ));
            }
        }
        Ok(())
    }
}
