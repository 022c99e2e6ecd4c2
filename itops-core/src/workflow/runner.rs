//! The local durable runner: executes a [`WorkflowDefinition`] in-process and checkpoints
//! every step in the [`StateStore`], so that a restarted process resumes where it stopped.
//!
//! Durability rules:
//!
//! - a step's result is stored in the incident's [`WorkflowCheckpoint`] (optimistic
//!   version) before the next step begins, and the incident's status is then moved to
//!   match (re-reading and retrying when someone else updated the incident meanwhile);
//! - an action is recorded as [`ActionState::Started`] in the checkpoint before it is
//!   executed, so no action is ever executed twice: a `Started` record found on resume
//!   means the runner stopped mid-execution; it becomes [`ActionState::Interrupted`] and
//!   the workflow moves on to verification, which decides;
//! - the approval id is stored in the checkpoint before the approval is requested, so a
//!   resumed runner asks the gate about the same approval instead of asking again;
//! - timeline entries are written at least once: a crash between an entry and the
//!   checkpoint that follows it repeats the entry (the step ran twice, and the timeline
//!   says so) rather than losing it. Status changes are recorded once: a crash between the
//!   entry and the incident's update is caught up on resume without a second entry.
//!
//! A step that fails (returns an error or invalid output) is recorded on the timeline as
//! an `error` entry and the incident is escalated with the reason. Failures of the store
//! or of the approval gate are not step failures: they are returned to the caller and the
//! checkpoint stays where it was, so that a later [`LocalRunner::advance`] retries.
//!
//! An incident set to a terminal status by hand (e.g. escalated through the API) stops its
//! workflow at the next step boundary, and before each action is executed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::Instrument;

use super::{
    ActionRecord, ActionState, StepKind, StepOutcome, VerificationReport, WorkflowCheckpoint,
    WorkflowDefinition, MANUAL_ESCALATION_TARGET,
};
use crate::agent::IncidentContext;
use crate::approval::{ApprovalGate, ApprovalRequest, ApprovalStatus, ApprovalTicket};
use crate::clock::Clock;
use crate::domain::{
    Actor, Incident, IncidentStatus, RemediationAction, RemediationPlan, RootCauseFinding, Route,
    TimelineEntry, TimelineKind, TriageAssessment,
};
use crate::error::{Error, Result};
use crate::id::{ApprovalId, IncidentId};
use crate::store::StateStore;

/// How long a human has to decide an approval unless [`LocalRunner::with_approval_ttl`] says otherwise.
pub const DEFAULT_APPROVAL_TTL: Duration = Duration::from_secs(60 * 60);

/// How many times the runner re-reads and retries an incident update that conflicts.
const MAX_INCIDENT_UPDATE_ATTEMPTS: usize = 16;

/// The work of each workflow step, injected into the runner (agents, the action executor,
/// the verifier and the approval policy live outside the runner).
#[async_trait]
pub trait WorkflowSteps: Send + Sync {
    /// Scores the incident and routes it.
    async fn triage(&self, context: &IncidentContext) -> Result<TriageAssessment>;

    /// Investigates the root cause.
    async fn investigate(&self, context: &IncidentContext) -> Result<RootCauseFinding>;

    /// Proposes remediation actions.
    async fn plan(&self, context: &IncidentContext) -> Result<RemediationPlan>;

    /// The approval policy: whether this (non-empty) plan needs a human decision.
    fn requires_approval(&self, plan: &RemediationPlan) -> bool;

    /// Executes one action; returns what the executor has to say about it. The runner
    /// calls this at most once per [`ActionId`](crate::id::ActionId), ever; an `Err` marks
    /// the action failed.
    async fn execute(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
    ) -> Result<String>;

    /// Checks the fix against telemetry, given what was executed.
    async fn verify(
        &self,
        context: &IncidentContext,
        actions: &[ActionRecord],
    ) -> Result<VerificationReport>;

    /// Called once an approval has been requested, with its one-time token (e.g. to send a
    /// link to an approver). Not called again for an approval a resumed runner finds
    /// already requested. A failure is recorded on the timeline; the workflow still waits.
    async fn approval_requested(
        &self,
        context: &IncidentContext,
        ticket: &ApprovalTicket,
    ) -> Result<()> {
        let _ = (context, ticket);
        Ok(())
    }

    /// Who the timeline names as the author of a step's output.
    fn actor(&self, step: StepKind) -> Actor {
        default_actor(step)
    }
}

/// The timeline actor of each step unless [`WorkflowSteps::actor`] says otherwise: the
/// `triage`, `root_cause` and `remediation` agents for their steps, the system otherwise.
pub fn default_actor(step: StepKind) -> Actor {
    match step {
        StepKind::Triage => Actor::Agent("triage".to_string()),
        StepKind::Investigate => Actor::Agent("root_cause".to_string()),
        StepKind::Plan => Actor::Agent("remediation".to_string()),
        StepKind::Approval | StepKind::Execute | StepKind::Verify => Actor::System,
    }
}

/// Where a workflow stands after [`LocalRunner::advance`]. As JSON:
/// `{"finished": "resolved"}` or `{"awaiting_approval": {"approval_id": "…"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// The workflow ended in this (terminal) status.
    Finished(IncidentStatus),
    /// The workflow waits for a human decision on this approval.
    AwaitingApproval {
        /// The approval to decide.
        approval_id: ApprovalId,
    },
}

