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
///
/// Three verdicts: resolved (`resolved`), mitigated (`resolved` and `mitigated`: the
/// symptoms are gone but the fix is known to be temporary, e.g. a restart for a memory
/// leak, and `follow_up` names the lasting fix; the incident closes with that follow-up),
/// and not resolved (the incident is escalated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VerificationReport {
    /// Whether the symptoms are gone, so the incident can close (also when mitigated).
    pub resolved: bool,
    /// Whether the fix only holds the problem off (the symptoms will come back without the
    /// lasting fix in `follow_up`). Only with `resolved`.
    #[serde(default)]
    pub mitigated: bool,
    /// The lasting fix still to make, when mitigated.
    #[serde(default)]
    pub follow_up: Option<String>,
    /// What was compared, with numbers.
    pub summary: String,
    /// Per-signal details.
    #[serde(default)]
    pub details: serde_json::Value,
}

impl VerificationReport {
    /// A verdict without a follow-up: resolved when `resolved`, otherwise not resolved.
    pub fn new(resolved: bool, summary: impl Into<String>, details: serde_json::Value) -> Self {
        Self {
            resolved,
            mitigated: false,
            follow_up: None,
            summary: summary.into(),
            details,
        }
    }

    /// The symptoms are gone, but only for now: `follow_up` is the lasting fix.
    pub fn mitigated(
        summary: impl Into<String>,
        follow_up: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        Self {
            resolved: true,
            mitigated: true,
            follow_up: Some(follow_up.into()),
            summary: summary.into(),
            details,
        }
    }

    /// The verdict in a word: `resolved`, `mitigated` or `not resolved`.
    pub fn verdict(&self) -> &'static str {
        match (self.resolved, self.mitigated) {
            (true, true) => "mitigated",
            (true, false) => "resolved",
            (false, _) => "not resolved",
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_stored_before_mitigation_existed_still_reads() {
        let old = serde_json::json!({"resolved": true, "summary": "p99 back", "details": null});
        let report: VerificationReport = serde_json::from_value(old).unwrap();
        assert_eq!(
            report,
            VerificationReport::new(true, "p99 back", serde_json::Value::Null)
        );
        assert_eq!(report.verdict(), "resolved");
    }

    #[test]
    fn a_mitigated_report_closes_the_incident_and_carries_its_follow_up() {
        let report = VerificationReport::mitigated(
            "memory back",
            "roll back checkout",
            serde_json::Value::Null,
        );
        assert!(report.resolved && report.mitigated);
        assert_eq!(report.verdict(), "mitigated");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["mitigated"], true);
        assert_eq!(json["follow_up"], "roll back checkout");
        assert_eq!(
            VerificationReport::new(false, "still slow", serde_json::Value::Null).verdict(),
            "not resolved"
        );
    }
}
