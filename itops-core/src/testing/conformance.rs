//! Conformance suites for store backends.
//!
//! Every [`StateStore`] and [`ApprovalGate`] must behave the same way: same errors, same
//! ordering, same optimistic-concurrency rules. Run these suites against a backend to check
//! it. Each case gets a fresh store from the `make` function, so cases are independent.
//!
//! ```ignore
//! use std::sync::Arc;
//! use itops_core::store::MemoryStore;
//! use itops_core::testing::{approval_gate_conformance, state_store_conformance};
//!
//! #[tokio::test]
//! async fn memory_store_conforms() {
//!     let report = state_store_conformance(|| async { MemoryStore::default() }).await;
//!     report.ensure_passed().unwrap();
//!     let report =
//!         approval_gate_conformance(|clock| async move { MemoryStore::new(Arc::new(clock)) }).await;
//!     report.ensure_passed().unwrap();
//! }
//! ```
//!
//! Concurrency cases spawn tasks with `tokio::spawn`, so the suites must run inside a Tokio
//! runtime.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;

use crate::approval::{
    ApprovalFilter, ApprovalGate, ApprovalRequest, ApprovalStatus, ApprovalToken, Decision,
    DecisionAuth, Verdict,
};
use crate::clock::{Clock, ManualClock};
use crate::domain::{
    Actor, Incident, IncidentStatus, NewIncident, Severity, TimelineEntry, TimelineKind,
};
use crate::error::Error;
use crate::id::{ApprovalId, IncidentId};
use crate::knowledge::{DocumentKind, KnowledgeDocument};
use crate::store::{AgentState, IncidentFilter, StateStore};
use crate::workflow::WorkflowCheckpoint;

/// How many tasks race in the concurrency cases.
const RACERS: usize = 8;

/// The outcome of one conformance case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseOutcome {
    /// What the case checks.
    pub name: &'static str,
    /// `None` when the case passed, else what went wrong.
    pub failure: Option<String>,
}

impl CaseOutcome {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// What a conformance suite found: one outcome per named case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformanceReport {
    /// The suite's name.
    pub suite: &'static str,
    /// Every case, in the order run.
    pub cases: Vec<CaseOutcome>,
}

impl ConformanceReport {
    fn new(suite: &'static str) -> Self {
        Self {
            suite,
            cases: Vec::new(),
        }
    }

    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(CaseOutcome::passed)
    }

    /// The failed cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseOutcome> {
        self.cases.iter().filter(|c| !c.passed())
    }

    /// `Ok` when every case passed, else the whole report as the error, for
    /// `report.ensure_passed().unwrap()` in a test.
    pub fn ensure_passed(&self) -> Result<(), String> {
        if self.passed() {
            Ok(())
        } else {
            Err(self.to_string())
        }
    }

    async fn run<Fut>(&mut self, name: &'static str, case: Fut)
    where
        Fut: Future<Output = CaseResult>,
    {
        // A panicking backend fails its case instead of hiding the rest of the report.
        let failure = match AssertUnwindSafe(case).catch_unwind().await {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(payload) => Some(format!("panicked: {}", panic_message(payload.as_ref()))),
        };
        self.cases.push(CaseOutcome { name, failure });
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let passed = self.cases.iter().filter(|c| c.passed()).count();
        writeln!(
            f,
            "{} conformance: {passed} of {} cases passed",
            self.suite,
            self.cases.len()
        )?;
        for case in &self.cases {
            match &case.failure {
                None => writeln!(f, "  ok    {}", case.name)?,
                Some(message) => writeln!(f, "  FAIL  {}: {message}", case.name)?,
            }
        }
        Ok(())
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}

type CaseResult = Result<(), String>;

/// Fails the case with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Fails the case unless both sides are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{}: expected {:?}, got {:?}", $what, right, left));
        }
    }};
}

