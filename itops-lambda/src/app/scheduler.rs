//! Runs workflows in the background: many incidents at once up to a bound, one advance at a
//! time per incident, woken by a start, a decision or an expiry (approvals wait without
//! polling the workflow); announces and learns from the incidents that end.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use itops_agents::knowledge::learn_from_incident;
use itops_core::workflow::{LocalRunner, Progress, WorkflowCheckpoint};
use itops_core::{ApprovalGate, Clock, Error, IncidentId, IncidentStatus, Result, StateStore};
use tokio::sync::Semaphore;

use super::metrics::Metrics;
use super::notify::{Notice, Notifier};
use super::Orchestrator;

#[async_trait::async_trait]
impl Orchestrator for Workflows {
    async fn start(&self, incident_id: IncidentId) -> Result<WorkflowCheckpoint> {
        Workflows::start(self, incident_id).await
    }

    fn wake(&self, incident_id: IncidentId) {
        Workflows::wake(self, incident_id);
    }
}

/// How long to wait before retrying a workflow whose advance failed (e.g. the store was busy).
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// How often approvals are checked for expiry.
const EXPIRY_SWEEP: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Running {
    /// Incidents with a task advancing them.
    active: HashSet<IncidentId>,
    /// Incidents woken while their task ran: advance once more.
    again: HashSet<IncidentId>,
}

/// Announces an ended incident; a resolved one joins the knowledge base. Failures are
/// logged: the incident has ended either way.
pub(crate) async fn announce_end(
    store: &dyn StateStore,
    notifier: &Notifier,
    clock: &dyn Clock,
    incident_id: IncidentId,
    status: IncidentStatus,
) {
    let (incident, checkpoint) = match (
        store.get_incident(incident_id).await,
        store.get_checkpoint(incident_id).await,
    ) {
        (Ok(i), Ok(Some(c))) => (i, c),
        _ => return,
    };
    let notice = match status {
        IncidentStatus::Resolved => {
            if let Err(error) =
                learn_from_incident(store, &incident, &checkpoint, clock.now()).await
            {
                tracing::warn!(%incident_id, %error, "could not add the incident to the knowledge base");
            }
            Notice::Resolved {
                summary: checkpoint
                    .data
                    .verification
                    .as_ref()
                    .map_or_else(|| "resolved".to_string(), |v| v.summary.clone()),
            }
        }
        _ => Notice::Escalated {
            reason: checkpoint
                .data
                .escalation_reason
                .clone()
                .unwrap_or_else(|| "escalated".to_string()),
        },
    };
    notifier.notify(&incident, notice).await;
}

/// The background workflow scheduler (cheap to clone).
#[derive(Clone)]
pub(crate) struct Workflows {
    runner: LocalRunner,
    store: Arc<dyn StateStore>,
    gate: Arc<dyn ApprovalGate>,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
    metrics: Metrics,
    permits: Arc<Semaphore>,
    running: Arc<Mutex<Running>>,
}

impl std::fmt::Debug for Workflows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflows")
            .field("runner", &self.runner)
            .field("free_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl Workflows {
    /// A scheduler advancing at most `max_concurrent` workflows at once.
    pub(crate) fn new(
        runner: LocalRunner,
        store: Arc<dyn StateStore>,
        gate: Arc<dyn ApprovalGate>,
        clock: Arc<dyn Clock>,
        notifier: Notifier,
        metrics: Metrics,
        max_concurrent: usize,
    ) -> Self {
        Self {
            runner,
            store,
            gate,
            clock,
            notifier,
            metrics,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Arc::default(),
        }
    }

    /// Starts the incident's workflow (idempotent: a second start returns the running one)
    /// and advances it in the background.
    pub(crate) async fn start(&self, incident_id: IncidentId) -> Result<WorkflowCheckpoint> {
        let checkpoint = self.runner.start(incident_id).await?;
        self.wake(incident_id);
        Ok(checkpoint)
    }

    /// Advances the incident's workflow in the background (again, if it is advancing now).
    pub(crate) fn wake(&self, incident_id: IncidentId) {
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if !running.active.insert(incident_id) {
                running.again.insert(incident_id);
                return;
            }
        }
        let this = self.clone();
        tokio::spawn(async move { this.drive(incident_id).await });
    }

    async fn drive(&self, incident_id: IncidentId) {
        loop {
            let outcome = {
                let Ok(_permit) = self.permits.acquire().await else {
                    return;
                };
                self.metrics.workflows_running().inc();
                let outcome = self.advance_once(incident_id).await;
                self.metrics.workflows_running().dec();
                outcome
            };
            if let Err(error) = outcome {
                if matches!(error, Error::NotFound { .. }) {
                    tracing::info!(%incident_id, "workflow gone (incident deleted?)");
                } else {
                    tracing::error!(%incident_id, %error, "workflow could not advance; retrying");
                    let this = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(RETRY_AFTER).await;
                        this.wake(incident_id);
                    });
                }
            }
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if !running.again.remove(&incident_id) {
                running.active.remove(&incident_id);
                return;
            }
        }
    }

    async fn advance_once(&self, incident_id: IncidentId) -> Result<()> {
        let Some(checkpoint) = self.store.get_checkpoint(incident_id).await? else {
            return Ok(());
        };
        // An ended workflow has nothing left to do, unless the process died between its
        // final checkpoint and the incident's status update: the runner then catches the
        // incident up, and its end is announced (it never was).
        if checkpoint.is_finished()
            && self
                .store
                .get_incident(incident_id)
                .await?
                .status
                .is_terminal()
        {
            return Ok(());
        }
        if let Progress::Finished(status) = self.runner.advance(incident_id).await? {
            announce_end(
                self.store.as_ref(),
                &self.notifier,
                self.clock.as_ref(),
                incident_id,
                status,
            )
            .await;
        }
        Ok(())
    }

    /// Wakes every workflow that has not ended (after a restart): those with an unfinished
    /// checkpoint, and those whose final checkpoint was stored but whose incident a crash
    /// kept from following it (still in a workflow status).
    pub(crate) async fn resume_all(&self) -> Result<usize> {
        let resume = self.runner.needing_resume().await?;
        for incident_id in &resume {
            self.wake(*incident_id);
        }
        Ok(resume.len())
    }

    /// Expires approvals past their time (their workflows then escalate); returns how many.
    pub(crate) async fn expire_due(&self) -> Result<usize> {
        let expired = self.gate.expire_due().await?;
        for approval in &expired {
            self.wake(approval.incident_id);
        }
        Ok(expired.len())
    }

    /// Sweeps approval expiry in the background, forever.
    pub(crate) fn spawn_expiry_sweep(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_SWEEP);
            loop {
                tick.tick().await;
                if let Err(error) = this.expire_due().await {
                    tracing::warn!(%error, "approval expiry sweep failed");
                }
            }
        });
    }
}
