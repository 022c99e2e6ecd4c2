//! The `StateStore` suite.

use std::future::Future;
use std::sync::Arc;

use chrono::DateTime;
use chrono::Utc;

use super::{expect_conflict, t0, CaseResult, ConformanceReport, Context, RACERS};
use crate::domain::{
    Actor, Incident, IncidentStatus, NewIncident, Severity, TimelineEntry, TimelineKind,
};
use crate::error::Error;
use crate::id::{ApprovalId, IncidentId};
use crate::knowledge::{DocumentKind, KnowledgeDocument};
use crate::store::{AgentState, IncidentFilter, StateStore};
use crate::workflow::WorkflowCheckpoint;

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn incident(
    title: &str,
    severity: Severity,
    services: &[&str],
    created_at: DateTime<Utc>,
) -> Result<Incident, String> {
    let mut report =
        NewIncident::new(title, severity).description("observed in a conformance test");
    for service in services {
        report = report.service(*service);
    }
    report
        .into_incident(created_at)
        .map_err(|e| format!("building the test incident '{title}': {e}"))
}

async fn create<S: StateStore + ?Sized>(
    store: &S,
    incident: &Incident,
) -> Result<Incident, String> {
    store
        .create_incident(incident)
        .await
        .ctx(&format!("create_incident '{}'", incident.title))
}

fn entry(incident_id: IncidentId, n: i64, summary: &str) -> TimelineEntry {
    TimelineEntry::new(
        incident_id,
        t0() + minutes(n),
        Actor::Agent("triage".to_string()),
        TimelineKind::Thought,
        summary,
    )
}

fn document(id: &str, kind: DocumentKind, title: &str) -> KnowledgeDocument {
    KnowledgeDocument {
        id: id.to_string(),
        kind,
        title: title.to_string(),
        body: format!("# {title}\n\nSteps: check `disk`, then \"restart\"."),
        tags: vec!["disk".to_string(), "memory_leak".to_string()],
        services: vec!["db".to_string()],
        updated_at: t0(),
        version: 0,
    }
}

/// Ids sorted newest first, the order `list_incidents` must return.
fn newest_first(incidents: &[&Incident]) -> Vec<IncidentId> {
    let mut ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
    ids.sort_by_key(|id| std::cmp::Reverse(id.to_string()));
    ids
}

async fn list_ids<S: StateStore + ?Sized>(
    store: &S,
    filter: IncidentFilter,
    what: &str,
) -> Result<Vec<IncidentId>, String> {
    let page = store.list_incidents(&filter).await.ctx(what)?;
    ensure!(
        page.next_cursor.is_none(),
        "{what}: expected a single page, got next_cursor {:?}",
        page.next_cursor
    );
    Ok(page.items.iter().map(|i| i.id).collect())
}

/// Runs every [`StateStore`] case. `make` must return a fresh, empty store each call.
pub async fn state_store_conformance<F, Fut, S>(make: F) -> ConformanceReport
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: StateStore + 'static,
{
    let mut report = ConformanceReport::new("StateStore");
    macro_rules! case {
        ($name:literal, $case:ident) => {
            report.run($name, $case(Arc::new(make().await))).await;
        };
    }
    case!("incident create and get", incident_create_and_get);
    case!(
        "incident create with nonzero version is invalid",
        incident_create_nonzero_version
    );
    case!(
        "incident create twice is AlreadyExists",
        incident_create_twice
    );
    case!("incident missing is NotFound", incident_missing);
    case!("incident update bumps the version", incident_update);
    case!("incident stale update is Conflict", incident_stale_update);
    case!(
        "incident concurrent updates: exactly one wins",
        incident_concurrent_updates
    );
    case!("incident delete cascades", incident_delete_cascades);
    case!("list newest first with cursor pagination", list_pagination);
    case!("list filters", list_filters);
    case!("list filters with pagination", list_filtered_pagination);
    case!("list page size is clamped", list_page_size_clamped);
    case!(
        "timeline append order, seq, after_seq, limit",
        timeline_append_and_read
    );
    case!("timeline seq is per incident", timeline_seq_per_incident);
    case!("timeline of a missing incident", timeline_missing_incident);
    case!(
        "timeline concurrent appends get distinct seqs",
        timeline_concurrent_appends
    );
    case!("agent state create, update, conflict", agent_state_versions);
    case!("checkpoint create, update, conflict", checkpoint_versions);
    case!(
        "unfinished checkpoints exclude terminal states",
        checkpoint_unfinished
    );
    case!(
        "knowledge put, get, list, update, conflict, delete",
        knowledge_documents
    );
    report
}

