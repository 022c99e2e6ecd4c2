//! The incident workflow run by the local durable runner, with scripted step doubles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod crash;
mod doubles;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use itops_core::approval::{
    ApprovalFilter, ApprovalGate, ApprovalStatus, Decision, DecisionAuth, Verdict,
};
use itops_core::domain::{
    Actor, IncidentStatus, NewIncident, Route, Severity, TimelineEntry, TimelineKind,
};
use itops_core::store::{MemoryStore, Observed, StateStore};
use itops_core::workflow::{ActionState, LocalRunner, Progress, StepKind, WorkflowCheckpoint};
use itops_core::{ApprovalId, Error, IncidentId, IncidentStore, ManualClock};

use doubles::{Counts, Meddler, MeddlingStore, Script, TestSteps};

const TTL: Duration = Duration::from_secs(15 * 60);

fn clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap())
}

async fn new_incident(store: &dyn StateStore, clock: &ManualClock) -> IncidentId {
    let incident = NewIncident::new("checkout p99 latency high", Severity::High)
        .service("checkout")
        .into_incident(itops_core::Clock::now(clock))
        .unwrap();
    store.create_incident(&incident).await.unwrap().id
}

async fn timeline(store: &dyn StateStore, id: IncidentId) -> Vec<TimelineEntry> {
    store.timeline(id, 0, 10_000).await.unwrap()
}

