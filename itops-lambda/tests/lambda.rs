//! The Lambda functions driven the way the deployed state machine drives them: a small
//! interpreter walks the generated `statemachine.asl.json` (Task, Choice, Pass, Wait,
//! Succeed, `.waitForTaskToken`, ResultSelector/ResultPath, Catch) and calls the handler each
//! Task names, with the table and Step Functions on the moto emulator. An alarm opens the
//! incident and starts the execution; the agents triage, investigate and plan; the plan
//! waits for approval; a person approves through the API function (an API Gateway event);
//! the approval decision function sees the table's stream record and resumes the execution;
//! the fix runs and is verified; the incident resolves.
//!
//! Telemetry and the environment acted on are the simulator (in the deployment they are
//! CloudWatch and the action webhook).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use itops_aws::{AwsSettings, DynamoDbTable};
use itops_core::workflow::LocalRunner;
use itops_core::FaultKind;
use itops_core::{IncidentId, IncidentStatus, TimelineKind};
use itops_lambda::app::steps::Settle;
use itops_lambda::lambda::{
    Deployment, Executions, Function, LambdaConfig, StepFunctions, Surroundings,
};
use itops_sim::{FaultSpec, LiveSim, SimConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

const ADMIN_TOKEN: &str = "lambda-test-admin-token-0123456789";

/// Step Functions on the emulator, remembering what was resumed with what.
struct Recording {
    inner: StepFunctions,
    resumed: Mutex<Vec<(String, Value)>>,
    started: Mutex<Vec<IncidentId>>,
}

#[async_trait]
impl Executions for Recording {
    async fn start(&self, incident_id: IncidentId) -> itops_core::Result<()> {
        self.inner.start(incident_id).await?;
        self.started.lock().unwrap().push(incident_id);
        Ok(())
    }

    async fn resume(&self, token: &str, output: &Value) -> itops_core::Result<bool> {
        let resumed = self.inner.resume(token, output).await?;
        self.resumed
            .lock()
            .unwrap()
            .push((token.to_string(), output.clone()));
        Ok(resumed)
    }
}

impl Recording {
    fn output_for(&self, token: &str) -> Option<Value> {
        self.resumed
            .lock()
            .unwrap()
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, o)| o.clone())
    }
}

struct World {
    deployment: Deployment,
    executions: Arc<Recording>,
    sfn: aws_sdk_sfn::Client,
    live: Arc<LiveSim>,
}

async fn world() -> World {
    let settings: AwsSettings = itops_aws::testing::moto_settings().unwrap();
    let sdk = settings.load().await.unwrap();
    let table_name = format!("itops-lambda-{}", IncidentId::new());
    let table = DynamoDbTable::from_sdk_config(&sdk, table_name.clone());
    table.create().await.unwrap();

    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let machine = sfn
        .create_state_machine()
        .name(format!("itops-{}", IncidentId::new()))
        .definition(itops_lambda::state_machine::standard_asl())
        .role_arn("arn:aws:iam::123456789012:role/itops-states")
        .send()
        .await
        .unwrap();
    let arn = machine.state_machine_arn().to_string();

    let vars = [
        ("ITOPS_TABLE", table_name.as_str()),
        ("ITOPS_STATE_MACHINE_ARN", arn.as_str()),
        ("ITOPS_MODEL_PROVIDER", "offline"),
        ("ITOPS_POLICY", "always_ask"),
        ("ITOPS_ADMIN_TOKEN", ADMIN_TOKEN),
        ("ITOPS_PUBLIC_URL", "https://itops.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = LambdaConfig::from_vars(&vars).unwrap();

    // A fixed simulated morning, not the wall clock: the shop's traffic (and so its noise)
    // follows the time of day, and at night a quiet service's single failed request in a
    // scrape reads as a 1-2 % error ratio, which kept a cured leak escalated (run 9 of 20 of
    // the whole suite, at 01:00 UTC). The same start every run gives the same outcome.
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T08:30:00Z")
        .expect("a valid time")
        .to_utc();
    let live = tokio::task::spawn_blocking(move || {
        LiveSim::start(SimConfig::new(7).start(start), Duration::from_secs(90 * 60))
    })
    .await
    .unwrap()
    .unwrap();
    let live = Arc::new(live);
    let env = live.environment().clone();
    let executions = Arc::new(Recording {
        inner: StepFunctions::new(sfn.clone(), arn),
        resumed: Mutex::default(),
        started: Mutex::default(),
    });
    let deployment = Deployment::assemble(
        config,
        table,
        executions.clone(),
        Surroundings {
            telemetry: env.clone(),
            executor: env.clone(),
            clock: env,
            settle: Settle::Simulated(live.clone()),
            model: itops_lambda::app::AgentModel::offline(),
        },
    )
    .unwrap();
    deployment.seed_knowledge().await.unwrap();
    World {
        deployment,
        executions,
        sfn,
        live,
    }
}

/// The value at a JSONPath of the simple kind the state machine uses (`$.a.b`).
fn at<'a>(state: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$')?;
    if rest.is_empty() {
        return Some(state);
    }
    state.pointer(&rest.replace('.', "/"))
}

