//! The standard tools over a small, known telemetry set and a memory store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

mod common;

use common::{t0, telemetry};
use itops_agents::tools::{incident_tools, telemetry_tools};
use itops_core::store::MemoryStore;
use itops_core::{
    Actor, DocumentKind, DynTool, Error, KnowledgeDocument, KnowledgeStore, ManualClock,
};
use serde_json::{json, Value};

fn find(tools: &[Arc<dyn DynTool>], name: &str) -> Arc<dyn DynTool> {
    tools
        .iter()
        .find(|t| t.spec().name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no tool {name}"))
}

async fn call(tools: &[Arc<dyn DynTool>], name: &str, input: Value) -> Value {
    find(tools, name)
        .call_json(input)
        .await
        .unwrap_or_else(|e| panic!("{name} failed: {e}"))
}

fn window() -> Value {
    json!({"start": "2026-05-01T12:00:00Z", "end": "2026-05-01T13:00:00Z"})
}

fn with_window(mut v: Value) -> Value {
    v.as_object_mut()
        .unwrap()
        .extend(window().as_object().unwrap().clone());
    v
}

#[tokio::test]
async fn every_tool_has_an_object_schema_and_a_description() {
    let store = Arc::new(MemoryStore::default());
    let mut tools = telemetry_tools(Arc::new(telemetry()));
    tools.extend(incident_tools(
        store.clone(),
        store,
        Arc::new(ManualClock::new(t0())),
        Actor::Integration("test".into()),
    ));
    let mut names: Vec<String> = tools.iter().map(|t| t.spec().name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), tools.len(), "tool names must be unique");
    for t in &tools {
        let spec = t.spec();
        assert_eq!(spec.input_schema["type"], "object", "{}", spec.name);
        assert!(spec.description.len() > 20, "{}", spec.name);
    }
}

#[tokio::test]
async fn list_services_reports_the_call_graph() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let out = call(&tools, "list_services", window()).await;
    assert_eq!(out["services"], json!(["checkout", "frontend", "payments"]));
    let edges = out["call_graph"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(
        edges[0],
        json!({"caller": "checkout", "callee": "payments", "calls": 60, "errors": 20})
    );
    assert_eq!(
        edges[1],
        json!({"caller": "frontend", "callee": "checkout", "calls": 60, "errors": 20})
    );
}

#[tokio::test]
async fn query_metrics_summarises_and_names_known_services_on_error() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let out = call(
        &tools,
        "query_metrics",
        with_window(json!({"service": "payments", "points": 4})),
    )
    .await;
    let s = &out["series"][0];
    assert_eq!(s["metric"], "latency_p99_ms");
    assert_eq!(s["summary"]["count"], 60);
    assert_eq!(s["summary"]["max"], 900.0);
    assert_eq!(s["summary"]["first"], 40.0);
    assert_eq!(s["points"].as_array().unwrap().len(), 4);

    let err = find(&tools, "query_metrics")
        .call_json(json!({"service": "nope"}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }));
    assert!(
        err.to_string()
            .contains("known services: checkout, frontend, payments"),
        "{err}"
    );
    let err = find(&tools, "query_metrics")
        .call_json(with_window(json!({"service": "payments", "metric": "cpu"})))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("metrics with samples: latency_p99_ms"),
        "{err}"
    );
}

