//! The application layer of the reference system: the HTTP API (one axum [`Router`]), the
//! durable workflow wired to the agents, approvals, notifications, alert intake, the live
//! simulator and the web UI. [`App`] runs all of it in one process for `itops serve`; the
//! Lambda functions (module `lambda`, with the `aws` feature) run the same API, steps,
//! notifications and intake over DynamoDB and Step Functions.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use itops_agents::knowledge::seed_knowledge;
use itops_agents::responders::Responders;
use itops_agents::tools::incident_tools;
use itops_core::breaker::CircuitBreaker;
use itops_core::store::SqliteStore;
use itops_core::workflow::{LocalRunner, WorkflowCheckpoint};
use itops_core::{
    Actor, ApprovalGate, Clock, DynTool, IncidentId, LanguageModel, Severity, StateStore,
    TelemetrySource,
};
use itops_sim::LiveSim;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub(crate) mod alerts;
pub(crate) mod auth;
pub mod config;
mod environment;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod executors;
pub(crate) mod extract;
pub(crate) mod guard;
pub mod metrics;
mod model;
pub mod notify;
pub(crate) mod openapi;
pub(crate) mod ratelimit;
pub(crate) mod routes;
pub(crate) mod scheduler;
pub(crate) mod sim_export;
pub mod steps;
pub(crate) mod ui;
pub mod webhook;

use crate::error::{Error, Result};
use alerts::Intake;
use auth::Tokens;
use config::ServeConfig;
use environment::LocalEnvironment;
use error::ApiError;
use events::{EventBus, PublishingStore};
use metrics::Metrics;
pub use model::AgentModel;
use notify::Notifier;
use ratelimit::RateLimiter;
use scheduler::Workflows;
use steps::{AgentSteps, Settle};

/// What the server tells about itself.
#[derive(Clone, Debug)]
pub(crate) struct ServerInfo {
    /// The model the agents use.
    pub(crate) model: String,
    /// Where telemetry comes from.
    pub(crate) telemetry: String,
}

/// Everything a request handler needs (cheap to clone).
#[derive(Clone)]
pub(crate) struct AppState {
    /// Incidents, timelines, checkpoints, knowledge (publishing every write).
    pub(crate) store: Arc<dyn StateStore>,
    /// Approvals.
    pub(crate) gate: Arc<dyn ApprovalGate>,
    /// The clock (the simulator's in simulator mode).
    pub(crate) clock: Arc<dyn Clock>,
    /// API tokens.
    pub(crate) tokens: Tokens,
    /// What starts and wakes workflows.
    pub(crate) workflows: Arc<dyn Orchestrator>,
    /// Alert intake.
    pub(crate) intake: Intake,
    /// Live events.
    pub(crate) bus: EventBus,
    /// Telemetry.
    pub(crate) telemetry: Arc<dyn TelemetrySource>,
    /// The live simulator, in simulator mode.
    pub(crate) live: Option<Arc<LiveSim>>,
    /// Where telemetry pushed over OTLP lands, when an `otlp` source is configured.
    pub(crate) otlp: Option<Arc<itops_stack::OtlpStore>>,
    /// Metrics of itops itself.
    pub(crate) metrics: Metrics,
    /// The API rate limit.
    pub(crate) limiter: RateLimiter,
    /// Circuit breakers whose state `/metrics` reports.
    pub(crate) breakers: Vec<Arc<dyn CircuitBreaker>>,
    /// About this server.
    pub(crate) info: Arc<ServerInfo>,
}

/// A built server: its state, what to print at start, and its background work.
pub struct App {
    /// The shared state.
    pub(crate) state: AppState,
    /// The admin token, when it was generated (printed once).
    pub generated_admin_token: Option<String>,
    /// The in-process workflow scheduler.
    pub(crate) scheduler: Workflows,
    /// Where the simulator's logs and traces go, when `[simulator] otlp_endpoint` is set.
    sim_export: Option<sim_export::OtlpTarget>,
    config: ServeConfig,
}