/// Fails the case unless the result is an error matching the pattern.
macro_rules! ensure_err {
    ($result:expr, $pattern:pat, $what:expr) => {
        match $result {
            Err($pattern) => {}
            Err(other) => {
                return Err(format!(
                    "{}: expected {}, got error: {other:?}",
                    $what,
                    stringify!($pattern)
                ))
            }
            Ok(value) => {
                return Err(format!(
                    "{}: expected {}, got Ok({value:?})",
                    $what,
                    stringify!($pattern)
                ))
            }
        }
    };
}

/// Turns a store error into a case failure that says what was being done.
trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T> Context<T> for crate::Result<T> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error: {e} ({e:?})"))
    }
}

impl<T> Context<T> for std::result::Result<T, tokio::task::JoinError> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: task failed: {e}"))
    }
}

fn expect_conflict<T: fmt::Debug>(
    result: crate::Result<T>,
    expected: u64,
    actual: u64,
    what: &str,
) -> CaseResult {
    match result {
        Err(Error::Conflict {
            expected: e,
            actual: a,
            ..
        }) if e == expected && a == actual => Ok(()),
        Err(Error::Conflict {
            expected: e,
            actual: a,
            ..
        }) => Err(format!(
            "{what}: expected Conflict {{ expected: {expected}, actual: {actual} }}, got Conflict {{ expected: {e}, actual: {a} }}"
        )),
        Err(other) => Err(format!("{what}: expected Conflict, got error: {other:?}")),
        Ok(value) => Err(format!("{what}: expected Conflict, got Ok({value:?})")),
    }
}

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// 2024-05-01T12:00:00Z: a fixed, readable start time.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_564_800, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

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

// ---------------------------------------------------------------------------------------
// State store suite
// ---------------------------------------------------------------------------------------

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
    let again = create(&*store, &doomed.clone().tap_version(0)).await?;
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

trait TapVersion {
    fn tap_version(self, version: u64) -> Self;
}

