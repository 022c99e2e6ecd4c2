//! Crash and resume: a runner is aborted mid-workflow, a new runner over a freshly opened
//! store resumes it, and every step completes once, every action executes at most once.

use std::sync::Arc;
use std::time::Duration;

use itops_core::approval::{ApprovalFilter, ApprovalGate, Verdict};
use itops_core::domain::IncidentStatus;
use itops_core::store::{MemoryStore, SqliteStore, StateStore};
use itops_core::workflow::{ActionState, LocalRunner, Progress, StepKind};
use itops_core::{IncidentId, ManualClock};
use tokio::sync::mpsc::unbounded_channel;

use crate::doubles::{Counts, Hang, Script, TestSteps};
use crate::{checkpoint, clock, decision, new_incident, timeline};

type Stores = (Arc<dyn StateStore>, Arc<dyn ApprovalGate>);

/// Where state survives a "restart".
enum Backend {
    /// The same in-memory store before and after (the process did not really die).
    Memory(Arc<MemoryStore>),
    /// A SQLite file, opened anew each time (as a restarted process would).
    Sqlite(tempfile::TempDir),
}

impl Backend {
    fn memory(clock: &ManualClock) -> Self {
        Backend::Memory(Arc::new(MemoryStore::new(Arc::new(clock.clone()))))
    }

    fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// Opens the store (again).
    fn open(&self, clock: &ManualClock) -> Stores {
        match self {
            Backend::Memory(store) => (store.clone(), store.clone()),
            Backend::Sqlite(dir) => {
                let store = Arc::new(
                    SqliteStore::open(dir.path().join("itops.db"), Arc::new(clock.clone()))
                        .unwrap(),
                );
                (store.clone(), store)
            }
        }
    }
}

fn runner(stores: &Stores, steps: TestSteps, clock: &ManualClock) -> LocalRunner {
    LocalRunner::new(
        stores.0.clone(),
        stores.1.clone(),
        Arc::new(steps),
        Arc::new(clock.clone()),
    )
}

struct Crashed {
    id: IncidentId,
    counts: Arc<Counts>,
}

/// Creates an incident, runs its workflow in a task until the double reaches `hang`, then
/// aborts the task and drops every handle on the store.
async fn run_until_crash(
    backend: &Backend,
    clock: &ManualClock,
    script: &Script,
    hang: Hang,
) -> Crashed {
    let counts = Arc::new(Counts::default());
    let stores = backend.open(clock);
    let id = new_incident(&*stores.0, clock).await;
    let (signal, mut reached) = unbounded_channel();
    let steps = TestSteps::new(script.clone(), counts.clone()).hanging(hang, signal);
    let runner = runner(&stores, steps, clock);
    runner.start(id).await.unwrap();
    let task = tokio::spawn(async move { runner.advance(id).await });
    let at = tokio::time::timeout(Duration::from_secs(30), reached.recv())
        .await
        .expect("the workflow reaches the crash point")
        .expect("the double signals");
    assert_eq!(at, hang);
    task.abort();
    let aborted = task.await.expect_err("the task was aborted");
    assert!(aborted.is_cancelled());
    // Nothing of the crashed runner survives: only these handles (and the backend's own
    // handle to the in-memory store) remain, so a SQLite file is closed when they drop.
    let survivors = match backend {
        Backend::Memory(_) => 3,
        Backend::Sqlite(_) => 2,
    };
    assert_eq!(Arc::strong_count(&stores.0), survivors);
    drop(stores);
    Crashed { id, counts }
}

/// A new runner over a newly opened store resumes every unfinished workflow.
async fn restart(
    backend: &Backend,
    clock: &ManualClock,
    script: &Script,
    crashed: &Crashed,
) -> (Stores, Progress) {
    let stores = backend.open(clock);
    let runner = runner(
        &stores,
        TestSteps::new(script.clone(), crashed.counts.clone()),
        clock,
    );
    let resumed = runner.resume_unfinished().await.unwrap();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    assert_eq!(resumed[0].0, crashed.id);
    let progress = resumed[0].1.clone();
    (stores, progress)
}

