//! The triage agent's outcome.

use serde::{Deserialize, Serialize};

use crate::domain::incident::Severity;
use crate::error::{Error, Result};
use crate::word_enum::word_enum;

word_enum! {
    /// Where triage sends an incident.
    pub enum Route as "route" {
        /// Hand to humans now (critical, or beyond what automation should touch).
        Escalate = "escalate",
        /// Investigate automatically.
        Investigate = "investigate",
    }
}

/// How bad an incident is, how urgent, and where it goes next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TriageAssessment {
    /// Assessed severity.
    pub severity: Severity,
    /// 1 (can wait) to 10 (now).
    pub urgency: u8,
    /// Escalate or investigate.
    pub route: Route,
    /// Why, in a few sentences.
    pub reasoning: String,
    /// What should happen next.
    #[serde(default)]
    pub next_steps: Vec<String>,
}

impl TriageAssessment {
    /// Checks the bounds a model's output may break.
    pub fn validate(&self) -> Result<()> {
        if !(1..=10).contains(&self.urgency) {
            return Err(Error::invalid(
                "urgency",
                format!("must be between 1 and 10, got {}", self.urgency),
            ));
        }
        if self.reasoning.trim().is_empty() {
            return Err(Error::invalid("reasoning", "must not be empty"));
        }
        Ok(())
    }
}
