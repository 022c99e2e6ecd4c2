//! `/healthz`, `/metrics`, `/api/me`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use itops_core::store::IncidentFilter;
use itops_core::{ApprovalFilter, ApprovalStatus, IncidentStatus};
use serde::Serialize;

use crate::app::auth::bearer_token;
use crate::app::auth::Principal;
use crate::app::error::ApiError;
use crate::app::AppState;

/// The health report: only `status` without a token; the details with any API token.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// The itops version (with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The model the agents use (with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where telemetry comes from (with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<String>,
    /// Whether the store answered (with a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_ok: Option<bool>,
}

/// `GET /healthz`: 200 when the store answers, else 503. Without a valid token it says only
/// that (`{"status": "ok"}`); the model, the telemetry source and its path need a token.
pub(crate) async fn healthz(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let store_ok = state
        .store
        .list_incidents(&IncidentFilter {
            limit: Some(1),
            ..IncidentFilter::default()
        })
        .await
        .is_ok();
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let known = bearer_token(&headers).is_some_and(|t| state.tokens.lookup(t).is_some());
    let details = |value: String| known.then_some(value);
    (
        status,
        Json(Health {
            status: if store_ok { "ok" } else { "degraded" }.into(),
            version: details(env!("CARGO_PKG_VERSION").into()),
            model: details(state.info.model.clone()),
            telemetry: details(state.info.telemetry.clone()),
            store_ok: known.then_some(store_ok),
        }),
    )
}

/// `GET /metrics`: Prometheus text format. Needs a token (any API token, or the metrics
/// token) unless the operator made the metrics public.
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.tokens.may_scrape(bearer_token(&headers)) {
        return ApiError::unauthorized(
            "send 'Authorization: Bearer <token>': an API token or the metrics token \
             (auth.metrics_token), or set auth.public_metrics",
        )
        .into_response();
    }
    // One query for every status, instead of paging through the incidents on each scrape.
    if let Ok(counted) = state.store.count_incidents_by_status().await {
        let counts: Vec<(String, i64)> = IncidentStatus::ALL
            .iter()
            .map(|status| {
                let n = counted
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| i64::try_from(*n).unwrap_or(i64::MAX));
                (status.to_string(), n)
            })
            .collect();
        state.metrics.set_incidents(&counts);
    }
    for breaker in &state.breakers {
        state.metrics.set_breaker_open(
            breaker.name(),
            breaker.state() != itops_core::breaker::BreakerState::Closed,
        );
    }
    if let Ok(pending) = state
        .gate
        .list(&ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            ..ApprovalFilter::default()
        })
        .await
    {
        state.metrics.set_approvals_waiting(pending.len() as i64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /api/me`: who the token belongs to.
pub(crate) async fn me(who: Principal) -> Json<Principal> {
    Json(who)
}
