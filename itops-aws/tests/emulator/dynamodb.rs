//! `DynamoDbStateStore` and `DynamoDbApprovalGate` against the emulator: the core
//! conformance suites unchanged, plus concurrency, errors and the stored layout.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use itops_aws::{AwsSettings, DynamoDbApprovalGate, DynamoDbStateStore, DynamoDbTable};
use itops_core::testing::{approval_gate_conformance, state_store_conformance};
use itops_core::{
    Actor, ApprovalGate, ApprovalRequest, ApprovalStatus, Decision, DecisionAuth, Error, Incident,
    IncidentId, IncidentStore, NewIncident, Severity, SystemClock, TimelineEntry, TimelineKind,
    TimelineStore, Verdict,
};

use crate::moto;

async fn sdk() -> SdkConfig {
    moto::settings().load().await.unwrap()
}

/// A new, empty table with a unique name.
async fn fresh_table(sdk: &SdkConfig) -> DynamoDbTable {
    let name = format!("itops-test-{}", uuid_like());
    let table = DynamoDbTable::from_sdk_config(sdk, name);
    table.create().await.unwrap();
    table
}

fn uuid_like() -> String {
    IncidentId::new().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_store_conformance_on_dynamodb() {
    let sdk = sdk().await;
    let report =
        state_store_conformance(|| async { DynamoDbStateStore::new(fresh_table(&sdk).await) })
            .await;
    println!("{report}");
    report.ensure_passed().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approval_gate_conformance_on_dynamodb() {
    let sdk = sdk().await;
    let report = approval_gate_conformance(|clock| {
        let sdk = sdk.clone();
        async move { DynamoDbApprovalGate::new(fresh_table(&sdk).await, Arc::new(clock)) }
    })
    .await;
    println!("{report}");
    report.ensure_passed().unwrap();
}

fn new_incident(title: &str) -> Incident {
    NewIncident::new(title, Severity::High)
        .service("checkout")
        .into_incident(chrono::Utc::now())
        .unwrap()
}

/// N writers each add their own service to one incident, re-reading and retrying on
/// `Conflict`: no update is lost, and the conflicts are reported, not hidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    const WRITERS: usize = 12;
    let store = Arc::new(DynamoDbStateStore::new(fresh_table(&sdk().await).await));
    let created = store.create_incident(&new_incident("hot")).await.unwrap();
    // Every writer reads before any writes, so the first round surely collides.
    let first_read = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let store = Arc::clone(&store);
        let first_read = Arc::clone(&first_read);
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            loop {
                let mut current = store.get_incident(created.id).await.unwrap();
                if conflicts == 0 {
                    first_read.wait().await;
                }
                current.affected_services.push(format!("writer-{n}"));
                match store.update_incident(&current).await {
                    Ok(_) => return conflicts,
                    Err(Error::Conflict {
                        expected, actual, ..
                    }) => {
                        assert!(actual > expected, "conflict {expected} -> {actual}");
                        conflicts += 1;
                    }
                    Err(other) => panic!("writer {n}: {other}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let last = store.get_incident(created.id).await.unwrap();
    assert_eq!(
        last.version,
        1 + WRITERS as u64,
        "one version per successful update"
    );
    for n in 0..WRITERS {
        assert!(
            last.affected_services.contains(&format!("writer-{n}")),
            "writer {n}'s update was lost: {:?}",
            last.affected_services
        );
    }
    assert!(
        conflicts > 0,
        "{WRITERS} racing writers saw no conflict at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approval_decided_twice_has_one_winner() {
    let gate = Arc::new(DynamoDbApprovalGate::new(
        fresh_table(&sdk().await).await,
        Arc::new(SystemClock),
    ));
    let ticket = gate
        .request(ApprovalRequest::new(
            IncidentId::new(),
            "Restart checkout",
            Duration::from_secs(600),
        ))
        .await
        .unwrap();
    let decide = |verdict, who: &str| {
        let gate = Arc::clone(&gate);
        let decision = Decision {
            verdict,
            decided_by: who.to_string(),
            comment: None,
            auth: DecisionAuth::Token(ticket.token.clone()),
        };
        let id = ticket.approval.id;
        tokio::spawn(async move { gate.decide(id, decision).await })
    };
    let (a, b) = (
        decide(Verdict::Approve, "alice"),
        decide(Verdict::Reject, "bob"),
    );
    let results = [a.await.unwrap(), b.await.unwrap()];
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        matches!(loser, Error::ApprovalAlreadyDecided { .. }),
        "{loser:?}"
    );
    let stored = gate.get(ticket.approval.id).await.unwrap();
    assert_eq!(&stored, winners[0]);
    assert_ne!(stored.status, ApprovalStatus::Pending);
}

#[tokio::test]
async fn a_missing_table_says_so_and_how_to_fix_it() {
    let sdk = sdk().await;
    let table = DynamoDbTable::from_sdk_config(&sdk, "itops-no-such-table");
    let err = table.check().await.unwrap_err();
    assert!(
        matches!(err, itops_aws::Error::TableNotFound { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("itops-no-such-table") && text.contains("us-east-1"),
        "{text}"
    );
    assert!(text.contains("create it"), "{text}");

    // Through the core trait: a storage error carrying the same message.
    let store = DynamoDbStateStore::new(table);
    let err = store.get_incident(IncidentId::new()).await.unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(err.to_string().contains("itops-no-such-table"), "{err}");
}

#[tokio::test]
async fn a_table_in_another_region_is_not_found_there() {
    let table = fresh_table(&sdk().await).await;
    let elsewhere = moto::settings().region("eu-west-1").load().await.unwrap();
    let err = DynamoDbTable::from_sdk_config(&elsewhere, table.name())
        .check()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("eu-west-1"), "{err}");
}

#[tokio::test]
async fn an_oversized_record_is_refused_before_it_is_sent() {
    let store = DynamoDbStateStore::new(fresh_table(&sdk().await).await);
    let created = store.create_incident(&new_incident("big")).await.unwrap();
    let entry = TimelineEntry::new(
        created.id,
        chrono::Utc::now(),
        Actor::Tool("search_logs".to_string()),
        TimelineKind::Observation,
        "huge tool output",
    )
    .with_payload(serde_json::json!({"output": "x".repeat(500 * 1024)}));
    let err = store.append_timeline(&entry).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains("400 KB") || err.to_string().contains("too large"),
        "{err}"
    );
    assert!(store.timeline(created.id, 0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn unreachable_endpoint_names_the_service_and_region() {
    let sdk = AwsSettings::emulator("http://127.0.0.1:9")
        .load()
        .await
        .unwrap();
    let err = DynamoDbTable::from_sdk_config(&sdk, "t")
        .check()
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("DynamoDB") && text.contains("us-east-1"),
        "{text}"
    );
}

/// The stored layout is what the README documents, and numbers stay exact.
#[tokio::test]
async fn items_follow_the_documented_layout() {
    let table = fresh_table(&sdk().await).await;
    let store = DynamoDbStateStore::new(table.clone());
    let created = store
        .create_incident(&new_incident("layout"))
        .await
        .unwrap();
    let entry = TimelineEntry::new(
        created.id,
        chrono::Utc::now(),
        Actor::Agent("root_cause".to_string()),
        TimelineKind::Thought,
        "p99 up",
    )
    .with_payload(serde_json::json!({"p99_ms": 0.1, "count": 12345678901234567890u64}));
    store.append_timeline(&entry).await.unwrap();
    let item = table
        .client()
        .get_item()
        .table_name(table.name())
        .key("pk", AttributeValue::S(format!("INC#{}", created.id)))
        .key(
            "sk",
            AttributeValue::S("TL#00000000000000000001".to_string()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["seq"], AttributeValue::N("1".to_string()));
    let AttributeValue::S(data) = &item["data"] else {
        panic!("data is not a string")
    };
    assert!(
        data.contains(r#""p99_ms":0.1"#) && data.contains("12345678901234567890"),
        "{data}"
    );
    let read = store.timeline(created.id, 0, 10).await.unwrap();
    assert_eq!(
        read[0].payload["count"].as_u64(),
        Some(12345678901234567890)
    );
}

#[tokio::test]
async fn task_tokens_are_kept_per_incident_and_replaced() {
    let table = fresh_table(&sdk().await).await;
    let tokens = itops_aws::TaskTokens::new(table);
    let incident = IncidentId::new();
    assert_eq!(tokens.get(incident).await.unwrap(), None);
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    tokens.put(incident, "token-one", expires).await.unwrap();
    tokens.put(incident, "token-two", expires).await.unwrap();
    assert_eq!(
        tokens.get(incident).await.unwrap().as_deref(),
        Some("token-two")
    );
    assert_eq!(tokens.get(IncidentId::new()).await.unwrap(), None);
    tokens.remove(incident).await.unwrap();
    assert_eq!(tokens.get(incident).await.unwrap(), None);
}
