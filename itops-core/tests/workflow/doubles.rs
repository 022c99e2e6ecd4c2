//! Test doubles: scripted workflow steps that count their calls, and a store that
//! simulates a human editing the incident at the worst moment.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use itops_core::approval::ApprovalTicket;
use itops_core::domain::{
    ActionPhase, FaultKind, RemediationAction, RemediationPlan, RiskLevel, RootCauseCandidate,
    RootCauseFinding, Route, Severity, TriageAssessment,
};
use itops_core::store::{MemoryStore, Observed, StoreObserver, Write};
use itops_core::workflow::{ActionRecord, StepKind, VerificationReport, WorkflowSteps};
use itops_core::{ActionId, Error, IncidentContext, IncidentId, IncidentStore, Result};
use tokio::sync::mpsc::UnboundedSender;

/// Calls into one step: how many began, how many returned.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    pub(crate) calls: AtomicUsize,
    pub(crate) completed: AtomicUsize,
}

impl Counter {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }
}

/// Counters shared by every `TestSteps` of a test (so they add up across runners).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) triage: Counter,
    pub(crate) investigate: Counter,
    pub(crate) plan: Counter,
    pub(crate) execute: Counter,
    pub(crate) verify: Counter,
    pub(crate) notify: Counter,
    pub(crate) per_action: Mutex<HashMap<ActionId, usize>>,
}

impl Counts {
    pub(crate) fn step(&self, step: StepKind) -> &Counter {
        match step {
            StepKind::Triage => &self.triage,
            StepKind::Investigate => &self.investigate,
            StepKind::Plan => &self.plan,
            StepKind::Execute => &self.execute,
            StepKind::Verify => &self.verify,
            StepKind::Approval => &self.notify,
        }
    }

    pub(crate) fn executions_of(&self, action: ActionId) -> usize {
        self.per_action
            .lock()
            .unwrap()
            .get(&action)
            .copied()
            .unwrap_or(0)
    }
}

/// What the doubles produce.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    pub(crate) route: Route,
    pub(crate) actions: usize,
    pub(crate) needs_approval: bool,
    pub(crate) resolved: bool,
    /// This step returns an error.
    pub(crate) fail: Option<StepKind>,
    /// The action at this plan position fails.
    pub(crate) fail_action: Option<usize>,
    /// Triage returns an out-of-bounds urgency.
    pub(crate) invalid_triage: bool,
    /// The plan names another incident.
    pub(crate) foreign_plan: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            route: Route::Investigate,
            actions: 2,
            needs_approval: false,
            resolved: true,
            fail: None,
            fail_action: None,
            invalid_triage: false,
            foreign_plan: false,
        }
    }
}

/// Where a double blocks forever (after signalling that it got there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hang {
    /// On its first call of this step.
    Step(StepKind),
    /// While executing the action at this plan position.
    Action(usize),
    /// While announcing the approval request.
    Notify,
}

/// Scripted `WorkflowSteps`.
pub(crate) struct TestSteps {
    script: Script,
    counts: Arc<Counts>,
    hang: Option<(Hang, UnboundedSender<Hang>)>,
}

impl TestSteps {
    pub(crate) fn new(script: Script, counts: Arc<Counts>) -> Self {
        Self {
            script,
            counts,
            hang: None,
        }
    }

    pub(crate) fn hanging(mut self, hang: Hang, signal: UnboundedSender<Hang>) -> Self {
        self.hang = Some((hang, signal));
        self
    }

    async fn maybe_hang(&self, at: Hang) {
        if let Some((hang, signal)) = &self.hang {
            if *hang == at {
                let _ = signal.send(at);
                std::future::pending::<()>().await;
            }
        }
    }

    /// Counts the call, hangs or fails as scripted.
    async fn enter(&self, step: StepKind) -> Result<()> {
        self.counts.step(step).calls.fetch_add(1, Ordering::SeqCst);
        self.maybe_hang(Hang::Step(step)).await;
        if self.script.fail == Some(step) {
            self.done(step);
            return Err(Error::Step {
                step: step.to_string(),
                incident: String::new(),
                message: format!("{step} double failed on purpose"),
            });
        }
        Ok(())
    }