/// What [`LocalRunner::step`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step that was asked for.
    pub step: StepKind,
    /// Its outcome; `None` while an approval waits for a decision.
    pub outcome: Option<StepOutcome>,
    /// Where the workflow stands now.
    pub state: IncidentStatus,
    /// Set when the workflow waits (for a human).
    pub progress: Option<Progress>,
}

impl StepReport {
    fn done(step: StepKind, outcome: StepOutcome, state: IncidentStatus) -> Self {
        Self {
            step,
            outcome: Some(outcome),
            state,
            progress: None,
        }
    }

    /// The workflow had ended before the step: an outcome that escalates (the incident's
    /// own status says how it really ended).
    fn ended(step: StepKind, state: IncidentStatus) -> Self {
        Self {
            step,
            outcome: Some(StepOutcome::Failed {
                step,
                message: format!("the workflow has ended: the incident is {state}"),
            }),
            state,
            progress: Some(Progress::Finished(state)),
        }
    }

    /// Whether the step waits for a human decision.
    pub fn waiting(&self) -> bool {
        matches!(self.progress, Some(Progress::AwaitingApproval { .. }))
    }
}

/// Runs the incident workflow in-process, checkpointing every step in a [`StateStore`].
/// Cheap to clone (everything is shared).
#[derive(Clone)]
pub struct LocalRunner {
    store: Arc<dyn StateStore>,
    gate: Arc<dyn ApprovalGate>,
    steps: Arc<dyn WorkflowSteps>,
    clock: Arc<dyn Clock>,
    definition: Arc<WorkflowDefinition>,
    approval_ttl: Duration,
    locks: Arc<Mutex<HashMap<IncidentId, Arc<tokio::sync::Mutex<()>>>>>,
}

impl fmt::Debug for LocalRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRunner")
            .field("initial", &self.definition.initial)
            .field("states", &self.definition.states.len())
            .field("transitions", &self.definition.transitions.len())
            .field("approval_ttl", &self.approval_ttl)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// Where a workflow stands at a step boundary (see `LocalRunner::reconcile`).
enum Boundary {
    /// The workflow has ended in this status.
    Ended(IncidentStatus),
    /// The step at the checkpoint may run, on this incident.
    Ready(Box<WorkflowCheckpoint>, Box<Incident>),
}

/// What running one state's step led to.
enum StepResult {
    /// The step produced an outcome; take the transition it selects.
    Outcome(Box<WorkflowCheckpoint>, StepOutcome),
    /// The workflow waits (for a human).
    Wait(Progress),
    /// Look again from the top (the incident changed under the step).
    Reload,
}

