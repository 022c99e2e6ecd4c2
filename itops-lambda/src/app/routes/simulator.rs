//! `/api/simulator`: the live simulated system (local mode only): what can be broken, and
//! fault injection. The simulated monitor raises the incident when its alerts fire.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use itops_core::environment::{ActionExecutor, ActionReport};
use itops_core::{FaultKind, Incident, RemediationAction};
use itops_sim::{eligible_services, injectable_kinds, FaultSpec, InjectedFault};
use serde::{Deserialize, Serialize};

use crate::app::alerts::AlertEvent;
use crate::app::auth::{Principal, Role};
use crate::app::error::{ApiError, ApiResult};
use crate::app::extract::ApiJson;
use crate::app::AppState;

/// How long a fault may develop (simulated time) before monitoring gives up on reporting it now.
const DEVELOP_AT_MOST: Duration = Duration::from_secs(20 * 60);

/// One injectable fault kind.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct FaultKindInfo {
    /// The kind.
    pub kind: FaultKind,
    /// What it does.
    pub description: String,
    /// Services it can be injected into.
    pub services: Vec<String>,
}

/// The simulator's state.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct SimulatorStatus {
    /// Whether the server runs the simulator (false with a telemetry bundle).
    pub enabled: bool,
    /// Simulated now.
    pub now: Option<DateTime<Utc>>,
    /// The simulated services.
    pub services: Vec<String>,
    /// What can be injected, where.
    pub fault_kinds: Vec<FaultKindInfo>,
    /// Faults injected so far.
    pub faults: Vec<InjectedFault>,
}

fn describe(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::CpuContention => "CPU starved: a noisy neighbour or a hot loop",
        FaultKind::MemoryLeak => "memory grows until the container is OOM-killed",
        FaultKind::ExceptionBurst => "a code path starts throwing",
        FaultKind::WrongReturnValue => "answers that look fine but are wrong",
        FaultKind::NetworkDelay => "packets delayed on the way in and out",
        FaultKind::DependencyDown => "the service stops answering (crash loop or partition)",
        FaultKind::ConnectionPoolExhaustion => "callers queue for database connections",
        FaultKind::DiskFull => "the disk fills up and writes fail",
        FaultKind::BadDeploy => "a new version with a regression",
        FaultKind::ConfigError => "a bad configuration push",
        FaultKind::TrafficSpike => "more requests than the service has capacity for",
        FaultKind::Unknown => "unknown",
    }
}

/// `GET /api/simulator`.
pub(crate) async fn status(
    State(state): State<AppState>,
    _who: Principal,
) -> ApiResult<Json<SimulatorStatus>> {
    let Some(live) = &state.live else {
        return Ok(Json(SimulatorStatus {
            enabled: false,
            now: None,
            services: Vec::new(),
            fault_kinds: Vec::new(),
            faults: Vec::new(),
        }));
    };
    let env = live.environment();
    let topology = env.topology();
    let fault_kinds = injectable_kinds()
        .into_iter()
        .map(|kind| FaultKindInfo {
            kind,
            description: describe(kind).to_string(),
            services: eligible_services(kind, &topology)
                .into_iter()
                .map(str::to_string)
                .collect(),
        })
        .collect();
    Ok(Json(SimulatorStatus {
        enabled: true,
        now: Some(env.now()),
        services: topology.names().into_iter().map(str::to_string).collect(),
        fault_kinds,
        faults: env.ground_truth(),
    }))
}

/// Body of `POST /api/simulator/faults`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InjectBody {
    /// The fault kind.
    pub kind: FaultKind,
    /// The service to break.
    pub service: String,
    /// How hard, above 0 to 1 (default 0.8).
    #[serde(default)]
    pub severity: Option<f64>,
    /// Minutes after which the fault stops by itself (default: never; it needs a fix).
    #[serde(default)]
    pub duration_minutes: Option<u32>,
}

/// The outcome of an injection.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Injected {
    /// The fault's id.
    pub fault_id: usize,
    /// The incident monitoring raised, if its alerts fired in time.
    pub incident: Option<Incident>,
    /// What happened.
    pub message: String,
}

/// `POST /api/simulator/faults`: injects a fault now and lets it develop (simulated time runs
/// ahead) until monitoring reports it, which opens an incident and starts its workflow.
pub(crate) async fn inject(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<InjectBody>,
) -> ApiResult<(StatusCode, Json<Injected>)> {
    who.require(Role::Operator)?;
    let Some(live) = state.live.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_simulator",
            "this server reads a telemetry bundle, not the simulator",
        ));
    };
    let severity = body.severity.unwrap_or(0.8);
    if !(severity > 0.0 && severity <= 1.0) {
        return Err(ApiError::invalid(
            "severity",
            "must be above 0 and at most 1",
        ));
    }
    if body.kind == FaultKind::Unknown {
        return Err(ApiError::invalid("kind", "'unknown' cannot be injected"));
    }
    let topology = live.environment().topology();
    if !eligible_services(body.kind, &topology).contains(&body.service.as_str()) {
        return Err(ApiError::invalid(
            "service",
            format!(
                "{} cannot be injected into '{}'; eligible: {}",
                body.kind,
                body.service.chars().take(100).collect::<String>(),
                eligible_services(body.kind, &topology).join(", ")
            ),
        ));
    }
    let now = live.environment().now();
    let mut spec = FaultSpec::new(body.kind, body.service.clone(), now, severity);
    if let Some(minutes) = body.duration_minutes {
        if !(1..=10_080).contains(&minutes) {
            return Err(ApiError::invalid(
                "duration_minutes",
                "must be 1 to 10080 (a week)",
            ));
        }
        spec = spec.until(now + chrono::Duration::minutes(i64::from(minutes)));
    }
    let (fault_id, report) = tokio::task::spawn_blocking(move || {
        let id = live.inject(spec)?;
        let report = live.advance_until_reported(DEVELOP_AT_MOST)?;
        Ok::<_, itops_core::Error>((id, report))
    })
    .await
    .map_err(|_| ApiError::bad_request("the simulator stopped"))??;
    let Some(report) = report else {
        return Ok((
            StatusCode::ACCEPTED,
            Json(Injected {
                fault_id,
                incident: None,
                message: "injected; no alert fired yet (a mild fault); monitoring keeps watching"
                    .into(),
            }),
        ));
    };
    // Fault ids count from 0 in each run of the simulator (it is not persisted), so the
    // injection time keeps a new fault's incident apart from one raised before a restart.
    let new = report.to_new_incident().dedup_key(format!(
        "simulator:fault-{fault_id}@{}",
        now.timestamp_millis()
    ));
    let result = state
        .intake
        .handle("simulator", AlertEvent::Firing(new))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Injected {
            fault_id,
            message: format!(
                "injected; monitoring reported it at {}",
                report.detected_at.format("%H:%M:%S UTC")
            ),
            incident: result.incident,
        }),
    ))
}

/// `POST /api/simulator/actions`: runs one remediation action (a `RemediationAction` as
/// JSON) in the simulated shop, as an executor on real infrastructure would: for a second
/// itops watching the shop through Prometheus (`scripts/demo-stack`), whose command
/// executor hands its approved actions here. The simulator answers with its report; a
/// repeat of the same action id changes nothing.
pub(crate) async fn act(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(action): ApiJson<RemediationAction>,
) -> ApiResult<Json<ActionReport>> {
    who.require(Role::Operator)?;
    let Some(live) = state.live.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_simulator",
            "this server does not run the simulator",
        ));
    };
    let report = live.environment().execute(&action).await?;
    Ok(Json(report))
}