    fn done(&self, step: StepKind) {
        self.counts
            .step(step)
            .completed
            .fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl WorkflowSteps for TestSteps {
    async fn triage(&self, _context: &IncidentContext) -> Result<TriageAssessment> {
        self.enter(StepKind::Triage).await?;
        self.done(StepKind::Triage);
        Ok(TriageAssessment {
            severity: Severity::High,
            urgency: if self.script.invalid_triage { 0 } else { 7 },
            route: self.script.route,
            reasoning: "checkout p99 latency is 20x baseline".into(),
            next_steps: vec!["investigate checkout".into()],
        })
    }

    async fn investigate(&self, _context: &IncidentContext) -> Result<RootCauseFinding> {
        self.enter(StepKind::Investigate).await?;
        self.done(StepKind::Investigate);
        Ok(RootCauseFinding {
            candidates: vec![RootCauseCandidate {
                service: "checkout".into(),
                fault: FaultKind::ConnectionPoolExhaustion,
                confidence: 0.8,
                evidence: vec![],
            }],
            contributing_factors: vec![],
            summary: "the checkout connection pool is exhausted".into(),
        })
    }

    async fn plan(&self, context: &IncidentContext) -> Result<RemediationPlan> {
        self.enter(StepKind::Plan).await?;
        assert!(context.triage.is_some() && context.finding.is_some());
        self.done(StepKind::Plan);
        let incident_id = if self.script.foreign_plan {
            IncidentId::new()
        } else {
            context.incident.id
        };
        Ok(RemediationPlan {
            incident_id,
            actions: (0..self.script.actions)
                .map(|i| RemediationAction {
                    id: ActionId::new(),
                    catalogue_id: if i == 0 {
                        "restart_service"
                    } else {
                        "scale_service"
                    }
                    .into(),
                    target: "checkout".into(),
                    parameters: serde_json::Map::new(),
                    risk: RiskLevel::Medium,
                    reversible: true,
                    expected_effect: "latency back to baseline".into(),
                    phase: ActionPhase::Immediate,
                })
                .collect(),
            rationale: "free the pool".into(),
        })
    }

    fn requires_approval(&self, _plan: &RemediationPlan) -> bool {
        self.script.needs_approval
    }

    async fn execute(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
    ) -> Result<String> {
        self.counts.execute.calls.fetch_add(1, Ordering::SeqCst);
        *self
            .counts
            .per_action
            .lock()
            .unwrap()
            .entry(action.id)
            .or_default() += 1;
        let position = context
            .plan
            .as_ref()
            .and_then(|p| p.actions.iter().position(|a| a.id == action.id))
            .expect("the executed action is in the plan");
        self.maybe_hang(Hang::Action(position)).await;
        self.done(StepKind::Execute);
        if self.script.fail_action == Some(position) {
            return Err(Error::Tool {
                tool: action.catalogue_id.clone(),
                message: "permission denied".into(),
                retryable: false,
            });
        }
        Ok(format!("{} done on {}", action.catalogue_id, action.target))
    }

    async fn verify(
        &self,
        _context: &IncidentContext,
        actions: &[ActionRecord],
    ) -> Result<VerificationReport> {
        self.enter(StepKind::Verify).await?;
        self.done(StepKind::Verify);
        Ok(VerificationReport::new(
            self.script.resolved,
            format!("p99 checked after {} action(s)", actions.len()),
            serde_json::Value::Null,
        ))
    }

    async fn approval_requested(
        &self,
        _context: &IncidentContext,
        ticket: &ApprovalTicket,
    ) -> Result<()> {
        assert!(!ticket.token.expose().is_empty());
        self.counts.notify.calls.fetch_add(1, Ordering::SeqCst);
        self.maybe_hang(Hang::Notify).await;
        self.counts.notify.completed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Watches a store's incident updates: on the next `meddle` of them, first lets a "human"
/// change the incident's title, so that the caller's update conflicts; counts the conflicts.
pub(crate) struct Meddler {
    pub(crate) inner: Arc<MemoryStore>,
    pub(crate) meddle: AtomicUsize,
    pub(crate) conflicts: AtomicUsize,
}

/// A store whose incident updates a [`Meddler`] interferes with.
pub(crate) type MeddlingStore = Observed<MemoryStore, Meddler>;

#[async_trait]
impl StoreObserver for Meddler {
    async fn before(&self, write: Write<'_>) -> Result<()> {
        let Write::UpdateIncident(incident) = write else {
            return Ok(());
        };
        if self
            .meddle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let mut current = self.inner.get_incident(incident.id).await?;
            current.title = format!("{} (edited)", current.title);
            self.inner.update_incident(&current).await?;
        }
        Ok(())
    }

    fn refused(&self, write: Write<'_>, error: &Error) {
        if matches!(write, Write::UpdateIncident(_)) && matches!(error, Error::Conflict { .. }) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
    }
}
