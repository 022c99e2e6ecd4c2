//! The `Agent` trait: incident context in, a typed outcome out, run with what the caller
//! plugs in (a [`RunContext`]: step hooks, a deadline, the clock).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use crate::clock::{Clock, SystemClock};
use crate::domain::{Incident, RemediationPlan, RootCauseFinding, TriageAssessment};
use crate::engine::StepHook;
use crate::error::Result;

/// What an agent knows when it starts: the incident and what earlier agents concluded.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncidentContext {
    /// The incident.
    pub incident: Incident,
    /// The triage assessment, once triage ran.
    pub triage: Option<TriageAssessment>,
    /// The root-cause finding, once the investigation ran.
    pub finding: Option<RootCauseFinding>,
    /// The remediation plan, once planning ran.
    pub plan: Option<RemediationPlan>,
}

impl IncidentContext {
    /// Context with only the incident.
    pub fn new(incident: Incident) -> Self {
        Self {
            incident,
            triage: None,
            finding: None,
            plan: None,
        }
    }

    /// The services a fix should have healed: the finding's most likely origin, the plan's
    /// targets, then the services the incident names (duplicates possible). What
    /// verification checks.
    pub fn implicated_services(&self) -> Vec<String> {
        let mut services: Vec<String> = Vec::new();
        if let Some(finding) = &self.finding {
            services.extend(finding.top().map(|c| c.service.clone()));
        }
        if let Some(plan) = &self.plan {
            services.extend(plan.actions.iter().map(|a| a.target.clone()));
        }
        services.extend(self.incident.affected_services.iter().cloned());
        services
    }
}

/// What the caller of an agent plugs into one run: the [`StepHook`]s that see every step
/// (the incident's timeline, metrics, policy), a deadline, the clock, and when the incident
/// was detected. The workflow builds one per step; `RunContext::default()` is a bare run
/// (no hooks, no deadline, the wall clock).
#[derive(Clone)]
pub struct RunContext {
    hooks: Vec<Arc<dyn StepHook>>,
    clock: Arc<dyn Clock>,
    deadline: Option<Instant>,
    detected_at: Option<DateTime<Utc>>,
}

impl Default for RunContext {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("hooks", &self.hooks.len())
            .field("clock", &self.clock)
            .field("deadline", &self.deadline)
            .field("detected_at", &self.detected_at)
            .finish()
    }
}

impl RunContext {
    /// A run on `clock`, without hooks or deadline.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            hooks: Vec::new(),
            clock,
            deadline: None,
            detected_at: None,
        }
    }

    /// Adds `hooks` (after those already there); an agent passes them to every ReAct run.
    pub fn with_hooks(mut self, hooks: impl IntoIterator<Item = Arc<dyn StepHook>>) -> Self {
        self.hooks.extend(hooks);
        self
    }

    /// The run must end by `deadline` (an agent on the ReAct engine stops with
    /// [`StopReason::Deadline`](crate::engine::StopReason::Deadline) then, or earlier at its
    /// own bound).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// When the incident began or was detected, if the caller knows it (and the telemetry
    /// covers it); `None` leaves it for the agent to infer from the data.
    pub fn with_detected_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.detected_at = at;
        self
    }

    /// The hooks, in order.
    pub fn hooks(&self) -> &[Arc<dyn StepHook>] {
        &self.hooks
    }

    /// The clock (the simulator's in simulated runs).
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline (zero once it passed); `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// When the incident began or was detected, if known.
    pub fn detected_at(&self) -> Option<DateTime<Utc>> {
        self.detected_at
    }
}

/// An agent: takes the incident context, returns a typed outcome
/// (`TriageAssessment`, `RootCauseFinding`, `RemediationPlan`, or your own).
///
/// The trait is object safe: the workflow holds each of its roles as an
/// `Arc<dyn Agent<Outcome = …>>` and runs whatever agent fills it.
#[async_trait]
pub trait Agent: Send + Sync {
    /// The typed outcome.
    type Outcome: Serialize + DeserializeOwned + Send;

    /// A name for the timeline.
    fn name(&self) -> &str;

    /// Runs the agent on `context`; `run` carries the hooks that must see every step, the
    /// deadline and the clock.
    async fn run(&self, context: &IncidentContext, run: &RunContext) -> Result<Self::Outcome>;
}

#[async_trait]
impl<A: Agent + ?Sized> Agent for Arc<A> {
    type Outcome = A::Outcome;

    fn name(&self) -> &str {
        (**self).name()
    }

    async fn run(&self, context: &IncidentContext, run: &RunContext) -> Result<Self::Outcome> {
        (**self).run(context, run).await
    }
}
