//! `analyze_incident` on a stored incident over a simulated system's telemetry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use itops_agents::planner::OfflinePlanner;
use itops_agents::policy::ActionPolicy;
use itops_agents::responders::Responders;
use itops_agents::tools::analyze::{AnalyzeIncident, AnalyzeIncidentArgs};
use itops_core::incidents::open_incident;
use itops_core::store::{MemoryStore, TimelineStore};
use itops_core::{Actor, ManualClock, TimelineKind, Tool};
use itops_sim::generate;

#[tokio::test]
async fn an_analysis_finds_the_origin_and_writes_every_step_on_the_timeline() {
    let case = generate("memory_leak", 7).unwrap();
    let root = case.ground_truth.root_service.clone();
    let detected = case.detected_at();
    let clock = Arc::new(ManualClock::new(detected));
    let store = Arc::new(MemoryStore::default());
    let incident = open_incident(
        store.as_ref(),
        detected,
        &Actor::Human("pat".into()),
        case.incident.to_new_incident(),
    )
    .await
    .unwrap();
    let responders = Responders::new(
        Arc::new(OfflinePlanner::new()),
        Arc::new(case.environment),
        Vec::new(),
        ActionPolicy::default(),
    );
    let tool = AnalyzeIncident::new(
        responders,
        store.clone(),
        clock,
        Actor::Integration("mcp".into()),
    );
    let analysis = tool
        .call(AnalyzeIncidentArgs {
            id: incident.id.to_string(),
            at: None,
        })
        .await
        .unwrap();
    assert_eq!(
        analysis.finding.top().map(|c| c.service.as_str()),
        Some(root.as_str()),
        "{:?}",
        analysis.finding
    );
    assert!(analysis.steps >= 2);
    let kinds: Vec<TimelineKind> = store
        .timeline(incident.id, 0, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        TimelineKind::Created,
        TimelineKind::ToolCall,
        TimelineKind::Observation,
        TimelineKind::Finding,
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }

    // An unknown incident is a clear error, not a panic.
    let missing = tool
        .call(AnalyzeIncidentArgs {
            id: "01a21004-8858-74b4-8bdb-1182c516e3c6".into(),
            at: None,
        })
        .await;
    assert!(matches!(missing, Err(itops_core::Error::NotFound { .. })));
}
