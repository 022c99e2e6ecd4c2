//! `/api/alerts/*`: alert webhooks become (deduplicated) incidents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use crate::app::alerts::{
    parse_alertmanager, parse_cloudwatch, parse_grafana, parse_opsgenie, parse_pagerduty,
    AlertEvent, IntakeResult,
};
use crate::app::auth::{Principal, Role};
use crate::app::error::ApiResult;
use crate::app::extract::ApiJson;
use crate::app::AppState;

/// `POST /api/alerts/alertmanager`: a Prometheus Alertmanager webhook (one incident per group).
pub(crate) async fn alertmanager(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    who.require(Role::Operator)?;
    let event = parse_alertmanager(&body)?;
    let result = state.intake.handle("alertmanager", event).await?;
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// `POST /api/alerts/cloudwatch`: a CloudWatch alarm through SNS or EventBridge.
pub(crate) async fn cloudwatch(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    who.require(Role::Operator)?;
    let event = parse_cloudwatch(&body)?;
    let result = state.intake.handle("cloudwatch", event).await?;
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// One alert webhook from `source`, parsed by `parse`: an operator's token is needed.
async fn intake(
    state: &AppState,
    who: &Principal,
    source: &str,
    parse: fn(&Value) -> itops_core::Result<AlertEvent>,
    body: &Value,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    who.require(Role::Operator)?;
    let event = parse(body)?;
    let result = state.intake.handle(source, event).await?;
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// `POST /api/alerts/grafana`: a Grafana-managed alert (webhook contact point; one incident
/// per alert group).
pub(crate) async fn grafana(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    intake(&state, &who, "grafana", parse_grafana, &body).await
}

/// `POST /api/alerts/pagerduty`: a PagerDuty v3 webhook event (one incident per PagerDuty
/// incident; acknowledgements and the like are accepted and ignored).
pub(crate) async fn pagerduty(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    intake(&state, &who, "pagerduty", parse_pagerduty, &body).await
}

/// `POST /api/alerts/opsgenie`: an Opsgenie Webhook integration call (one incident per
/// alert alias; acknowledgements and notes are accepted and ignored).
pub(crate) async fn opsgenie(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    intake(&state, &who, "opsgenie", parse_opsgenie, &body).await
}