impl TapVersion for Incident {
    fn tap_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
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
    let mut c = incident(
        "c",
        Severity::Low,
        &["web", "it's \"quoted\""],
        t0() + minutes(120),
    )?;
    c.status = IncidentStatus::Resolved;
    let mut d = incident("d", Severity::High, &["db", "cache"], t0() + minutes(180))?;
    d.status = IncidentStatus::Open;
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

// ---------------------------------------------------------------------------------------
// Approval gate suite
// ---------------------------------------------------------------------------------------

/// Runs every [`ApprovalGate`] case. `make` must return a fresh, empty gate that reads
/// time from the given clock (the suite moves it to test expiry).
pub async fn approval_gate_conformance<F, Fut, G>(make: F) -> ConformanceReport
where
    F: Fn(ManualClock) -> Fut,
    Fut: Future<Output = G>,
    G: ApprovalGate + 'static,
{
    let mut report = ConformanceReport::new("ApprovalGate");
    macro_rules! case {
        ($name:literal, $case:ident) => {
            let clock = ManualClock::new(t0());
            report
                .run($name, $case(Arc::new(make(clock.clone()).await), clock))
                .await;
        };
    }
    case!(
        "request returns a pending approval and a token",
        approval_request
    );
    case!("unknown approval is NotFound", approval_unknown);
    case!("approve with the token", approval_approve_with_token);
    case!("reject with the token", approval_reject_with_token);
    case!("wrong token is ApprovalTokenInvalid", approval_wrong_token);
    case!(
        "second decision is ApprovalAlreadyDecided",
        approval_second_decision
    );
    case!(
        "decision after expiry is ApprovalExpired",
        approval_decide_after_expiry
    );
    case!(
        "get reports a pending approval past expiry as expired",
        approval_get_reports_expiry
    );
    case!("expire_due marks only due approvals", approval_expire_due);
    case!("operator decides without a token", approval_operator);
    case!(
        "duplicate request id is AlreadyExists",
        approval_duplicate_request
    );
    case!(
        "invalid requests and decisions are Invalid",
        approval_invalid
    );
    case!(
        "list filters by incident and status, oldest first",
        approval_list
    );
    case!(
        "concurrent decisions: exactly one wins",
        approval_concurrent_decisions
    );
    report
}

fn request(incident_id: IncidentId, summary: &str, ttl_secs: u64) -> ApprovalRequest {
    let mut request = ApprovalRequest::new(incident_id, summary, Duration::from_secs(ttl_secs));
    request.payload = serde_json::json!({
        "actions": [{"kind": "restart_service", "service": "api", "risk": "medium"}],
        "note": "it's \"quoted\" ✓",
    });
    request.requested_by = Actor::Agent("remediation".to_string());
    request
}

fn with_token(verdict: Verdict, token: &ApprovalToken) -> Decision {
    Decision {
        verdict,
        decided_by: "alice".to_string(),
        comment: Some("looks right".to_string()),
        auth: DecisionAuth::Token(token.clone()),
    }
}

fn as_operator(verdict: Verdict, who: &str) -> Decision {
    Decision {
        verdict,
        decided_by: who.to_string(),
        comment: None,
        auth: DecisionAuth::Operator,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn approval_request<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let req = request(IncidentId::new(), "Restart api", 900);
    let ticket = gate.request(req.clone()).await.ctx("request")?;
    let a = &ticket.approval;
    ensure_eq!(a.id, req.id, "approval id");
    ensure_eq!(a.incident_id, req.incident_id, "incident id");
    ensure_eq!(a.summary, req.summary, "summary");
    ensure_eq!(a.payload, req.payload, "payload");
    ensure_eq!(a.requested_by, req.requested_by, "requested_by");
    ensure_eq!(a.status, ApprovalStatus::Pending, "status");
    ensure_eq!(a.version, 1, "version");
    ensure_eq!(a.requested_at, clock.now(), "requested_at");
    ensure_eq!(
        a.expires_at,
        clock.now() + chrono::Duration::seconds(900),
        "expires_at"
    );
    ensure!(
        a.decided_by.is_none() && a.decided_at.is_none() && a.comment.is_none(),
        "a new approval already has a decision: {a:?}"
    );
    ensure!(
        ticket.token.expose().len() >= 32,
        "the token is too short to be a secret"
    );
    let other = gate
        .request(request(req.incident_id, "Restart db", 900))
        .await
        .ctx("second request")?;
    ensure!(
        other.token != ticket.token,
        "two approvals got the same token"
    );
    let got = gate.get(req.id).await.ctx("get")?;
    ensure_eq!(got, ticket.approval, "get after request");
    Ok(())
}

async fn approval_unknown<G: ApprovalGate>(gate: Arc<G>, _clock: ManualClock) -> CaseResult {
    let id = ApprovalId::new();
    ensure_err!(
        gate.get(id).await,
        Error::NotFound { .. },
        "get of an unknown id"
    );
    ensure_err!(
        gate.decide(id, as_operator(Verdict::Approve, "alice"))
            .await,
        Error::NotFound { .. },
        "decide of an unknown id"
    );
    Ok(())
}

async fn approval_approve_with_token<G: ApprovalGate>(
    gate: Arc<G>,
    clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    clock.advance(secs(30));
    let decided = gate
        .decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ticket.token),
        )
        .await
        .ctx("decide")?;
    ensure_eq!(decided.status, ApprovalStatus::Approved, "status");
    ensure_eq!(decided.decided_by.as_deref(), Some("alice"), "decided_by");
    ensure_eq!(decided.decided_at, Some(clock.now()), "decided_at");
    ensure_eq!(decided.comment.as_deref(), Some("looks right"), "comment");
    ensure_eq!(decided.version, 2, "version");
    ensure_eq!(
        decided.requested_at,
        ticket.approval.requested_at,
        "requested_at"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?,
        decided,
        "get after the decision"
    );
    // A decided approval stays decided after its expiry time.
    clock.advance(secs(3600));
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Approved,
        "status of an approved approval after its expiry time"
    );
    Ok(())
}