async fn kinds(store: &dyn StateStore, id: IncidentId) -> Vec<TimelineKind> {
    timeline(store, id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn status_path(store: &dyn StateStore, id: IncidentId) -> Vec<IncidentStatus> {
    timeline(store, id)
        .await
        .into_iter()
        .filter(|e| e.kind == TimelineKind::StatusChanged)
        .map(|e| serde_json::from_value(e.payload["to"].clone()).unwrap())
        .collect()
}

async fn checkpoint(store: &dyn StateStore, id: IncidentId) -> WorkflowCheckpoint {
    store
        .get_checkpoint(id)
        .await
        .unwrap()
        .expect("a checkpoint")
}

fn decision(verdict: Verdict) -> Decision {
    Decision {
        verdict,
        decided_by: "alice".into(),
        comment: Some("looked at the dashboards".into()),
        auth: DecisionAuth::Operator,
    }
}

struct Harness {
    clock: ManualClock,
    store: Arc<MemoryStore>,
    counts: Arc<Counts>,
    runner: LocalRunner,
}

impl Harness {
    fn new(script: Script) -> Self {
        let clock = clock();
        let store = Arc::new(MemoryStore::new(Arc::new(clock.clone())));
        let counts = Arc::new(Counts::default());
        let runner = LocalRunner::new(
            store.clone(),
            store.clone(),
            Arc::new(TestSteps::new(script, counts.clone())),
            Arc::new(clock.clone()),
        )
        .with_approval_ttl(TTL);
        Self {
            clock,
            store,
            counts,
            runner,
        }
    }

    async fn incident(&self) -> IncidentId {
        new_incident(&*self.store, &self.clock).await
    }

    /// Creates an incident, starts and advances its workflow.
    async fn run(&self) -> (IncidentId, Progress) {
        let id = self.incident().await;
        self.runner.start(id).await.unwrap();
        let progress = self.runner.advance(id).await.unwrap();
        (id, progress)
    }

    async fn status(&self, id: IncidentId) -> IncidentStatus {
        self.store.get_incident(id).await.unwrap().status
    }

    async fn checkpoint(&self, id: IncidentId) -> WorkflowCheckpoint {
        checkpoint(&*self.store, id).await
    }
}

#[tokio::test]
async fn happy_path_with_auto_approval_resolves_with_the_full_timeline() {
    let h = Harness::new(Script::default());
    let (id, progress) = h.run().await;

    assert_eq!(progress, Progress::Finished(IncidentStatus::Resolved));
    assert_eq!(h.status(id).await, IncidentStatus::Resolved);
    let cp = h.checkpoint(id).await;
    assert_eq!(cp.state, IncidentStatus::Resolved);
    assert_eq!(cp.steps_completed, 6);
    assert!(cp.data.triage.is_some() && cp.data.finding.is_some());
    assert_eq!(cp.data.needs_approval, Some(false));
    assert_eq!(cp.data.approval_id, None);
    assert_eq!(cp.data.actions.len(), 2);
    assert!(cp
        .data
        .actions
        .iter()
        .all(|a| a.state == ActionState::Succeeded && a.finished_at.is_some()));
    assert!(cp.data.verification.as_ref().unwrap().resolved);
    assert_eq!(cp.data.escalation_reason, None);

    use TimelineKind as K;
    assert_eq!(
        kinds(&*h.store, id).await,
        vec![
            K::StatusChanged,
            K::Triage,
            K::StatusChanged,
            K::Finding,
            K::StatusChanged,
            K::Plan,
            K::StatusChanged,
            K::Action,
            K::Action,
            K::StatusChanged,
            K::Verification,
            K::StatusChanged,
        ]
    );
    use IncidentStatus as S;
    assert_eq!(
        status_path(&*h.store, id).await,
        vec![
            S::Triaging,
            S::Investigating,
            S::Planning,
            S::Executing,
            S::Verifying,
            S::Resolved
        ]
    );

    let entries = timeline(&*h.store, id).await;
    let actor_of = |kind: K| {
        entries
            .iter()
            .find(|e| e.kind == kind)
            .unwrap()
            .actor
            .clone()
    };
    assert_eq!(actor_of(K::Triage), Actor::Agent("triage".into()));
    assert_eq!(actor_of(K::Finding), Actor::Agent("root_cause".into()));
    assert_eq!(actor_of(K::Plan), Actor::Agent("remediation".into()));
    assert_eq!(actor_of(K::StatusChanged), Actor::System);
    let triage = entries.iter().find(|e| e.kind == K::Triage).unwrap();
    assert_eq!(triage.payload["route"], "investigate");
    let action = entries.iter().find(|e| e.kind == K::Action).unwrap();
    assert_eq!(action.payload["state"], "succeeded");
    assert_eq!(action.payload["catalogue_id"], "restart_service");

    for step in [
        StepKind::Triage,
        StepKind::Investigate,
        StepKind::Plan,
        StepKind::Verify,
    ] {
        assert_eq!(h.counts.step(step).calls(), 1, "{step}");
    }
    assert_eq!(h.counts.execute.calls(), 2);

    // Finished workflows stay finished.
    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::Finished(IncidentStatus::Resolved)
    );
    assert!(h.runner.resume_unfinished().await.unwrap().is_empty());
    assert_eq!(h.counts.triage.calls(), 1);
}

#[tokio::test]
async fn triage_routing_to_escalation_escalates() {
    let h = Harness::new(Script {
        route: Route::Escalate,
        ..Script::default()
    });
    let (id, progress) = h.run().await;

    assert_eq!(progress, Progress::Finished(IncidentStatus::Escalated));
    assert_eq!(h.status(id).await, IncidentStatus::Escalated);
    let cp = h.checkpoint(id).await;
    assert!(cp
        .data
        .escalation_reason
        .unwrap()
        .contains("triage routed the incident to humans"));
    assert_eq!(h.counts.investigate.calls(), 0);
    assert_eq!(h.counts.plan.calls(), 0);
    assert_eq!(
        status_path(&*h.store, id).await,
        vec![IncidentStatus::Triaging, IncidentStatus::Escalated]
    );
    let last = timeline(&*h.store, id).await.pop().unwrap();
    assert_eq!(last.kind, TimelineKind::StatusChanged);
    assert!(last.payload["reason"].as_str().unwrap().contains("triage"));
}

async fn run_until_approval(h: &Harness) -> (IncidentId, ApprovalId) {
    let (id, progress) = h.run().await;
    let Progress::AwaitingApproval { approval_id } = progress else {
        panic!("expected to wait for approval, got {progress:?}");
    };
    assert_eq!(h.status(id).await, IncidentStatus::AwaitingApproval);
    let cp = h.checkpoint(id).await;
    assert_eq!(cp.state, IncidentStatus::AwaitingApproval);
    assert_eq!(cp.data.approval_id, Some(approval_id));
    assert_eq!(cp.data.needs_approval, Some(true));
    let approval = h.store.get(approval_id).await.unwrap();
    assert_eq!(approval.status, ApprovalStatus::Pending);
    assert_eq!(approval.incident_id, id);
    assert_eq!(
        approval.expires_at - approval.requested_at,
        chrono::Duration::from_std(TTL).unwrap()
    );
    assert_eq!(approval.payload["actions"].as_array().unwrap().len(), 2);
    assert_eq!(h.counts.notify.calls(), 1);
    assert_eq!(h.counts.execute.calls(), 0);
    (id, approval_id)
}

#[tokio::test]
async fn approval_needed_waits_then_approval_resolves() {
    let h = Harness::new(Script {
        needs_approval: true,
        ..Script::default()
    });
    let (id, approval_id) = run_until_approval(&h).await;

    // Asking again while pending neither re-requests nor executes.
    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::AwaitingApproval { approval_id }
    );
    assert_eq!(
        h.runner.resume_unfinished().await.unwrap(),
        vec![(id, Progress::AwaitingApproval { approval_id })]
    );
    assert_eq!(
        h.store
            .list(&ApprovalFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(h.counts.notify.calls(), 1);
    assert_eq!(h.counts.execute.calls(), 0);

    h.store
        .decide(approval_id, decision(Verdict::Approve))
        .await
        .unwrap();
    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::Finished(IncidentStatus::Resolved)
    );
    assert_eq!(h.status(id).await, IncidentStatus::Resolved);
    assert_eq!(h.counts.execute.calls(), 2);

    let entries = timeline(&*h.store, id).await;
    use TimelineKind as K;
    let kinds: Vec<K> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == K::ApprovalRequested).count(),
        1
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == K::ApprovalDecided).count(),
        1
    );
    let decided = entries
        .iter()
        .find(|e| e.kind == K::ApprovalDecided)
        .unwrap();
    assert_eq!(decided.actor, Actor::Human("alice".into()));
    assert_eq!(decided.payload["status"], "approved");
    use IncidentStatus as S;
    assert_eq!(
        status_path(&*h.store, id).await,
        vec![
            S::Triaging,
            S::Investigating,
            S::Planning,
            S::AwaitingApproval,
            S::Executing,
            S::Verifying,
            S::Resolved
        ]
    );
}

