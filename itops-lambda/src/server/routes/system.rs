//! `/healthz`, `/metrics`, `/api/me`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use itops_core::store::IncidentFilter;
use itops_core::{ApprovalFilter, ApprovalStatus, IncidentStatus};
use serde::Serialize;

use crate::server::auth::Principal;
use crate::server::AppState;

/// The health report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// The itops version.
    pub version: String,
    /// The model the agents use.
    pub model: String,
    /// Where telemetry comes from.
    pub telemetry: String,
    /// Whether the store answered.
    pub store_ok: bool,
}

/// `GET /healthz`: 200 when the store answers, else 503.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
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
    (
        status,
        Json(Health {
            status: if store_ok { "ok" } else { "degraded" }.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model: state.info.model.clone(),
            telemetry: state.info.telemetry.clone(),
            store_ok,
        }),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut counts = Vec::new();
    for status in IncidentStatus::ALL {
        let mut n = 0i64;
        let mut cursor = None;
        // Counted page by page, up to a bound that keeps a scrape cheap.
        for _ in 0..20 {
            let Ok(page) = state
                .store
                .list_incidents(&IncidentFilter {
                    status: Some(*status),
                    limit: Some(500),
                    cursor,
                    ..IncidentFilter::default()
                })
                .await
            else {
                break;
            };
            n += page.items.len() as i64;
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        counts.push((status.to_string(), n));
    }
    state.metrics.set_incidents(&counts);
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
            incident_id: None,
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
}

/// `GET /api/me`: who the token belongs to.
pub async fn me(who: Principal) -> Json<Principal> {
    Json(who)
}