async fn approval_reject_with_token<G: ApprovalGate>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Drop cache", 900))
        .await
        .ctx("request")?;
    let decided = gate
        .decide(
            ticket.approval.id,
            with_token(Verdict::Reject, &ticket.token),
        )
        .await
        .ctx("decide")?;
    ensure_eq!(decided.status, ApprovalStatus::Rejected, "status");
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Rejected,
        "status after get"
    );
    Ok(())
}

async fn approval_wrong_token<G: ApprovalGate>(gate: Arc<G>, _clock: ManualClock) -> CaseResult {
    let incident = IncidentId::new();
    let ticket = gate
        .request(request(incident, "Restart api", 900))
        .await
        .ctx("request")?;
    let other = gate
        .request(request(incident, "Restart db", 900))
        .await
        .ctx("second request")?;
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ApprovalToken::from_secret("guess"))
        )
        .await,
        Error::ApprovalTokenInvalid { .. },
        "decide with a made-up token"
    );
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &other.token)
        )
        .await,
        Error::ApprovalTokenInvalid { .. },
        "decide with another approval's token"
    );
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(
                Verdict::Approve,
                &ApprovalToken::from_secret(ticket.token.hash())
            )
        )
        .await,
        Error::ApprovalTokenInvalid { .. },
        "decide with the token's hash as the token"
    );
    let got = gate.get(ticket.approval.id).await.ctx("get")?;
    ensure_eq!(got, ticket.approval, "approval after refused decisions");
    gate.decide(
        ticket.approval.id,
        with_token(Verdict::Approve, &ticket.token),
    )
    .await
    .ctx("decide with the right token after wrong ones")?;
    Ok(())
}

async fn approval_second_decision<G: ApprovalGate>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    let first = gate
        .decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ticket.token),
        )
        .await
        .ctx("first decide")?;
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Reject, &ticket.token)
        )
        .await,
        Error::ApprovalAlreadyDecided { .. },
        "second decide with the token"
    );
    ensure_err!(
        gate.decide(ticket.approval.id, as_operator(Verdict::Reject, "bob"))
            .await,
        Error::ApprovalAlreadyDecided { .. },
        "second decide as operator"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?,
        first,
        "approval after refused decisions"
    );
    Ok(())
}

async fn approval_decide_after_expiry<G: ApprovalGate>(
    gate: Arc<G>,
    clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 60))
        .await
        .ctx("request")?;
    clock.advance(secs(60));
    ensure_err!(
        gate.decide(
            ticket.approval.id,
            with_token(Verdict::Approve, &ticket.token)
        )
        .await,
        Error::ApprovalExpired { .. },
        "decide with the token at the expiry time"
    );
    ensure_err!(
        gate.decide(ticket.approval.id, as_operator(Verdict::Approve, "bob"))
            .await,
        Error::ApprovalExpired { .. },
        "decide as operator after expiry"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Expired,
        "status after refused decisions"
    );
    Ok(())
}

async fn approval_get_reports_expiry<G: ApprovalGate>(
    gate: Arc<G>,
    clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 60))
        .await
        .ctx("request")?;
    clock.advance(secs(59));
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Pending,
        "status one second before expiry"
    );
    clock.advance(secs(1));
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Expired,
        "status at the expiry time"
    );
    Ok(())
}