async fn incident_create_and_get<S: StateStore>(store: Arc<S>) -> CaseResult {
    // Quotes, SQL, newlines and non-ASCII must survive any encoding the backend uses.
    let mut new = incident(
        "Disk \"full\" on db-1 — ünïcode ✓",
        Severity::High,
        &["db", "it's \"quoted\""],
        t0(),
    )?;
    new.description = "line 1\nline 2'; DROP TABLE incidents; --".to_string();
    let created = create(&*store, &new).await?;
    let mut expected = new.clone();
    expected.version = 1;
    ensure_eq!(created, expected, "create_incident result");
    let got = store.get_incident(new.id).await.ctx("get_incident")?;
    ensure_eq!(got, expected, "get_incident after create");
    Ok(())
}

async fn incident_create_nonzero_version<S: StateStore>(store: Arc<S>) -> CaseResult {
    let mut new = incident("versioned", Severity::Low, &[], t0())?;
    new.version = 3;
    ensure_err!(
        store.create_incident(&new).await,
        Error::Invalid { .. },
        "create_incident with version 3"
    );
    ensure_err!(
        store.get_incident(new.id).await,
        Error::NotFound { .. },
        "get_incident after a refused create"
    );
    Ok(())
}

async fn incident_create_twice<S: StateStore>(store: Arc<S>) -> CaseResult {
    let new = incident("twice", Severity::Low, &[], t0())?;
    create(&*store, &new).await?;
    let mut again = new.clone();
    again.title = "changed".to_string();
    ensure_err!(
        store.create_incident(&again).await,
        Error::AlreadyExists { .. },
        "second create_incident with the same id"
    );
    let got = store.get_incident(new.id).await.ctx("get_incident")?;
    ensure_eq!(got.title, new.title, "title after a refused second create");
    Ok(())
}

async fn incident_missing<S: StateStore>(store: Arc<S>) -> CaseResult {
    let mut ghost = incident("ghost", Severity::Low, &[], t0())?;
    ensure_err!(
        store.get_incident(ghost.id).await,
        Error::NotFound { .. },
        "get_incident of an unknown id"
    );
    ghost.version = 1;
    ensure_err!(
        store.update_incident(&ghost).await,
        Error::NotFound { .. },
        "update_incident of an unknown id"
    );
    ensure_err!(
        store.delete_incident(ghost.id).await,
        Error::NotFound { .. },
        "delete_incident of an unknown id"
    );
    Ok(())
}

async fn incident_update<S: StateStore>(store: Arc<S>) -> CaseResult {
    let created = create(
        &*store,
        &incident("update me", Severity::Medium, &["api"], t0())?,
    )
    .await?;
    let mut change = created
        .clone()
        .with_status(IncidentStatus::Investigating, t0() + minutes(5));
    change.title = "updated title".to_string();
    change.affected_services.push("db".to_string());
    let updated = store
        .update_incident(&change)
        .await
        .ctx("first update_incident")?;
    let mut expected = change.clone();
    expected.version = 2;
    ensure_eq!(updated, expected, "first update_incident result");
    let got = store.get_incident(created.id).await.ctx("get_incident")?;
    ensure_eq!(got, expected, "get_incident after update");

    let again = updated.with_status(IncidentStatus::Planning, t0() + minutes(6));
    let updated = store
        .update_incident(&again)
        .await
        .ctx("second update_incident")?;
    ensure_eq!(updated.version, 3, "version after a second update");
    ensure_eq!(
        updated.status,
        IncidentStatus::Planning,
        "status after a second update"
    );
    Ok(())
}

async fn incident_stale_update<S: StateStore>(store: Arc<S>) -> CaseResult {
    let created = create(&*store, &incident("stale", Severity::Medium, &[], t0())?).await?;
    let mut first = created.clone();
    first.title = "first writer".to_string();
    store
        .update_incident(&first)
        .await
        .ctx("first update_incident")?;
    let mut second = created.clone();
    second.title = "second writer".to_string();
    expect_conflict(
        store.update_incident(&second).await,
        1,
        2,
        "update_incident at version 1 when 2 is stored",
    )?;
    let mut zero = created.clone();
    zero.version = 0;
    expect_conflict(
        store.update_incident(&zero).await,
        0,
        2,
        "update_incident at version 0",
    )?;
    let got = store.get_incident(created.id).await.ctx("get_incident")?;
    ensure_eq!(got.title, "first writer", "title after the refused update");
    ensure_eq!(got.version, 2, "version after the refused update");
    Ok(())
}

