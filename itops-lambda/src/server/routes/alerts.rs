//! `/api/alerts/*`: alert webhooks become (deduplicated) incidents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use crate::server::alerts::{parse_alertmanager, parse_cloudwatch, IntakeResult};
use crate::server::auth::{Principal, Role};
use crate::server::error::ApiResult;
use crate::server::extract::ApiJson;
use crate::server::AppState;

/// `POST /api/alerts/alertmanager`: a Prometheus Alertmanager webhook (one incident per group).
pub async fn alertmanager(
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
pub async fn cloudwatch(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<IntakeResult>)> {
    who.require(Role::Operator)?;
    let event = parse_cloudwatch(&body)?;
    let result = state.intake.handle("cloudwatch", event).await?;
    Ok((StatusCode::ACCEPTED, Json(result)))
}
