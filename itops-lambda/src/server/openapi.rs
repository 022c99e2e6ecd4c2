//! `GET /openapi.json`: the API described as OpenAPI 3.1, its schemas generated from the
//! same Rust types the handlers use (JSON Schema 2020-12, as OpenAPI 3.1 expects).

use std::sync::OnceLock;

use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::alerts::IntakeResult;
use super::auth::Principal;
use super::routes::approvals::DecisionBody;
use super::routes::incidents::{IncidentCharts, IncidentList, NoteBody};
use super::routes::simulator::{InjectBody, Injected, SimulatorStatus};
use super::routes::system::Health;
use itops_core::incidents::IncidentEdit;
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{Approval, Incident, NewIncident, TimelineEntry};

/// The error body every 4xx/5xx answer carries.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    /// Stable code: `invalid`, `not_found`, `conflict`, `unauthorized`, `forbidden`, ...
    code: String,
    /// What went wrong and how to fix it.
    message: String,
    /// The offending field, when one is to blame.
    #[serde(default)]
    field: Option<String>,
}

struct Builder {
    generator: SchemaGenerator,
    paths: Map<String, Value>,
}

/// One parameter: (name, where, required, description, schema).
type Param = (&'static str, &'static str, bool, &'static str, Value);

impl Builder {
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.generator.subschema_for::<T>().to_value()
    }

    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        method: &str,
        path: &str,
        summary: &str,
        params: Vec<Param>,
        body: Option<Value>,
        ok_status: &str,
        ok: Option<Value>,
        secured: bool,
    ) {
        let mut responses = Map::new();
        let mut okr = json!({ "description": "success" });
        if let Some(schema) = ok {
            okr["content"] = json!({ "application/json": { "schema": schema } });
        }
        responses.insert(ok_status.to_string(), okr);
        responses.insert(
            "default".to_string(),
            json!({
                "description": "an error",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
            }),
        );
        let mut op = json!({
            "summary": summary,
            "operationId": format!("{}_{}", method, path.trim_matches('/').replace(['/', '{', '}'], "_")),
            "responses": responses,
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(
                params
                    .into_iter()
                    .map(|(name, place, required, description, schema)| {
                        json!({ "name": name, "in": place, "required": required, "description": description, "schema": schema })
                    })
                    .collect(),
            );
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": schema } }
            });
        }
        if !secured {
            op["security"] = json!([]);
        }
        let entry = self
            .paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}));
        entry[method] = op;
    }
}

fn id_param(what: &'static str) -> Param {
    (
        "id",
        "path",
        true,
        what,
        json!({ "type": "string", "format": "uuid" }),
    )
}

fn query(name: &'static str, description: &'static str, schema: Value) -> Param {
    (name, "query", false, description, schema)
}