/// What starts incident workflows and wakes them when something they wait for changed: the
/// in-process [`Workflows`] scheduler locally, the Step Functions state machine on AWS.
#[async_trait::async_trait]
pub(crate) trait Orchestrator: Send + Sync {
    /// Starts the incident's workflow; idempotent (a second start returns the first's
    /// checkpoint).
    async fn start(&self, incident_id: IncidentId) -> itops_core::Result<WorkflowCheckpoint>;

    /// Something the workflow may wait for changed (an approval was decided, the incident
    /// was edited): let it go on.
    fn wake(&self, incident_id: IncidentId);
}

impl App {
    /// Builds everything from `config`: opens the store, seeds the knowledge base, starts
    /// the simulator (or loads the bundle) and wires the agents.
    pub async fn build(config: ServeConfig) -> Result<Self> {
        config.validate()?;
        let data_dir = config.data_dir();
        std::fs::create_dir_all(&data_dir).map_err(|source| Error::Io {
            path: data_dir.clone(),
            source,
        })?;

        let LocalEnvironment {
            telemetry,
            executor,
            clock,
            live,
            otlp,
            description: telemetry_info,
            breakers: telemetry_breakers,
        } = LocalEnvironment::open(&config).await?;

        let sim_export = match live {
            Some(_) => sim_export::OtlpTarget::from_config(&config.simulator, |name| {
                std::env::var(name).ok()
            })?,
            None => None,
        };

        let sqlite = SqliteStore::open(data_dir.join("itops.sqlite3"), clock.clone())?;
        let sqlite = Arc::new(sqlite);
        let bus = EventBus::default();
        let store: Arc<dyn StateStore> =
            Arc::new(PublishingStore::new(sqlite.clone(), bus.clone()));
        let gate: Arc<dyn ApprovalGate> = sqlite;
        seed_knowledge(store.as_ref(), clock.now()).await?;

        let AgentModel {
            model,
            breaker: model_breaker,
        } = AgentModel::from_config(&config).await?;
        let model_name = model.name().to_string();
        let metrics = Metrics::new();
        let notifier = notifier_for(&config, store.clone(), clock.clone());
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen()));
        let steps = AgentSteps {
            responders: responders_for(&config, model, &store, &gate, &clock, &telemetry),
            store: store.clone(),
            clock: clock.clone(),
            executor,
            telemetry: telemetry.clone(),
            settle: live.clone().map_or(Settle::Wait, Settle::Simulated),
            settle_for: config.settle(),
            notifier: notifier.clone(),
            notify_at_triage: true,
            notices_in_background: true,
            public_url,
            metrics: metrics.clone(),
        };
        let steps = guard::GuardedSteps::new(steps, gate.clone());
        let runner = LocalRunner::new(store.clone(), gate.clone(), Arc::new(steps), clock.clone())
            .with_approval_ttl(config.approval_ttl());
        let workflows = Workflows::new(
            runner,
            store.clone(),
            gate.clone(),
            clock.clone(),
            notifier,
            metrics.clone(),
            config.workflow.max_concurrent.unwrap_or(4),
        );
        let orchestrator: Arc<dyn Orchestrator> = Arc::new(workflows.clone());
        let intake = Intake::new(
            store.clone(),
            clock.clone(),
            orchestrator.clone(),
            config.workflow.auto_start_alerts.unwrap_or(true),
        )
        .with_correlation(config.alerts.correlation());
        let (tokens, generated_admin_token) = Tokens::from_config(&config.auth)?;
        let state = AppState {
            store,
            gate,
            clock,
            tokens,
            workflows: orchestrator,
            intake,
            bus,
            telemetry,
            live,
            otlp,
            metrics,
            limiter: RateLimiter::new(config.http.requests_per_minute.unwrap_or(1200)),
            breakers: model_breaker
                .into_iter()
                .chain(telemetry_breakers)
                .collect(),
            info: Arc::new(ServerInfo {
                model: model_name,
                telemetry: telemetry_info,
            }),
        };
        Ok(Self {
            state,
            generated_admin_token,
            scheduler: workflows,
            sim_export,
            config,
        })
    }

    /// The HTTP routes with their middleware.
    pub fn router(&self) -> Router {
        router(self.state.clone(), &self.config)
    }

    /// Incidents, timelines, checkpoints and knowledge (every write published to the live
    /// event stream).
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.state.store
    }

    /// Approvals.
    pub fn approvals(&self) -> &Arc<dyn ApprovalGate> {
        &self.state.gate
    }

    /// The live simulator, when the telemetry is the simulator's.
    pub fn simulator(&self) -> Option<&Arc<LiveSim>> {
        self.state.live.as_ref()
    }

    /// Resumes unfinished workflows and starts the background work (approval expiry, the
    /// simulator clock and the export of its logs and traces).
    pub async fn start_background(&self) -> Result<usize> {
        let resumed =
            self.scheduler.resume_all().await? + self.state.intake.start_unstarted().await?;
        self.scheduler.spawn_expiry_sweep();
        if let Some(live) = &self.state.live {
            spawn_sim_clock(live.clone(), self.state.intake.clone());
            if let Some(target) = &self.sim_export {
                let env = live.environment().clone();
                let lag = Duration::from_secs_f64(env.tick_seconds().max(0.0));
                tracing::info!(
                    endpoint = ?self.config.simulator.otlp_base(),
                    every_secs = target.interval().as_secs(),
                    "sending the simulator's logs and traces over OTLP"
                );
                sim_export::SimExporter::new(target.clone(), env.clone(), env, lag).spawn();
            }
        }
        Ok(resumed)
    }
}