/// Every step on the path completed exactly once across both runners, and every action
/// of the plan was executed exactly once.
async fn assert_once_each(stores: &Stores, crashed: &Crashed, approval: bool) {
    let counts = &crashed.counts;
    for step in [
        StepKind::Triage,
        StepKind::Investigate,
        StepKind::Plan,
        StepKind::Verify,
    ] {
        assert_eq!(counts.step(step).completed(), 1, "{step} completed");
    }
    let cp = checkpoint(&*stores.0, crashed.id).await;
    let plan = cp.data.plan.as_ref().expect("a plan");
    for action in &plan.actions {
        assert_eq!(
            counts.executions_of(action.id),
            1,
            "action {}",
            action.catalogue_id
        );
    }
    assert_eq!(counts.execute.calls(), plan.actions.len());
    if approval {
        assert_eq!(counts.notify.calls(), 1, "the approval is announced once");
        let approvals = stores.1.list(&ApprovalFilter::default()).await.unwrap();
        assert_eq!(approvals.len(), 1, "the approval is requested once");
    }
    let incident = stores.0.get_incident(crashed.id).await.unwrap();
    assert_eq!(incident.status, cp.state);
}

async fn crash_after_triage(backend: Backend, clock: ManualClock) {
    let script = Script::default();
    let crashed =
        run_until_crash(&backend, &clock, &script, Hang::Step(StepKind::Investigate)).await;
    {
        let stores = backend.open(&clock);
        let cp = checkpoint(&*stores.0, crashed.id).await;
        assert_eq!(cp.state, IncidentStatus::Investigating);
        assert!(cp.data.triage.is_some());
    }
    let (stores, progress) = restart(&backend, &clock, &script, &crashed).await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Resolved));
    assert_once_each(&stores, &crashed, false).await;
    assert_eq!(crashed.counts.triage.calls(), 1, "triage is not run again");
    assert_eq!(
        crashed.counts.investigate.calls(),
        2,
        "the interrupted investigation runs again"
    );
}

async fn crash_mid_plan(backend: Backend, clock: ManualClock) {
    let script = Script::default();
    let crashed = run_until_crash(&backend, &clock, &script, Hang::Step(StepKind::Plan)).await;
    let (stores, progress) = restart(&backend, &clock, &script, &crashed).await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Resolved));
    assert_once_each(&stores, &crashed, false).await;
    assert_eq!(crashed.counts.plan.calls(), 2);
    assert_eq!(crashed.counts.investigate.calls(), 1);
}

async fn crash_while_awaiting_approval(backend: Backend, clock: ManualClock) {
    let script = Script {
        needs_approval: true,
        ..Script::default()
    };
    // The first runner stops while announcing the approval: it is stored and requested.
    let crashed = run_until_crash(&backend, &clock, &script, Hang::Notify).await;
    let (stores, progress) = restart(&backend, &clock, &script, &crashed).await;
    let Progress::AwaitingApproval { approval_id } = progress else {
        panic!("expected to wait for approval, got {progress:?}");
    };
    assert_eq!(crashed.counts.execute.calls(), 0);
    drop(stores);

    // Another restart, then a human decides through the reopened gate.
    let stores = backend.open(&clock);
    stores
        .1
        .decide(approval_id, decision(Verdict::Approve))
        .await
        .unwrap();
    drop(stores);
    let (stores, progress) = restart(&backend, &clock, &script, &crashed).await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Resolved));
    assert_once_each(&stores, &crashed, true).await;
    assert_eq!(
        checkpoint(&*stores.0, crashed.id).await.data.approval_id,
        Some(approval_id)
    );
}

