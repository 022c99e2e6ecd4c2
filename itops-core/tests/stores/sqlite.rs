//! `SqliteStore` against the conformance suites, plus what only a file-backed store can do.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::store::{AgentState, IncidentFilter, SqliteStore};
use itops_core::testing::{approval_gate_conformance, state_store_conformance};
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{
    Actor, ApprovalFilter, ApprovalGate, ApprovalRequest, ApprovalStatus, Decision, DecisionAuth,
    DocumentKind, Error, Incident, IncidentId, IncidentStatus, IncidentStore, KnowledgeDocument,
    KnowledgeStore, ManualClock, NewIncident, Severity, StateStore, SystemClock, TimelineEntry,
    TimelineKind, TimelineStore, Verdict,
};
use itops_core::{AgentStateStore, CheckpointStore};
use tempfile::TempDir;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_564_800, 0).unwrap()
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, Arc::new(SystemClock)).unwrap()
}

/// A fresh database file in `dir` per call.
fn fresh_path(dir: &TempDir, counter: &AtomicUsize) -> PathBuf {
    dir.path().join(format!(
        "store-{}.db",
        counter.fetch_add(1, Ordering::SeqCst)
    ))
}

async fn new_incident(store: &impl StateStore, title: &str) -> Incident {
    let incident = NewIncident::new(title, Severity::High)
        .service("checkout")
        .into_incident(t0())
        .unwrap();
    store.create_incident(&incident).await.unwrap()
}

fn note(incident_id: IncidentId, summary: &str) -> TimelineEntry {
    TimelineEntry::new(
        incident_id,
        t0(),
        Actor::Human("alice".to_string()),
        TimelineKind::Note,
        summary,
    )
}