#[tokio::test]
async fn rejected_approval_escalates_without_executing() {
    let h = Harness::new(Script {
        needs_approval: true,
        ..Script::default()
    });
    let (id, approval_id) = run_until_approval(&h).await;

    h.store
        .decide(approval_id, decision(Verdict::Reject))
        .await
        .unwrap();
    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::Finished(IncidentStatus::Escalated)
    );
    assert_eq!(h.status(id).await, IncidentStatus::Escalated);
    assert_eq!(h.counts.execute.calls(), 0);
    let reason = h.checkpoint(id).await.data.escalation_reason.unwrap();
    assert!(
        reason.contains("rejected") && reason.contains("alice"),
        "{reason}"
    );
    let decided = timeline(&*h.store, id)
        .await
        .into_iter()
        .find(|e| e.kind == TimelineKind::ApprovalDecided)
        .unwrap();
    assert_eq!(decided.payload["status"], "rejected");
}

#[tokio::test]
async fn expired_approval_escalates_without_executing() {
    let h = Harness::new(Script {
        needs_approval: true,
        ..Script::default()
    });
    let (id, approval_id) = run_until_approval(&h).await;

    h.clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::AwaitingApproval { approval_id }
    );
    h.clock.advance(Duration::from_secs(2));
    assert_eq!(
        h.runner.resume_unfinished().await.unwrap(),
        vec![(id, Progress::Finished(IncidentStatus::Escalated))]
    );
    assert_eq!(h.status(id).await, IncidentStatus::Escalated);
    assert_eq!(h.counts.execute.calls(), 0);
    let reason = h.checkpoint(id).await.data.escalation_reason.unwrap();
    assert!(reason.contains("expired"), "{reason}");
    let decided = timeline(&*h.store, id)
        .await
        .into_iter()
        .find(|e| e.kind == TimelineKind::ApprovalDecided)
        .unwrap();
    assert_eq!(decided.actor, Actor::System);
    assert_eq!(decided.payload["status"], "expired");
    // A decision after expiry is refused, and the workflow stays escalated.
    let late = h
        .store
        .decide(approval_id, decision(Verdict::Approve))
        .await
        .unwrap_err();
    assert!(matches!(late, Error::ApprovalExpired { .. }), "{late}");
}

