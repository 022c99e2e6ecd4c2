//! The policy checked again right before each action executes, in the local runner and in
//! the Lambda execute step alike.
//!
//! A plan is checked when it is proposed, but it is then stored (in the checkpoint) and run
//! later, possibly by another process. [`GuardedSteps`] wraps the workflow's steps so that,
//! before the executor is called for an action, the action is checked once more against
//! the catalogue, the denied list, the services the telemetry implicates now, and — for an
//! action the policy does not let run unattended — a human approval of that very action.
//! A refused action is never handed to the executor; the runner records it as failed with
//! the reason, and the incident is escalated.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::workflow::{ActionRecord, StepKind, VerificationReport, WorkflowSteps};
use itops_core::{
    Actor, ApprovalGate, ApprovalStatus, ApprovalTicket, Error, IncidentContext, RemediationAction,
    RemediationPlan, Result, RootCauseFinding, TriageAssessment,
};

use super::steps::AgentSteps;

/// [`AgentSteps`] whose `execute` re-checks the action policy first.
pub(crate) struct GuardedSteps {
    steps: AgentSteps,
    gate: Arc<dyn ApprovalGate>,
}

impl GuardedSteps {
    /// Guards `steps`; approvals are read from `gate`.
    pub(crate) fn new(steps: AgentSteps, gate: Arc<dyn ApprovalGate>) -> Self {
        Self { steps, gate }
    }

    /// Whether a human approved exactly this action: the incident's approval was approved,
    /// and the actions it showed the approver include this one unchanged.
    async fn approved(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
    ) -> Result<bool> {
        let checkpoint = self.steps.store.get_checkpoint(context.incident.id).await?;
        let Some(approval_id) = checkpoint.and_then(|c| c.data.approval_id) else {
            return Ok(false);
        };
        let approval = match self.gate.get(approval_id).await {
            Ok(approval) => approval,
            Err(Error::NotFound { .. }) => return Ok(false),
            Err(error) => return Err(error),
        };
        if approval.status != ApprovalStatus::Approved
            || approval.incident_id != context.incident.id
        {
            return Ok(false);
        }
        let shown: Vec<RemediationAction> = approval
            .payload
            .get("actions")
            .cloned()
            .and_then(|a| serde_json::from_value(a).ok())
            .unwrap_or_default();
        Ok(shown.iter().any(|a| a == action))
    }
}

#[async_trait]
impl WorkflowSteps for GuardedSteps {
    async fn triage(&self, context: &IncidentContext) -> Result<TriageAssessment> {
        self.steps.triage(context).await
    }

    async fn investigate(&self, context: &IncidentContext) -> Result<RootCauseFinding> {
        self.steps.investigate(context).await
    }

    async fn plan(&self, context: &IncidentContext) -> Result<RemediationPlan> {
        self.steps.plan(context).await
    }

    fn requires_approval(&self, plan: &RemediationPlan) -> bool {
        self.steps.requires_approval(plan)
    }

    async fn execute(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
    ) -> Result<String> {
        let in_plan = context
            .plan
            .as_ref()
            .is_some_and(|p| p.actions.iter().any(|a| a == action));
        let verdict = if in_plan {
            let approved = self.approved(context, action).await?;
            self.steps.responders.admit(context, action, approved).await
        } else {
            Err(Error::invalid(
                "action",
                "it is not in the incident's stored plan",
            ))
        };
        if let Err(error) = verdict {
            tracing::warn!(
                incident_id = %context.incident.id,
                action_id = %action.id,
                catalogue_id = %action.catalogue_id,
                target = %action.target,
                %error,
                "action refused by policy before execution"
            );
            return Err(Error::Step {
                step: "execute".into(),
                incident: context.incident.id.to_string(),
                message: format!("not run, refused by policy: {error}"),
            });
        }
        self.steps.execute(context, action).await
    }

    async fn verify(
        &self,
        context: &IncidentContext,
        actions: &[ActionRecord],
    ) -> Result<VerificationReport> {
        self.steps.verify(context, actions).await
    }

    async fn approval_requested(
        &self,
        context: &IncidentContext,
        ticket: &ApprovalTicket,
    ) -> Result<()> {
        self.steps.approval_requested(context, ticket).await
    }

    fn actor(&self, step: StepKind) -> Actor {
        self.steps.actor(step)
    }
}
