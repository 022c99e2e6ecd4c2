//! The standard incident workflow on DynamoDB, with every DynamoDB request counted: the
//! figures in docs/performance.md come from this test (`--nocapture` prints them).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use itops_aws::{DynamoDbApprovalGate, DynamoDbStateStore, DynamoDbTable};
use itops_core::workflow::{
    ActionRecord, LocalRunner, Progress, VerificationReport, WorkflowSteps,
};
use itops_core::{
    ActionId, ActionPhase, Actor, ApprovalGate, Decision, DecisionAuth, FaultKind, IncidentContext,
    IncidentStatus, IncidentStore, NewIncident, RemediationAction, RemediationPlan, Result,
    RiskLevel, RootCauseCandidate, RootCauseFinding, Route, Severity, SystemClock, TimelineEntry,
    TimelineKind, TimelineStore, TriageAssessment, Verdict,
};

use crate::moto;

type Item = std::collections::HashMap<String, AttributeValue>;

/// DynamoDB's item size: names plus values.
fn size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn read_units(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

/// Requests, write units and read units per operation.
#[derive(Default, Debug, Clone)]
struct Tally {
    requests: u32,
    write_units: f64,
    read_units: f64,
}

#[derive(Default, Debug)]
struct Counter(Mutex<BTreeMap<&'static str, Tally>>);

impl Counter {
    fn add(&self, op: &'static str, requests: u32, write_units: f64, read_units: f64) {
        let mut map = self.0.lock().unwrap();
        let t = map.entry(op).or_default();
        t.requests += requests;
        t.write_units += write_units;
        t.read_units += read_units;
    }

    fn take(&self) -> BTreeMap<&'static str, Tally> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug, Clone)]
struct Counting(Arc<Counter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "Counting"
    }

    fn read_before_execution(
        &self,
        ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), aws_sdk_dynamodb::error::BoxError> {
        let input = ctx.input();
        let c = &self.0;
        if let Some(put) = input.downcast_ref::<PutItemInput>() {
            c.add(
                "PutItem",
                1,
                write_units(put.item().map(size).unwrap_or(0)),
                0.0,
            );
        } else if input.downcast_ref::<UpdateItemInput>().is_some() {
            c.add("UpdateItem", 1, 0.0, 0.0); // units from the new item, below
        } else if input.downcast_ref::<DeleteItemInput>().is_some() {
            c.add("DeleteItem", 1, 1.0, 0.0);
        } else if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
            // Transactions cost twice; a condition check is charged like a write of the
            // checked item (an incident: about 1 KB).
            let units: f64 = tx
                .transact_items()
                .iter()
                .map(|t| {
                    if let Some(put) = t.put() {
                        write_units(size(put.item()))
                    } else {
                        1.0
                    }
                })
                .sum();
            c.add("TransactWriteItems", 1, 2.0 * units, 0.0);
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            let n = batch
                .request_items()
                .map(|m| m.values().map(Vec::len).sum::<usize>())
                .unwrap_or(0);
            c.add("BatchWriteItem", 1, n as f64, 0.0);
        } else if input.downcast_ref::<GetItemInput>().is_some() {
            c.add("GetItem", 1, 0.0, 0.0);
        } else if input.downcast_ref::<QueryInput>().is_some() {
            c.add("Query", 1, 0.0, 0.0);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), aws_sdk_dynamodb::error::BoxError> {
        let Some(Ok(output)) = ctx.output_or_error() else {
            return Ok(());
        };
        let c = &self.0;
        // Reads counted as strongly consistent: an upper bound for index queries, which
        // cost half.
        if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            c.add(
                "GetItem",
                0,
                0.0,
                read_units(get.item().map(size).unwrap_or(0)),
            );
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            c.add(
                "Query",
                0,
                0.0,
                read_units(query.items().iter().map(size).sum()),
            );
        } else if let Some(update) = output.downcast_ref::<UpdateItemOutput>() {
            c.add(
                "UpdateItem",
                0,
                write_units(update.attributes().map(size).unwrap_or(0)),
                0.0,
            );
        }
        Ok(())
    }
}

/// Steps with realistic outputs (a finding with evidence, a one-action plan).
struct Steps;

#[async_trait]
impl WorkflowSteps for Steps {
    async fn triage(&self, ctx: &IncidentContext) -> Result<TriageAssessment> {
        Ok(TriageAssessment {
            severity: ctx.incident.severity,
            urgency: 7,
            route: Route::Investigate,
            reasoning: "Customer-facing 5xx on checkout; no data loss; investigate.".into(),
            next_steps: vec![
                "rank anomalous services".into(),
                "read payments logs".into(),
            ],
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
            contributing_factors: vec!["no memory alarm on payments".into()],
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
                expected_effect: "payments memory under 60%, checkout errors under 1%".into(),
                phase: ActionPhase::Immediate,
            }],
            rationale: "A restart clears the leak while a fix is prepared.".into(),
        })
    }

    fn requires_approval(&self, _plan: &RemediationPlan) -> bool {
        true
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
        Ok(VerificationReport::new(
            true,
            format!(
                "{} action(s); checkout errors 0.4% (baseline 0.3%)",
                actions.len()
            ),
            serde_json::Value::Null,
        ))
    }
}