async fn crash_mid_execute(backend: Backend, clock: ManualClock) {
    let script = Script::default();
    let crashed = run_until_crash(&backend, &clock, &script, Hang::Action(1)).await;
    let (stores, progress) = restart(&backend, &clock, &script, &crashed).await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Resolved));
    assert_once_each(&stores, &crashed, false).await;

    let cp = checkpoint(&*stores.0, crashed.id).await;
    let states: Vec<ActionState> = cp.data.actions.iter().map(|a| a.state).collect();
    assert_eq!(
        states,
        vec![ActionState::Succeeded, ActionState::Interrupted]
    );
    assert!(cp.data.actions[1].finished_at.is_some());
    let interrupted = timeline(&*stores.0, crashed.id)
        .await
        .into_iter()
        .find(|e| e.payload["state"] == "interrupted")
        .expect("the interruption is on the timeline");
    assert_eq!(interrupted.kind, itops_core::domain::TimelineKind::Action);
    // Verification saw the interrupted record.
    assert!(cp
        .data
        .verification
        .unwrap()
        .summary
        .contains("2 action(s)"));
}

async fn crash_mid_verify(backend: Backend, clock: ManualClock) {
    let script = Script::default();
    let crashed = run_until_crash(&backend, &clock, &script, Hang::Step(StepKind::Verify)).await;
    let (stores, progress) = restart(&backend, &clock, &script, &crashed).await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Resolved));
    assert_once_each(&stores, &crashed, false).await;
    assert_eq!(crashed.counts.verify.calls(), 2);
}

mod memory {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_after_triage() {
        let clock = clock();
        super::crash_after_triage(Backend::memory(&clock), clock).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_mid_plan() {
        let clock = clock();
        super::crash_mid_plan(Backend::memory(&clock), clock).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_while_awaiting_approval() {
        let clock = clock();
        super::crash_while_awaiting_approval(Backend::memory(&clock), clock).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_mid_execute() {
        let clock = clock();
        super::crash_mid_execute(Backend::memory(&clock), clock).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_mid_verify() {
        let clock = clock();
        super::crash_mid_verify(Backend::memory(&clock), clock).await;
    }
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_after_triage() {
        super::crash_after_triage(Backend::sqlite(), clock()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_mid_plan() {
        super::crash_mid_plan(Backend::sqlite(), clock()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_while_awaiting_approval() {
        super::crash_while_awaiting_approval(Backend::sqlite(), clock()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_mid_execute() {
        super::crash_mid_execute(Backend::sqlite(), clock()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crash_mid_verify() {
        super::crash_mid_verify(Backend::sqlite(), clock()).await;
    }
}

/// A stop between the final checkpoint and the incident's update, after the status change
/// was recorded: the next advance moves the incident to where its checkpoint is, and the
/// change stays on the timeline once.
#[tokio::test]
async fn crash_between_the_final_checkpoint_and_the_status_update() {
    let clock = clock();
    let store = Arc::new(MemoryStore::new(Arc::new(clock.clone())));
    let stores: Stores = (store.clone(), store.clone());
    let steps = TestSteps::new(Script::default(), Arc::new(Counts::default()));
    let runner = runner(&stores, steps, &clock);
    let id = new_incident(&*store, &clock).await;
    runner.start(id).await.unwrap();
    let resolved = Progress::Finished(IncidentStatus::Resolved);
    assert_eq!(runner.advance(id).await.unwrap(), resolved);

    // The incident as such a stop leaves it.
    let incident = stores.0.get_incident(id).await.unwrap();
    let now = incident.updated_at;
    stores
        .0
        .update_incident(&incident.with_status(IncidentStatus::Verifying, now))
        .await
        .unwrap();

    assert_eq!(runner.advance(id).await.unwrap(), resolved);
    let incident = stores.0.get_incident(id).await.unwrap();
    assert_eq!(incident.status, IncidentStatus::Resolved);
    let changes_to_resolved = timeline(&*store, id)
        .await
        .iter()
        .filter(|e| e.kind == itops_core::domain::TimelineKind::StatusChanged)
        .filter(|e| e.payload["to"] == "resolved")
        .count();
    assert_eq!(changes_to_resolved, 1);
}
