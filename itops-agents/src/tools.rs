//! The standard tools: telemetry queries, incidents, the timeline and the knowledge base.
//!
//! Every tool is an [`itops_core::Tool`] with typed arguments (the schema the model sees
//! comes from the types) and compact, model-friendly output: summaries with numbers rather
//! than raw dumps, each list capped.

use std::sync::Arc;

use itops_core::{ApprovalGate, Clock, DynTool, StateStore, TelemetrySource};

pub mod analyze;
pub mod incident;
pub mod ranking;
pub mod telemetry;
mod time;

pub use time::{TimeArg, Window};

/// The telemetry tools over one source: `rank_anomalies`, `list_services`, `query_metrics`,
/// `search_logs`, `get_traces`, `list_changes`, `list_alarms`.
pub fn telemetry_tools(source: Arc<dyn TelemetrySource>) -> Vec<Arc<dyn DynTool>> {
    vec![
        Arc::new(ranking::RankAnomalies::new(source.clone())),
        Arc::new(telemetry::ListServices::new(source.clone())),
        Arc::new(telemetry::QueryMetrics::new(source.clone())),
        Arc::new(telemetry::SearchLogs::new(source.clone())),
        Arc::new(telemetry::GetTraces::new(source.clone())),
        Arc::new(telemetry::ListChanges::new(source.clone())),
        Arc::new(telemetry::ListAlarms::new(source)),
    ]
}

/// The incident tools over one store: create, get, list and update incidents, add a note,
/// read the timeline, search the knowledge base, find similar incidents, request an approval.
/// `actor` names the caller on the timeline (e.g. `mcp` or an agent's name).
pub fn incident_tools(
    store: Arc<dyn StateStore>,
    gate: Arc<dyn ApprovalGate>,
    clock: Arc<dyn Clock>,
    actor: itops_core::Actor,
) -> Vec<Arc<dyn DynTool>> {
    let ctx = incident::IncidentTools::new(store, gate, clock, actor);
    ctx.tools()
}
