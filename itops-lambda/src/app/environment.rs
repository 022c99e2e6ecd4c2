//! What `itops serve` observes and acts on, and its clock: the live simulator, a recorded
//! bundle, a Prometheus-compatible API, or the backends of a self-hosted stack with the
//! executors of `[actions]`.

use std::sync::Arc;
use std::time::Duration;

use itops_core::breaker::CircuitBreaker;
use itops_core::environment::ActionExecutor;
use itops_core::telemetry::bundle::{load_bundle, LoadOptions};
use itops_core::{Clock, SystemClock, TelemetrySource};
use itops_sim::{LiveSim, SimConfig};

use super::config::{ServeConfig, TelemetrySourceKind};
use super::executors::ActionRouter;
use crate::error::{Error, Result};
use crate::stack::{SourceKind, SourceSpec};

/// What `itops serve` observes and acts on, and its clock (the Lambda functions' counterpart,
/// with the model, is `lambda::Surroundings`, with the `aws` feature).
pub(super) struct LocalEnvironment {
    pub(super) telemetry: Arc<dyn TelemetrySource>,
    pub(super) executor: Arc<dyn ActionExecutor>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) live: Option<Arc<LiveSim>>,
    /// Where OTLP exports land, when the stack lists an `otlp` source.
    pub(super) otlp: Option<Arc<itops_stack::OtlpStore>>,
    pub(super) description: String,
    /// The circuit breakers guarding remote telemetry sources, reported by `/metrics`.
    pub(super) breakers: Vec<Arc<dyn CircuitBreaker>>,
}

impl LocalEnvironment {
    /// The live simulator (telemetry, executor and clock in one), a recorded bundle, or
    /// the backends of a real stack with the configured executors.
    pub(super) async fn open(config: &ServeConfig) -> Result<Self> {
        match config.telemetry.kind() {
            TelemetrySourceKind::Simulator => Self::simulator(config).await,
            TelemetrySourceKind::Bundle => {
                let dir = config
                    .telemetry
                    .bundle_dir
                    .clone()
                    .ok_or_else(|| Error::Usage("telemetry.bundle_dir is not set".into()))?;
                let bundle = load_bundle(&dir, &LoadOptions { lenient: true })?;
                Ok(Self {
                    telemetry: Arc::new(bundle.into_index()),
                    executor: Arc::new(ReadOnlyEnvironment(
                        "the telemetry is a recorded bundle, there is nothing live to act on",
                    )),
                    clock: Arc::new(SystemClock),
                    live: None,
                    otlp: None,
                    breakers: Vec::new(),
                    description: format!("bundle {}", dir.display()),
                })
            }
            TelemetrySourceKind::Prometheus => {
                let url = config.telemetry.prometheus_url.clone().ok_or_else(|| {
                    Error::Usage(
                        "telemetry.prometheus_url is not set (or ITOPS_PROMETHEUS_URL)".into(),
                    )
                })?;
                let mut spec = SourceSpec::new(SourceKind::Prometheus, url);
                spec.service_label = config.telemetry.service_label.clone();
                Self::stack(config, &[spec]).map_err(|e| {
                    Error::Usage(format!(
                        "telemetry.prometheus_url (ITOPS_PROMETHEUS_URL): {e}"
                    ))
                })
            }
            TelemetrySourceKind::Stack => Self::stack(config, &config.telemetry.sources),
        }
    }

    async fn simulator(config: &ServeConfig) -> Result<Self> {
        let seed = config.telemetry.seed.unwrap_or(1);
        let history = Duration::from_secs(90 * 60);
        let start = chrono::Utc::now()
            - chrono::Duration::from_std(history).unwrap_or(chrono::Duration::zero());
        let retention = config
            .telemetry
            .retention_hours
            .map_or(itops_sim::DEFAULT_RETENTION, |h| {
                Duration::from_secs(h.saturating_mul(3600))
            });
        let live = tokio::task::spawn_blocking(move || {
            LiveSim::start(SimConfig::new(seed).start(start), history)
                .map(|live| live.with_retention(retention))
        })
        .await
        .map_err(|e| Error::Usage(format!("the simulator failed to start: {e}")))??;
        let live = Arc::new(live);
        let env = live.environment().clone();
        Ok(Self {
            telemetry: env.clone(),
            executor: env.clone(),
            clock: env,
            live: Some(live),
            otlp: None,
            breakers: Vec::new(),
            description: format!("simulator (seed {seed})"),
        })
    }

    /// The backends of `specs`, with the executors of `[actions]`.
    fn stack(config: &ServeConfig, specs: &[SourceSpec]) -> Result<Self> {
        let stack = crate::stack::build(specs)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let router = ActionRouter::new(
            &config.actions,
            clock.clone(),
            "set a program under [actions.command] or an [actions] webhook_url",
        )?;
        let description = format!("{}; actions: {}", stack.description, router.describe());
        Ok(Self {
            telemetry: stack.source,
            executor: Arc::new(router),
            clock,
            live: None,
            otlp: stack.otlp,
            breakers: stack.breakers.into_iter().map(|(_, b)| b).collect(),
            description,
        })
    }
}

/// An environment that can be read but not changed (a telemetry bundle): actions fail,
/// saying why.
struct ReadOnlyEnvironment(&'static str);

#[async_trait::async_trait]
impl ActionExecutor for ReadOnlyEnvironment {
    async fn execute(
        &self,
        action: &itops_core::RemediationAction,
    ) -> itops_core::Result<itops_core::environment::ActionReport> {
        Err(itops_core::Error::Step {
            step: "execute".into(),
            incident: String::new(),
            message: format!(
                "cannot run {} on {}: {}",
                action.catalogue_id, action.target, self.0
            ),
        })
    }
}
