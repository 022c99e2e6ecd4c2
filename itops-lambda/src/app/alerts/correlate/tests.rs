//! Tests of correlation: the rule alone, then the intake applying it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::incidents::open_incident;
use itops_core::store::{IncidentFilter, MemoryStore, SqliteStore};
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{
    Actor, Clock, IncidentId, IncidentStatus, ManualClock, NewIncident, Severity, StateStore,
    SystemClock, TimelineKind,
};

use super::*;
use crate::app::alerts::{AlertEvent, Intake};
use crate::app::Orchestrator;

fn t0() -> DateTime<Utc> {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn alert(key: &str, title: &str, services: &[&str]) -> NewIncident {
    let mut report = NewIncident::new(title, Severity::High)
        .source("alertmanager")
        .dedup_key(format!("alertmanager:{key}"));
    report.affected_services = services.iter().map(|s| s.to_string()).collect();
    report
}

fn opened(report: NewIncident, at: DateTime<Utc>) -> Incident {
    let mut incident = report.into_incident(at).unwrap();
    incident.version = 1;
    incident
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

#[test]
fn an_alert_on_a_service_of_a_recent_open_alert_incident_joins_it() {
    let rule = Correlation::default();
    let incident = opened(alert("latency", "checkout slow", &["checkout"]), t0());
    let saturation = alert("saturation", "checkout saturated", &["checkout", "cart"]);
    assert_eq!(
        rule.relation(&incident, &saturation, t0() + minutes(3)),
        Some(Relation::SharedService("checkout".into()))
    );
    // Unrelated service, or no service at all: no relation.
    let disk = alert("disk", "postgres disk full", &["postgres"]);
    assert_eq!(rule.relation(&incident, &disk, t0() + minutes(3)), None);
    let anonymous = alert("anon", "something", &[]);
    assert_eq!(rule.relation(&incident, &anonymous, t0()), None);
}

#[test]
fn the_window_closed_incidents_and_hand_reported_ones_take_no_alerts() {
    let rule = Correlation::new(Duration::from_secs(600));
    let incident = opened(alert("latency", "checkout slow", &["checkout"]), t0());
    let again = alert("errors", "checkout errors", &["checkout"]);
    assert!(rule
        .relation(&incident, &again, t0() + minutes(10))
        .is_some());
    assert_eq!(rule.relation(&incident, &again, t0() + minutes(11)), None);
    let mut closed = incident.clone();
    closed.status = IncidentStatus::Resolved;
    assert_eq!(rule.relation(&closed, &again, t0()), None);
    let mut escalated = incident.clone();
    escalated.status = IncidentStatus::Escalated;
    assert_eq!(rule.relation(&escalated, &again, t0()), None);
    let mut investigating = incident.clone();
    investigating.status = IncidentStatus::Investigating;
    assert!(rule.relation(&investigating, &again, t0()).is_some());
    let by_hand = opened(
        NewIncident::new("checkout slow", Severity::High).service("checkout"),
        t0(),
    );
    assert_eq!(rule.relation(&by_hand, &again, t0()), None);
    assert_eq!(Correlation::off().relation(&incident, &again, t0()), None);
}

#[test]
fn connected_services_relate_both_ways_only_through_the_dependency_map() {
    let dependencies = BTreeMap::from([(
        "frontend".to_string(),
        vec!["checkout".to_string(), "search".to_string()],
    )]);
    let rule = Correlation::default().with_dependencies(&dependencies);
    let checkout = opened(alert("latency", "checkout slow", &["checkout"]), t0());
    let frontend = alert("errors", "frontend errors", &["frontend"]);
    assert_eq!(
        rule.relation(&checkout, &frontend, t0()),
        Some(Relation::Connected {
            alert: "frontend".into(),
            incident: "checkout".into()
        })
    );
    let on_frontend = opened(alert("errors", "frontend errors", &["frontend"]), t0());
    let search = alert("search", "search slow", &["search"]);
    assert!(rule.relation(&on_frontend, &search, t0()).is_some());
    // Two services that both talk to frontend are not connected to each other.
    assert_eq!(rule.relation(&checkout, &search, t0()), None);
    assert_eq!(
        Correlation::default().relation(&checkout, &frontend, t0()),
        None
    );
}

#[test]
fn a_shared_service_wins_over_a_connection_then_the_oldest_incident() {
    let dependencies = BTreeMap::from([("frontend".to_string(), vec!["checkout".to_string()])]);
    let rule = Correlation::default().with_dependencies(&dependencies);
    let old_frontend = opened(alert("a", "frontend errors", &["frontend"]), t0());
    let checkout = opened(
        alert("b", "checkout slow", &["checkout"]),
        t0() + minutes(1),
    );
    let newer_checkout = opened(alert("c", "checkout 5xx", &["checkout"]), t0() + minutes(2));
    let saturation = alert("d", "checkout saturated", &["checkout"]);
    let (picked, relation) = rule
        .pick(
            vec![newer_checkout, old_frontend, checkout.clone()],
            &saturation,
            t0() + minutes(3),
        )
        .unwrap();
    assert_eq!(picked.id, checkout.id);
    assert_eq!(relation, Relation::SharedService("checkout".into()));
}

/// Workflows started, in order.
#[derive(Default)]
struct Started(Mutex<Vec<IncidentId>>);

#[async_trait::async_trait]
impl Orchestrator for Started {
    async fn start(&self, incident_id: IncidentId) -> itops_core::Result<WorkflowCheckpoint> {
        self.0.lock().unwrap().push(incident_id);
        Ok(WorkflowCheckpoint::new(
            incident_id,
            IncidentStatus::Open,
            t0(),
        ))
    }

    fn wake(&self, _incident_id: IncidentId) {}
}

struct Fixture {
    intake: Intake,
    store: Arc<dyn StateStore>,
    clock: ManualClock,
    started: Arc<Started>,
}

fn fixture(correlation: Correlation) -> Fixture {
    fixture_on(Arc::new(MemoryStore::default()), correlation)
}

fn fixture_on(store: Arc<dyn StateStore>, correlation: Correlation) -> Fixture {
    let clock = ManualClock::new(t0());
    let started = Arc::new(Started::default());
    let intake = Intake::new(
        store.clone(),
        Arc::new(clock.clone()),
        started.clone(),
        true,
    )
    .with_correlation(correlation);
    Fixture {
        intake,
        store,
        clock,
        started,
    }
}

impl Fixture {
    async fn fire(&self, report: NewIncident) -> IntakeResult {
        self.intake
            .handle("alertmanager", AlertEvent::Firing(report))
            .await
            .unwrap()
    }

    async fn incidents(&self) -> Vec<Incident> {
        self.store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .items
    }
}

#[tokio::test]
async fn three_groups_for_one_fault_make_one_incident_and_one_workflow() {
    let f = fixture(Correlation::default());
    let first = f
        .fire(alert("latency", "checkout p99 above 2s", &["checkout"]))
        .await;
    assert!(first.created && !first.correlated);
    f.clock.advance(Duration::from_secs(30));
    let mut saturation = alert("saturation", "checkout saturated", &["checkout", "cart"]);
    saturation.severity = Severity::Critical;
    let second = f.fire(saturation).await;
    assert!(!second.created && second.correlated);
    let third = f.fire(alert("errors", "checkout 5xx", &["checkout"])).await;
    let id = first.incident.unwrap().id;
    assert_eq!(third.incident.unwrap().id, id);

    let incidents = f.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].affected_services, ["checkout", "cart"]);
    assert_eq!(incidents[0].severity, Severity::Critical);
    assert_eq!(*f.started.0.lock().unwrap(), [id]);
    let timeline = f.store.timeline(id, 0, 100).await.unwrap();
    let joined: Vec<&str> = timeline
        .iter()
        .filter(|e| e.kind == TimelineKind::Note)
        .map(|e| e.summary.as_str())
        .collect();
    assert_eq!(joined.len(), 2, "{joined:?}");
    assert!(
        joined[0].contains("'checkout saturated' from alertmanager joined this incident")
            && joined[0].contains("cart")
            && joined[0].contains("high → critical"),
        "{}",
        joined[0]
    );
}

