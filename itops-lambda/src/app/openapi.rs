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

/// The error body every 4xx/5xx answer carries (the shape `error::ApiError` sends).
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

struct Builder {
    /// Schemas of what the server sends (serialize contract: a field it always sends is
    /// `required`, an `Option` it always sends is required and nullable).
    responses: SchemaGenerator,
    /// Schemas of what clients send (deserialize contract: a field with a default may be left out).
    requests: SchemaGenerator,
    paths: Map<String, Value>,
}

/// One parameter: (name, where, required, description, schema).
type Param = (&'static str, &'static str, bool, &'static str, Value);

impl Builder {
    fn response<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    /// Declares a non-JSON success body (`ok` of [`Builder::op`] is JSON).
    fn ok_content(&mut self, method: &str, path: &str, status: &str, media: &str, schema: Value) {
        self.paths[path][method]["responses"][status]["content"] =
            json!({ media: { "schema": schema } });
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

/// `$ref` of a component schema.
fn schema_ref(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

/// Replaces every `$ref` in `value` found in `renames` (from, to).
fn rewrite_refs(value: &mut Value, renames: &[(String, String)]) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => {
                        if let Some((_, to)) = renames.iter().find(|(from, _)| from == r) {
                            *r = to.clone();
                        }
                    }
                    _ => rewrite_refs(v, renames),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

/// One `components/schemas` from the two contracts' definitions. A type described the same
/// both ways is listed once; one that differs (say, a field with a default: optional in,
/// always sent out) keeps its response schema under its name and gets its request schema as
/// `{Name}Input`. Returns the schemas and the `$ref` renames to apply to request bodies.
fn merge_definitions(
    mut schemas: Map<String, Value>,
    requests: Map<String, Value>,
) -> (Map<String, Value>, Vec<(String, String)>) {
    let mut renames: Vec<(String, String)> = Vec::new();
    // Renaming one schema changes the ones that refer to it: repeat until nothing new differs.
    loop {
        let before = renames.len();
        for (name, schema) in &requests {
            let mut schema = schema.clone();
            rewrite_refs(&mut schema, &renames);
            let from = schema_ref(name);
            let differs = schemas.get(name).is_some_and(|s| *s != schema);
            if differs && !renames.iter().any(|(f, _)| *f == from) {
                renames.push((from, schema_ref(&format!("{name}Input"))));
            }
        }
        if renames.len() == before {
            break;
        }
    }
    for (name, mut schema) in requests {
        rewrite_refs(&mut schema, &renames);
        let renamed = renames.iter().any(|(f, _)| *f == schema_ref(&name));
        let name = if renamed {
            format!("{name}Input")
        } else {
            name
        };
        schemas.entry(name).or_insert(schema);
    }
    (schemas, renames)
}

/// Builds the document.
pub(crate) fn build() -> Value {
    let generator = |settings: SchemaSettings| {
        let mut settings = settings;
        settings.definitions_path = "/components/schemas".into();
        settings.into_generator()
    };
    let mut b = Builder {
        responses: generator(SchemaSettings::draft2020_12().for_serialize()),
        requests: generator(SchemaSettings::draft2020_12().for_deserialize()),
        paths: Map::new(),
    };
    b.response::<ErrorBody>();
    let status_enum = json!({ "type": "string", "enum": ["open","triaging","investigating","planning","awaiting_approval","executing","verifying","resolved","escalated"] });
    let severity_enum = json!({ "type": "string", "enum": ["critical","high","medium","low"] });
    let incident = b.response::<Incident>();
    let mut new_incident = b.request::<NewIncident>();
    let list = b.response::<IncidentList>();
    let mut edit = b.request::<IncidentEdit>();
    let timeline = b.response::<Vec<TimelineEntry>>();
    let entry = b.response::<TimelineEntry>();
    let mut note = b.request::<NoteBody>();
    let checkpoint = b.response::<WorkflowCheckpoint>();
    let charts = b.response::<IncidentCharts>();
    let approvals = b.response::<Vec<Approval>>();
    let approval = b.response::<Approval>();
    let mut decision = b.request::<DecisionBody>();
    let intake = b.response::<IntakeResult>();
    let sim = b.response::<SimulatorStatus>();
    let mut inject = b.request::<InjectBody>();
    let injected = b.response::<Injected>();
    let mut sim_action = b.request::<itops_core::RemediationAction>();
    let sim_report = b.response::<itops_core::environment::ActionReport>();
    let health = b.response::<Health>();
    let me = b.response::<Principal>();
    let (schemas, renames) = merge_definitions(
        b.responses.take_definitions(true),
        b.requests.take_definitions(true),
    );
    for body in [
        &mut new_incident,
        &mut edit,
        &mut note,
        &mut decision,
        &mut inject,
        &mut sim_action,
    ] {
        rewrite_refs(body, &renames);
    }
    // For `text/event-stream`, the schema describes one event (as OpenAPI 3.2's `itemSchema`
    // does): its `event`, `id` and `data` fields, the data being JSON.
    let json_data = |schema: &Value| json!({ "type": "string", "contentMediaType": "application/json", "contentSchema": schema });
    let sse_event = json!({
        "oneOf": [
            {
                "description": "A timeline entry; `id` is its `seq` (send it back as `Last-Event-ID`).",
                "type": "object",
                "properties": {
                    "event": { "const": "timeline" },
                    "id": { "type": "string", "pattern": "^[0-9]+$" },
                    "data": json_data(&entry),
                },
                "required": ["event", "id", "data"],
            },
            {
                "description": "The incident as it is now (after the backlog, and when it changes).",
                "type": "object",
                "properties": {
                    "event": { "const": "incident" },
                    "data": json_data(&incident),
                },
                "required": ["event", "data"],
            },
        ],
    });
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
            query(
                "limit",
                "page size, 1 to 500 (default 100)",
                json!({ "type": "integer", "minimum": 1, "maximum": 500 }),
            ),
            query(
                "cursor",
                "the previous page's X-Next-Cursor",
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
        Some(any_object.clone()),
        "202",
        Some(intake.clone()),
        true,
    );
    for (path, summary) in [
        (
            "/api/alerts/grafana",
            "Grafana-managed alert (webhook contact point)",
        ),
        ("/api/alerts/pagerduty", "PagerDuty v3 webhook event"),
        ("/api/alerts/opsgenie", "Opsgenie Webhook integration"),
    ] {
        b.op(
            "post",
            path,
            summary,
            vec![],
            Some(any_object.clone()),
            "202",
            Some(intake.clone()),
            true,
        );
    }
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
        "post",
        "/api/simulator/actions",
        "Run a remediation action in the simulator (as an executor on real infrastructure would)",
        vec![],
        Some(sim_action),
        "200",
        Some(sim_report),
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
        "Prometheus metrics (any API token, or the metrics token)",
        vec![],
        None,
        "200",
        None,
        true,
    );
    b.ok_content(
        "get",
        "/api/incidents/{id}/events",
        "200",
        "text/event-stream",
        sse_event,
    );
    b.ok_content(
        "get",
        "/metrics",
        "200",
        "application/openmetrics-text",
        json!({ "type": "string" }),
    );
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
pub(crate) async fn document() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(DOC.get_or_init(build).clone())
}