async fn incident_concurrent_updates<S: StateStore + 'static>(store: Arc<S>) -> CaseResult {
    let created = create(&*store, &incident("race", Severity::Critical, &[], t0())?).await?;
    let read = store.get_incident(created.id).await.ctx("get_incident")?;
    let mut tasks = Vec::with_capacity(RACERS);
    for n in 0..RACERS {
        let store = Arc::clone(&store);
        let mut mine = read.clone();
        mine.title = format!("writer {n}");
        tasks.push(tokio::spawn(
            async move { store.update_incident(&mine).await },
        ));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.ctx("update task")? {
            Ok(updated) => winners.push(updated),
            Err(Error::Conflict {
                expected: 1,
                actual: 2,
                ..
            }) => {}
            Err(other) => {
                return Err(format!(
                    "writer {n}: expected Ok or Conflict(1 -> 2), got {other:?}"
                ))
            }
        }
    }
    ensure!(
        winners.len() == 1,
        "{} of {RACERS} concurrent updates from version 1 succeeded; exactly one must",
        winners.len()
    );
    let got = store.get_incident(created.id).await.ctx("get_incident")?;
    ensure_eq!(got.version, 2, "final version");
    ensure_eq!(got.title, winners[0].title, "final title is the winner's");
    Ok(())
}

async fn incident_delete_cascades<S: StateStore>(store: Arc<S>) -> CaseResult {
    let doomed = create(&*store, &incident("doomed", Severity::Low, &[], t0())?).await?;
    let kept = create(&*store, &incident("kept", Severity::Low, &[], t0())?).await?;
    for id in [doomed.id, kept.id] {
        store
            .append_timeline(&entry(id, 1, "first"))
            .await
            .ctx("append_timeline")?;
        store
            .put_agent_state(&AgentState {
                incident_id: id,
                agent: "root_cause".to_string(),
                data: serde_json::json!({"step": 1}),
                version: 0,
            })
            .await
            .ctx("put_agent_state")?;
        store
            .put_checkpoint(&WorkflowCheckpoint::new(id, IncidentStatus::Triaging, t0()))
            .await
            .ctx("put_checkpoint")?;
    }

    store
        .delete_incident(doomed.id)
        .await
        .ctx("delete_incident")?;
    ensure_err!(
        store.get_incident(doomed.id).await,
        Error::NotFound { .. },
        "get_incident after delete"
    );
    ensure_eq!(
        store
            .timeline(doomed.id, 0, 100)
            .await
            .ctx("timeline after delete")?
            .len(),
        0,
        "timeline entries left after delete"
    );
    ensure!(
        store
            .get_agent_state(doomed.id, "root_cause")
            .await
            .ctx("get_agent_state after delete")?
            .is_none(),
        "agent state survived delete_incident"
    );
    ensure!(
        store
            .get_checkpoint(doomed.id)
            .await
            .ctx("get_checkpoint after delete")?
            .is_none(),
        "checkpoint survived delete_incident"
    );
    let unfinished = store
        .unfinished_checkpoints()
        .await
        .ctx("unfinished_checkpoints")?;
    ensure!(
        unfinished.iter().all(|c| c.incident_id != doomed.id),
        "unfinished_checkpoints lists a deleted incident"
    );
    ensure_err!(
        store.append_timeline(&entry(doomed.id, 2, "late")).await,
        Error::NotFound { .. },
        "append_timeline after delete"
    );
    ensure_err!(
        store.delete_incident(doomed.id).await,
        Error::NotFound { .. },
        "second delete_incident"
    );

    // The other incident is untouched.
    store
        .get_incident(kept.id)
        .await
        .ctx("get_incident of the kept incident")?;
    ensure_eq!(
        store
            .timeline(kept.id, 0, 100)
            .await
            .ctx("timeline of the kept incident")?
            .len(),
        1,
        "kept incident's timeline length"
    );
    ensure!(
        store
            .get_agent_state(kept.id, "root_cause")
            .await
            .ctx("get_agent_state")?
            .is_some(),
        "the kept incident lost its agent state"
    );
    ensure!(
        store
            .get_checkpoint(kept.id)
            .await
            .ctx("get_checkpoint")?
            .is_some(),
        "the kept incident lost its checkpoint"
    );

    // A re-created incident starts with an empty timeline.
    let mut reborn = doomed.clone();
    reborn.version = 0;
    let again = create(&*store, &reborn).await?;
    ensure_eq!(again.version, 1, "version of a re-created incident");
    let first = store
        .append_timeline(&entry(doomed.id, 3, "reborn"))
        .await
        .ctx("append_timeline")?;
    ensure_eq!(
        first.seq,
        1,
        "first seq of a re-created incident's timeline"
    );
    Ok(())
}

