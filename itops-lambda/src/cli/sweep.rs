//! `itops sweep`: the verification sweep. Each fault kind the simulator can inject, on each
//! service it can start in, one at a time in a fresh live simulator: monitoring raises the
//! incident and the whole workflow runs as `itops serve` runs it (triage → root cause →
//! plan → execution with every approval granted → settling → verification). The simulator
//! knows whether the executed actions cured the fault; the sweep reports that against the
//! verdict (resolved, mitigated, escalated) as a confusion table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use itops_agents::knowledge::seed_knowledge;
use itops_agents::planner::OfflinePlanner;
use itops_core::incidents::open_incident;
use itops_core::store::MemoryStore;
use itops_core::workflow::{LocalRunner, Progress};
use itops_core::{
    Actor, ApprovalGate, Clock, Decision, DecisionAuth, FaultKind, IncidentStatus, Severity,
    StateStore, TelemetrySource, Verdict as ApprovalVerdict,
};
use itops_sim::{eligible_services, injectable_kinds, FaultSpec, LiveSim, SimConfig};
use serde::Serialize;

use crate::app::config::ServeConfig;
use crate::app::metrics::Metrics;
use crate::app::notify::Notifier;
use crate::app::responders_for;
use crate::app::steps::{AgentSteps, Settle};
use crate::cli::output::{json, print_out};
use crate::cli::telemetry::Format;
use crate::error::{Error, Result};

mod table;

pub(crate) use table::summarise;
use table::{text_of, SweepReport};

/// Arguments of `itops sweep`.
#[derive(Debug, clap::Args)]
pub(crate) struct SweepArgs {
    /// The simulator's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only these fault kinds (comma-separated; default: every injectable kind).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<FaultKind>,
    /// Only these services (comma-separated; default: every eligible one).
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// How hard each fault is, above 0 to 1 (the web UI's default is 0.8).
    #[arg(long, default_value_t = 0.8)]
    pub severity: f64,
    /// When each fault is injected (RFC 3339; the simulated day's traffic depends on the
    /// hour), after 90 minutes of simulated history.
    #[arg(long, default_value = "2026-03-02T10:00:00Z")]
    pub at: DateTime<Utc>,
    /// How many cases run at once.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How each case is run.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// The simulator's seed.
    pub seed: u64,
    /// The fault's severity.
    pub severity: f64,
    /// When the simulated system starts; the fault is injected after `history`.
    pub start: DateTime<Utc>,
    /// Simulated history before the fault (the server runs 90 minutes).
    pub history: Duration,
    /// Simulated time between the report and the workflow's start (people and agents
    /// are not instant).
    pub response: Duration,
    /// How long fixes settle before verification (the server's default: 5 minutes).
    pub settle: Duration,
}

impl SweepOptions {
    /// The server's settings with `seed` for a fault injected `at`: 90 minutes of history
    /// before it, severity 0.8, a minute before the workflow starts, five minutes of
    /// settling.
    pub fn new(seed: u64, at: DateTime<Utc>) -> Self {
        let history = Duration::from_secs(90 * 60);
        Self {
            seed,
            severity: 0.8,
            start: at - chrono::Duration::minutes(90),
            history,
            response: Duration::from_secs(60),
            settle: Duration::from_secs(5 * 60),
        }
    }
}

/// How a case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Verification found the symptoms gone.
    Resolved,
    /// Verification found the symptoms gone for now; a lasting fix is proposed.
    Mitigated,
    /// Verification found symptoms still there.
    EscalatedByVerification,
    /// Escalated before verification (no plan, a refused or failed action, triage).
    EscalatedBeforeVerification,
    /// Monitoring never reported the fault.
    NotReported,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Resolved,
        Outcome::Mitigated,
        Outcome::EscalatedByVerification,
        Outcome::EscalatedBeforeVerification,
        Outcome::NotReported,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Mitigated => "mitigated",
            Outcome::EscalatedByVerification => "escalated (verify)",
            Outcome::EscalatedBeforeVerification => "escalated (earlier)",
            Outcome::NotReported => "not reported",
        }
    }

    /// Whether the incident ended escalated.
    pub fn escalated(self) -> bool {
        matches!(
            self,
            Outcome::EscalatedByVerification | Outcome::EscalatedBeforeVerification
        )
    }
}

