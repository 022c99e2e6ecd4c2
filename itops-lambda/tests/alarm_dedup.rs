//! The same CloudWatch alarm delivered to 8 alarm-intake functions at once (8 Lambda
//! instances, each with its own process state, one table): one incident, one execution.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use itops_aws::{AwsSettings, DynamoDbTable};
use itops_core::store::IncidentFilter;
use itops_core::IncidentId;
use itops_lambda::app::steps::Settle;
use itops_lambda::lambda::{Deployment, Executions, Function, LambdaConfig, Surroundings};
use itops_sim::{LiveSim, SimConfig};
use serde_json::{json, Value};
use support::aws::{emulator_table, EmulatorTable};

/// Executions started, by incident.
#[derive(Default)]
struct Started(Mutex<Vec<IncidentId>>);

#[async_trait]
impl Executions for Started {
    async fn start(&self, incident_id: IncidentId) -> itops_core::Result<()> {
        self.0.lock().unwrap().push(incident_id);
        Ok(())
    }

    async fn resume(&self, _token: &str, _output: &Value) -> itops_core::Result<bool> {
        Ok(false)
    }
}

async fn instance(
    settings: &AwsSettings,
    table_name: &str,
    started: Arc<Started>,
    live: Arc<LiveSim>,
) -> Deployment {
    let sdk = settings.load().await.unwrap();
    let table = DynamoDbTable::from_sdk_config(&sdk, table_name.to_string());
    let vars = [
        ("ITOPS_TABLE", table_name),
        (
            "ITOPS_STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:itops",
        ),
        ("ITOPS_ADMIN_TOKEN", "alarm-dedup-admin-token-0123456789"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let env = live.environment().clone();
    Deployment::assemble(
        LambdaConfig::from_vars(&vars).unwrap(),
        table,
        started,
        Surroundings {
            telemetry: env.clone(),
            executor: env.clone(),
            clock: env,
            settle: Settle::Simulated(live),
            model: itops_lambda::app::AgentModel::offline(),
        },
    )
    .unwrap()
}

/// A CloudWatch alarm's state change to ALARM, as EventBridge delivers it.
fn alarm_event() -> Value {
    json!({
        "version": "0",
        "id": "3d9b2c1e-0000-4000-8000-000000000001",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2026-03-01T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:checkout-5xx"],
        "detail": {
            "alarmName": "checkout-5xx",
            "state": {"value": "ALARM", "reason": "Threshold Crossed: 5xx above 5 %",
                      "timestamp": "2026-03-01T10:00:00.000+0000"},
            "previousState": {"value": "OK"},
            "configuration": {"description": "checkout 5xx rate", "metrics": []}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_alarm_at_eight_instances_at_once_opens_one_incident_and_one_execution() {
    let Some(EmulatorTable {
        settings,
        name: table_name,
        ..
    }) = emulator_table("itops-dedup").await
    else {
        return;
    };
    let start = chrono::Utc::now() - chrono::Duration::minutes(30);
    let live = tokio::task::spawn_blocking(move || {
        LiveSim::start(SimConfig::new(5).start(start), Duration::from_secs(20 * 60))
    })
    .await
    .unwrap()
    .unwrap();
    let live = Arc::new(live);
    let started = Arc::new(Started::default());
    let mut instances = Vec::new();
    for _ in 0..8 {
        instances.push(Arc::new(
            instance(&settings, &table_name, started.clone(), live.clone()).await,
        ));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(instances.len()));
    let mut tasks = Vec::new();
    for deployment in &instances {
        let (deployment, barrier) = (deployment.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            deployment
                .handle(Function::AlarmIntake, alarm_event())
                .await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap().unwrap());
    }
    let created = answers
        .iter()
        .filter(|a| a["alarms"][0]["created"] == true)
        .count();
    let store = instances[0].store.clone();
    let incidents = store
        .list_incidents(&IncidentFilter {
            dedup_key: Some("cloudwatch:checkout-5xx".into()),
            ..IncidentFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(incidents.len(), 1, "incidents opened: {incidents:#?}");
    assert_eq!(created, 1, "{answers:#?}");
    let executions = started.0.lock().unwrap().clone();
    assert_eq!(executions, vec![incidents[0].id], "executions started");
    // Every instance answered with that incident.
    for answer in &answers {
        assert_eq!(
            answer["alarms"][0]["incident"]["id"],
            json!(incidents[0].id),
            "{answer}"
        );
    }

    // Once that incident has ended, the alarm firing again opens one new incident.
    let first = incidents[0].clone();
    store
        .update_incident(
            &first
                .clone()
                .with_status(itops_core::IncidentStatus::Resolved, chrono::Utc::now()),
        )
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(instances.len()));
    let mut tasks = Vec::new();
    for deployment in &instances {
        let (deployment, barrier) = (deployment.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            deployment
                .handle(Function::AlarmIntake, alarm_event())
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let incidents = store
        .list_incidents(&IncidentFilter {
            dedup_key: Some("cloudwatch:checkout-5xx".into()),
            ..IncidentFilter::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(incidents.len(), 2, "incidents: {incidents:#?}");
    let second = incidents.iter().find(|i| i.id != first.id).unwrap();
    assert_eq!(*started.0.lock().unwrap(), vec![first.id, second.id]);
}