/// The simulated clock follows the wall clock (plus any fast-forwards); incidents monitoring
/// reports on the way are raised like alerts.
fn spawn_sim_clock(live: Arc<LiveSim>, intake: Intake) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last = Instant::now();
        loop {
            tick.tick().await;
            let elapsed = last.elapsed();
            last = Instant::now();
            let sim = live.clone();
            let reports = tokio::task::spawn_blocking(move || sim.advance(elapsed)).await;
            let Ok(Ok(reports)) = reports else {
                tracing::error!("the simulator failed to advance");
                continue;
            };
            for report in reports {
                let new = report
                    .to_new_incident()
                    .dedup_key(format!("simulator:{}", report.affected_services.join(",")));
                if let Err(error) = intake
                    .handle("simulator", alerts::AlertEvent::Firing(new))
                    .await
                {
                    tracing::error!(%error, "could not raise the simulator's incident");
                }
            }
        }
    });
}

/// The three agents over `telemetry` and the knowledge base in `store`, with the
/// configured policy (shared by `itops serve` and the Lambda functions).
pub(crate) fn responders_for(
    config: &ServeConfig,
    model: Arc<dyn LanguageModel>,
    store: &Arc<dyn StateStore>,
    gate: &Arc<dyn ApprovalGate>,
    clock: &Arc<dyn Clock>,
    telemetry: &Arc<dyn TelemetrySource>,
) -> Responders {
    let knowledge: Vec<Arc<dyn DynTool>> = incident_tools(
        store.clone(),
        gate.clone(),
        clock.clone(),
        Actor::Agent("knowledge".into()),
    )
    .into_iter()
    .filter(|t| {
        matches!(
            t.spec().name.as_str(),
            "search_knowledge" | "similar_incidents"
        )
    })
    .collect();
    Responders::new(model, telemetry.clone(), knowledge, config.policy.policy())
}

