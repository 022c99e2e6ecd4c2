//! `/api/incidents`: create, list, read, edit, delete, the timeline (paged and live), the
//! workflow, notes, and metric charts around the incident.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use futures::Stream;
use itops_core::incidents::{add_note, edit_incident, open_incident, IncidentEdit};
use itops_core::store::{IncidentFilter, MAX_PAGE_SIZE};
use itops_core::telemetry::{MetricQuery, TimeRange};
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{
    Actor, Incident, IncidentId, IncidentStatus, NewIncident, Severity, TimelineEntry,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use crate::app::auth::{Principal, Role};
use crate::app::error::{ApiError, ApiResult};
use crate::app::events::Event;
use crate::app::extract::{incident_id, parse_opt, ApiJson, ApiPath, ApiQuery};
use crate::app::AppState;

/// The timeline author of a request.
pub(crate) fn actor_of(principal: &Principal) -> Actor {
    Actor::Human(principal.name.clone())
}

/// Query of `GET /api/incidents`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ListParams {
    /// Only this status.
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only incidents naming this service.
    pub service: Option<String>,
    /// Only incidents created at or after this time (RFC 3339).
    pub created_after: Option<String>,
    /// Only incidents created before this time (RFC 3339).
    pub created_before: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of incidents.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct IncidentList {
    /// Newest first.
    pub items: Vec<Incident>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<IncidentId>,
}

/// `GET /api/incidents`.
pub(crate) async fn list(
    State(state): State<AppState>,
    _who: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<IncidentList>> {
    let limit: Option<usize> = parse_opt("limit", params.limit.as_deref())?;
    if let Some(l) = limit {
        if l == 0 || l > MAX_PAGE_SIZE {
            return Err(ApiError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
    }
    let filter = IncidentFilter {
        status: parse_opt::<IncidentStatus>("status", params.status.as_deref())?,
        severity: parse_opt::<Severity>("severity", params.severity.as_deref())?,
        service: params.service.filter(|s| !s.trim().is_empty()),
        created_after: parse_opt::<DateTime<Utc>>(
            "created_after",
            params.created_after.as_deref(),
        )?,
        created_before: parse_opt::<DateTime<Utc>>(
            "created_before",
            params.created_before.as_deref(),
        )?,
        limit,
        cursor: parse_opt::<IncidentId>("cursor", params.cursor.as_deref())?,
        dedup_key: None,
    };
    let page = state.store.list_incidents(&filter).await?;
    Ok(Json(IncidentList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// `POST /api/incidents`.
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(report): ApiJson<NewIncident>,
) -> ApiResult<(StatusCode, Json<Incident>)> {
    who.require(Role::Operator)?;
    let incident = open_incident(
        state.store.as_ref(),
        state.clock.now(),
        &actor_of(&who),
        report,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(incident)))
}

/// `GET /api/incidents/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Incident>> {
    Ok(Json(state.store.get_incident(incident_id(&id)?).await?))
}

/// `PATCH /api/incidents/{id}`.
pub(crate) async fn patch(
    State(state): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(edit): ApiJson<IncidentEdit>,
) -> ApiResult<Json<Incident>> {
    who.require(Role::Operator)?;
    let id = incident_id(&id)?;
    let closing = edit.status.is_some();
    let updated = edit_incident(
        state.store.as_ref(),
        state.clock.now(),
        &actor_of(&who),
        id,
        edit,
    )
    .await?;
    if closing {
        // A running workflow notices at its next step.
        state.workflows.wake(id);
    }
    Ok(Json(updated))
}

/// `DELETE /api/incidents/{id}` (admin).
pub(crate) async fn delete(
    State(state): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Admin)?;
    state.store.delete_incident(incident_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of the timeline endpoints.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct TimelineParams {
    /// Only entries after this sequence number.
    pub after_seq: Option<String>,
    /// How many (1 to 1000, default 200).
    pub limit: Option<String>,
}

/// `GET /api/incidents/{id}/timeline`.
pub(crate) async fn timeline(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<TimelineParams>,
) -> ApiResult<Json<Vec<TimelineEntry>>> {
    let id = incident_id(&id)?;
    let after: u64 = parse_opt("after_seq", params.after_seq.as_deref())?.unwrap_or(0);
    let limit: usize = parse_opt("limit", params.limit.as_deref())?.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 1000"));
    }
    state.store.get_incident(id).await?;
    Ok(Json(state.store.timeline(id, after, limit).await?))
}

/// A body with one note.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    /// The note (1 to 4000 characters).
    pub text: String,
}

/// `POST /api/incidents/{id}/notes`.
pub(crate) async fn note(
    State(state): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> ApiResult<(StatusCode, Json<TimelineEntry>)> {
    who.require(Role::Operator)?;
    let entry = add_note(
        state.store.as_ref(),
        state.clock.now(),
        &actor_of(&who),
        incident_id(&id)?,
        &body.text,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// `POST /api/incidents/{id}/workflow`: starts it (idempotent).
pub(crate) async fn start_workflow(
    State(state): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<WorkflowCheckpoint>)> {
    who.require(Role::Operator)?;
    let id = incident_id(&id)?;
    state.store.get_incident(id).await?;
    let checkpoint = state.workflows.start(id).await?;
    Ok((StatusCode::ACCEPTED, Json(checkpoint)))
}

/// `GET /api/incidents/{id}/workflow`.
pub(crate) async fn get_workflow(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkflowCheckpoint>> {
    let id = incident_id(&id)?;
    state.store.get_incident(id).await?;
    state
        .store
        .get_checkpoint(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("the workflow has not started; POST to start it"))
}

/// `GET /api/incidents/{id}/events`: the timeline as Server-Sent Events, from `after_seq`
/// (or the `Last-Event-ID` header) on, then live; `incident` events when the incident changes.
pub(crate) async fn events(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<TimelineParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let id = incident_id(&id)?;
    let from_header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let after: u64 = match parse_opt("after_seq", params.after_seq.as_deref())? {
        Some(a) => a,
        None => from_header.unwrap_or(0),
    };
    state.store.get_incident(id).await?;
    // Subscribe before reading the backlog, so nothing falls between the two.
    let rx = state.bus.subscribe();
    let (tx, out) = tokio::sync::mpsc::channel::<SseEvent>(256);
    tokio::spawn(forward(state, id, after, rx, tx));
    let stream = futures::stream::unfold(out, |mut out| async move {
        out.recv().await.map(|e| (Ok(e), out))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn timeline_event(entry: &TimelineEntry) -> Option<SseEvent> {
    SseEvent::default()
        .event("timeline")
        .id(entry.seq.to_string())
        .json_data(entry)
        .ok()
}

/// Sends the backlog after `after`, then live events, re-reading the store when the
/// subscriber lagged behind the bus. Ends when the client goes away (noticed at once, not
/// at the next event) or the incident is deleted; counted in the `sse_subscribers` gauge.
async fn forward(
    state: AppState,
    id: IncidentId,
    mut after: u64,
    mut rx: tokio::sync::broadcast::Receiver<Event>,
    tx: tokio::sync::mpsc::Sender<SseEvent>,
) {
    let _subscriber = state.metrics.sse_subscriber();
    async fn backlog(
        state: &AppState,
        id: IncidentId,
        after: &mut u64,
        tx: &tokio::sync::mpsc::Sender<SseEvent>,
    ) -> bool {
        loop {
            let Ok(entries) = state.store.timeline(id, *after, 500).await else {
                return false;
            };
            let done = entries.len() < 500;
            for entry in entries {
                *after = entry.seq;
                if let Some(e) = timeline_event(&entry) {
                    if tx.send(e).await.is_err() {
                        return false;
                    }
                }
            }
            if done {
                return true;
            }
        }
    }
    if !backlog(&state, id, &mut after, &tx).await {
        return;
    }
    if let Ok(incident) = state.store.get_incident(id).await {
        if let Ok(e) = SseEvent::default().event("incident").json_data(&incident) {
            if tx.send(e).await.is_err() {
                return;
            }
        }
    }
    loop {
        // An incident that gets no more events (a resolved one) would keep this task waiting
        // forever after its client left: stop as soon as the client is gone.
        let received = tokio::select! {
            received = rx.recv() => received,
            () = tx.closed() => return,
        };
        match received {
            Ok(event) if event.incident_id() != id => {}
            Ok(Event::Timeline(entry)) => {
                if entry.seq <= after {
                    continue;
                }
                if entry.seq > after + 1 && !backlog(&state, id, &mut after, &tx).await {
                    // A gap (an entry published out of order): fill it from the store.
                    return;
                }
                if entry.seq > after {
                    after = entry.seq;
                    if let Some(e) = timeline_event(&entry) {
                        if tx.send(e).await.is_err() {
                            return;
                        }
                    }
                }
            }
            Ok(Event::Incident(incident)) => {
                if let Ok(e) = SseEvent::default().event("incident").json_data(&incident) {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
            }
            Ok(Event::Deleted(_)) => return,
            Err(RecvError::Lagged(_)) => {
                if !backlog(&state, id, &mut after, &tx).await {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Query of `GET /api/incidents/{id}/metrics`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub(crate) struct ChartParams {
    /// Minutes of history before the incident (5 to 360, default 60).
    pub minutes: Option<String>,
}

/// One charted series.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ChartSeries {
    /// Metric name (a counter is charted as its per-second rate).
    pub name: String,
    /// Unit, when the name says it.
    pub unit: Option<String>,
    /// `[unix_ms, value]` pairs.
    pub points: Vec<(i64, f64)>,
}

/// One service's charts.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ServiceCharts {
    /// The service.
    pub service: String,
    /// Its key series.
    pub series: Vec<ChartSeries>,
}

/// A moment marked on the charts.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ChartMarker {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub label: String,
}

/// Charts of the affected services around an incident.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct IncidentCharts {
    /// Start of the charted range.
    pub from: DateTime<Utc>,
    /// End of the charted range.
    pub to: DateTime<Utc>,
    /// Detection, actions.
    pub markers: Vec<ChartMarker>,
    /// Per service.
    pub services: Vec<ServiceCharts>,
}

/// `GET /api/incidents/{id}/metrics`.
pub(crate) async fn charts(
    State(state): State<AppState>,
    _who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<ChartParams>,
) -> ApiResult<Json<IncidentCharts>> {
    let id = incident_id(&id)?;
    let minutes: i64 = parse_opt("minutes", params.minutes.as_deref())?.unwrap_or(60);
    if !(5..=360).contains(&minutes) {
        return Err(ApiError::invalid("minutes", "must be 5 to 360"));
    }
    let incident = state.store.get_incident(id).await?;
    let checkpoint = state.store.get_checkpoint(id).await?;
    let Some(bounds) = state.telemetry.time_bounds().await? else {
        return Ok(Json(IncidentCharts {
            from: incident.created_at,
            to: incident.created_at,
            markers: Vec::new(),
            services: Vec::new(),
        }));
    };
    // Around the incident when the telemetry covers it; else the end of the telemetry.
    let anchor = if bounds.start <= incident.created_at && incident.created_at <= bounds.end {
        incident.created_at
    } else {
        bounds.end
    };
    let from = (anchor - chrono::Duration::minutes(minutes)).max(bounds.start);
    let to = bounds
        .end
        .min(anchor + chrono::Duration::minutes(minutes))
        .max(from);
    let mut services: Vec<String> = Vec::new();
    if let Some(finding) = checkpoint.as_ref().and_then(|c| c.data.finding.as_ref()) {
        services.extend(finding.candidates.iter().take(2).map(|c| c.service.clone()));
    }
    services.extend(incident.affected_services.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    services.retain(|s| seen.insert(s.clone()));
    services.truncate(4);
    let range = TimeRange::new(from, to)?;
    let mut out = Vec::new();
    for service in services {
        let all = state
            .telemetry
            .metrics(&MetricQuery {
                range,
                service: Some(service.clone()),
                metric: None,
            })
            .await?;
        out.push(ServiceCharts {
            service,
            series: super::charts::key_series(all),
        });
    }
    let mut markers = vec![ChartMarker {
        at: incident.created_at,
        label: "detected".into(),
    }];
    if let Some(cp) = &checkpoint {
        for record in &cp.data.actions {
            let name = cp
                .data
                .plan
                .as_ref()
                .and_then(|p| p.actions.iter().find(|a| a.id == record.action_id))
                .map_or("action".to_string(), |a| {
                    format!("{} {}", a.catalogue_id, a.target)
                });
            markers.push(ChartMarker {
                at: record.started_at,
                label: name,
            });
        }
    }
    Ok(Json(IncidentCharts {
        from,
        to,
        markers,
        services: out,
    }))
}

/// The answer for a path no route serves.
pub(crate) async fn not_found() -> impl IntoResponse {
    ApiError::not_found("no such endpoint; see /openapi.json")
}

/// The answer for a method a route does not serve.
pub(crate) async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
}