#[tokio::test]
async fn unresolved_verification_escalates() {
    let h = Harness::new(Script {
        resolved: false,
        ..Script::default()
    });
    let (id, progress) = h.run().await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Escalated));
    assert_eq!(h.status(id).await, IncidentStatus::Escalated);
    let cp = h.checkpoint(id).await;
    assert!(!cp.data.verification.unwrap().resolved);
    assert!(cp.data.escalation_reason.unwrap().contains("verification"));
    assert_eq!(h.counts.execute.calls(), 2);
    let path = status_path(&*h.store, id).await;
    assert_eq!(
        &path[path.len() - 2..],
        &[IncidentStatus::Verifying, IncidentStatus::Escalated]
    );
}

#[tokio::test]
async fn empty_plan_escalates() {
    let h = Harness::new(Script {
        actions: 0,
        needs_approval: true,
        ..Script::default()
    });
    let (id, progress) = h.run().await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Escalated));
    let cp = h.checkpoint(id).await;
    assert!(cp.data.escalation_reason.unwrap().contains("no actions"));
    assert_eq!(cp.data.approval_id, None);
    assert_eq!(h.counts.notify.calls(), 0);
    assert_eq!(h.counts.execute.calls(), 0);
}

#[tokio::test]
async fn a_failing_step_escalates_with_the_error_on_the_timeline() {
    for step in [
        StepKind::Triage,
        StepKind::Investigate,
        StepKind::Plan,
        StepKind::Verify,
    ] {
        let h = Harness::new(Script {
            fail: Some(step),
            ..Script::default()
        });
        let (id, progress) = h.run().await;
        assert_eq!(
            progress,
            Progress::Finished(IncidentStatus::Escalated),
            "{step}"
        );
        assert_eq!(h.status(id).await, IncidentStatus::Escalated, "{step}");

        let entries = timeline(&*h.store, id).await;
        let error = entries
            .iter()
            .find(|e| e.kind == TimelineKind::Error)
            .unwrap_or_else(|| panic!("no error entry when {step} fails"));
        assert_eq!(error.payload["step"], step.as_str());
        assert!(
            error.payload["error"]
                .as_str()
                .unwrap()
                .contains("failed on purpose"),
            "{step}"
        );
        assert!(error.summary.contains(step.as_str()));
        let reason = h.checkpoint(id).await.data.escalation_reason.unwrap();
        assert!(
            reason.contains(step.as_str()) && reason.contains("failed on purpose"),
            "{reason}"
        );
        assert_eq!(entries.last().unwrap().kind, TimelineKind::StatusChanged);
        assert_eq!(h.counts.step(step).calls(), 1, "{step} is not retried");
    }
}

#[tokio::test]
async fn invalid_step_output_is_a_step_failure() {
    let h = Harness::new(Script {
        invalid_triage: true,
        ..Script::default()
    });
    let (id, progress) = h.run().await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Escalated));
    let reason = h.checkpoint(id).await.data.escalation_reason.unwrap();
    assert!(reason.contains("urgency"), "{reason}");
    assert_eq!(h.counts.investigate.calls(), 0);

    let h = Harness::new(Script {
        foreign_plan: true,
        ..Script::default()
    });
    let (id, progress) = h.run().await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Escalated));
    let reason = h.checkpoint(id).await.data.escalation_reason.unwrap();
    assert!(reason.contains("incident_id"), "{reason}");
    assert_eq!(h.counts.execute.calls(), 0);
}