/// Builds the document.
pub fn build() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut b = Builder {
        generator: settings.into_generator(),
        paths: Map::new(),
    };
    let error = b.schema::<ErrorBody>();
    let _ = error;
    let status_enum = json!({ "type": "string", "enum": ["open","triaging","investigating","planning","awaiting_approval","executing","verifying","resolved","escalated"] });
    let severity_enum = json!({ "type": "string", "enum": ["critical","high","medium","low"] });
    let incident = b.schema::<Incident>();
    let new_incident = b.schema::<NewIncident>();
    let list = b.schema::<IncidentList>();
    let edit = b.schema::<IncidentEdit>();
    let timeline = b.schema::<Vec<TimelineEntry>>();
    let entry = b.schema::<TimelineEntry>();
    let note = b.schema::<NoteBody>();
    let checkpoint = b.schema::<WorkflowCheckpoint>();
    let charts = b.schema::<IncidentCharts>();
    let approvals = b.schema::<Vec<Approval>>();
    let approval = b.schema::<Approval>();
    let decision = b.schema::<DecisionBody>();
    let intake = b.schema::<IntakeResult>();
    let sim = b.schema::<SimulatorStatus>();
    let inject = b.schema::<InjectBody>();
    let injected = b.schema::<Injected>();
    let health = b.schema::<Health>();
    let me = b.schema::<Principal>();
    let any_object = json!({ "type": "object" });
    let page = || {
        vec![
            query("status", "only this status", status_enum.clone()),
            query("severity", "only this severity", severity_enum.clone()),
            query(
                "service",
                "only incidents naming this service",
                json!({ "type": "string" }),
            ),
            query(
                "created_after",
                "RFC 3339",
                json!({ "type": "string", "format": "date-time" }),
            ),
            query(
                "created_before",
                "RFC 3339",
                json!({ "type": "string", "format": "date-time" }),
            ),
            query(
                "limit",
                "page size, 1 to 500",
                json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
            ),
            query(
                "cursor",
                "the previous page's next_cursor",
                json!({ "type": "string", "format": "uuid" }),
            ),
        ]
    };
    let tl_params = || {
        vec![
            id_param("incident id"),
            query(
                "after_seq",
                "only entries after this sequence number",
                json!({ "type": "integer", "minimum": 0 }),
            ),
            query(
                "limit",
                "1 to 1000",
                json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
            ),
        ]
    };

    b.op(
        "get",
        "/api/me",
        "Who the token belongs to",
        vec![],
        None,
        "200",
        Some(me),
        true,
    );
    b.op(
        "get",
        "/api/incidents",
        "List incidents, newest first",
        page(),
        None,
        "200",
        Some(list),
        true,
    );
    b.op(
        "post",
        "/api/incidents",
        "Open an incident",
        vec![],
        Some(new_incident),
        "201",
        Some(incident.clone()),
        true,
    );
    b.op(
        "get",
        "/api/incidents/{id}",
        "Read an incident",
        vec![id_param("incident id")],
        None,
        "200",
        Some(incident.clone()),
        true,
    );
    b.op(
        "patch",
        "/api/incidents/{id}",
        "Edit an incident (or close it by hand)",
        vec![id_param("incident id")],
        Some(edit),
        "200",
        Some(incident),
        true,
    );
    b.op(
        "delete",
        "/api/incidents/{id}",
        "Delete an incident (admin)",
        vec![id_param("incident id")],
        None,
        "204",
        None,
        true,
    );
    b.op(
        "get",
        "/api/incidents/{id}/timeline",
        "Read the timeline, oldest first",
        tl_params(),
        None,
        "200",
        Some(timeline),
        true,
    );
    b.op(
        "get",
        "/api/incidents/{id}/events",
        "The live timeline as Server-Sent Events (`timeline` and `incident` events)",
        tl_params()[..2].to_vec(),
        None,
        "200",
        None,
        true,
    );
    b.op(
        "post",
        "/api/incidents/{id}/notes",
        "Add a note",
        vec![id_param("incident id")],
        Some(note),
        "201",
        Some(entry),
        true,
    );
    b.op(
        "get",
        "/api/incidents/{id}/workflow",
        "The workflow's checkpoint",
        vec![id_param("incident id")],
        None,
        "200",
        Some(checkpoint.clone()),
        true,
    );
    b.op(
        "post",
        "/api/incidents/{id}/workflow",
        "Start the workflow (idempotent)",
        vec![id_param("incident id")],
        None,
        "202",
        Some(checkpoint),
        true,
    );
    b.op(
        "get",
        "/api/incidents/{id}/metrics",
        "Charts of the implicated services around the incident",
        vec![
            id_param("incident id"),
            query(
                "minutes",
                "5 to 360",
                json!({ "type": "integer", "minimum": 5, "maximum": 360 }),
            ),
        ],
        None,
        "200",
        Some(charts),
        true,
    );
    b.op(
        "get",
        "/api/approvals",
        "List approvals",
        vec![
            query(
                "status",
                "pending, approved, rejected or expired",
                json!({ "type": "string", "enum": ["pending","approved","rejected","expired"] }),
            ),
            query(
                "incident_id",
                "only this incident's",
                json!({ "type": "string", "format": "uuid" }),
            ),
        ],
        None,
        "200",
        Some(approvals),
        true,
    );
    b.op(
        "get",
        "/api/approvals/{id}",
        "Read an approval (bearer token, or the one-time token in X-Approval-Token)",
        vec![id_param("approval id")],
        None,
        "200",
        Some(approval.clone()),
        true,
    );
    b.op(
        "post",
        "/api/approvals/{id}/decision",
        "Decide an approval once (operator token, or the one-time token)",
        vec![id_param("approval id")],
        Some(decision),
        "200",
        Some(approval),
        true,
    );
    b.op(
        "post",
        "/api/alerts/alertmanager",
        "Prometheus Alertmanager webhook",
        vec![],
        Some(any_object.clone()),
        "202",
        Some(intake.clone()),
        true,
    );
    b.op(
        "post",
        "/api/alerts/cloudwatch",
        "CloudWatch alarm (SNS or EventBridge)",
        vec![],
        Some(any_object),
        "202",
        Some(intake),
        true,
    );
    b.op(
        "get",
        "/api/simulator",
        "The live simulator",
        vec![],
        None,
        "200",
        Some(sim),
        true,
    );
    b.op(
        "post",
        "/api/simulator/faults",
        "Inject a fault into the simulator",
        vec![],
        Some(inject),
        "202",
        Some(injected),
        true,
    );
    b.op(
        "get",
        "/healthz",
        "Health",
        vec![],
        None,
        "200",
        Some(health),
        false,
    );
    b.op(
        "get",
        "/metrics",
        "Prometheus metrics",
        vec![],
        None,
        "200",
        None,
        false,
    );

    let schemas = b.generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "itops API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "AI-assisted incident response: incidents, their timelines, the triage → root cause → plan → approval → execution → verification workflow, approvals and alert intake.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": b.paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
        },
    })
}

/// `GET /openapi.json`.
pub async fn document() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(build).clone())
}