#[tokio::test]
async fn an_unrelated_alert_opens_its_own_incident() {
    let f = fixture(Correlation::default());
    let checkout = f
        .fire(alert("latency", "checkout slow", &["checkout"]))
        .await;
    let disk = f
        .fire(alert("disk", "postgres disk full", &["postgres"]))
        .await;
    assert!(disk.created && !disk.correlated);
    assert_ne!(disk.incident.unwrap().id, checkout.incident.unwrap().id);
    assert_eq!(f.started.0.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn after_the_window_or_with_correlation_off_each_group_opens_an_incident() {
    let f = fixture(Correlation::new(Duration::from_secs(600)));
    f.fire(alert("latency", "checkout slow", &["checkout"]))
        .await;
    f.clock.advance(Duration::from_secs(601));
    let late = f.fire(alert("errors", "checkout 5xx", &["checkout"])).await;
    assert!(late.created);

    let off = fixture(Correlation::off());
    off.fire(alert("latency", "checkout slow", &["checkout"]))
        .await;
    let other = off
        .fire(alert("errors", "checkout 5xx", &["checkout"]))
        .await;
    assert!(other.created);
}

#[tokio::test]
async fn a_joined_group_repeats_and_clears_on_the_incident_it_joined_without_closing_it() {
    let f = fixture(Correlation::default());
    let first = f
        .fire(alert("latency", "checkout slow", &["checkout"]))
        .await;
    let id = first.incident.unwrap().id;
    f.fire(alert("errors", "checkout 5xx", &["checkout"])).await;
    // Past the window, the joined group's repeat still lands on the incident it joined.
    f.clock.advance(Duration::from_secs(3600));
    let repeat = f.fire(alert("errors", "checkout 5xx", &["checkout"])).await;
    assert!(!repeat.created && !repeat.correlated);
    assert_eq!(repeat.incident.unwrap().id, id);
    let cleared = f
        .intake
        .handle(
            "alertmanager",
            AlertEvent::Resolved {
                dedup_key: "alertmanager:errors".into(),
                title: "checkout 5xx".into(),
            },
        )
        .await
        .unwrap();
    let incident = cleared.incident.unwrap();
    assert_eq!(incident.id, id);
    assert!(!incident.status.is_terminal());
    assert_eq!(f.incidents().await.len(), 1);
    let timeline = f.store.timeline(id, 0, 100).await.unwrap();
    assert!(timeline.iter().any(|e| e
        .summary
        .contains("reports the condition cleared: checkout 5xx")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_arriving_at_once_open_one_incident() {
    // SQLite answers on the blocking pool, so the alerts' reads and writes interleave.
    let sqlite = SqliteStore::open_in_memory(Arc::new(SystemClock)).unwrap();
    let f = fixture_on(Arc::new(sqlite), Correlation::default());
    let mut tasks = Vec::new();
    for (n, title) in [
        "checkout slow",
        "checkout 5xx",
        "checkout saturated",
        "cart errors",
    ]
    .into_iter()
    .enumerate()
    {
        let intake = f.intake.clone();
        tasks.push(tokio::spawn(async move {
            intake
                .handle(
                    "alertmanager",
                    AlertEvent::Firing(alert(&format!("g{n}"), title, &["checkout", "cart"])),
                )
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap().created);
    }
    assert_eq!(created, 1);
    let incidents = f.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].correlated_keys.len(), 3);
    assert_eq!(f.started.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_incident_someone_reported_is_left_alone() {
    let f = fixture(Correlation::default());
    let by_hand = open_incident(
        f.store.as_ref(),
        f.clock.now(),
        &Actor::Human("olga".into()),
        NewIncident::new("checkout slow", Severity::High).service("checkout"),
    )
    .await
    .unwrap();
    let result = f
        .fire(alert("latency", "checkout slow", &["checkout"]))
        .await;
    assert!(result.created);
    assert_ne!(result.incident.unwrap().id, by_hand.id);
}