#[tokio::test]
async fn a_failing_action_stops_execution_and_escalates() {
    let h = Harness::new(Script {
        actions: 3,
        fail_action: Some(1),
        ..Script::default()
    });
    let (id, progress) = h.run().await;
    assert_eq!(progress, Progress::Finished(IncidentStatus::Escalated));
    let cp = h.checkpoint(id).await;
    let states: Vec<ActionState> = cp.data.actions.iter().map(|a| a.state).collect();
    assert_eq!(states, vec![ActionState::Succeeded, ActionState::Failed]);
    assert!(cp.data.actions[1].detail.contains("permission denied"));
    let reason = cp.data.escalation_reason.unwrap();
    assert!(
        reason.contains("scale_service") && reason.contains("permission denied"),
        "{reason}"
    );
    assert_eq!(h.counts.execute.calls(), 2, "the third action never runs");
    assert_eq!(h.counts.verify.calls(), 0);
    let failed = timeline(&*h.store, id)
        .await
        .into_iter()
        .filter(|e| e.kind == TimelineKind::Action)
        .nth(1)
        .unwrap();
    assert_eq!(failed.payload["state"], "failed");
}

#[tokio::test]
async fn start_is_idempotent() {
    let h = Harness::new(Script::default());
    let id = h.incident().await;
    let first = h.runner.start(id).await.unwrap();
    assert_eq!(first.state, IncidentStatus::Open);
    assert_eq!(first.version, 1);
    let second = h.runner.start(id).await.unwrap();
    assert_eq!(second, first);

    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::Finished(IncidentStatus::Resolved)
    );
    let third = h.runner.start(id).await.unwrap();
    assert_eq!(third.state, IncidentStatus::Resolved);
    assert_eq!(h.counts.triage.calls(), 1);
}

#[tokio::test]
async fn concurrent_starts_and_advances_run_each_step_once() {
    let h = Harness::new(Script::default());
    let id = h.incident().await;
    let runner = h.runner.clone();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let runner = runner.clone();
            tokio::spawn(async move {
                runner.start(id).await.unwrap();
                runner.advance(id).await.unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(
            task.await.unwrap(),
            Progress::Finished(IncidentStatus::Resolved)
        );
    }
    for step in [
        StepKind::Triage,
        StepKind::Investigate,
        StepKind::Plan,
        StepKind::Verify,
    ] {
        assert_eq!(h.counts.step(step).calls(), 1, "{step}");
    }
    assert_eq!(h.counts.execute.calls(), 2);
}

#[tokio::test]
async fn start_and_advance_refuse_what_cannot_run() {
    let h = Harness::new(Script::default());
    let missing = IncidentId::new();
    assert!(matches!(
        h.runner.start(missing).await.unwrap_err(),
        Error::NotFound { .. }
    ));

    let id = h.incident().await;
    assert!(matches!(
        h.runner.advance(id).await.unwrap_err(),
        Error::NotFound { .. }
    ));

    // An incident escalated by hand before the workflow started is not started.
    let incident = h.store.get_incident(id).await.unwrap();
    let now = itops_core::Clock::now(&h.clock);
    h.store
        .update_incident(&incident.with_status(IncidentStatus::Escalated, now))
        .await
        .unwrap();
    let err = h.runner.start(id).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTransition { .. }), "{err}");
    assert_eq!(h.counts.triage.calls(), 0);
}

