//! The root-cause agent with the offline planner and with a scripted model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

mod common;

use chrono::Duration;
use common::{t0, telemetry};
use itops_agents::agents::RootCauseAgent;
use itops_agents::planner::OfflinePlanner;
use itops_agents::tools::{incident_tools, telemetry_tools};
use itops_core::engine::StopReason;
use itops_core::store::MemoryStore;
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{
    Actor, Agent, DocumentKind, DynTool, Error, FaultKind, IncidentContext, KnowledgeDocument,
    KnowledgeStore, ManualClock, NewIncident, RunContext, Severity,
};
use serde_json::json;

fn context() -> IncidentContext {
    let incident = NewIncident::new("Checkout slow", Severity::High)
        .description("p99 latency on checkout above 900 ms")
        .service("checkout")
        .into_incident(t0())
        .unwrap();
    IncidentContext::new(incident)
}

async fn tools() -> Vec<Arc<dyn DynTool>> {
    let store = Arc::new(MemoryStore::default());
    store
        .put_document(&KnowledgeDocument {
            id: "runbook/connection-pool".into(),
            kind: DocumentKind::Runbook,
            title: "Connection pool exhausted".into(),
            body: "Symptoms: requests wait for a database connection, latency climbs. Action: raise_pool_limit.".into(),
            tags: vec!["connection_pool_exhaustion".into()],
            services: vec![],
            updated_at: t0(),
            version: 0,
        })
        .await
        .unwrap();
    let mut tools = telemetry_tools(Arc::new(telemetry()));
    tools.extend(
        incident_tools(
            store.clone(),
            store,
            Arc::new(ManualClock::new(t0())),
            Actor::Agent("root_cause".into()),
        )
        .into_iter()
        .filter(|t| t.spec().name == "search_knowledge"),
    );
    tools
}

#[tokio::test]
async fn the_offline_planner_finds_the_origin_with_evidence() {
    let agent = RootCauseAgent::new(Arc::new(OfflinePlanner::new()), tools().await)
        .unwrap()
        .at(t0() + Duration::minutes(40));
    let inv = agent.run(&context(), &RunContext::default()).await.unwrap();
    assert_eq!(inv.transcript.stop_reason, StopReason::Completed);
    assert!(!inv.repaired);
    let top = &inv.finding.candidates[0];
    assert_eq!(
        top.service,
        "payments",
        "{}",
        serde_json::to_string_pretty(&inv.finding).unwrap()
    );
    assert!(top.confidence > 0.5, "{}", top.confidence);
    assert!(!top.evidence.is_empty());
    // It ranked, inspected the leader's logs and traces, checked changes and the knowledge base.
    let tools_called: Vec<String> = inv
        .transcript
        .tool_calls()
        .map(|c| c.call.name.clone())
        .collect();
    assert_eq!(tools_called[0], "rank_anomalies");
    for expected in [
        "search_logs",
        "get_traces",
        "list_changes",
        "search_knowledge",
    ] {
        assert!(
            tools_called.iter().any(|t| t == expected),
            "{expected} missing from {tools_called:?}"
        );
    }
    assert!(
        inv.finding
            .contributing_factors
            .iter()
            .any(|f| f.contains("db pool size")),
        "{:?}",
        inv.finding.contributing_factors
    );
    assert!(inv.finding.summary.contains("payments"));
}

#[tokio::test]
async fn the_offline_planner_without_a_time_infers_it() {
    let agent = RootCauseAgent::new(Arc::new(OfflinePlanner::new()), tools().await).unwrap();
    let inv = agent.run(&context(), &RunContext::default()).await.unwrap();
    assert_eq!(inv.finding.candidates[0].service, "payments");
}

fn finding_json(service: &str) -> String {
    json!({
        "candidates": [{"service": service, "fault": "connection_pool_exhaustion", "confidence": 0.8, "evidence": []}],
        "contributing_factors": [],
        "summary": format!("{service} ran out of pool connections")
    })
    .to_string()
}

#[tokio::test]
async fn a_valid_model_answer_is_used_as_is() {
    let model = Arc::new(ScriptedModel::new(vec![
        ScriptedTurn::tool_call("rank_anomalies", json!({})),
        ScriptedTurn::text(format!(
            "Here is my answer:\n```json\n{}\n```",
            finding_json("payments")
        )),
    ]));
    let agent = RootCauseAgent::new(model.clone(), tools().await).unwrap();
    let inv = agent.run(&context(), &RunContext::default()).await.unwrap();
    assert!(!inv.repaired);
    assert_eq!(
        inv.finding.candidates[0].fault,
        FaultKind::ConnectionPoolExhaustion
    );
    // The incident reached the model quoted as untrusted data.
    let first = model.requests()[0].messages[0].text();
    assert!(
        first.contains("<untrusted source=\"incident report\">"),
        "{first}"
    );
}

#[tokio::test]
async fn an_invalid_answer_is_repaired_once() {
    let model = Arc::new(ScriptedModel::new(vec![
        ScriptedTurn::text(
            r#"{"candidates": [{"service": "payments", "fault": "gremlins", "confidence": 2}], "summary": "x"}"#,
        ),
        ScriptedTurn::text(finding_json("payments")),
    ]));
    let agent = RootCauseAgent::new(model.clone(), tools().await).unwrap();
    let inv = agent.run(&context(), &RunContext::default()).await.unwrap();
    assert!(inv.repaired);
    assert_eq!(inv.finding.candidates[0].service, "payments");
    let repair_prompt = model.requests()[1].messages.last().unwrap().text();
    assert!(
        repair_prompt.contains("could not be used"),
        "{repair_prompt}"
    );
    assert!(
        model.requests()[1].tools.is_empty(),
        "the repair turn offers no tools"
    );
}

#[tokio::test]
async fn an_answer_invalid_twice_is_refused() {
    let model = Arc::new(ScriptedModel::new(vec![
        ScriptedTurn::text("payments, probably"),
        ScriptedTurn::text(
            r#"{"candidates": [{"service": "payments", "fault": "memory_leak", "confidence": 1.7}], "summary": "x"}"#,
        ),
    ]));
    let agent = RootCauseAgent::new(model, tools().await).unwrap();
    let err = agent
        .run(&context(), &RunContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Model {
                retryable: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("invalid twice"), "{err}");
    assert!(err.to_string().contains("confidence"), "{err}");
}

#[tokio::test]
async fn out_of_steps_asks_for_the_answer_now() {
    let turns = (0..3)
        .map(|i| ScriptedTurn::tool_call("list_services", json!({"minutes": 10 + i})))
        .chain([ScriptedTurn::text(finding_json("checkout"))]);
    let model = Arc::new(ScriptedModel::new(turns));
    let config = itops_core::engine::EngineConfig {
        max_steps: 3,
        ..Default::default()
    };
    let agent = RootCauseAgent::with_config(model, tools().await, config).unwrap();
    let inv = agent.run(&context(), &RunContext::default()).await.unwrap();
    assert_eq!(inv.transcript.stop_reason, StopReason::MaxSteps);
    assert_eq!(inv.finding.candidates[0].service, "checkout");
}
