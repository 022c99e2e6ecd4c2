//! Workflow checkpoints: everything the runner needs to resume an incident.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{IncidentStatus, RemediationPlan, RootCauseFinding, TriageAssessment};
use crate::id::{ActionId, ApprovalId, IncidentId};
use crate::word_enum::word_enum;

use super::StepOutcome;

word_enum! {
    /// Where one action's execution stands.
    pub enum ActionState as "action state" {
        /// Recorded before execution began; if seen on resume, execution was interrupted.
        Started = "started",
        /// The executor reported success.
        Succeeded = "succeeded",
        /// The executor reported failure.
        Failed = "failed",
        /// Execution began but the runner stopped before its result was recorded; it is
        /// never run again (verification decides whether it took effect).
        Interrupted = "interrupted",
    }
}

/// The execution record of one action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionRecord {
    /// The action.
    pub action_id: ActionId,
    /// Where it stands.
    pub state: ActionState,
    /// What the executor said.
    #[serde(default)]
    pub detail: String,
    /// When execution started.
    pub started_at: DateTime<Utc>,
    /// When the result was recorded.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The result of checking a fix against telemetry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VerificationReport {
    /// Whether telemetry is back to baseline.
    pub resolved: bool,
    /// What was compared, with numbers.
    pub summary: String,
    /// Per-signal details.
    #[serde(default)]
    pub details: serde_json::Value,
}

/// What earlier steps produced; grows as the workflow advances.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkflowData {
    /// The triage assessment.
    pub triage: Option<TriageAssessment>,
    /// The root-cause finding.
    pub finding: Option<RootCauseFinding>,
    /// The remediation plan.
    pub plan: Option<RemediationPlan>,
    /// Whether the plan needs a human decision (set by the policy).
    pub needs_approval: Option<bool>,
    /// The approval asked for, once asked.
    pub approval_id: Option<ApprovalId>,
    /// Execution records, in plan order.
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
    /// The verification result.
    pub verification: Option<VerificationReport>,
    /// Why the incident was escalated, when it was.
    pub escalation_reason: Option<String>,
    /// The outcome of the last step taken, so that an orchestrator delivering the same step
    /// twice (a retried Lambda task) gets the same answer instead of a second run.
    #[serde(default)]
    pub last_outcome: Option<StepOutcome>,
}

/// The durable state of one incident's workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkflowCheckpoint {
    /// The incident.
    pub incident_id: IncidentId,
    /// The state the next step starts from.
    pub state: IncidentStatus,
    /// Steps completed so far.
    pub steps_completed: u64,
    /// What the steps produced.
    pub data: WorkflowData,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: 0 before it is stored.
    #[serde(default)]
    pub version: u64,
}

impl WorkflowCheckpoint {
    /// A fresh checkpoint at `state`.
    pub fn new(incident_id: IncidentId, state: IncidentStatus, now: DateTime<Utc>) -> Self {
        Self {
            incident_id,
            state,
            steps_completed: 0,
            data: WorkflowData::default(),
            updated_at: now,
            version: 0,
        }
    }

    /// Whether the workflow has ended.
    pub fn is_finished(&self) -> bool {
        self.state.is_terminal()
    }
}