#[tokio::test]
async fn search_logs_groups_by_template() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let out = call(
        &tools,
        "search_logs",
        with_window(json!({"min_level": "error"})),
    )
    .await;
    assert_eq!(out["matched"], 20);
    assert_eq!(
        out["groups"].as_array().unwrap().len(),
        1,
        "{}",
        out["groups"]
    );
    assert_eq!(
        out["groups"][0]["template"],
        "connection pool exhausted (active=<*>, waiting=<*>)"
    );
    assert_eq!(out["groups"][0]["service"], "payments");
    assert_eq!(out["samples"].as_array().unwrap().len(), 10);
    let out = call(
        &tools,
        "search_logs",
        with_window(json!({"service": "checkout", "contains": "ORDER 7 "})),
    )
    .await;
    assert_eq!(out["matched"], 1);
    let err = find(&tools, "search_logs")
        .call_json(json!({"min_level": "loud"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected one of: debug, info, warn, error, fatal"),
        "{err}"
    );
}

#[tokio::test]
async fn get_traces_ranks_operations_and_reads_one_trace() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let out = call(
        &tools,
        "get_traces",
        with_window(json!({"errors_only": true})),
    )
    .await;
    assert_eq!(out["matched"], 40);
    assert_eq!(out["operations"][0]["service"], "payments");
    assert_eq!(out["operations"][0]["p99_ms"], 900.0);
    let out = call(
        &tools,
        "get_traces",
        with_window(json!({"trace_id": "t45"})),
    )
    .await;
    let spans = out["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3);
    assert!(spans
        .iter()
        .any(|s| s["service"] == "payments" && s["status"] == "ERROR"));
}

#[tokio::test]
async fn list_changes_and_alarms_point_at_the_change() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let out = call(&tools, "list_changes", with_window(json!({}))).await;
    assert_eq!(out["total"], 1);
    assert_eq!(out["changes"][0]["description"], "db pool size 100 -> 50");
    let out = call(&tools, "list_alarms", with_window(json!({}))).await;
    let alarms = out["alarms"].as_array().unwrap();
    let services: Vec<&str> = alarms
        .iter()
        .map(|a| a["service"].as_str().unwrap())
        .collect();
    assert!(
        services.contains(&"payments") && services.contains(&"checkout"),
        "{alarms:?}"
    );
    assert!(
        !services.contains(&"frontend"),
        "a steady series must not alarm: {alarms:?}"
    );
    assert_eq!(alarms[0]["since"], "2026-05-01T12:40:00Z");
}