fn user_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_passes_the_state_store_suite() {
    let dir = TempDir::new().unwrap();
    let counter = AtomicUsize::new(0);
    let report = state_store_conformance(|| {
        let path = fresh_path(&dir, &counter);
        async move { open(&path) }
    })
    .await;
    println!("{report}");
    report.ensure_passed().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_passes_the_approval_gate_suite() {
    let dir = TempDir::new().unwrap();
    let counter = AtomicUsize::new(0);
    let report = approval_gate_conformance(|clock| {
        let path = fresh_path(&dir, &counter);
        async move { SqliteStore::open(&path, Arc::new(clock)).unwrap() }
    })
    .await;
    println!("{report}");
    report.ensure_passed().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_passes_both_suites() {
    state_store_conformance(|| async {
        SqliteStore::open_in_memory(Arc::new(SystemClock)).unwrap()
    })
    .await
    .ensure_passed()
    .unwrap();
    approval_gate_conformance(|clock| async move {
        SqliteStore::open_in_memory(Arc::new(clock)).unwrap()
    })
    .await
    .ensure_passed()
    .unwrap();
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("itops.db");
    let clock = ManualClock::new(t0());

    let (incident, entry, ticket) = {
        let store = SqliteStore::open(&path, Arc::new(clock.clone())).unwrap();
        let incident = new_incident(&store, "checkout is down").await;
        let moved = incident
            .clone()
            .with_status(IncidentStatus::Investigating, t0());
        let incident = store.update_incident(&moved).await.unwrap();
        let entry = store
            .append_timeline(&note(incident.id, "paged the on-call"))
            .await
            .unwrap();
        store
            .put_agent_state(&AgentState {
                incident_id: incident.id,
                agent: "root_cause".to_string(),
                data: serde_json::json!({"suspects": ["checkout"]}),
                version: 0,
            })
            .await
            .unwrap();
        store
            .put_checkpoint(&WorkflowCheckpoint::new(
                incident.id,
                IncidentStatus::Investigating,
                t0(),
            ))
            .await
            .unwrap();
        store
            .put_document(&KnowledgeDocument {
                id: "runbook/checkout".to_string(),
                kind: DocumentKind::Runbook,
                title: "Checkout down".to_string(),
                body: "Restart checkout.".to_string(),
                tags: vec![],
                services: vec!["checkout".to_string()],
                updated_at: t0(),
                version: 0,
            })
            .await
            .unwrap();
        let ticket = store
            .request(ApprovalRequest::new(
                incident.id,
                "Restart checkout",
                Duration::from_secs(600),
            ))
            .await
            .unwrap();
        (incident, entry, ticket)
    };

    let store = SqliteStore::open(&path, Arc::new(clock.clone())).unwrap();
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
    assert_eq!(incident.version, 2);
    assert_eq!(
        store.timeline(incident.id, 0, 10).await.unwrap(),
        vec![entry]
    );
    let state = store
        .get_agent_state(incident.id, "root_cause")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.version, 1);
    assert_eq!(store.unfinished_checkpoints().await.unwrap().len(), 1);
    assert_eq!(
        store
            .get_document("runbook/checkout")
            .await
            .unwrap()
            .version,
        1
    );
    // The token's hash survived too: the token still decides the approval.
    let decided = store
        .decide(
            ticket.approval.id,
            Decision {
                verdict: Verdict::Approve,
                decided_by: "alice".to_string(),
                comment: None,
                auth: DecisionAuth::Token(ticket.token.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(decided.status, ApprovalStatus::Approved);
    // The next timeline entry continues the sequence.
    let next = store
        .append_timeline(&note(incident.id, "after reopen"))
        .await
        .unwrap();
    assert_eq!(next.seq, 2);
}

#[tokio::test]
async fn migrations_are_idempotent_on_reopen() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("itops.db");
    let incident = {
        let store = open(&path);
        new_incident(&store, "first open").await
    };
    assert_eq!(user_version(&path), i64::from(SqliteStore::SCHEMA_VERSION));
    for _ in 0..3 {
        let store = open(&path);
        assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
        assert_eq!(
            store
                .list_incidents(&IncidentFilter::default())
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    }
    assert_eq!(user_version(&path), i64::from(SqliteStore::SCHEMA_VERSION));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_file_that_is_not_a_database_is_a_storage_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("not-a-database.db");
    std::fs::write(&path, b"this is a text file, not SQLite; ".repeat(200)).unwrap();
    let err = SqliteStore::open(&path, Arc::new(SystemClock)).unwrap_err();
    match &err {
        Error::Storage { message, source } => {
            assert!(message.contains("not-a-database.db"), "{message}");
            assert!(message.contains("not a database"), "{message}");
            assert!(source.is_some());
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[test]
fn a_missing_directory_is_a_storage_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("no/such/dir/itops.db");
    let err = SqliteStore::open(&path, Arc::new(SystemClock)).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err:?}");
    assert!(err.to_string().contains("itops.db"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("future.db");
    drop(open(&path));
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, Arc::new(SystemClock)).unwrap_err();
    match &err {
        Error::Storage { message, .. } => assert!(message.contains("999"), "{message}"),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_share_writes_and_conflicts() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("shared.db");
    let a = Arc::new(open(&path));
    let b = Arc::new(open(&path));

    let created = new_incident(&*a, "shared").await;
    assert_eq!(b.get_incident(created.id).await.unwrap(), created);

    // b updates; a's copy is now stale.
    let from_b = b
        .update_incident(&created.clone().with_status(IncidentStatus::Triaging, t0()))
        .await
        .unwrap();
    assert_eq!(from_b.version, 2);
    let stale = a
        .update_incident(&created.clone().with_status(IncidentStatus::Escalated, t0()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            Error::Conflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{stale:?}"
    );
    assert_eq!(a.get_incident(created.id).await.unwrap(), from_b);

    // Both handles race on the same version: exactly one wins.
    let read = a.get_incident(created.id).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let mut mine = read.clone();
        mine.title = format!("writer {n}");
        tasks.push(tokio::spawn(
            async move { store.update_incident(&mine).await },
        ));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(updated) => {
                wins += 1;
                assert_eq!(updated.version, 3);
            }
            Err(Error::Conflict { .. }) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(b.get_incident(created.id).await.unwrap().version, 3);

    // Timeline appends from both handles get distinct, consecutive seqs.
    let mut tasks = Vec::new();
    for n in 0..10 {
        let store = if n % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let entry = note(created.id, &format!("note {n}"));
        tasks.push(tokio::spawn(
            async move { store.append_timeline(&entry).await },
        ));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap().unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=10).collect::<Vec<u64>>());

    // Approvals requested on one handle are decided once across both.
    let ticket = a
        .request(ApprovalRequest::new(
            created.id,
            "Restart checkout",
            Duration::from_secs(600),
        ))
        .await
        .unwrap();
    let operator = |who: &str| Decision {
        verdict: Verdict::Approve,
        decided_by: who.to_string(),
        comment: None,
        auth: DecisionAuth::Operator,
    };
    b.decide(ticket.approval.id, operator("bob")).await.unwrap();
    let again = a
        .decide(ticket.approval.id, operator("alice"))
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::ApprovalAlreadyDecided { .. }),
        "{again:?}"
    );
    let listed = a
        .list(&ApprovalFilter {
            status: Some(ApprovalStatus::Approved),
            incident_id: Some(created.id),
            ..ApprovalFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].decided_by.as_deref(), Some("bob"));

    // A delete on one handle is seen by the other, timeline included.
    b.delete_incident(created.id).await.unwrap();
    assert!(matches!(
        a.get_incident(created.id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(a.timeline(created.id, 0, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn clones_share_one_connection() {
    let store = SqliteStore::open_in_memory(Arc::new(SystemClock)).unwrap();
    let clone = store.clone();
    let created = new_incident(&store, "cloned").await;
    assert_eq!(clone.get_incident(created.id).await.unwrap(), created);
}