/// The configured notification channels, recording every attempt in `store`.
pub(crate) fn notifier_for(
    config: &ServeConfig,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
) -> Notifier {
    Notifier::new(
        config.notifications.webhook_url.clone(),
        config.notifications.slack_webhook_url.clone(),
        config
            .notifications
            .min_severity
            .unwrap_or(Severity::Medium),
        config.notifications.attempts.unwrap_or(4),
        store,
        clock,
    )
}

/// The API, the UI and the operational endpoints, with limits, CORS, metrics and the rate limit.
pub(crate) fn router(state: AppState, config: &ServeConfig) -> Router {
    use routes::{alerts as al, approvals as ap, incidents as inc, simulator as sim, system};
    let api = Router::new()
        .route("/me", get(system::me))
        .route("/incidents", get(inc::list).post(inc::create))
        .route(
            "/incidents/{id}",
            get(inc::get).patch(inc::patch).delete(inc::delete),
        )
        .route("/incidents/{id}/timeline", get(inc::timeline))
        .route("/incidents/{id}/events", get(inc::events))
        .route("/incidents/{id}/notes", post(inc::note))
        .route(
            "/incidents/{id}/workflow",
            get(inc::get_workflow).post(inc::start_workflow),
        )
        .route("/incidents/{id}/metrics", get(inc::charts))
        .route("/approvals", get(ap::list))
        .route("/approvals/{id}", get(ap::get))
        .route("/approvals/{id}/decision", post(ap::decide))
        .route("/alerts/alertmanager", post(al::alertmanager))
        .route("/alerts/cloudwatch", post(al::cloudwatch))
        .route("/alerts/grafana", post(al::grafana))
        .route("/alerts/pagerduty", post(al::pagerduty))
        .route("/alerts/opsgenie", post(al::opsgenie))
        .route("/simulator", get(sim::status))
        .route("/simulator/metrics", get(routes::exposition::exposition))
        .route("/simulator/faults", post(sim::inject))
        .route("/simulator/actions", post(sim::act))
        .fallback(inc::not_found)
        .method_not_allowed_fallback(inc::method_not_allowed);
    let max_body = config.http.max_body_bytes.unwrap_or(1024 * 1024);
    // OTLP exporters send batches larger than API requests: a limit of their own.
    let otlp = Router::new()
        .route("/v1/traces", post(routes::otlp::traces))
        .route("/v1/logs", post(routes::otlp::logs))
        .route("/v1/metrics", post(routes::otlp::metrics))
        .layer(DefaultBodyLimit::max(routes::otlp::MAX_COMPRESSED_BYTES));
    let mut app = Router::new()
        .nest("/api", api)
        .merge(otlp)
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/", get(ui::index))
        .route("/index.html", get(ui::index))
        .route("/js/{file}", get(ui::js))
        .route("/style.css", get(ui::style_css))
        .fallback(inc::not_found)
        .method_not_allowed_fallback(inc::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state);
    if !config.http.cors_origins.is_empty() {
        // Validated at start (exact origins only); a wildcard that slipped through is
        // dropped rather than handed to the CORS layer, which would panic on it.
        let origins: Vec<HeaderValue> = config
            .http
            .cors_origins
            .iter()
            .filter(|o| !o.contains('*'))
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                ]),
        );
    }
    app
}

/// Rate limit, request metrics and a log line per request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let limited = request.uri().path().starts_with("/api/");
    if limited {
        // Only a valid token earns a bucket of its own; anything else counts against the
        // address, so made-up credentials cannot dodge the limit.
        let principal = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(|(_, token)| state.tokens.lookup(token.trim()));
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let key = RateLimiter::key(principal.as_ref(), ip);
        if let Err(wait) = state.limiter.check(&key) {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {wait} s"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            state
                .metrics
                .http_request(&method, &route, 429, started.elapsed().as_secs_f64());
            return response;
        }
    }
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state.metrics.http_request(&method, &route, status, seconds);
    tracing::debug!(%method, %route, status, ms = seconds * 1000.0, "request");
    response
}