impl LocalRunner {
    /// A runner of the [standard workflow](WorkflowDefinition::standard) with approvals
    /// that expire after [`DEFAULT_APPROVAL_TTL`].
    pub fn new(
        store: Arc<dyn StateStore>,
        gate: Arc<dyn ApprovalGate>,
        steps: Arc<dyn WorkflowSteps>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            gate,
            steps,
            clock,
            definition: Arc::new(WorkflowDefinition::standard()),
            approval_ttl: DEFAULT_APPROVAL_TTL,
            locks: Arc::default(),
        }
    }

    /// Runs `definition` instead of the standard workflow; refused unless it
    /// [validates](WorkflowDefinition::validate).
    pub fn with_definition(mut self, definition: WorkflowDefinition) -> Result<Self> {
        definition.validate()?;
        self.definition = Arc::new(definition);
        Ok(self)
    }

    /// How long a human has to decide an approval.
    pub fn with_approval_ttl(mut self, ttl: Duration) -> Self {
        self.approval_ttl = ttl;
        self
    }

    /// The workflow this runner executes.
    pub fn definition(&self) -> &WorkflowDefinition {
        &self.definition
    }

    /// How long a human has to decide an approval.
    pub fn approval_ttl(&self) -> Duration {
        self.approval_ttl
    }

    /// Starts the incident's workflow: stores a checkpoint at the initial state. Idempotent:
    /// when the workflow has started already, returns the existing checkpoint. `NotFound`
    /// if the incident does not exist; `InvalidTransition` if it is not in the initial
    /// status (e.g. it was escalated by hand before the workflow started).
    pub async fn start(&self, incident_id: IncidentId) -> Result<WorkflowCheckpoint> {
        if let Some(existing) = self.store.get_checkpoint(incident_id).await? {
            return Ok(existing);
        }
        let incident = self.store.get_incident(incident_id).await?;
        let initial = self.definition.initial;
        if incident.status != initial {
            return Err(Error::InvalidTransition {
                from: incident.status.to_string(),
                to: initial.to_string(),
                reason: Some(format!("the workflow starts from '{initial}'")),
            });
        }
        let checkpoint = WorkflowCheckpoint::new(incident_id, initial, self.clock.now());
        match self.store.put_checkpoint(&checkpoint).await {
            Ok(stored) => {
                tracing::info!(%incident_id, "workflow started");
                Ok(stored)
            }
            // Started concurrently: return what the other caller stored.
            Err(conflict @ Error::Conflict { .. }) => self
                .store
                .get_checkpoint(incident_id)
                .await?
                .ok_or(conflict),
            Err(e) => Err(e),
        }
    }

    /// Runs the incident's workflow from its checkpoint until it ends or waits for a human.
    /// Calls for the same incident through one runner (or its clones) are serialised.
    /// `NotFound` if the workflow was not started.
    pub async fn advance(&self, incident_id: IncidentId) -> Result<Progress> {
        let lock = self.lock_for(incident_id);
        let result = {
            let _guard = lock.lock().await;
            self.advance_locked(incident_id)
                .instrument(tracing::info_span!("workflow", %incident_id))
                .await
        };
        self.release(incident_id, lock);
        result
    }

    /// Runs exactly one step of the incident's workflow, `step`, and takes the transition its
    /// outcome selects: for an external orchestrator (a Step Functions state machine
    /// generated from the same [`WorkflowDefinition`]) that owns the sequence and calls one
    /// function per step. The checkpoint stays the source of truth:
    ///
    /// - states without a step, and an approval that was decided meanwhile, are passed on
    ///   the way to `step` (the orchestrator handled them already);
    /// - a step delivered again after it ran (a retried task) returns the recorded outcome
    ///   without running anything a second time;
    /// - a workflow that has ended (e.g. the incident was escalated by hand) answers with a
    ///   [`StepOutcome::Failed`] that leads to escalation, without running the step;
    /// - asking for a step the workflow is not at is an [`Error::InvalidTransition`].
    ///
    /// The approval step returns [`StepReport::waiting`] while the decision is pending.
    pub async fn step(&self, incident_id: IncidentId, step: StepKind) -> Result<StepReport> {
        let lock = self.lock_for(incident_id);
        let result = {
            let _guard = lock.lock().await;
            self.step_locked(incident_id, step)
                .instrument(tracing::info_span!("workflow", %incident_id, %step))
                .await
        };
        self.release(incident_id, lock);
        result
    }

    async fn step_locked(&self, incident_id: IncidentId, wanted: StepKind) -> Result<StepReport> {
        loop {
            let checkpoint = self.checkpoint(incident_id).await?;
            let at = self.definition.step_for(checkpoint.state);
            let delivered_again = checkpoint
                .data
                .last_outcome
                .as_ref()
                .filter(|o| o.step() == Some(wanted) && at != Some(wanted));
            if let Some(outcome) = delivered_again {
                return Ok(StepReport::done(wanted, outcome.clone(), checkpoint.state));
            }
            let (checkpoint, incident) = match self.reconcile(checkpoint).await? {
                Boundary::Ended(status) => return Ok(StepReport::ended(wanted, status)),
                Boundary::Ready(checkpoint, incident) => (*checkpoint, *incident),
            };
            // Only a stepless state or a decided approval may be passed on the way.
            let passing = at != Some(wanted);
            if passing && !matches!(at, None | Some(StepKind::Approval)) {
                return Err(Error::InvalidTransition {
                    from: checkpoint.state.to_string(),
                    to: format!("step '{wanted}'"),
                    reason: Some(format!(
                        "the workflow is at step '{}', not '{wanted}'",
                        at.map_or("none", |s| s.as_str())
                    )),
                });
            }
            let span = tracing::info_span!(
                "workflow_step",
                step = at.map_or("none", |s| s.as_str()),
                state = %checkpoint.state,
            );
            match self
                .run_step(at, checkpoint, incident)
                .instrument(span.clone())
                .await?
            {
                StepResult::Outcome(checkpoint, outcome) => {
                    let cp = self
                        .transition(*checkpoint, outcome.clone())
                        .instrument(span)
                        .await?;
                    if !passing {
                        return Ok(StepReport::done(wanted, outcome, cp.state));
                    }
                }
                StepResult::Wait(progress) => {
                    if passing {
                        return Err(Error::InvalidTransition {
                            from: IncidentStatus::AwaitingApproval.to_string(),
                            to: format!("step '{wanted}'"),
                            reason: Some("the approval is still pending".to_string()),
                        });
                    }
                    return Ok(StepReport {
                        step: wanted,
                        outcome: None,
                        state: IncidentStatus::AwaitingApproval,
                        progress: Some(progress),
                    });
                }
                StepResult::Reload => {}
            }
        }
    }

    /// The incidents whose workflow a restarted process must advance: every unfinished
    /// checkpoint, and every incident still in a workflow status whose checkpoint ended (the
    /// process stopped between the final checkpoint and the incident's status update).
    pub async fn needing_resume(&self) -> Result<Vec<IncidentId>> {
        let mut ids: std::collections::BTreeSet<IncidentId> = self
            .store
            .unfinished_checkpoints()
            .await?
            .iter()
            .map(|c| c.incident_id)
            .collect();
        for status in IncidentStatus::ALL.iter().filter(|s| !s.is_terminal()) {
            for incident in
                crate::store::incidents_with_status(self.store.as_ref(), *status).await?
            {
                let checkpoint = self.store.get_checkpoint(incident.id).await?;
                if checkpoint.is_some_and(|c| c.is_finished()) {
                    ids.insert(incident.id);
                }
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// Advances every workflow that has not ended (after a restart, or periodically to
    /// notice approval decisions and expiries). A workflow that cannot be advanced now
    /// (e.g. the store failed) is logged and left for the next call.
    pub async fn resume_unfinished(&self) -> Result<Vec<(IncidentId, Progress)>> {
        let ids = self.needing_resume().await?;
        let mut progress = Vec::with_capacity(ids.len());
        for id in ids {
            match self.advance(id).await {
                Ok(p) => progress.push((id, p)),
                Err(error) => tracing::error!(
                    incident_id = %id,
                    %error,
                    "could not resume the workflow; it stays unfinished"
                ),
            }
        }
        Ok(progress)
    }

    fn lock_for(&self, incident_id: IncidentId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(incident_id).or_default().clone()
    }

    fn release(&self, incident_id: IncidentId, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map and this caller hold it: nobody else is waiting.
        if Arc::strong_count(&lock) <= 2 {
            locks.remove(&incident_id);
        }
    }

    async fn advance_locked(&self, incident_id: IncidentId) -> Result<Progress> {
        loop {
            let checkpoint = self.checkpoint(incident_id).await?;
            let (checkpoint, incident) = match self.reconcile(checkpoint).await? {
                Boundary::Ended(status) => return Ok(Progress::Finished(status)),
                Boundary::Ready(checkpoint, incident) => (*checkpoint, *incident),
            };

            let step = self.definition.step_for(checkpoint.state);
            let span = tracing::info_span!(
                "workflow_step",
                step = step.map_or("none", |s| s.as_str()),
                state = %checkpoint.state,
            );
            let result = self
                .run_step(step, checkpoint, incident)
                .instrument(span.clone())
                .await?;
            match result {
                StepResult::Outcome(checkpoint, outcome) => {
                    self.transition(*checkpoint, outcome)
                        .instrument(span)
                        .await?;
                }
                StepResult::Wait(progress) => return Ok(progress),
                StepResult::Reload => {}
            }
        }
    }

    /// The incident's checkpoint; `NotFound` if its workflow was not started.
    async fn checkpoint(&self, incident_id: IncidentId) -> Result<WorkflowCheckpoint> {
        self.store
            .get_checkpoint(incident_id)
            .await?
            .ok_or_else(|| Error::not_found("workflow checkpoint", incident_id))
    }

    /// Brings the incident and its checkpoint into agreement at a step boundary: an ended
    /// workflow catches the incident up (the runner may have stopped between the checkpoint
    /// and the incident update); an incident ended by hand ends the workflow; an incident
    /// behind its checkpoint is caught up. Otherwise the step at the checkpoint may run.
    async fn reconcile(&self, checkpoint: WorkflowCheckpoint) -> Result<Boundary> {
        let incident_id = checkpoint.incident_id;
        if checkpoint.is_finished() || self.definition.is_terminal(checkpoint.state) {
            self.catch_up_status(
                incident_id,
                checkpoint.state,
                checkpoint.data.escalation_reason.as_deref(),
            )
            .await?;
            return Ok(Boundary::Ended(checkpoint.state));
        }
        let incident = self.store.get_incident(incident_id).await?;
        if incident.status.is_terminal() {
            return Ok(Boundary::Ended(
                self.stop_by_hand(checkpoint, &incident).await?,
            ));
        }
        if incident.status != checkpoint.state {
            self.catch_up_status(incident_id, checkpoint.state, None)
                .await?;
        }
        Ok(Boundary::Ready(Box::new(checkpoint), Box::new(incident)))
    }

    async fn run_step(
        &self,
        step: Option<StepKind>,
        checkpoint: WorkflowCheckpoint,
        incident: Incident,
    ) -> Result<StepResult> {
        match step {
            None => Ok(StepResult::Outcome(Box::new(checkpoint), StepOutcome::Pass)),
            Some(StepKind::Triage) => self.triage(checkpoint, incident).await,
            Some(StepKind::Investigate) => self.investigate(checkpoint, incident).await,
            Some(StepKind::Plan) => self.plan(checkpoint, incident).await,
            Some(StepKind::Approval) => self.approval(checkpoint, incident).await,
            Some(StepKind::Execute) => self.execute(checkpoint, incident).await,
            Some(StepKind::Verify) => self.verify(checkpoint, incident).await,
        }
    }

    async fn triage(&self, mut cp: WorkflowCheckpoint, incident: Incident) -> Result<StepResult> {
        let step = StepKind::Triage;
        let actor = self.steps.actor(step);
        let context = context(&cp, incident);
        let result = self
            .steps
            .triage(&context)
            .await
            .and_then(|a| a.validate().map(|()| a));
        let outcome = match result {
            Ok(assessment) => {
                self.record(
                    cp.incident_id,
                    actor,
                    TimelineKind::Triage,
                    format!(
                        "severity {}, urgency {}/10, route: {}",
                        assessment.severity, assessment.urgency, assessment.route
                    ),
                    to_json(&assessment),
                )
                .await?;
                if assessment.route == Route::Escalate {
                    cp.data.escalation_reason = Some(format!(
                        "triage routed the incident to humans: {}",
                        assessment.reasoning
                    ));
                }
                let outcome = StepOutcome::Triaged {
                    route: assessment.route,
                };
                cp.data.triage = Some(assessment);
                outcome
            }
            Err(error) => self.step_failed(&mut cp, step, actor, &error).await?,
        };
        Ok(StepResult::Outcome(Box::new(cp), outcome))
    }

    async fn investigate(
        &self,
        mut cp: WorkflowCheckpoint,
        incident: Incident,
    ) -> Result<StepResult> {
        let step = StepKind::Investigate;
        let actor = self.steps.actor(step);
        let context = context(&cp, incident);
        let result = self
            .steps
            .investigate(&context)
            .await
            .and_then(|f| f.validate().map(|()| f));
        let outcome = match result {
            Ok(finding) => {
                let summary = match finding.top() {
                    Some(top) => format!(
                        "most likely {} at '{}' (confidence {:.2}); {} candidate(s)",
                        top.fault,
                        top.service,
                        top.confidence,
                        finding.candidates.len()
                    ),
                    None => "no root-cause candidate found".to_string(),
                };
                self.record(
                    cp.incident_id,
                    actor,
                    TimelineKind::Finding,
                    summary,
                    to_json(&finding),
                )
                .await?;
                cp.data.finding = Some(finding);
                StepOutcome::Investigated
            }
            Err(error) => self.step_failed(&mut cp, step, actor, &error).await?,
        };
        Ok(StepResult::Outcome(Box::new(cp), outcome))
    }

    async fn plan(&self, mut cp: WorkflowCheckpoint, incident: Incident) -> Result<StepResult> {
        let step = StepKind::Plan;
        let actor = self.steps.actor(step);
        let incident_id = cp.incident_id;
        let context = context(&cp, incident);
        let result = self.steps.plan(&context).await.and_then(|plan| {
            if plan.incident_id != incident_id {
                return Err(Error::invalid(
                    "incident_id",
                    format!(
                        "the plan is for incident '{}', not '{incident_id}'",
                        plan.incident_id
                    ),
                ));
            }
            plan.validate().map(|()| plan)
        });
        let outcome = match result {
            Ok(plan) => {
                let needs_approval =
                    !plan.actions.is_empty() && self.steps.requires_approval(&plan);
                let summary = match plan.max_risk() {
                    None => "no actions proposed".to_string(),
                    Some(risk) => format!(
                        "{} action(s), highest risk {risk}; {}",
                        plan.actions.len(),
                        if needs_approval {
                            "needs human approval"
                        } else {
                            "runs without approval"
                        }
                    ),
                };
                self.record(
                    incident_id,
                    actor,
                    TimelineKind::Plan,
                    summary,
                    json!({ "plan": to_json(&plan), "needs_approval": needs_approval }),
                )
                .await?;
                if plan.actions.is_empty() {
                    cp.data.escalation_reason = Some(format!(
                        "the remediation plan has no actions: {}",
                        plan.rationale
                    ));
                }
                let outcome = StepOutcome::Planned {
                    actions: plan.actions.len(),
                    needs_approval,
                };
                cp.data.plan = Some(plan);
                cp.data.needs_approval = Some(needs_approval);
                outcome
            }
            Err(error) => self.step_failed(&mut cp, step, actor, &error).await?,
        };
        Ok(StepResult::Outcome(Box::new(cp), outcome))
    }

    async fn approval(&self, mut cp: WorkflowCheckpoint, incident: Incident) -> Result<StepResult> {
        let step = StepKind::Approval;
        let actor = self.steps.actor(step);
        let incident_id = cp.incident_id;
        let Some(plan) = cp.data.plan.clone() else {
            let error = Error::invalid("plan", "there is no plan to approve");
            let outcome = self.step_failed(&mut cp, step, actor, &error).await?;
            return Ok(StepResult::Outcome(Box::new(cp), outcome));
        };

        // The id is stored before it is requested, so that a resumed runner finds it.
        let approval_id = match cp.data.approval_id {
            Some(id) => id,
            None => {
                let id = ApprovalId::new();
                cp.data.approval_id = Some(id);
                cp.updated_at = self.clock.now();
                cp = self.store.put_checkpoint(&cp).await?;
                id
            }
        };

        let approval = match self.gate.get(approval_id).await {
            Ok(approval) => approval,
            Err(Error::NotFound { .. }) => {
                let context = context(&cp, incident);
                let request = self.approval_request(approval_id, &context, &plan);
                self.record(
                    incident_id,
                    actor.clone(),
                    TimelineKind::ApprovalRequested,
                    request.summary.clone(),
                    json!({
                        "approval_id": approval_id,
                        "ttl_secs": self.approval_ttl.as_secs(),
                        "details": request.payload,
                    }),
                )
                .await?;
                match self.gate.request(request).await {
                    Ok(ticket) => {
                        tracing::info!(%approval_id, "approval requested");
                        if let Err(error) = self.steps.approval_requested(&context, &ticket).await {
                            tracing::warn!(%approval_id, %error, "could not announce the approval request");
                            self.record(
                                incident_id,
                                actor.clone(),
                                TimelineKind::Notification,
                                format!("could not announce approval request: {error}"),
                                json!({ "approval_id": approval_id, "error": error.to_string() }),
                            )
                            .await?;
                        }
                        ticket.approval
                    }
                    Err(Error::AlreadyExists { .. }) => self.gate.get(approval_id).await?,
                    Err(error) if error.is_retryable() => return Err(error),
                    Err(error) => {
                        let outcome = self.step_failed(&mut cp, step, actor, &error).await?;
                        return Ok(StepResult::Outcome(Box::new(cp), outcome));
                    }
                }
            }
            Err(error) => return Err(error),
        };

        let status = approval.status;
        if status == ApprovalStatus::Pending {
            return Ok(StepResult::Wait(Progress::AwaitingApproval { approval_id }));
        }
        let decider = match (&approval.decided_by, status) {
            (Some(who), ApprovalStatus::Approved | ApprovalStatus::Rejected) => {
                Actor::Human(who.clone())
            }
            _ => Actor::System,
        };
        let summary = match (status, &approval.comment) {
            (ApprovalStatus::Expired, _) => format!("approval expired at {}", approval.expires_at),
            (_, Some(comment)) if !comment.trim().is_empty() => {
                format!("approval {status} by {decider}: {comment}")
            }
            _ => format!("approval {status} by {decider}"),
        };
        self.record(
            incident_id,
            decider,
            TimelineKind::ApprovalDecided,
            summary.clone(),
            json!({
                "approval_id": approval_id,
                "status": status,
                "decided_by": approval.decided_by,
                "decided_at": approval.decided_at,
                "comment": approval.comment,
            }),
        )
        .await?;
        if matches!(status, ApprovalStatus::Rejected | ApprovalStatus::Expired) {
            cp.data.escalation_reason = Some(summary);
        }
        Ok(StepResult::Outcome(
            Box::new(cp),
            StepOutcome::Decided { status },
        ))
    }

    fn approval_request(
        &self,
        id: ApprovalId,
        context: &IncidentContext,
        plan: &RemediationPlan,
    ) -> ApprovalRequest {
        let risk = plan.max_risk().map_or("none", |r| r.as_str());
        ApprovalRequest {
            id,
            incident_id: context.incident.id,
            summary: format!(
                "Approve {} action(s) (highest risk {risk}) for incident '{}'",
                plan.actions.len(),
                context.incident.title
            ),
            payload: json!({
                "actions": to_json(&plan.actions),
                "rationale": plan.rationale,
                "max_risk": plan.max_risk(),
                "finding": context.finding.as_ref().map(|f| f.summary.clone()),
            }),
            requested_by: Actor::System,
            ttl: self.approval_ttl,
        }
    }

    async fn execute(&self, mut cp: WorkflowCheckpoint, incident: Incident) -> Result<StepResult> {
        let step = StepKind::Execute;
        let actor = self.steps.actor(step);
        let incident_id = cp.incident_id;
        let Some(plan) = cp.data.plan.clone() else {
            let error = Error::invalid("plan", "there is no plan to execute");
            let outcome = self.step_failed(&mut cp, step, actor, &error).await?;
            return Ok(StepResult::Outcome(Box::new(cp), outcome));
        };

        // A `Started` record means the runner stopped while executing: never run it again.
        let now = self.clock.now();
        let mut interrupted = Vec::new();
        for record in cp
            .data
            .actions
            .iter_mut()
            .filter(|r| r.state == ActionState::Started)
        {
            record.state = ActionState::Interrupted;
            record.finished_at = Some(now);
            record.detail =
                "execution was interrupted before its result was recorded; it is not run \
                             again, verification decides whether it took effect"
                    .to_string();
            interrupted.push(record.clone());
        }
        if !interrupted.is_empty() {
            cp.updated_at = now;
            cp = self.store.put_checkpoint(&cp).await?;
            for record in &interrupted {
                let action = plan.actions.iter().find(|a| a.id == record.action_id);
                tracing::warn!(action_id = %record.action_id, "action execution was interrupted");
                self.record(
                    incident_id,
                    actor.clone(),
                    TimelineKind::Action,
                    format!(
                        "{} interrupted; not run again",
                        describe_action(action, record)
                    ),
                    action_payload(action, record),
                )
                .await?;
            }
        }

        let mut context = context(&cp, incident);
        for action in &plan.actions {
            if cp
                .data
                .actions
                .iter()
                .any(|r| matches!(r.state, ActionState::Failed | ActionState::Interrupted))
            {
                break;
            }
            if cp.data.actions.iter().any(|r| r.action_id == action.id) {
                continue;
            }
            // A human may have taken the incident over meanwhile: then nothing more runs.
            let current = self.store.get_incident(incident_id).await?;
            if current.status.is_terminal() {
                return Ok(StepResult::Reload);
            }
            context.incident = current;

            cp.data.actions.push(ActionRecord {
                action_id: action.id,
                state: ActionState::Started,
                detail: String::new(),
                started_at: self.clock.now(),
                finished_at: None,
            });
            cp.updated_at = self.clock.now();
            cp = self.store.put_checkpoint(&cp).await?;

            let span = tracing::info_span!(
                "workflow_action",
                action_id = %action.id,
                catalogue_id = %action.catalogue_id,
                target = %action.target,
            );
            let result = self.steps.execute(&context, action).instrument(span).await;

            let finished_at = self.clock.now();
            let Some(record) = cp
                .data
                .actions
                .iter_mut()
                .find(|r| r.action_id == action.id)
            else {
                return Err(Error::invalid("actions", "the action record disappeared"));
            };
            match result {
                Ok(detail) => {
                    record.state = ActionState::Succeeded;
                    record.detail = detail;
                }
                Err(error) => {
                    tracing::warn!(action_id = %action.id, %error, "action failed");
                    record.state = ActionState::Failed;
                    record.detail = error.to_string();
                }
            }
            record.finished_at = Some(finished_at);
            let record = record.clone();
            cp.updated_at = finished_at;
            cp = self.store.put_checkpoint(&cp).await?;
            let summary = match record.state {
                ActionState::Succeeded => {
                    format!("{} succeeded", describe_action(Some(action), &record))
                }
                _ => format!(
                    "{} failed: {}",
                    describe_action(Some(action), &record),
                    record.detail
                ),
            };
            self.record(
                incident_id,
                actor.clone(),
                TimelineKind::Action,
                summary,
                action_payload(Some(action), &record),
            )
            .await?;
        }

        let count =
            |state: ActionState| cp.data.actions.iter().filter(|r| r.state == state).count();
        let outcome = StepOutcome::Executed {
            succeeded: count(ActionState::Succeeded),
            failed: count(ActionState::Failed),
            interrupted: count(ActionState::Interrupted),
        };
        if let Some(failed) = cp
            .data
            .actions
            .iter()
            .find(|r| r.state == ActionState::Failed)
        {
            let action = plan.actions.iter().find(|a| a.id == failed.action_id);
            cp.data.escalation_reason = Some(format!(
                "{} failed: {}",
                describe_action(action, failed),
                failed.detail
            ));
        }
        Ok(StepResult::Outcome(Box::new(cp), outcome))
    }

    async fn verify(&self, mut cp: WorkflowCheckpoint, incident: Incident) -> Result<StepResult> {
        let step = StepKind::Verify;
        let actor = self.steps.actor(step);
        let context = context(&cp, incident);
        let outcome = match self.steps.verify(&context, &cp.data.actions).await {
            Ok(report) => {
                let summary = format!("{}: {}", report.verdict(), report.summary);
                self.record(
                    cp.incident_id,
                    actor,
                    TimelineKind::Verification,
                    summary,
                    to_json(&report),
                )
                .await?;
                if !report.resolved {
                    cp.data.escalation_reason = Some(format!(
                        "verification found the problem persists: {}",
                        report.summary
                    ));
                }
                let outcome = StepOutcome::Verified {
                    resolved: report.resolved,
                };
                cp.data.verification = Some(report);
                outcome
            }
            Err(error) => self.step_failed(&mut cp, step, actor, &error).await?,
        };
        Ok(StepResult::Outcome(Box::new(cp), outcome))
    }

    /// Records a step's failure on the timeline and turns it into the outcome that escalates.
    async fn step_failed(
        &self,
        cp: &mut WorkflowCheckpoint,
        step: StepKind,
        actor: Actor,
        error: &Error,
    ) -> Result<StepOutcome> {
        tracing::warn!(%step, %error, "workflow step failed");
        let message = error.to_string();
        self.record(
            cp.incident_id,
            actor,
            TimelineKind::Error,
            format!("step '{step}' failed: {message}"),
            json!({
                "step": step,
                "error": message,
                "retryable": error.is_retryable(),
            }),
        )
        .await?;
        cp.data.escalation_reason = Some(format!("step '{step}' failed: {message}"));
        Ok(StepOutcome::Failed { step, message })
    }

    /// Takes the transition `outcome` selects: checkpoint first, then the incident's status.
    async fn transition(
        &self,
        mut cp: WorkflowCheckpoint,
        outcome: StepOutcome,
    ) -> Result<WorkflowCheckpoint> {
        let from = cp.state;
        let to = match self.definition.next(from, &outcome) {
            Ok(to) => to,
            Err(error) => {
                // The definition has no way on for this outcome: hand the incident to humans
                // rather than leave it stuck, and say why.
                tracing::error!(%from, %error, "no transition for the step's outcome; escalating");
                self.record(
                    cp.incident_id,
                    Actor::System,
                    TimelineKind::Error,
                    format!("no transition from '{from}': {error}"),
                    json!({ "state": from, "outcome": to_json(&outcome), "error": error.to_string() }),
                )
                .await?;
                cp.data.escalation_reason = Some(error.to_string());
                MANUAL_ESCALATION_TARGET
            }
        };
        if to == IncidentStatus::Escalated && cp.data.escalation_reason.is_none() {
            cp.data.escalation_reason = Some(format!("escalated from '{from}'"));
        }
        let now = self.clock.now();
        cp.data.last_outcome = Some(outcome);
        cp.state = to;
        cp.steps_completed = cp.steps_completed.saturating_add(1);
        cp.updated_at = now;
        let cp = self.store.put_checkpoint(&cp).await?;
        tracing::info!(%from, %to, "workflow transition");
        let reason = if to == IncidentStatus::Escalated {
            cp.data.escalation_reason.as_deref()
        } else {
            None
        };
        self.sync_status(cp.incident_id, to, reason).await?;
        Ok(cp)
    }

    /// The incident was set to a terminal status by hand: end the workflow there.
    async fn stop_by_hand(
        &self,
        mut cp: WorkflowCheckpoint,
        incident: &Incident,
    ) -> Result<IncidentStatus> {
        let from = cp.state;
        let to = incident.status;
        if to == IncidentStatus::Escalated && cp.data.escalation_reason.is_none() {
            cp.data.escalation_reason = Some(format!(
                "escalated by hand while the workflow was in '{from}'"
            ));
        }
        cp.state = to;
        cp.updated_at = self.clock.now();
        let cp = self.store.put_checkpoint(&cp).await?;
        tracing::info!(%from, %to, "workflow stopped: the incident was ended by hand");
        self.record(
            cp.incident_id,
            Actor::System,
            TimelineKind::Decision,
            format!("workflow stopped in '{from}': the incident was set to '{to}' by hand"),
            json!({ "from": from, "to": to }),
        )
        .await?;
        Ok(to)
    }

    /// Moves the incident to `to` unless it is there already or was ended by hand,
    /// re-reading and retrying when someone else updated it first.
    async fn sync_status(
        &self,
        incident_id: IncidentId,
        to: IncidentStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let incident = self.store.get_incident(incident_id).await?;
        if incident.status == to || incident.status.is_terminal() {
            return Ok(());
        }
        self.move_incident(incident, to, reason, true).await
    }

    /// [`Self::sync_status`] for an incident found behind its checkpoint: the runner stopped
    /// between the checkpoint and the incident update, perhaps after recording the status
    /// change (it records, then updates), so the change is recorded only if it was not.
    async fn catch_up_status(
        &self,
        incident_id: IncidentId,
        to: IncidentStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let incident = self.store.get_incident(incident_id).await?;
        if incident.status == to || incident.status.is_terminal() {
            return Ok(());
        }
        let recorded = self
            .last_status_change(incident_id)
            .await?
            .is_some_and(|e| {
                e.payload["from"] == json!(incident.status) && e.payload["to"] == json!(to)
            });
        self.move_incident(incident, to, reason, !recorded).await
    }

    /// The latest `status_changed` entry on the incident's timeline.
    async fn last_status_change(&self, incident_id: IncidentId) -> Result<Option<TimelineEntry>> {
        const PAGE: usize = 500;
        let mut last = None;
        let mut after = 0;
        loop {
            let page = self.store.timeline(incident_id, after, PAGE).await?;
            let Some(end) = page.last() else {
                return Ok(last);
            };
            after = end.seq;
            let full = page.len() == PAGE;
            if let Some(entry) = page
                .into_iter()
                .rev()
                .find(|e| e.kind == TimelineKind::StatusChanged)
            {
                last = Some(entry);
            }
            if !full {
                return Ok(last);
            }
        }
    }

    /// Records the incident's move to `to` (when `record`) and stores it.
    async fn move_incident(
        &self,
        mut incident: Incident,
        to: IncidentStatus,
        reason: Option<&str>,
        record: bool,
    ) -> Result<()> {
        let incident_id = incident.id;
        let from = incident.status;
        if record {
            self.record(
                incident_id,
                Actor::System,
                TimelineKind::StatusChanged,
                match reason {
                    Some(reason) => format!("{from} → {to}: {reason}"),
                    None => format!("{from} → {to}"),
                },
                json!({ "from": from, "to": to, "reason": reason }),
            )
            .await?;
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let updated = incident.clone().with_status(to, self.clock.now());
            match self.store.update_incident(&updated).await {
                Ok(_) => return Ok(()),
                Err(conflict @ Error::Conflict { .. }) => {
                    if attempts >= MAX_INCIDENT_UPDATE_ATTEMPTS {
                        return Err(conflict);
                    }
                    incident = self.store.get_incident(incident_id).await?;
                    if incident.status == to || incident.status.is_terminal() {
                        return Ok(());
                    }
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn record(
        &self,
        incident_id: IncidentId,
        actor: Actor,
        kind: TimelineKind,
        summary: impl Into<String>,
        payload: Value,
    ) -> Result<()> {
        let entry = TimelineEntry::new(incident_id, self.clock.now(), actor, kind, summary)
            .with_payload(payload);
        self.store.append_timeline(&entry).await.map(|_| ())
    }
}

fn context(cp: &WorkflowCheckpoint, incident: Incident) -> IncidentContext {
    IncidentContext {
        incident,
        triage: cp.data.triage.clone(),
        finding: cp.data.finding.clone(),
        plan: cp.data.plan.clone(),
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| json!({ "unserialisable": e.to_string() }))
}

fn describe_action(action: Option<&RemediationAction>, record: &ActionRecord) -> String {
    match action {
        Some(a) => format!("action {} on '{}' ({})", a.catalogue_id, a.target, a.id),
        None => format!("action {}", record.action_id),
    }
}

fn action_payload(action: Option<&RemediationAction>, record: &ActionRecord) -> Value {
    json!({
        "action_id": record.action_id,
        "catalogue_id": action.map(|a| a.catalogue_id.clone()),
        "target": action.map(|a| a.target.clone()),
        "parameters": action.map(|a| a.parameters.clone()),
        "risk": action.map(|a| a.risk),
        "state": record.state,
        "detail": record.detail,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
    })
}