/// One fault injected and run through the workflow.
#[derive(Clone, Debug, Serialize)]
pub struct SweepCase {
    /// The injected fault's kind.
    pub kind: FaultKind,
    /// The service it was injected into.
    pub service: String,
    /// The services the incident named (what monitoring alerted on).
    pub affected: Vec<String>,
    /// The finding's top candidate (service and kind), when there was one.
    pub finding: Option<(String, FaultKind)>,
    /// The executed actions (`catalogue_id target`).
    pub actions: Vec<String>,
    /// Whether the executed actions cured the fault, by the simulator's ground truth (a
    /// traffic spike, never cured, counts when scaling out its root brought the root's
    /// true error rate back within a point and its p99 latency within twice its own).
    pub cured: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// Verification's summary, or why the incident was escalated.
    pub summary: String,
    /// The lasting fix verification proposed, when mitigated.
    pub follow_up: Option<String>,
    /// Verification's per-signal details, when it ran.
    pub details: serde_json::Value,
    /// Wall time of the case, in milliseconds.
    pub millis: u128,
}

/// Injects `kind` into `service` in a fresh live simulator and runs the workflow to its end.
pub async fn run_case(kind: FaultKind, service: &str, options: &SweepOptions) -> Result<SweepCase> {
    let started = Instant::now();
    let config = SimConfig::new(options.seed).start(options.start);
    let history = options.history;
    let live = tokio::task::spawn_blocking(move || LiveSim::start(config, history))
        .await
        .map_err(|e| Error::Usage(format!("the simulator failed to start: {e}")))??;
    let live = Arc::new(live);
    let env = live.environment().clone();
    let healthy = env.health(service)?;
    let spec = FaultSpec::new(kind, service, env.now(), options.severity);
    live.inject(spec)?;
    let develop = live.clone();
    let report = tokio::task::spawn_blocking(move || {
        develop.advance_until_reported(Duration::from_secs(20 * 60))
    })
    .await
    .map_err(|e| Error::Usage(format!("the simulator stopped: {e}")))??;
    let mut case = SweepCase {
        kind,
        service: service.to_string(),
        affected: Vec::new(),
        finding: None,
        actions: Vec::new(),
        cured: false,
        outcome: Outcome::NotReported,
        summary: "monitoring reported nothing within 20 minutes".into(),
        follow_up: None,
        details: serde_json::Value::Null,
        millis: 0,
    };
    let Some(report) = report else {
        case.millis = started.elapsed().as_millis();
        return Ok(case);
    };

    let clock: Arc<dyn Clock> = env.clone();
    let telemetry: Arc<dyn TelemetrySource> = env.clone();
    let memory = Arc::new(MemoryStore::new(clock.clone()));
    let store: Arc<dyn StateStore> = memory.clone();
    let gate: Arc<dyn ApprovalGate> = memory;
    seed_knowledge(store.as_ref(), clock.now()).await?;
    let incident = open_incident(
        store.as_ref(),
        clock.now(),
        &Actor::System,
        report.to_new_incident(),
    )
    .await?;
    case.affected = incident.affected_services.clone();
    live.advance(options.response)?;

    // The server's wiring (`App::build`), with the offline planner and no notification channel.
    let steps = AgentSteps {
        responders: responders_for(
            &ServeConfig::default(),
            Arc::new(OfflinePlanner::new()),
            &store,
            &gate,
            &clock,
            &telemetry,
        ),
        store: store.clone(),
        clock: clock.clone(),
        executor: env.clone(),
        telemetry,
        settle: Settle::Simulated(live.clone()),
        settle_for: options.settle,
        notifier: Notifier::new(
            None,
            None,
            Severity::Critical,
            1,
            store.clone(),
            clock.clone(),
        ),
        notify_at_triage: false,
        notices_in_background: false,
        public_url: String::new(),
        metrics: Metrics::new(),
    };
    let runner = LocalRunner::new(store.clone(), gate.clone(), Arc::new(steps), clock);
    runner.start(incident.id).await?;
    let status = loop {
        match runner.advance(incident.id).await? {
            Progress::Finished(status) => break status,
            Progress::AwaitingApproval { approval_id } => {
                let decision = Decision {
                    verdict: ApprovalVerdict::Approve,
                    decided_by: "sweep".into(),
                    comment: Some("every plan is approved in the sweep".into()),
                    auth: DecisionAuth::Operator,
                };
                gate.decide(approval_id, decision).await?;
            }
        }
    };

    let checkpoint = store.get_checkpoint(incident.id).await?;
    let data = checkpoint.map(|c| c.data).unwrap_or_default();
    case.finding = data
        .finding
        .as_ref()
        .and_then(|f| f.top())
        .map(|c| (c.service.clone(), c.fault));
    let plan = data.plan.as_ref();
    let mut applied_to_root = false;
    for record in &data.actions {
        if let Some(action) = plan.and_then(|p| p.actions.iter().find(|a| a.id == record.action_id))
        {
            case.actions
                .push(format!("{} {}", action.catalogue_id, action.target));
            applied_to_root |= action.target == service
                && kind == FaultKind::TrafficSpike
                && action.catalogue_id == "scale_out";
        }
    }
    if let Some(v) = &data.verification {
        case.details = v.details.clone();
    }
    // A spike is never cured, only absorbed: it counts when scaling out its root brought
    // the root's true health (the model's, not telemetry) back near where it was.
    let absorbed = applied_to_root && {
        let now = env.health(service)?;
        now.error_rate <= healthy.error_rate + 0.01
            && now.latency_p99_ms <= 2.0 * healthy.latency_p99_ms
    };
    let truth = env.ground_truth();
    case.cured = truth.first().is_some_and(|f| f.cured_by.is_some()) || absorbed;
    (case.outcome, case.summary) = match (&data.verification, status) {
        (Some(v), IncidentStatus::Resolved) if v.resolved => {
            case.follow_up = v.follow_up.clone();
            let outcome = if v.mitigated {
                Outcome::Mitigated
            } else {
                Outcome::Resolved
            };
            (outcome, v.summary.clone())
        }
        (Some(v), _) => (Outcome::EscalatedByVerification, v.summary.clone()),
        (None, _) => (
            Outcome::EscalatedBeforeVerification,
            data.escalation_reason
                .unwrap_or_else(|| format!("ended {status}")),
        ),
    };
    case.millis = started.elapsed().as_millis();
    Ok(case)
}