async fn approval_expire_due<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let incident = IncidentId::new();
    let due = gate
        .request(request(incident, "due", 60))
        .await
        .ctx("request due")?;
    let later = gate
        .request(request(incident, "later", 600))
        .await
        .ctx("request later")?;
    let decided = gate
        .request(request(incident, "decided", 60))
        .await
        .ctx("request decided")?;
    gate.decide(decided.approval.id, as_operator(Verdict::Approve, "alice"))
        .await
        .ctx("decide")?;
    ensure_eq!(
        gate.expire_due()
            .await
            .ctx("expire_due before any expiry")?
            .len(),
        0,
        "expired before any expiry"
    );

    clock.advance(secs(120));
    let expired = gate.expire_due().await.ctx("expire_due")?;
    ensure_eq!(
        expired.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![due.approval.id],
        "ids marked expired"
    );
    let marked = &expired[0];
    ensure_eq!(
        marked.status,
        ApprovalStatus::Expired,
        "status of the expired approval"
    );
    ensure_eq!(
        marked.decided_at,
        Some(clock.now()),
        "decided_at of the expired approval"
    );
    ensure_eq!(marked.version, 2, "version of the expired approval");
    ensure_eq!(
        gate.get(due.approval.id).await.ctx("get due")?,
        *marked,
        "get of the expired approval"
    );
    ensure_eq!(
        gate.expire_due().await.ctx("second expire_due")?.len(),
        0,
        "expired by a second call"
    );
    ensure_eq!(
        gate.get(later.approval.id).await.ctx("get later")?.status,
        ApprovalStatus::Pending,
        "status of the approval not yet due"
    );
    ensure_eq!(
        gate.get(decided.approval.id)
            .await
            .ctx("get decided")?
            .status,
        ApprovalStatus::Approved,
        "status of the decided approval"
    );
    ensure_err!(
        gate.decide(due.approval.id, with_token(Verdict::Approve, &due.token))
            .await,
        Error::ApprovalExpired { .. },
        "decide after expire_due"
    );
    Ok(())
}

async fn approval_operator<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    clock.advance(secs(10));
    let decided = gate
        .decide(
            ticket.approval.id,
            as_operator(Verdict::Approve, "  ops-oncall  "),
        )
        .await
        .ctx("decide as operator")?;
    ensure_eq!(decided.status, ApprovalStatus::Approved, "status");
    ensure_eq!(
        decided.decided_by.as_deref(),
        Some("ops-oncall"),
        "decided_by (trimmed)"
    );
    ensure_eq!(decided.decided_at, Some(clock.now()), "decided_at");
    Ok(())
}

async fn approval_duplicate_request<G: ApprovalGate>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let req = request(IncidentId::new(), "Restart api", 900);
    let ticket = gate.request(req.clone()).await.ctx("request")?;
    let mut again = req.clone();
    again.summary = "something else".to_string();
    ensure_err!(
        gate.request(again).await,
        Error::AlreadyExists { .. },
        "second request with the same id"
    );
    ensure_eq!(
        gate.get(req.id).await.ctx("get")?,
        ticket.approval,
        "approval after the refused request"
    );
    gate.decide(req.id, with_token(Verdict::Approve, &ticket.token))
        .await
        .ctx("decide with the first token")?;
    Ok(())
}

async fn approval_invalid<G: ApprovalGate>(gate: Arc<G>, _clock: ManualClock) -> CaseResult {
    let blank = request(IncidentId::new(), "   ", 900);
    ensure_err!(
        gate.request(blank.clone()).await,
        Error::Invalid { .. },
        "request with a blank summary"
    );
    ensure_err!(
        gate.get(blank.id).await,
        Error::NotFound { .. },
        "get of a refused request"
    );
    let zero = request(IncidentId::new(), "Restart api", 0);
    ensure_err!(
        gate.request(zero).await,
        Error::Invalid { .. },
        "request with a zero ttl"
    );
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    let mut nobody = with_token(Verdict::Approve, &ticket.token);
    nobody.decided_by = " ".to_string();
    ensure_err!(
        gate.decide(ticket.approval.id, nobody).await,
        Error::Invalid { .. },
        "decide with a blank decided_by"
    );
    ensure_eq!(
        gate.get(ticket.approval.id).await.ctx("get")?.status,
        ApprovalStatus::Pending,
        "status after the refused decision"
    );
    Ok(())
}