#[tokio::test]
async fn a_window_with_start_after_end_is_refused() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let err = find(&tools, "list_changes")
        .call_json(json!({"start": "2026-05-01T13:00:00Z", "end": "2026-05-01T12:00:00Z"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be before its end"), "{err}");
}

#[tokio::test]
async fn incident_tools_manage_incidents_and_the_timeline() {
    let store = Arc::new(MemoryStore::default());
    let tools = incident_tools(
        store.clone(),
        store.clone(),
        Arc::new(ManualClock::new(t0())),
        Actor::Integration("mcp".into()),
    );
    let created = call(
        &tools,
        "create_incident",
        json!({"title": "Checkout slow", "description": "p99 above 900 ms", "severity": "high", "affected_services": ["checkout"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["version"], 1);
    assert_eq!(created["source"], "integration:mcp");

    let got = call(&tools, "get_incident", json!({"id": id})).await;
    assert_eq!(got["title"], "Checkout slow");
    let listed = call(&tools, "list_incidents", json!({"severity": "high"})).await;
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 1);

    let updated = call(
        &tools,
        "update_incident",
        json!({"id": id, "version": 1, "severity": "critical"}),
    )
    .await;
    assert_eq!(updated["severity"], "critical");
    assert_eq!(updated["version"], 2);
    let stale = find(&tools, "update_incident")
        .call_json(json!({"id": id, "version": 1, "title": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::Conflict { .. }), "{stale}");

    call(
        &tools,
        "add_note",
        json!({"id": id, "text": "paged the payments team"}),
    )
    .await;
    let timeline = call(&tools, "read_timeline", json!({"id": id})).await;
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["created", "updated", "note"]);
    assert_eq!(
        timeline[2]["actor"],
        json!({"type": "integration", "name": "mcp"})
    );

    let err = find(&tools, "get_incident")
        .call_json(json!({"id": "not-a-uuid"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a valid id"), "{err}");
    let err = find(&tools, "create_incident")
        .call_json(json!({"title": " ", "severity": "high"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid title"), "{err}");
}

#[tokio::test]
async fn request_approval_never_hands_out_the_token() {
    let store = Arc::new(MemoryStore::default());
    let tools = incident_tools(
        store.clone(),
        store.clone(),
        Arc::new(ManualClock::new(t0())),
        Actor::Agent("remediation".into()),
    );
    let created = call(
        &tools,
        "create_incident",
        json!({"title": "Disk full", "severity": "medium"}),
    )
    .await;
    let approval = call(
        &tools,
        "request_approval",
        json!({"id": created["id"], "summary": "Expand the volume of db-1"}),
    )
    .await;
    assert_eq!(approval["status"], "pending");
    let text = approval.to_string();
    assert!(!text.contains("token"), "{text}");
    let names: Vec<String> = tools.iter().map(|t| t.spec().name).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("decide") || n.contains("approve_")),
        "no tool may decide: {names:?}"
    );
}

#[tokio::test]
async fn knowledge_search_and_similar_incidents() {
    let store = Arc::new(MemoryStore::default());
    let doc = |id: &str, kind, title: &str, body: &str| KnowledgeDocument {
        id: id.into(),
        kind,
        title: title.into(),
        body: body.into(),
        tags: vec![],
        services: vec![],
        updated_at: t0(),
        version: 0,
    };
    store
        .put_document(&doc(
            "runbook/pool",
            DocumentKind::Runbook,
            "Connection pool exhausted",
            "Raise the pool limit; check slow queries.",
        ))
        .await
        .unwrap();
    store
        .put_document(&doc(
            "runbook/leak",
            DocumentKind::Runbook,
            "Memory leak",
            "Restart to clear the leak.",
        ))
        .await
        .unwrap();
    store
        .put_document(&doc(
            "incident/old",
            DocumentKind::PastIncident,
            "Checkout slow: payments pool exhausted",
            "Resolved by raising the pool limit.",
        ))
        .await
        .unwrap();
    let tools = incident_tools(
        store.clone(),
        store.clone(),
        Arc::new(ManualClock::new(t0())),
        Actor::System,
    );
    let hits = call(
        &tools,
        "search_knowledge",
        json!({"query": "pool exhausted waiting for connection", "kind": "runbook"}),
    )
    .await;
    assert_eq!(hits[0]["id"], "runbook/pool");
    let created = call(&tools, "create_incident", json!({"title": "Checkout slow", "description": "payments pool exhausted", "severity": "high"})).await;
    let similar = call(&tools, "similar_incidents", json!({"id": created["id"]})).await;
    assert_eq!(similar[0]["id"], "incident/old");
}

#[tokio::test]
async fn rank_anomalies_puts_the_origin_first() {
    let tools = telemetry_tools(Arc::new(telemetry()));
    let out = call(
        &tools,
        "rank_anomalies",
        json!({"at": "2026-05-01T12:40:00Z"}),
    )
    .await;
    let candidates = out["candidates"].as_array().unwrap();
    assert_eq!(
        candidates[0]["service"],
        "payments",
        "{}",
        serde_json::to_string_pretty(&out).unwrap()
    );
    let checkout = candidates
        .iter()
        .find(|c| c["service"] == "checkout")
        .unwrap();
    assert_eq!(checkout["breakdown"]["explained_by"], "payments");
    assert!(candidates[0]["score"].as_f64().unwrap() > checkout["score"].as_f64().unwrap());
    // Inferred start lands on the change.
    let inferred = call(&tools, "rank_anomalies", json!({})).await;
    assert_eq!(inferred["at"], "2026-05-01T12:40:00Z");
    assert_eq!(inferred["candidates"][0]["service"], "payments");
}

/// A live source: the same data, but no fixed time range (as CloudWatch has none).
struct Live(itops_core::telemetry::TelemetryIndex);

#[async_trait::async_trait]
impl itops_core::TelemetrySource for Live {
    async fn services(&self) -> itops_core::Result<Vec<String>> {
        itops_core::TelemetrySource::services(&self.0).await
    }
    async fn time_bounds(&self) -> itops_core::Result<Option<itops_core::telemetry::TimeRange>> {
        Ok(None)
    }
    async fn metrics(
        &self,
        query: &itops_core::telemetry::MetricQuery,
    ) -> itops_core::Result<Vec<itops_core::telemetry::MetricSeries>> {
        itops_core::TelemetrySource::metrics(&self.0, query).await
    }
    async fn logs(
        &self,
        query: &itops_core::telemetry::LogQuery,
    ) -> itops_core::Result<Vec<itops_core::telemetry::LogRecord>> {
        itops_core::TelemetrySource::logs(&self.0, query).await
    }
    async fn spans(
        &self,
        query: &itops_core::telemetry::SpanQuery,
    ) -> itops_core::Result<Vec<itops_core::telemetry::Span>> {
        itops_core::TelemetrySource::spans(&self.0, query).await
    }
    async fn changes(
        &self,
        range: itops_core::telemetry::TimeRange,
        service: Option<&str>,
    ) -> itops_core::Result<Vec<itops_core::telemetry::ChangeEvent>> {
        itops_core::TelemetrySource::changes(&self.0, range, service).await
    }
}

#[tokio::test]
async fn a_live_source_without_bounds_is_ranked_around_the_detection_time() {
    let tools = telemetry_tools(Arc::new(Live(telemetry())));
    let out = call(
        &tools,
        "rank_anomalies",
        json!({"at": "2026-05-01T12:40:00Z"}),
    )
    .await;
    assert_eq!(out["candidates"][0]["service"], "payments", "{out}");
    // Without a detection time there is nothing to anchor a live source on.
    let error = find(&tools, "rank_anomalies")
        .call_json(json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("detection time"), "{error}");
}