async fn list_pagination<S: StateStore>(store: Arc<S>) -> CaseResult {
    let mut all = Vec::new();
    for n in 0..7 {
        all.push(
            create(
                &*store,
                &incident(
                    &format!("incident {n}"),
                    Severity::Medium,
                    &[],
                    t0() + minutes(n),
                )?,
            )
            .await?,
        );
    }
    let expected = newest_first(&all.iter().collect::<Vec<_>>());
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let filter = IncidentFilter {
            limit: Some(3),
            cursor,
            ..IncidentFilter::default()
        };
        let page = store.list_incidents(&filter).await.ctx("list_incidents")?;
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|i| i.id));
        if let (Some(next), Some(last)) = (page.next_cursor, page.items.last()) {
            ensure_eq!(next, last.id, "next_cursor is the page's last id");
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    ensure!(cursor.is_none(), "pagination did not end after 10 pages");
    ensure_eq!(sizes, vec![3, 3, 1], "page sizes");
    ensure_eq!(seen, expected, "ids over all pages, newest first");

    let everything = list_ids(
        &*store,
        IncidentFilter::default(),
        "list_incidents without filter",
    )
    .await?;
    ensure_eq!(everything, expected, "single default page");
    let page = store
        .list_incidents(&IncidentFilter::default())
        .await
        .ctx("list_incidents")?;
    let first = all
        .iter()
        .find(|i| i.id == expected[0])
        .ok_or("newest incident missing")?;
    ensure_eq!(
        page.items[0],
        *first,
        "listed incident equals the stored one"
    );
    Ok(())
}

async fn list_filters<S: StateStore>(store: Arc<S>) -> CaseResult {
    let mut a = incident("a", Severity::Critical, &["api", "db"], t0())?;
    a.status = IncidentStatus::Open;
    let mut b = incident("b", Severity::High, &["api"], t0() + minutes(60))?;
    b.status = IncidentStatus::Investigating;
    b.dedup_key = Some("alertmanager:{}:{alertname=\"Slow\"}".to_string());
    let mut c = incident(
        "c",
        Severity::Low,
        &["web", "it's \"quoted\""],
        t0() + minutes(120),
    )?;
    c.status = IncidentStatus::Resolved;
    let mut d = incident("d", Severity::High, &["db", "cache"], t0() + minutes(180))?;
    d.status = IncidentStatus::Open;
    d.dedup_key = Some("grafana:db".to_string());
    d.correlated_keys = vec![
        "grafana:cache".to_string(),
        "alertmanager:{}:{alertname=\"Full\"}".to_string(),
    ];
    for i in [&a, &b, &c, &d] {
        create(&*store, i).await?;
    }
    let cases: Vec<(&str, IncidentFilter, Vec<&Incident>)> = vec![
        ("no filter", IncidentFilter::default(), vec![&a, &b, &c, &d]),
        (
            "status open",
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                ..IncidentFilter::default()
            },
            vec![&a, &d],
        ),
        (
            "status escalated (none)",
            IncidentFilter {
                status: Some(IncidentStatus::Escalated),
                ..IncidentFilter::default()
            },
            vec![],
        ),
        (
            "severity high",
            IncidentFilter {
                severity: Some(Severity::High),
                ..IncidentFilter::default()
            },
            vec![&b, &d],
        ),
        (
            "service db",
            IncidentFilter {
                service: Some("db".to_string()),
                ..IncidentFilter::default()
            },
            vec![&a, &d],
        ),
        (
            "service api",
            IncidentFilter {
                service: Some("api".to_string()),
                ..IncidentFilter::default()
            },
            vec![&a, &b],
        ),
        (
            "service with quotes",
            IncidentFilter {
                service: Some("it's \"quoted\"".to_string()),
                ..IncidentFilter::default()
            },
            vec![&c],
        ),
        (
            "service prefix does not match",
            IncidentFilter {
                service: Some("ap".to_string()),
                ..IncidentFilter::default()
            },
            vec![],
        ),
        (
            "created_after is inclusive",
            IncidentFilter {
                created_after: Some(t0() + minutes(60)),
                ..IncidentFilter::default()
            },
            vec![&b, &c, &d],
        ),
        (
            "created_before is exclusive",
            IncidentFilter {
                created_before: Some(t0() + minutes(120)),
                ..IncidentFilter::default()
            },
            vec![&a, &b],
        ),
        (
            "created range",
            IncidentFilter {
                created_after: Some(t0() + minutes(30)),
                created_before: Some(t0() + minutes(180)),
                ..IncidentFilter::default()
            },
            vec![&b, &c],
        ),
        (
            "dedup key: the incident's own",
            IncidentFilter {
                dedup_key: Some("alertmanager:{}:{alertname=\"Slow\"}".to_string()),
                ..IncidentFilter::default()
            },
            vec![&b],
        ),
        (
            "dedup key: one that joined the incident",
            IncidentFilter {
                dedup_key: Some("alertmanager:{}:{alertname=\"Full\"}".to_string()),
                ..IncidentFilter::default()
            },
            vec![&d],
        ),
        (
            "dedup key prefix does not match",
            IncidentFilter {
                dedup_key: Some("grafana".to_string()),
                ..IncidentFilter::default()
            },
            vec![],
        ),
        (
            "status, severity and service together",
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                severity: Some(Severity::High),
                service: Some("db".to_string()),
                ..IncidentFilter::default()
            },
            vec![&d],
        ),
    ];
    for (what, filter, expected) in cases {
        // The filter's own `matches` is the reference the backends must agree with.
        let reference: Vec<&Incident> = [&a, &b, &c, &d]
            .into_iter()
            .filter(|i| filter.matches(i))
            .collect();
        ensure_eq!(
            newest_first(&reference),
            newest_first(&expected),
            format!("IncidentFilter::matches for {what}")
        );
        let got = list_ids(&*store, filter, &format!("list_incidents with {what}")).await?;
        ensure_eq!(
            got,
            newest_first(&expected),
            format!("list_incidents with {what}")
        );
    }
    Ok(())
}