async fn approval_list<G: ApprovalGate>(gate: Arc<G>, clock: ManualClock) -> CaseResult {
    let (x, y) = (IncidentId::new(), IncidentId::new());
    let x1 = gate
        .request(request(x, "x1", 3600))
        .await
        .ctx("request x1")?
        .approval
        .id;
    clock.advance(secs(1));
    let y1 = gate
        .request(request(y, "y1", 5))
        .await
        .ctx("request y1")?
        .approval
        .id;
    clock.advance(secs(1));
    let x2 = gate
        .request(request(x, "x2", 3600))
        .await
        .ctx("request x2")?
        .approval
        .id;
    clock.advance(secs(1));
    let x3 = gate
        .request(request(x, "x3", 3600))
        .await
        .ctx("request x3")?
        .approval
        .id;
    gate.decide(x2, as_operator(Verdict::Approve, "alice"))
        .await
        .ctx("approve x2")?;
    gate.decide(x3, as_operator(Verdict::Reject, "alice"))
        .await
        .ctx("reject x3")?;
    clock.advance(secs(10));

    let cases = [
        ("no filter", ApprovalFilter::default(), vec![x1, y1, x2, x3]),
        (
            "incident x",
            ApprovalFilter {
                incident_id: Some(x),
                ..ApprovalFilter::default()
            },
            vec![x1, x2, x3],
        ),
        (
            "pending",
            ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                ..ApprovalFilter::default()
            },
            vec![x1],
        ),
        (
            "expired (pending past expiry)",
            ApprovalFilter {
                status: Some(ApprovalStatus::Expired),
                ..ApprovalFilter::default()
            },
            vec![y1],
        ),
        (
            "approved",
            ApprovalFilter {
                status: Some(ApprovalStatus::Approved),
                ..ApprovalFilter::default()
            },
            vec![x2],
        ),
        (
            "rejected on incident x",
            ApprovalFilter {
                status: Some(ApprovalStatus::Rejected),
                incident_id: Some(x),
            },
            vec![x3],
        ),
        (
            "pending on incident y",
            ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                incident_id: Some(y),
            },
            vec![],
        ),
    ];
    for (what, filter, expected) in cases {
        let listed = gate.list(&filter).await.ctx(&format!("list {what}"))?;
        ensure_eq!(
            listed.iter().map(|a| a.id).collect::<Vec<_>>(),
            expected,
            format!("list {what}")
        );
        if let Some(status) = filter.status {
            ensure!(
                listed.iter().all(|a| a.status == status),
                "list {what}: reported statuses {:?}",
                listed.iter().map(|a| a.status).collect::<Vec<_>>()
            );
        }
    }
    let all = gate.list(&ApprovalFilter::default()).await.ctx("list")?;
    let expired = all
        .iter()
        .find(|a| a.id == y1)
        .ok_or("y1 missing from the list")?;
    ensure_eq!(
        expired.status,
        ApprovalStatus::Expired,
        "status of y1 in an unfiltered list"
    );
    Ok(())
}

async fn approval_concurrent_decisions<G: ApprovalGate + 'static>(
    gate: Arc<G>,
    _clock: ManualClock,
) -> CaseResult {
    let ticket = gate
        .request(request(IncidentId::new(), "Restart api", 900))
        .await
        .ctx("request")?;
    let mut tasks = Vec::with_capacity(RACERS);
    for n in 0..RACERS {
        let gate = Arc::clone(&gate);
        let verdict = if n % 2 == 0 {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        let decision = if n % 3 == 0 {
            with_token(verdict, &ticket.token)
        } else {
            as_operator(verdict, &format!("operator {n}"))
        };
        let id = ticket.approval.id;
        tasks.push(tokio::spawn(async move { gate.decide(id, decision).await }));
    }
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.ctx("decide task")? {
            Ok(decided) => winners.push(decided),
            Err(Error::ApprovalAlreadyDecided { .. }) => {}
            Err(other) => {
                return Err(format!(
                    "decider {n}: expected Ok or ApprovalAlreadyDecided, got {other:?}"
                ))
            }
        }
    }
    ensure!(
        winners.len() == 1,
        "{} of {RACERS} concurrent decisions succeeded; exactly one must",
        winners.len()
    );
    let got = gate.get(ticket.approval.id).await.ctx("get")?;
    ensure_eq!(got, winners[0], "stored approval is the winning decision");
    Ok(())
}