#[tokio::test]
async fn escalation_by_hand_stops_the_workflow() {
    let h = Harness::new(Script {
        needs_approval: true,
        ..Script::default()
    });
    let (id, approval_id) = run_until_approval(&h).await;

    let incident = h.store.get_incident(id).await.unwrap();
    h.runner
        .definition()
        .check_transition(incident.status, IncidentStatus::Escalated)
        .unwrap();
    let now = itops_core::Clock::now(&h.clock);
    h.store
        .update_incident(&incident.with_status(IncidentStatus::Escalated, now))
        .await
        .unwrap();
    // Even an approval arriving afterwards does not run anything.
    h.store
        .decide(approval_id, decision(Verdict::Approve))
        .await
        .unwrap();

    assert_eq!(
        h.runner.advance(id).await.unwrap(),
        Progress::Finished(IncidentStatus::Escalated)
    );
    let cp = h.checkpoint(id).await;
    assert_eq!(cp.state, IncidentStatus::Escalated);
    assert!(cp.data.escalation_reason.unwrap().contains("by hand"));
    assert_eq!(h.counts.execute.calls(), 0);
    assert!(h.runner.resume_unfinished().await.unwrap().is_empty());
    let last = timeline(&*h.store, id).await.pop().unwrap();
    assert_eq!(last.kind, TimelineKind::Decision);
}

#[tokio::test]
async fn incident_updates_are_retried_after_a_conflicting_edit() {
    let clock = clock();
    let inner = Arc::new(MemoryStore::new(Arc::new(clock.clone())));
    let store: Arc<MeddlingStore> = Arc::new(Observed::new(
        inner.clone(),
        Meddler {
            inner: inner.clone(),
            meddle: AtomicUsize::new(3),
            conflicts: AtomicUsize::new(0),
        },
    ));
    let counts = Arc::new(Counts::default());
    let runner = LocalRunner::new(
        store.clone(),
        inner.clone(),
        Arc::new(TestSteps::new(Script::default(), counts)),
        Arc::new(clock.clone()),
    );
    let id = new_incident(&*store, &clock).await;
    runner.start(id).await.unwrap();
    assert_eq!(
        runner.advance(id).await.unwrap(),
        Progress::Finished(IncidentStatus::Resolved)
    );
    assert_eq!(store.observer().conflicts.load(Ordering::SeqCst), 3);
    let incident = inner.get_incident(id).await.unwrap();
    assert_eq!(incident.status, IncidentStatus::Resolved);
    assert!(
        incident.title.ends_with("(edited) (edited) (edited)"),
        "{}",
        incident.title
    );
    // One status_changed entry per transition, despite the retries.
    assert_eq!(status_path(&*inner, id).await.len(), 6);
}

#[tokio::test]
async fn resume_unfinished_advances_every_open_workflow() {
    let h = Harness::new(Script::default());
    let a = h.incident().await;
    let b = h.incident().await;
    let never_started = h.incident().await;
    h.runner.start(a).await.unwrap();
    h.runner.start(b).await.unwrap();

    let mut progress = h.runner.resume_unfinished().await.unwrap();
    progress.sort_by_key(|(id, _)| *id);
    assert_eq!(
        progress,
        vec![
            (a, Progress::Finished(IncidentStatus::Resolved)),
            (b, Progress::Finished(IncidentStatus::Resolved)),
        ]
    );
    assert_eq!(h.status(never_started).await, IncidentStatus::Open);
    assert_eq!(h.counts.triage.calls(), 2);
}