async fn list_filtered_pagination<S: StateStore>(store: Arc<S>) -> CaseResult {
    let mut high = Vec::new();
    for n in 0..10 {
        let severity = if n % 2 == 0 {
            Severity::High
        } else {
            Severity::Low
        };
        let created = create(
            &*store,
            &incident(
                &format!("incident {n}"),
                severity,
                &["api"],
                t0() + minutes(n),
            )?,
        )
        .await?;
        if severity == Severity::High {
            high.push(created);
        }
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let filter = IncidentFilter {
            severity: Some(Severity::High),
            service: Some("api".to_string()),
            limit: Some(2),
            cursor,
            ..IncidentFilter::default()
        };
        let page = store.list_incidents(&filter).await.ctx("list_incidents")?;
        ensure!(!page.items.is_empty(), "an empty page before the last");
        seen.extend(page.items.iter().map(|i| i.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    ensure!(cursor.is_none(), "pagination did not end after 10 pages");
    ensure_eq!(
        seen,
        newest_first(&high.iter().collect::<Vec<_>>()),
        "filtered ids over all pages"
    );
    Ok(())
}

async fn list_page_size_clamped<S: StateStore>(store: Arc<S>) -> CaseResult {
    for n in 0..3 {
        create(
            &*store,
            &incident(&format!("incident {n}"), Severity::Low, &[], t0())?,
        )
        .await?;
    }
    let page = store
        .list_incidents(&IncidentFilter {
            limit: Some(0),
            ..IncidentFilter::default()
        })
        .await
        .ctx("list_incidents with limit 0")?;
    ensure_eq!(page.items.len(), 1, "items with limit 0 (clamped to 1)");
    ensure!(
        page.next_cursor.is_some(),
        "limit 0: expected a next_cursor"
    );
    let page = store
        .list_incidents(&IncidentFilter {
            limit: Some(1_000_000),
            ..IncidentFilter::default()
        })
        .await
        .ctx("list_incidents with a huge limit")?;
    ensure_eq!(page.items.len(), 3, "items with a huge limit");
    ensure!(
        page.next_cursor.is_none(),
        "huge limit: expected no next_cursor"
    );
    Ok(())
}

async fn timeline_append_and_read<S: StateStore>(store: Arc<S>) -> CaseResult {
    let created = create(&*store, &incident("timeline", Severity::Medium, &[], t0())?).await?;
    let mut appended = Vec::new();
    for n in 0..5 {
        let mut e = entry(created.id, n, &format!("step {n}")).with_payload(serde_json::json!({
            "n": n,
            "values": [1, 2.5, "three", null],
            "nested": {"quote": "it's \"here\"", "unicode": "ü✓"},
        }));
        // The store assigns seq; whatever the caller put there is ignored.
        e.seq = 42;
        let stored = store.append_timeline(&e).await.ctx("append_timeline")?;
        let mut expected = e.clone();
        expected.seq = u64::try_from(n).unwrap_or(0) + 1;
        ensure_eq!(stored, expected, format!("append_timeline result {n}"));
        appended.push(stored);
    }
    let all = store
        .timeline(created.id, 0, 100)
        .await
        .ctx("timeline(0, 100)")?;
    ensure_eq!(all, appended, "timeline(0, 100)");
    let middle = store
        .timeline(created.id, 2, 2)
        .await
        .ctx("timeline(2, 2)")?;
    ensure_eq!(
        middle.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![3, 4],
        "seqs of timeline(2, 2)"
    );
    ensure_eq!(middle, appended[2..4].to_vec(), "timeline(2, 2)");
    let tail = store
        .timeline(created.id, 3, 100)
        .await
        .ctx("timeline(3, 100)")?;
    ensure_eq!(
        tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 5],
        "seqs of timeline(3, 100)"
    );
    ensure_eq!(
        store
            .timeline(created.id, 5, 10)
            .await
            .ctx("timeline(5, 10)")?
            .len(),
        0,
        "entries after the last seq"
    );
    ensure_eq!(
        store
            .timeline(created.id, 0, 0)
            .await
            .ctx("timeline(0, 0)")?
            .len(),
        0,
        "entries with limit 0"
    );
    ensure_eq!(
        store
            .timeline(created.id, u64::MAX, 10)
            .await
            .ctx("timeline(u64::MAX, 10)")?
            .len(),
        0,
        "entries after u64::MAX"
    );
    Ok(())
}

async fn timeline_seq_per_incident<S: StateStore>(store: Arc<S>) -> CaseResult {
    let one = create(&*store, &incident("one", Severity::Low, &[], t0())?).await?;
    let two = create(&*store, &incident("two", Severity::Low, &[], t0())?).await?;
    let mut seqs_one = Vec::new();
    let mut seqs_two = Vec::new();
    for n in 0..3 {
        seqs_one.push(
            store
                .append_timeline(&entry(one.id, n, "one"))
                .await
                .ctx("append_timeline")?
                .seq,
        );
        seqs_two.push(
            store
                .append_timeline(&entry(two.id, n, "two"))
                .await
                .ctx("append_timeline")?
                .seq,
        );
    }
    ensure_eq!(seqs_one, vec![1, 2, 3], "seqs of the first incident");
    ensure_eq!(seqs_two, vec![1, 2, 3], "seqs of the second incident");
    let read = store.timeline(two.id, 0, 10).await.ctx("timeline")?;
    ensure!(
        read.iter()
            .all(|e| e.incident_id == two.id && e.summary == "two"),
        "timeline of one incident contains another's entries"
    );
    Ok(())
}

async fn timeline_missing_incident<S: StateStore>(store: Arc<S>) -> CaseResult {
    let ghost = IncidentId::new();
    ensure_err!(
        store.append_timeline(&entry(ghost, 0, "nobody")).await,
        Error::NotFound { .. },
        "append_timeline to a missing incident"
    );
    ensure_eq!(
        store
            .timeline(ghost, 0, 10)
            .await
            .ctx("timeline of a missing incident")?
            .len(),
        0,
        "entries of a missing incident"
    );
    Ok(())
}

async fn timeline_concurrent_appends<S: StateStore + 'static>(store: Arc<S>) -> CaseResult {
    let created = create(&*store, &incident("busy", Severity::High, &[], t0())?).await?;
    let mut tasks = Vec::with_capacity(RACERS);
    for n in 0..RACERS {
        let store = Arc::clone(&store);
        let e = entry(created.id, 0, &format!("writer {n}"));
        tasks.push(tokio::spawn(async move { store.append_timeline(&e).await }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(
            task.await
                .ctx("append task")?
                .ctx("concurrent append_timeline")?
                .seq,
        );
    }
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=u64::try_from(RACERS).unwrap_or(0)).collect();
    ensure_eq!(seqs, expected, "seqs from concurrent appends");
    let read = store.timeline(created.id, 0, 100).await.ctx("timeline")?;
    ensure_eq!(
        read.iter().map(|e| e.seq).collect::<Vec<_>>(),
        expected,
        "timeline seqs"
    );
    Ok(())
}

async fn agent_state_versions<S: StateStore>(store: Arc<S>) -> CaseResult {
    let created = create(&*store, &incident("agents", Severity::Low, &[], t0())?).await?;
    ensure!(
        store
            .get_agent_state(created.id, "triage")
            .await
            .ctx("get_agent_state")?
            .is_none(),
        "agent state before any put"
    );
    let new = AgentState {
        incident_id: created.id,
        agent: "triage".to_string(),
        data: serde_json::json!({"notes": ["a", "b"], "score": 0.75}),
        version: 0,
    };
    let first = store
        .put_agent_state(&new)
        .await
        .ctx("first put_agent_state")?;
    let mut expected = new.clone();
    expected.version = 1;
    ensure_eq!(first, expected, "first put_agent_state result");
    let got = store
        .get_agent_state(created.id, "triage")
        .await
        .ctx("get_agent_state")?;
    ensure_eq!(got, Some(expected.clone()), "get_agent_state after put");

    let mut change = first.clone();
    change.data = serde_json::json!({"notes": ["a", "b", "c"]});
    let second = store
        .put_agent_state(&change)
        .await
        .ctx("second put_agent_state")?;
    ensure_eq!(second.version, 2, "version after update");
    ensure_eq!(second.data, change.data, "data after update");

    expect_conflict(
        store.put_agent_state(&change).await,
        1,
        2,
        "put_agent_state at a stale version",
    )?;
    expect_conflict(
        store.put_agent_state(&new).await,
        0,
        2,
        "put_agent_state at version 0 over an existing one",
    )?;
    ensure!(
        store
            .get_agent_state(created.id, "remediation")
            .await
            .ctx("get_agent_state")?
            .is_none(),
        "another agent's state is visible under a different agent name"
    );
    let mut other = new.clone();
    other.agent = "remediation".to_string();
    other.version = 5;
    expect_conflict(
        store.put_agent_state(&other).await,
        5,
        0,
        "put_agent_state at version 5 with none stored",
    )?;
    let got = store
        .get_agent_state(created.id, "triage")
        .await
        .ctx("get_agent_state")?;
    ensure_eq!(
        got.map(|s| s.version),
        Some(2),
        "version after refused puts"
    );
    Ok(())
}

async fn checkpoint_versions<S: StateStore>(store: Arc<S>) -> CaseResult {
    let created = create(&*store, &incident("checkpoint", Severity::High, &[], t0())?).await?;
    ensure!(
        store
            .get_checkpoint(created.id)
            .await
            .ctx("get_checkpoint")?
            .is_none(),
        "checkpoint before any put"
    );
    let mut new = WorkflowCheckpoint::new(created.id, IncidentStatus::Triaging, t0());
    new.data.needs_approval = Some(true);
    new.data.approval_id = Some(ApprovalId::new());
    new.data.escalation_reason = Some("none yet — \"quoted\"".to_string());
    let first = store
        .put_checkpoint(&new)
        .await
        .ctx("first put_checkpoint")?;
    let mut expected = new.clone();
    expected.version = 1;
    ensure_eq!(first, expected, "first put_checkpoint result");
    ensure_eq!(
        store
            .get_checkpoint(created.id)
            .await
            .ctx("get_checkpoint")?,
        Some(expected),
        "get_checkpoint after put"
    );

    let mut change = first.clone();
    change.state = IncidentStatus::Investigating;
    change.steps_completed = 1;
    change.updated_at = t0() + minutes(1);
    let second = store
        .put_checkpoint(&change)
        .await
        .ctx("second put_checkpoint")?;
    let mut expected = change.clone();
    expected.version = 2;
    ensure_eq!(second, expected, "second put_checkpoint result");

    expect_conflict(
        store.put_checkpoint(&change).await,
        1,
        2,
        "put_checkpoint at a stale version",
    )?;
    expect_conflict(
        store.put_checkpoint(&new).await,
        0,
        2,
        "put_checkpoint at version 0 over an existing one",
    )?;
    let mut ghost = WorkflowCheckpoint::new(IncidentId::new(), IncidentStatus::Triaging, t0());
    ghost.version = 4;
    expect_conflict(
        store.put_checkpoint(&ghost).await,
        4,
        0,
        "put_checkpoint at version 4 with none stored",
    )?;
    ensure_eq!(
        store
            .get_checkpoint(created.id)
            .await
            .ctx("get_checkpoint")?,
        Some(expected),
        "checkpoint after refused puts"
    );
    Ok(())
}

async fn checkpoint_unfinished<S: StateStore>(store: Arc<S>) -> CaseResult {
    let mut incidents = Vec::new();
    for n in 0..4 {
        incidents.push(
            create(
                &*store,
                &incident(&format!("flow {n}"), Severity::Medium, &[], t0())?,
            )
            .await?,
        );
    }
    // Ids and update times increase together, so "oldest first" means the same either way.
    incidents.sort_by_key(|i| i.id.to_string());
    let states = [
        IncidentStatus::Triaging,
        IncidentStatus::Resolved,
        IncidentStatus::Escalated,
        IncidentStatus::AwaitingApproval,
    ];
    let mut stored = Vec::new();
    for (n, (incident, state)) in incidents.iter().zip(states).enumerate() {
        let at = t0() + minutes(i64::try_from(n).unwrap_or(0));
        stored.push(
            store
                .put_checkpoint(&WorkflowCheckpoint::new(incident.id, state, at))
                .await
                .ctx("put_checkpoint")?,
        );
    }
    let unfinished = store
        .unfinished_checkpoints()
        .await
        .ctx("unfinished_checkpoints")?;
    ensure_eq!(
        unfinished,
        vec![stored[0].clone(), stored[3].clone()],
        "unfinished checkpoints"
    );

    let mut done = stored[0].clone();
    done.state = IncidentStatus::Resolved;
    done.updated_at = t0() + minutes(10);
    store
        .put_checkpoint(&done)
        .await
        .ctx("put_checkpoint to resolved")?;
    let unfinished = store
        .unfinished_checkpoints()
        .await
        .ctx("unfinished_checkpoints")?;
    ensure_eq!(
        unfinished.iter().map(|c| c.incident_id).collect::<Vec<_>>(),
        vec![stored[3].incident_id],
        "unfinished after resolving one"
    );
    Ok(())
}

async fn knowledge_documents<S: StateStore>(store: Arc<S>) -> CaseResult {
    ensure_err!(
        store.get_document("runbook/none").await,
        Error::NotFound { .. },
        "get_document of an unknown id"
    );
    let docs = [
        document("runbook/memory-leak", DocumentKind::Runbook, "Memory leak"),
        document("runbook/disk-full", DocumentKind::Runbook, "Disk full"),
        document("note/on-call", DocumentKind::Note, "On-call notes"),
        document(
            "incident/0001",
            DocumentKind::PastIncident,
            "Checkout outage",
        ),
    ];
    for doc in &docs {
        let stored = store.put_document(doc).await.ctx("put_document")?;
        let mut expected = doc.clone();
        expected.version = 1;
        ensure_eq!(stored, expected, format!("put_document '{}'", doc.id));
    }
    let got = store
        .get_document("runbook/disk-full")
        .await
        .ctx("get_document")?;
    ensure_eq!(got.title, "Disk full", "title of the fetched document");
    ensure_eq!(got.body, docs[1].body, "body of the fetched document");

    let ids = |list: Vec<KnowledgeDocument>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    ensure_eq!(
        ids(store
            .list_documents(None)
            .await
            .ctx("list_documents(None)")?),
        vec![
            "incident/0001",
            "note/on-call",
            "runbook/disk-full",
            "runbook/memory-leak"
        ],
        "all documents, by id"
    );
    ensure_eq!(
        ids(store
            .list_documents(Some(DocumentKind::Runbook))
            .await
            .ctx("list_documents(runbook)")?),
        vec!["runbook/disk-full", "runbook/memory-leak"],
        "runbooks, by id"
    );
    ensure_eq!(
        ids(store
            .list_documents(Some(DocumentKind::PastIncident))
            .await
            .ctx("list_documents(past_incident)")?),
        vec!["incident/0001"],
        "past incidents"
    );

    let mut change = got.clone();
    change.body = "Updated steps.".to_string();
    change.tags.push("disk_full".to_string());
    let updated = store
        .put_document(&change)
        .await
        .ctx("update put_document")?;
    ensure_eq!(updated.version, 2, "version after update");
    ensure_eq!(
        store
            .get_document("runbook/disk-full")
            .await
            .ctx("get_document")?,
        updated,
        "document after update"
    );
    expect_conflict(
        store.put_document(&change).await,
        1,
        2,
        "put_document at a stale version",
    )?;
    expect_conflict(
        store.put_document(&docs[1]).await,
        0,
        2,
        "put_document at version 0 over an existing one",
    )?;
    let mut blank = document("runbook/blank", DocumentKind::Runbook, "x");
    blank.title = "  ".to_string();
    ensure_err!(
        store.put_document(&blank).await,
        Error::Invalid { .. },
        "put_document with a blank title"
    );

    store
        .delete_document("runbook/disk-full")
        .await
        .ctx("delete_document")?;
    ensure_err!(
        store.get_document("runbook/disk-full").await,
        Error::NotFound { .. },
        "get_document after delete"
    );
    ensure_err!(
        store.delete_document("runbook/disk-full").await,
        Error::NotFound { .. },
        "second delete_document"
    );
    ensure_eq!(
        ids(store
            .list_documents(Some(DocumentKind::Runbook))
            .await
            .ctx("list_documents(runbook)")?),
        vec!["runbook/memory-leak"],
        "runbooks after delete"
    );
    Ok(())
}