/// Every (kind, service) the sweep covers, in kind order.
pub(crate) fn sweep_cases(
    seed: u64,
    kinds: &[FaultKind],
    services: &[String],
) -> Vec<(FaultKind, String)> {
    let topology = SimConfig::new(seed).topology;
    let kinds = if kinds.is_empty() {
        injectable_kinds()
    } else {
        kinds.to_vec()
    };
    let mut cases = Vec::new();
    for kind in kinds {
        for service in eligible_services(kind, &topology) {
            if services.is_empty() || services.iter().any(|s| s == service) {
                cases.push((kind, service.to_string()));
            }
        }
    }
    cases
}

/// Runs `itops sweep`.
pub(crate) async fn run(args: SweepArgs) -> Result<()> {
    if !(args.severity > 0.0 && args.severity <= 1.0) {
        return Err(Error::Usage(
            "--severity must be above 0 and at most 1".into(),
        ));
    }
    let specs = sweep_cases(args.seed, &args.kinds, &args.services);
    if specs.is_empty() {
        return Err(Error::Usage("no fault kind fits the services given".into()));
    }
    let mut options = SweepOptions::new(args.seed, args.at);
    options.severity = args.severity;
    let total = specs.len();
    let mut pending = specs.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    let mut cases: Vec<(usize, SweepCase)> = Vec::with_capacity(total);
    loop {
        while running.len() < args.jobs.max(1) {
            let Some((i, (kind, service))) = pending.next() else {
                break;
            };
            let options = options.clone();
            running.spawn(async move { (i, run_case(kind, &service, &options).await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, case) = joined.map_err(|e| Error::Usage(format!("a sweep case stopped: {e}")))?;
        let case = case?;
        if args.format == Format::Text {
            eprintln!(
                "[{:>3}/{total}] {:<26} {:<16} {:<9} {:<20} {}",
                cases.len() + 1,
                case.kind.as_str(),
                case.service,
                if case.cured { "cured" } else { "not cured" },
                case.outcome.label(),
                case.actions.join(", ")
            );
        }
        cases.push((i, case));
    }
    cases.sort_by_key(|(i, _)| *i);
    let cases: Vec<SweepCase> = cases.into_iter().map(|(_, c)| c).collect();
    let report = SweepReport {
        seed: args.seed,
        summary: summarise(&cases),
        cases: &cases,
    };
    match args.format {
        Format::Json => print_out(&json(&report, "the sweep")?),
        Format::Text => print_out(&text_of(&report)),
    }
}