#[tokio::test]
async fn runner_refuses_an_invalid_definition() {
    let h = Harness::new(Script::default());
    let mut definition = h.runner.definition().clone();
    definition
        .transitions
        .retain(|t| t.from != IncidentStatus::Verifying);
    let err = h.runner.clone().with_definition(definition).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

#[test]
fn the_standard_definition_serialises_for_other_tools() {
    let json = serde_json::to_value(itops_core::workflow::WorkflowDefinition::standard()).unwrap();
    assert_eq!(json["initial"], "open");
    assert!(json["transitions"].as_array().unwrap().len() > 10);
}

#[test]
fn progress_serialises() {
    let finished = Progress::Finished(IncidentStatus::Resolved);
    let json = serde_json::to_value(&finished).unwrap();
    assert_eq!(json, serde_json::json!({"finished": "resolved"}));
    assert_eq!(serde_json::from_value::<Progress>(json).unwrap(), finished);
    let waiting = Progress::AwaitingApproval {
        approval_id: ApprovalId::new(),
    };
    let json = serde_json::to_value(&waiting).unwrap();
    assert!(json["awaiting_approval"]["approval_id"].is_string());
    assert_eq!(serde_json::from_value::<Progress>(json).unwrap(), waiting);
}

/// An external orchestrator (the Step Functions state machine) calls one step at a time.
#[tokio::test]
async fn one_step_at_a_time_through_approval_with_duplicate_deliveries() {
    use itops_core::workflow::StepOutcome;
    let h = Harness::new(Script {
        needs_approval: true,
        ..Script::default()
    });
    let id = h.incident().await;
    h.runner.start(id).await.unwrap();

    // Asking for a step the workflow is not at is refused, and runs nothing.
    let error = h.runner.step(id, StepKind::Plan).await.unwrap_err();
    assert!(matches!(error, Error::InvalidTransition { .. }), "{error}");
    assert_eq!(h.counts.plan.calls(), 0);

    // `open` has no step: it is passed on the way to triage.
    let triaged = h.runner.step(id, StepKind::Triage).await.unwrap();
    assert!(matches!(
        triaged.outcome,
        Some(StepOutcome::Triaged {
            route: Route::Investigate
        })
    ));
    assert_eq!(triaged.state, IncidentStatus::Investigating);
    // A retried delivery answers the same without running triage again.
    assert_eq!(h.runner.step(id, StepKind::Triage).await.unwrap(), triaged);
    assert_eq!(h.counts.triage.calls(), 1);

    h.runner.step(id, StepKind::Investigate).await.unwrap();
    let planned = h.runner.step(id, StepKind::Plan).await.unwrap();
    assert!(matches!(
        planned.outcome,
        Some(StepOutcome::Planned {
            actions: 2,
            needs_approval: true
        })
    ));

    let waiting = h.runner.step(id, StepKind::Approval).await.unwrap();
    assert!(waiting.waiting() && waiting.outcome.is_none());
    let Some(Progress::AwaitingApproval { approval_id }) = waiting.progress else {
        panic!("{waiting:?}");
    };
    // Execution cannot start before the decision.
    assert!(h.runner.step(id, StepKind::Execute).await.is_err());
    assert_eq!(h.counts.execute.calls(), 0);

    h.store
        .decide(approval_id, decision(Verdict::Approve))
        .await
        .unwrap();
    // The decided approval is passed on the way to execution.
    let executed = h.runner.step(id, StepKind::Execute).await.unwrap();
    assert_eq!(
        executed.outcome,
        Some(StepOutcome::Executed {
            succeeded: 2,
            failed: 0,
            interrupted: 0
        })
    );
    assert_eq!(
        h.runner.step(id, StepKind::Execute).await.unwrap(),
        executed
    );
    assert_eq!(h.counts.execute.calls(), 2);

    let verified = h.runner.step(id, StepKind::Verify).await.unwrap();
    assert_eq!(
        verified.outcome,
        Some(StepOutcome::Verified { resolved: true })
    );
    assert_eq!(verified.state, IncidentStatus::Resolved);
    assert_eq!(h.status(id).await, IncidentStatus::Resolved);
    assert_eq!(h.runner.step(id, StepKind::Verify).await.unwrap(), verified);
    assert_eq!(h.counts.verify.calls(), 1);
}

#[tokio::test]
async fn a_step_after_escalation_by_hand_answers_with_an_escalating_outcome() {
    use itops_core::workflow::StepOutcome;
    let h = Harness::new(Script::default());
    let id = h.incident().await;
    h.runner.start(id).await.unwrap();
    h.runner.step(id, StepKind::Triage).await.unwrap();
    let incident = h.store.get_incident(id).await.unwrap();
    let now = itops_core::Clock::now(&h.clock);
    h.store
        .update_incident(&incident.with_status(IncidentStatus::Escalated, now))
        .await
        .unwrap();

    let report = h.runner.step(id, StepKind::Investigate).await.unwrap();
    assert!(matches!(report.outcome, Some(StepOutcome::Failed { .. })));
    assert_eq!(report.state, IncidentStatus::Escalated);
    assert_eq!(h.counts.investigate.calls(), 0);
}