fn print(title: &str, tally: &BTreeMap<&'static str, Tally>) -> (u32, f64, f64) {
    println!("\n{title}\n| operation | requests | write units | read units (upper bound) |\n|---|---|---|---|");
    let (mut r, mut w, mut rd) = (0, 0.0, 0.0);
    for (op, t) in tally {
        println!(
            "| {op} | {} | {} | {} |",
            t.requests, t.write_units, t.read_units
        );
        r += t.requests;
        w += t.write_units;
        rd += t.read_units;
    }
    println!("| total | {r} | {w} | {rd} |");
    (r, w, rd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_request_counts_on_dynamodb() {
    let sdk = moto::settings().load().await.unwrap();
    let counter = Arc::new(Counter::default());
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(Counting(counter.clone()))
        .build();
    let name = format!("itops-requests-{}", itops_core::IncidentId::new());
    let table = DynamoDbTable::new(aws_sdk_dynamodb::Client::from_conf(config), name);
    table.create().await.unwrap();
    counter.take();

    let clock = Arc::new(SystemClock);
    let store = Arc::new(DynamoDbStateStore::new(table.clone()));
    let gate = Arc::new(DynamoDbApprovalGate::new(table.clone(), clock.clone()));
    let runner = LocalRunner::new(store.clone(), gate.clone(), Arc::new(Steps), clock);

    // 1. The workflow: create, triage, investigate, plan, approval, execute, verify.
    let incident = NewIncident::new("Checkout requests failing", Severity::High)
        .description("5xx rate on checkout above 5% for 10 minutes")
        .service("checkout")
        .into_incident(chrono::Utc::now())
        .unwrap();
    let incident = store.create_incident(&incident).await.unwrap();
    runner.start(incident.id).await.unwrap();
    let Progress::AwaitingApproval { approval_id } = runner.advance(incident.id).await.unwrap()
    else {
        panic!("the plan needs approval")
    };
    gate.decide(
        approval_id,
        Decision {
            verdict: Verdict::Approve,
            decided_by: "alice".into(),
            comment: None,
            auth: DecisionAuth::Operator,
        },
    )
    .await
    .unwrap();
    let done = runner.advance(incident.id).await.unwrap();
    assert_eq!(done, Progress::Finished(IncidentStatus::Resolved));
    let workflow = counter.take();
    let (requests, _, _) = print("workflow, one incident (with an approval)", &workflow);
    assert!(
        requests < 100,
        "{requests} DynamoDB requests for one workflow"
    );

    // 2. The root-cause agent's audit trail: per ReAct step a thought, a tool call and an
    //    observation (2 KB, typical; the engine caps observations at 16 KB).
    for step in 0..8 {
        for (kind, bytes) in [
            (TimelineKind::Thought, 300),
            (TimelineKind::ToolCall, 200),
            (TimelineKind::Observation, 2048),
        ] {
            let entry = TimelineEntry::new(
                incident.id,
                chrono::Utc::now(),
                Actor::Agent("root_cause".into()),
                kind,
                format!("step {step}"),
            )
            .with_payload(serde_json::json!({"text": "x".repeat(bytes)}));
            store.append_timeline(&entry).await.unwrap();
        }
    }
    let trail = counter.take();
    print(
        "root-cause audit trail, 8 ReAct steps (24 timeline entries)",
        &trail,
    );

    // 3. Reading it back: the incident page and its whole timeline.
    store.get_incident(incident.id).await.unwrap();
    let timeline = store.timeline(incident.id, 0, 1_000).await.unwrap();
    print("reading the incident and its timeline", &counter.take());

    // Item sizes, by record type.
    let scan = table
        .client()
        .scan()
        .table_name(table.name())
        .send()
        .await
        .unwrap();
    let mut sizes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for item in scan.items() {
        let Some(AttributeValue::S(entity)) = item.get("entity") else {
            continue;
        };
        sizes.entry(entity.clone()).or_default().push(size(item));
    }
    println!("\n| record | items | min bytes | max bytes |\n|---|---|---|---|");
    for (entity, s) in &sizes {
        println!(
            "| {entity} | {} | {} | {} |",
            s.len(),
            s.iter().min().unwrap(),
            s.iter().max().unwrap()
        );
    }
    println!("\ntimeline entries: {}", timeline.len());
    assert!(timeline.len() > 24);
}
