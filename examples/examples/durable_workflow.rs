//! Drive an incident through the durable workflow on SQLite with your own step
//! implementations, approve the plan as an operator, and read the timeline.
//!
//! `cargo run -p itops-examples --example durable_workflow`
//!
//! Stop it at any point and run the runner again on the same file: `resume_unfinished`
//! picks every unfinished incident up from its last checkpoint.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::store::SqliteStore;
use itops_core::workflow::{
    ActionRecord, LocalRunner, Progress, VerificationReport, WorkflowSteps,
};
use itops_core::{
    ActionId, ActionPhase, ApprovalGate, Decision, DecisionAuth, FaultKind, IncidentContext,
    IncidentStore, NewIncident, RemediationAction, RemediationPlan, Result, RiskLevel,
    RootCauseCandidate, RootCauseFinding, Route, Severity, SystemClock, TimelineStore,
    TriageAssessment, Verdict,
};

/// Stand-ins for the agents, the executor and the verifier.
struct MySteps;

#[async_trait]
impl WorkflowSteps for MySteps {
    async fn triage(&self, ctx: &IncidentContext) -> Result<TriageAssessment> {
        Ok(TriageAssessment {
            severity: ctx.incident.severity,
            urgency: 7,
            route: Route::Investigate,
            reasoning: "Customer-facing errors, no data loss: investigate automatically.".into(),
            next_steps: vec!["rank anomalous services".into()],
        })
    }

    async fn investigate(&self, _ctx: &IncidentContext) -> Result<RootCauseFinding> {
        Ok(RootCauseFinding {
            candidates: vec![RootCauseCandidate {
                service: "payments".into(),
                fault: FaultKind::MemoryLeak,
                confidence: 0.8,
                evidence: vec![],
            }],
            contributing_factors: vec!["no memory limit alarm".into()],
            summary: "payments leaks memory and restarts; checkout times out calling it.".into(),
        })
    }

    async fn plan(&self, ctx: &IncidentContext) -> Result<RemediationPlan> {
        Ok(RemediationPlan {
            incident_id: ctx.incident.id,
            actions: vec![RemediationAction {
                id: ActionId::new(),
                catalogue_id: "restart_service".into(),
                target: "payments".into(),
                parameters: Default::default(),
                risk: RiskLevel::Medium,
                reversible: true,
                expected_effect: "payments memory back under 60%, checkout errors < 1%".into(),
                phase: ActionPhase::Immediate,
            }],
            rationale: "A restart clears the leak while the fix is prepared.".into(),
        })
    }

    fn requires_approval(&self, plan: &RemediationPlan) -> bool {
        plan.max_risk().is_some_and(|r| r >= RiskLevel::Medium)
    }

    async fn execute(&self, _ctx: &IncidentContext, action: &RemediationAction) -> Result<String> {
        Ok(format!(
            "{} on {}: done",
            action.catalogue_id, action.target
        ))
    }

    async fn verify(
        &self,
        _ctx: &IncidentContext,
        actions: &[ActionRecord],
    ) -> Result<VerificationReport> {
        Ok(VerificationReport {
            resolved: true,
            summary: format!(
                "{} action(s) ran; error rate back to baseline",
                actions.len()
            ),
            details: serde_json::Value::Null,
        })
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("itops-example-{}.db", std::process::id()));
    let clock = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::open(&path, clock.clone())?);
    let runner = LocalRunner::new(store.clone(), store.clone(), Arc::new(MySteps), clock);

    let incident = NewIncident::new("Checkout requests failing", Severity::High)
        .description("5xx rate on checkout above 5% for 10 minutes")
        .service("checkout")
        .source("example")
        .into_incident(chrono::Utc::now())?;
    let incident = store.create_incident(&incident).await?;
    println!("incident {} created in {}", incident.id, path.display());

    runner.start(incident.id).await?;
    match runner.advance(incident.id).await? {
        Progress::AwaitingApproval { approval_id } => {
            let approval = store.get(approval_id).await?;
            println!("waiting for approval: {}", approval.summary);
            store
                .decide(
                    approval_id,
                    Decision {
                        verdict: Verdict::Approve,
                        decided_by: "alice".into(),
                        comment: Some("restart is safe".into()),
                        auth: DecisionAuth::Operator,
                    },
                )
                .await?;
            println!("approved by alice");
        }
        Progress::Finished(status) => println!("finished without approval: {status}"),
    }
    let progress = runner.advance(incident.id).await?;
    println!("workflow: {progress:?}\n\ntimeline:");
    for entry in store.timeline(incident.id, 0, 100).await? {
        println!(
            "{:>3}  {:<22} {:<20} {}",
            entry.seq,
            entry.kind.to_string(),
            entry.actor.to_string(),
            entry.summary
        );
    }
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(path.with_extension("db-wal")).ok();
    std::fs::remove_file(path.with_extension("db-shm")).ok();
    Ok(())
}
