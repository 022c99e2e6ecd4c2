//! The workflow's steps for the local system: the agents (recording every thought, tool
//! call and observation on the timeline as it happens), the environment's action executor,
//! verification against telemetry after a settling window, and notifications.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use itops_agents::responders::Responders;
use itops_agents::verify::Verifier;
use itops_core::engine::{StepHook, TimelineHook};
use itops_core::environment::ActionExecutor;
use itops_core::workflow::{ActionRecord, StepKind, VerificationReport, WorkflowSteps};
use itops_core::{
    Actor, Agent, ApprovalTicket, Clock, IncidentContext, RemediationAction, RemediationPlan,
    Result, RootCauseFinding, RunContext, Severity, StateStore, TelemetrySource, TriageAssessment,
};
use itops_sim::LiveSim;

use super::metrics::Metrics;
use super::notify::{Notice, Notifier};

/// How a fix is given time to settle before verification.
#[derive(Clone)]
pub enum Settle {
    /// Simulated time: run the simulator forward.
    Simulated(Arc<LiveSim>),
    /// Real time: wait.
    Wait,
}

/// The local system's [`WorkflowSteps`].
pub struct AgentSteps {
    /// The agents in the three roles (each step runs whatever agent fills its role).
    pub responders: Responders,
    /// Where timelines are written.
    pub store: Arc<dyn StateStore>,
    /// The clock (the simulator's in simulator mode).
    pub clock: Arc<dyn Clock>,
    /// What runs actions.
    pub executor: Arc<dyn ActionExecutor>,
    /// What verification reads.
    pub telemetry: Arc<dyn TelemetrySource>,
    /// How fixes settle.
    pub settle: Settle,
    /// How long they settle.
    pub settle_for: Duration,
    /// Where notices go.
    pub notifier: Notifier,
    /// Whether triage notifies people of high and critical incidents itself (locally), or
    /// leaves it to the orchestrator (the state machine's severity choice).
    pub notify_at_triage: bool,
    /// Whether notices are sent in the background (a long-running server) or before the
    /// step returns (a Lambda function, which may be frozen as soon as it answers).
    pub notices_in_background: bool,
    /// The server's public URL, for approval links.
    pub public_url: String,
    /// Agent and step metrics.
    pub metrics: Metrics,
}

impl AgentSteps {
    /// Sends a notice, in the background when the process outlives the step.
    async fn send(&self, incident: itops_core::Incident, notice: Notice) {
        let notifier = self.notifier.clone();
        if self.notices_in_background {
            tokio::spawn(async move { notifier.notify(&incident, notice).await });
        } else {
            notifier.notify(&incident, notice).await;
        }
    }

    /// A step's run: every step on the incident's timeline and in the agent metrics, on
    /// the workflow's clock.
    fn run(&self, context: &IncidentContext, step: StepKind) -> RunContext {
        let hooks: [Arc<dyn StepHook>; 2] = [
            Arc::new(TimelineHook::new(
                self.store.clone(),
                self.clock.clone(),
                context.incident.id,
                self.actor(step),
            )),
            Arc::new(self.metrics.agent_hook(self.responders.model_name())),
        ];
        RunContext::new(self.clock.clone()).with_hooks(hooks)
    }

    /// When the incident was detected, if the telemetry covers that moment (otherwise the
    /// agents infer it from the data, e.g. for a bundle recorded earlier). A live source
    /// without fixed bounds (CloudWatch) covers it.
    async fn detected_at(&self, context: &IncidentContext) -> Result<Option<DateTime<Utc>>> {
        let at = context.incident.created_at;
        Ok(match self.telemetry.time_bounds().await? {
            None => Some(at),
            Some(range) => {
                (range.start <= at && at <= range.end + chrono::Duration::minutes(5)).then_some(at)
            }
        })
    }
}

#[async_trait]
impl WorkflowSteps for AgentSteps {
    async fn triage(&self, context: &IncidentContext) -> Result<TriageAssessment> {
        let _timer = self.metrics.step_timer("triage");
        let run = self.run(context, StepKind::Triage);
        let assessment = self
            .responders
            .triage()
            .run(context, &run)
            .await?
            .assessment;
        if self.notify_at_triage && assessment.severity.rank() >= Severity::High.rank() {
            // People hear of a bad incident now, not when the agents are done.
            let mut incident = context.incident.clone();
            incident.severity = assessment.severity;
            let notice = Notice::Triaged {
                urgency: assessment.urgency,
                reasoning: assessment.reasoning.clone(),
            };
            self.send(incident, notice).await;
        }
        Ok(assessment)
    }

    async fn investigate(&self, context: &IncidentContext) -> Result<RootCauseFinding> {
        let _timer = self.metrics.step_timer("root_cause");
        let at = self.detected_at(context).await?;
        let run = self
            .run(context, StepKind::Investigate)
            .with_detected_at(at);
        Ok(self
            .responders
            .root_cause()
            .run(context, &run)
            .await?
            .finding)
    }

    async fn plan(&self, context: &IncidentContext) -> Result<RemediationPlan> {
        let _timer = self.metrics.step_timer("remediation");
        let run = self.run(context, StepKind::Plan);
        Ok(self.responders.remediation().run(context, &run).await?.plan)
    }

    fn requires_approval(&self, plan: &RemediationPlan) -> bool {
        self.responders.policy().requires_approval(plan)
    }

    async fn execute(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
    ) -> Result<String> {
        let _timer = self.metrics.step_timer("execute");
        self.executor
            .execute(action)
            .await?
            .into_applied(context.incident.id)
    }

    async fn verify(
        &self,
        context: &IncidentContext,
        actions: &[ActionRecord],
    ) -> Result<VerificationReport> {
        let _timer = self.metrics.step_timer("verify");
        let fixed_at = actions
            .iter()
            .filter_map(|a| a.finished_at)
            .max()
            .unwrap_or_else(|| self.clock.now());
        let settled_at = fixed_at
            + chrono::Duration::from_std(self.settle_for).unwrap_or(chrono::Duration::zero());
        match &self.settle {
            Settle::Simulated(live) => {
                // Reports raised meanwhile are about this incident's fault: already handled.
                live.advance_to(settled_at)?;
            }
            Settle::Wait => {
                let now = self.clock.now();
                if settled_at > now {
                    let wait = (settled_at - now).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait).await;
                }
            }
        }
        // Judged by the incident's symptoms, knowing the fault found and the actions run (a
        // restart for a leak only mitigates it).
        Verifier::new(self.telemetry.clone())
            .verify_incident(context, actions, fixed_at, self.clock.now())
            .await
    }

    /// The agent in the step's role, for the agents' steps.
    fn actor(&self, step: StepKind) -> Actor {
        self.responders.actor(step)
    }

    async fn approval_requested(
        &self,
        context: &IncidentContext,
        ticket: &ApprovalTicket,
    ) -> Result<()> {
        let link = format!(
            "{}/#/approvals/{}?token={}",
            self.public_url.trim_end_matches('/'),
            ticket.approval.id,
            ticket.token.expose()
        );
        let incident = context.incident.clone();
        let notice = Notice::ApprovalRequested {
            link,
            summary: ticket.approval.summary.clone(),
            expires_at: ticket.approval.expires_at,
        };
        // Delivery retries with backoff; the workflow waits for the human, not the webhook.
        self.send(incident, notice).await;
        Ok(())
    }
}
