//! An agent of the user's own in the root-cause role: the local workflow's investigate step
//! and the Lambda root-cause function run it (not the built-in agent), with the run's hooks,
//! so its steps land on the incident's timeline under its name, and its finding is the
//! one the workflow keeps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_agents::agents::Investigation;
use itops_agents::policy::ActionPolicy;
use itops_agents::responders::Responders;
use itops_agents::tools::ranking::RankAnomalies;
use itops_core::engine::ReactEngine;
use itops_core::store::MemoryStore;
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::workflow::{LocalRunner, StepKind};
use itops_core::{
    Actor, Agent, ApprovalGate, Clock, FaultKind, Incident, IncidentContext, IncidentStatus,
    Message, Result, RootCauseFinding, RunContext, Severity, StateStore, TelemetrySource,
    TimelineEntry, TimelineKind,
};
use itops_lambda::app::metrics::Metrics;
use itops_lambda::app::notify::Notifier;
use itops_lambda::app::steps::{AgentSteps, Settle};
use itops_sim::{FaultSpec, LiveSim, SimConfig};
use serde_json::json;
#[cfg(feature = "aws")]
use support::aws::{emulator_table, EmulatorTable, NoExecutions};

/// What the custom agent concludes, whatever the data says (so that its finding is told
/// apart from the built-in agent's).
const SUSPECT: &str = "inventory";

/// A root-cause agent of its own: one look at the anomaly ranking, then a verdict. Its
/// model is scripted; the engine gets the run's hooks.
struct SecondOpinion {
    telemetry: Arc<dyn TelemetrySource>,
}

#[async_trait]
impl Agent for SecondOpinion {
    type Outcome = Investigation;

    fn name(&self) -> &str {
        "second_opinion"
    }

    async fn run(&self, context: &IncidentContext, run: &RunContext) -> Result<Investigation> {
        let finding = json!({
            "candidates": [{"service": SUSPECT, "fault": "config_error", "confidence": 0.7}],
            "summary": "a second opinion: the inventory configuration",
        });
        let model = ScriptedModel::new([
            ScriptedTurn::tool_call("rank_anomalies", json!({"max_candidates": 3}))
                .with_thought("Which services changed the most?"),
            ScriptedTurn::text(finding.to_string()),
        ])
        .named("second-opinion-script");
        let engine = ReactEngine::builder(Arc::new(model))
            .system("You give a second opinion on incidents.")
            .tool(RankAnomalies::new(self.telemetry.clone()))
            .max_steps(4)
            .build()?;
        let task = Message::user(format!("Why is this happening? {}", context.incident.title));
        let transcript = engine.run_with_hooks(vec![task], run.hooks()).await;
        let answer = transcript.final_answer.clone().unwrap_or_default();
        let finding: RootCauseFinding = serde_json::from_str(&answer)
            .map_err(|e| itops_core::Error::serialization("the finding", e))?;
        Ok(Investigation {
            finding,
            transcript,
            repaired: false,
        })
    }
}

/// The simulator with a memory leak in checkout, reported; the incident is open in `store`.
async fn leaking(start: chrono::DateTime<chrono::Utc>) -> (Arc<LiveSim>, itops_core::NewIncident) {
    let (live, report) = tokio::task::spawn_blocking(move || {
        let live = LiveSim::start(SimConfig::new(7).start(start), Duration::from_secs(60 * 60))?;
        let now = live.environment().now();
        live.inject(FaultSpec::new(FaultKind::MemoryLeak, "checkout", now, 0.8))?;
        let report = live.advance_until_reported(Duration::from_secs(3 * 60 * 60))?;
        Ok::<_, itops_core::Error>((live, report))
    })
    .await
    .unwrap()
    .unwrap();
    (
        Arc::new(live),
        report.expect("the leak is reported").to_new_incident(),
    )
}

async fn open(store: &dyn StateStore, clock: &dyn Clock, new: itops_core::NewIncident) -> Incident {
    itops_core::incidents::open_incident(store, clock.now(), &Actor::System, new)
        .await
        .unwrap()
}