/// A Choice rule against the state.
fn holds(rule: &Value, state: &Value) -> bool {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        return all.iter().all(|r| holds(r, state));
    }
    if let Some(any) = rule.get("Or").and_then(Value::as_array) {
        return any.iter().any(|r| holds(r, state));
    }
    if let Some(not) = rule.get("Not") {
        return !holds(not, state);
    }
    let value = at(state, rule["Variable"].as_str().unwrap());
    if let Some(present) = rule.get("IsPresent") {
        return value.is_some() == present.as_bool().unwrap();
    }
    let Some(value) = value else {
        panic!("{rule} reads a missing variable (the machine would fail)");
    };
    if let Some(s) = rule.get("StringEquals") {
        return value.as_str() == s.as_str();
    }
    if let Some(b) = rule.get("BooleanEquals") {
        return value.as_bool() == b.as_bool();
    }
    if let Some(n) = rule.get("NumericEquals") {
        return value.as_f64() == n.as_f64();
    }
    if let Some(n) = rule.get("NumericGreaterThan") {
        return value.as_f64().unwrap() > n.as_f64().unwrap();
    }
    panic!("a comparison the test does not know: {rule}");
}

/// Fills a Task's `Parameters.Payload` the way Step Functions does.
fn payload(parameters: &Value, state: &Value, token: &str) -> Value {
    if parameters.get("Payload.$").and_then(Value::as_str) == Some("$") {
        return state.clone();
    }
    let mut out = serde_json::Map::new();
    for (key, value) in parameters["Payload"].as_object().unwrap() {
        match key.strip_suffix(".$") {
            Some(name) => {
                let path = value.as_str().unwrap();
                let resolved = if path == "$$.Task.Token" {
                    json!(token)
                } else {
                    at(state, path).cloned().unwrap()
                };
                out.insert(name.to_string(), resolved);
            }
            None => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn function_of(placeholder: &str) -> Function {
    match placeholder {
        "${TriageFunctionArn}" => Function::Triage,
        "${RootCauseFunctionArn}" => Function::RootCause,
        "${RemediationFunctionArn}" => Function::Remediation,
        "${ApprovalRequestFunctionArn}" => Function::ApprovalRequest,
        "${ExecuteFunctionArn}" => Function::Execute,
        "${VerifyFunctionArn}" => Function::Verify,
        "${NotifyFunctionArn}" => Function::Notify,
        other => panic!("unknown function {other}"),
    }
}

/// Calls the API function with an API Gateway HTTP API (payload 2.0) event.
async fn api(deployment: &Deployment, method: &str, path: &str, body: Option<Value>) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {
            "authorization": format!("Bearer {ADMIN_TOKEN}"),
            "content-type": "application/json",
            "host": "api.example.com"
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
            "domainPrefix": "api", "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "25/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": { "method": method, "path": raw_path, "protocol": "HTTP/1.1",
                      "sourceIp": "192.0.2.1", "userAgent": "test" }
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = deployment.router().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    value
}

/// A person approves the waiting plan through the API; the table's stream then carries the
/// approval record to the approval decision function.
async fn approve(w: &World, incident_id: IncidentId) {
    let pending = api(&w.deployment, "GET", "/api/approvals?status=pending", None).await;
    let approval = pending["items"]
        .as_array()
        .or_else(|| pending.as_array())
        .unwrap()
        .iter()
        .find(|a| a["incident_id"] == json!(incident_id))
        .cloned()
        .unwrap_or_else(|| panic!("no pending approval for the incident in {pending}"));
    let id = approval["id"].as_str().unwrap().to_string();
    api(
        &w.deployment,
        "POST",
        &format!("/api/approvals/{id}/decision"),
        Some(json!({ "decision": "approve", "comment": "restart is fine" })),
    )
    .await;
    // What DynamoDB Streams delivers (keys only matter to the function), with a record of
    // another item in the batch, which it ignores.
    let stream = json!({ "Records": [
        { "eventName": "MODIFY", "dynamodb": { "Keys": {
            "pk": { "S": format!("INC#{incident_id}") }, "sk": { "S": "INCIDENT" } } } },
        { "eventName": "MODIFY", "dynamodb": { "Keys": {
            "pk": { "S": format!("APPROVAL#{id}") }, "sk": { "S": "APPROVAL" } } } }
    ]});
    let handled = w
        .deployment
        .handle(Function::ApprovalDecision, stream.clone())
        .await
        .unwrap();
    assert_eq!(
        handled["decisions"].as_array().unwrap().len(),
        1,
        "{handled}"
    );
    assert_eq!(handled["decisions"][0]["status"], "approved");
    // The stream delivers at least once: a second delivery resumes nothing.
    let again = w
        .deployment
        .handle(Function::ApprovalDecision, stream)
        .await
        .unwrap();
    assert_eq!(again["decisions"], json!([]));
}

/// Runs the execution named after the incident from its input to the end; returns the
/// states visited.
async fn run_execution(w: &World, input: Value) -> Vec<String> {
    let asl: Value = serde_json::from_str(&itops_lambda::state_machine::standard_asl()).unwrap();
    let states = asl["States"].as_object().unwrap();
    let mut name = asl["StartAt"].as_str().unwrap().to_string();
    let mut state = input;
    let mut visited = Vec::new();
    let incident_id: IncidentId = state["incident_id"].as_str().unwrap().parse().unwrap();
    for _ in 0..64 {
        visited.push(name.clone());
        let def = &states[&name];
        let next = match def["Type"].as_str().unwrap() {
            "Succeed" => return visited,
            "Pass" | "Wait" => def["Next"].as_str().unwrap().to_string(),
            "Choice" => def["Choices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| holds(c, &state))
                .map_or_else(|| def["Default"].clone(), |c| c["Next"].clone())
                .as_str()
                .unwrap()
                .to_string(),
            "Task" => {
                let parameters = &def["Parameters"];
                let function = function_of(parameters["FunctionName"].as_str().unwrap());
                let waits = def["Resource"]
                    .as_str()
                    .unwrap()
                    .ends_with(".waitForTaskToken");
                let token = format!("task-token-{}", visited.len());
                let input = payload(parameters, &state, &token);
                let result = match w.deployment.handle(function, input).await {
                    Ok(answer) if waits => {
                        if answer["waiting"] == json!(true) {
                            approve(w, incident_id).await;
                        }
                        Ok(w.executions.output_for(&token).unwrap_or_else(|| {
                            panic!("nothing resumed the approval task ({answer})")
                        }))
                    }
                    Ok(answer) => Ok(json!({ "Payload": answer })),
                    Err(error) => Err(error),
                };
                match result {
                    Ok(result) => {
                        if let Some(selector) = def.get("ResultSelector") {
                            let path = selector["payload.$"].as_str().unwrap();
                            let selected =
                                json!({ "payload": at(&result, path).cloned().unwrap() });
                            if def["ResultPath"] == json!("$.step") {
                                state["step"] = selected;
                            }
                        }
                        def["Next"].as_str().unwrap().to_string()
                    }
                    Err(error) => {
                        let catch = &def["Catch"][0];
                        state["error"] = json!({ "Error": "Lambda", "Cause": error.to_string() });
                        catch["Next"].as_str().unwrap().to_string()
                    }
                }
            }
            other => panic!("a state type the test does not know: {other}"),
        };
        name = next;
    }
    panic!("the execution did not end: {visited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_is_resolved_through_approval_by_the_functions_on_the_emulator() {
    let w = world().await;

    // A memory leak develops until the monitor would alarm; CloudWatch's alarm reaches the
    // alarm intake function through SNS.
    let live = w.live.clone();
    let report = tokio::task::spawn_blocking(move || {
        let now = live.environment().now();
        live.inject(FaultSpec::new(FaultKind::MemoryLeak, "checkout", now, 0.8))
            .unwrap();
        live.advance_until_reported(Duration::from_secs(3 * 60 * 60))
            .unwrap()
    })
    .await
    .unwrap()
    .expect("the leak is reported");
    let alarm = json!({
        "AlarmName": "checkout-memory",
        "AlarmDescription": report.description,
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: memory above 90%",
        "Trigger": { "MetricName": "MemoryUtilization",
                     "Dimensions": [{ "name": "ServiceName", "value": "checkout" }] }
    });
    let sns = json!({ "Records": [{ "EventSource": "aws:sns", "Sns": {
        "Type": "Notification", "Message": alarm.to_string() } }] });
    let intake = w
        .deployment
        .handle(Function::AlarmIntake, sns.clone())
        .await
        .unwrap();
    let incident_id: IncidentId = intake["alarms"][0]["incident"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The same alarm again is the same incident, and no second execution.
    let again = w
        .deployment
        .handle(Function::AlarmIntake, sns)
        .await
        .unwrap();
    assert_eq!(again["alarms"][0]["created"], json!(false));
    assert_eq!(*w.executions.started.lock().unwrap(), vec![incident_id]);

    // The execution exists on the emulator, named after the incident, with its id as input.
    let executions = w
        .sfn
        .list_executions()
        .state_machine_arn(w.deployment.config.state_machine_arn.clone().unwrap())
        .send()
        .await
        .unwrap();
    let execution = executions
        .executions()
        .iter()
        .find(|e| e.name() == incident_id.to_string())
        .expect("an execution named after the incident");
    let described = w
        .sfn
        .describe_execution()
        .execution_arn(execution.execution_arn())
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input, json!({ "incident_id": incident_id }));
    // A duplicate start of the same incident is harmless.
    w.executions.inner.start(incident_id).await.unwrap();

    let visited = run_execution(&w, input).await;
    let story: Vec<String> = w
        .deployment
        .store
        .timeline(incident_id, 0, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind != TimelineKind::Thought && e.kind != TimelineKind::Observation)
        .map(|e| format!("{} {}", e.kind, e.summary))
        .collect();
    assert!(
        visited.ends_with(&["Resolved".to_string(), "ResolvedEnd".to_string()]),
        "{visited:?}\n{}",
        story.join("\n")
    );
    for state in [
        "Triaging",
        "Investigating",
        "Planning",
        "AwaitingApproval",
        "Executing",
        "Verifying",
    ] {
        assert!(
            visited.iter().any(|v| v == state),
            "{state} not visited: {visited:?}"
        );
    }

    // The incident, its checkpoint and its timeline agree with the state machine.
    let store = w.deployment.store.clone();
    assert_eq!(
        store.get_incident(incident_id).await.unwrap().status,
        IncidentStatus::Resolved
    );
    let checkpoint = store.get_checkpoint(incident_id).await.unwrap().unwrap();
    assert_eq!(checkpoint.state, IncidentStatus::Resolved);
    assert!(checkpoint.data.verification.unwrap().resolved);
    let timeline = store.timeline(incident_id, 0, 10_000).await.unwrap();
    let count = |kind: TimelineKind| timeline.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count(TimelineKind::ApprovalRequested), 1);
    assert_eq!(count(TimelineKind::ApprovalDecided), 1);
    assert!(count(TimelineKind::Action) >= 1);
    assert_eq!(count(TimelineKind::Verification), 1);

    // A retried task after the end answers the recorded outcome and runs nothing again.
    let retried = w
        .deployment
        .handle(Function::Verify, json!({ "incident_id": incident_id }))
        .await
        .unwrap();
    assert_eq!(retried["outcome"], "verified");
    assert_eq!(retried["resolved"], true);
    assert_eq!(
        store.timeline(incident_id, 0, 10_000).await.unwrap().len(),
        timeline.len()
    );

    // The incident is readable through the API function.
    let read = api(
        &w.deployment,
        "GET",
        &format!("/api/incidents/{incident_id}"),
        None,
    )
    .await;
    assert_eq!(read["status"], "resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_escalates_and_the_end_catches_the_checkpoint_up() {
    let w = world().await;
    let incident = itops_core::NewIncident::new("queue depth high", itops_core::Severity::Medium)
        .service("checkout");
    let created = itops_core::incidents::open_incident(
        w.deployment.store.as_ref(),
        chrono::Utc::now(),
        &itops_core::Actor::Human("alice".into()),
        incident,
    )
    .await
    .unwrap();
    let runner: &LocalRunner = &w.deployment.runner;
    runner.start(created.id).await.unwrap();

    // A task for a step the workflow is not at fails (the machine's Catch escalates).
    let error = w
        .deployment
        .handle(Function::Execute, json!({ "incident_id": created.id }))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not 'execute'"), "{error}");
    // Events without what the functions need are refused with a clear message.
    for (function, event) in [
        (Function::Triage, json!({})),
        (Function::Triage, json!({ "incident_id": "nope" })),
        (
            Function::ApprovalRequest,
            json!({ "incident_id": created.id }),
        ),
        (Function::ApprovalDecision, json!({ "nope": 1 })),
        (Function::AlarmIntake, json!({ "Records": [] })),
    ] {
        assert!(w.deployment.handle(function, event).await.is_err());
    }

    // The escalated end: the notify function ends the workflow where the machine ended it.
    let ended = w
        .deployment
        .handle(
            Function::Notify,
            json!({ "incident_id": created.id, "status": "escalated" }),
        )
        .await
        .unwrap();
    assert_eq!(ended["notified"], "escalated");
    let store = &w.deployment.store;
    assert_eq!(
        store.get_incident(created.id).await.unwrap().status,
        IncidentStatus::Escalated
    );
    assert!(store
        .get_checkpoint(created.id)
        .await
        .unwrap()
        .unwrap()
        .is_finished());
    // Later tasks of the ended workflow answer an escalating outcome.
    let late = w
        .deployment
        .handle(Function::Triage, json!({ "incident_id": created.id }))
        .await
        .unwrap();
    assert_eq!(late["outcome"], "failed");
}