/// The custom agent's part of the timeline: its tool call, and the finding under its name.
fn assert_custom_agent_ran(timeline: &[TimelineEntry]) {
    let text: Vec<String> = timeline
        .iter()
        .map(|e| format!("[{}] {} {}", e.kind, e.actor, e.summary))
        .collect();
    let text = text.join("\n");
    let by_it = |e: &&TimelineEntry| e.actor == Actor::Agent("second_opinion".into());
    assert!(
        timeline
            .iter()
            .filter(by_it)
            .any(|e| e.kind == TimelineKind::ToolCall && e.summary.contains("rank_anomalies")),
        "no rank_anomalies call by the custom agent:\n{text}"
    );
    assert!(
        timeline
            .iter()
            .filter(by_it)
            .any(|e| e.kind == TimelineKind::Observation),
        "no observation of the custom agent:\n{text}"
    );
    let finding = timeline
        .iter()
        .filter(by_it)
        .find(|e| e.kind == TimelineKind::Finding)
        .unwrap_or_else(|| panic!("no finding by the custom agent:\n{text}"));
    assert!(finding.summary.contains(SUSPECT), "{text}");
    // The built-in root-cause agent did not run.
    assert!(
        !timeline
            .iter()
            .any(|e| e.actor == Actor::Agent("root_cause".into())),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_workflow_runs_a_custom_root_cause_agent_and_records_its_steps() {
    let start = chrono::Utc::now() - chrono::Duration::minutes(60);
    let (live, report) = leaking(start).await;
    let env = live.environment().clone();
    let clock: Arc<dyn Clock> = env.clone();
    let telemetry: Arc<dyn TelemetrySource> = env.clone();
    let memory = Arc::new(MemoryStore::new(clock.clone()));
    let store: Arc<dyn StateStore> = memory.clone();
    let gate: Arc<dyn ApprovalGate> = memory;
    let responders = Responders::new(
        Arc::new(itops_agents::planner::OfflinePlanner::new()),
        telemetry.clone(),
        vec![],
        ActionPolicy::always_ask(),
    )
    .with_root_cause(SecondOpinion {
        telemetry: telemetry.clone(),
    });
    let steps = AgentSteps {
        responders,
        store: store.clone(),
        clock: clock.clone(),
        executor: env.clone(),
        telemetry,
        settle: Settle::Simulated(live.clone()),
        settle_for: Duration::from_secs(120),
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
        public_url: "http://127.0.0.1:1".into(),
        metrics: Metrics::new(),
    };
    let runner = LocalRunner::new(store.clone(), gate, Arc::new(steps), clock.clone());
    let incident = open(store.as_ref(), clock.as_ref(), report).await;

    runner.start(incident.id).await.unwrap();
    runner.step(incident.id, StepKind::Triage).await.unwrap();
    let report = runner
        .step(incident.id, StepKind::Investigate)
        .await
        .unwrap();
    assert_eq!(report.state, IncidentStatus::Planning, "{report:?}");

    let checkpoint = store.get_checkpoint(incident.id).await.unwrap().unwrap();
    let finding = checkpoint
        .data
        .finding
        .expect("the workflow kept a finding");
    assert_eq!(finding.top().unwrap().service, SUSPECT);
    assert_custom_agent_ran(&store.timeline(incident.id, 0, 1000).await.unwrap());
}

/// Needs the `aws` feature (the Lambda side, on the AWS emulator).
#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_root_cause_function_runs_a_custom_root_cause_agent() {
    let Some(EmulatorTable { table, .. }) = emulator_table("itops-custom-agent").await else {
        return;
    };
    let vars = [
        ("ITOPS_TABLE", table.name()),
        ("ITOPS_MODEL_PROVIDER", "offline"),
        (
            "ITOPS_ADMIN_TOKEN",
            "lambda-custom-agent-admin-token-0123456789",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = itops_lambda::lambda::LambdaConfig::from_vars(&vars).unwrap();
    let start = chrono::Utc::now() - chrono::Duration::minutes(60);
    let (live, report) = leaking(start).await;
    let env = live.environment().clone();
    let telemetry: Arc<dyn TelemetrySource> = env.clone();
    let deployment = itops_lambda::lambda::Deployment::assemble_with_agents(
        config,
        table,
        Arc::new(NoExecutions),
        itops_lambda::lambda::Surroundings {
            telemetry: telemetry.clone(),
            executor: env.clone(),
            clock: env.clone(),
            settle: Settle::Simulated(live.clone()),
            model: itops_lambda::app::AgentModel::offline(),
        },
        |agents| agents.with_root_cause(SecondOpinion { telemetry }),
    )
    .unwrap();
    let store = deployment.store.clone();
    let incident = open(store.as_ref(), env.as_ref(), report).await;
    deployment.runner.start(incident.id).await.unwrap();

    let event = json!({ "incident_id": incident.id });
    let triaged = deployment
        .handle(itops_lambda::lambda::Function::Triage, event.clone())
        .await
        .unwrap();
    assert_eq!(triaged["route"], "investigate", "{triaged}");
    let investigated = deployment
        .handle(itops_lambda::lambda::Function::RootCause, event)
        .await
        .unwrap();
    assert_eq!(investigated["outcome"], "investigated", "{investigated}");

    let checkpoint = store.get_checkpoint(incident.id).await.unwrap().unwrap();
    assert_eq!(
        checkpoint.data.finding.unwrap().top().unwrap().service,
        SUSPECT
    );
    assert_custom_agent_ran(&store.timeline(incident.id, 0, 1000).await.unwrap());
}
