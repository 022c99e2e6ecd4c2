//! The server's configuration: one TOML file, then `ITOPS_*` environment overrides, then
//! command-line flags. Every field has a default, so no file is needed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use itops_agents::policy::ActionPolicy;
use itops_core::Severity;
use serde::Deserialize;

use crate::error::{Error, Result};

mod alerts;
mod model;
mod simulator;
mod validate;

pub use crate::stack::{SourceKind, SourceSpec};
pub use alerts::{AlertsConfig, CORRELATION_WINDOW_ENV, MAX_CORRELATION_WINDOW_SECS};
pub use model::{BedrockConfig, ModelConfig, ModelProvider};
pub use simulator::{
    SimulatorConfig, DEFAULT_OTLP_INTERVAL, MAX_OTLP_INTERVAL_SECS, SIMULATOR_OTLP_ENDPOINT_ENV,
};

/// Everything `itops serve` can be told.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Where to listen (default `127.0.0.1:8080`; only loopback unless you say otherwise).
    pub listen: Option<SocketAddr>,
    /// Where the SQLite database lives (default `./itops-data`).
    pub data_dir: Option<PathBuf>,
    /// The URL people reach the server at, for links in notifications (default: from `listen`).
    pub public_url: Option<String>,
    /// The model the agents use.
    pub model: ModelConfig,
    /// Where telemetry comes from.
    pub telemetry: TelemetryConfig,
    /// What the live simulator sends out: its logs and traces over OTLP.
    pub simulator: SimulatorConfig,
    /// How approved actions reach real infrastructure (with a telemetry source other than
    /// the simulator, which runs them itself).
    pub actions: ActionsConfig,
    /// Which actions run without a human.
    pub policy: PolicyConfig,
    /// Approvals.
    pub approvals: ApprovalConfig,
    /// The workflow runner.
    pub workflow: WorkflowConfig,
    /// Alert intake: correlation of the alerts one fault sets off.
    pub alerts: AlertsConfig,
    /// Where notifications go.
    pub notifications: NotificationConfig,
    /// Who may call the API.
    pub auth: AuthConfig,
    /// HTTP limits and CORS.
    pub http: HttpConfig,
    /// Logs and traces of itops itself.
    pub observability: ObservabilityConfig,
}

/// Where telemetry comes from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `simulator` (the simulated web shop, live, with fault injection: the default
    /// without `sources`), `bundle`, `prometheus` (one Prometheus-compatible API at
    /// `prometheus_url`) or `stack` (the backends in `sources`: the default with them).
    pub source: Option<TelemetrySourceKind>,
    /// The backends of a self-hosted stack, each serving its signals (metrics from
    /// Prometheus, logs from Loki, traces from Tempo or Jaeger), for `source = "stack"`.
    pub sources: Vec<crate::stack::SourceSpec>,
    /// The bundle directory, for `source = "bundle"`.
    pub bundle_dir: Option<PathBuf>,
    /// The Prometheus-compatible API's base URL, for `source = "prometheus"` (a bearer
    /// token comes from `ITOPS_PROMETHEUS_TOKEN`).
    pub prometheus_url: Option<String>,
    /// The label naming each series' service (default: found from the data).
    pub service_label: Option<String>,
    /// The simulator's seed (default 1).
    pub seed: Option<u64>,
    /// How many hours of the simulator's telemetry are kept (default 8: the charts' six
    /// hours before an incident plus a margin); older telemetry is dropped.
    pub retention_hours: Option<u64>,
}

/// The telemetry source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TelemetrySourceKind {
    /// The live simulator.
    #[default]
    Simulator,
    /// A telemetry bundle on disk (read-only: actions cannot be executed).
    Bundle,
    /// Metrics from a Prometheus-compatible API at `prometheus_url`.
    Prometheus,
    /// The backends listed in `[[telemetry.sources]]`.
    Stack,
}

impl TelemetrySourceKind {
    /// Its name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Simulator => "simulator",
            Self::Bundle => "bundle",
            Self::Prometheus => "prometheus",
            Self::Stack => "stack",
        }
    }
}

impl TelemetryConfig {
    /// The source in effect: the one named, else `stack` when backends are listed, else
    /// the simulator.
    pub fn kind(&self) -> TelemetrySourceKind {
        self.source.unwrap_or(if self.sources.is_empty() {
            TelemetrySourceKind::Simulator
        } else {
            TelemetrySourceKind::Stack
        })
    }
}

/// How approved actions reach real infrastructure: a program per catalogue action, else
/// the user's automation behind a signed webhook; an action with neither stays a proposal.
///
/// ```toml
/// [actions]
/// dry_run = false
/// webhook_url = "https://automation.example.com/itops"   # secret in ITOPS_ACTION_WEBHOOK_SECRET
///
/// [actions.command.restart_service]
/// program = "/opt/itops/bin/restart.sh"    # gets the action as JSON on stdin
/// timeout_seconds = 120
/// pass_env = ["KUBECONFIG"]
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Record what each program would get instead of running it.
    pub dry_run: bool,
    /// The program run for each catalogue action id (absolute path, fixed arguments, no
    /// shell; the action arrives as JSON on stdin, in a scrubbed environment).
    pub command: BTreeMap<String, itops_stack::CommandSpec>,
    /// The user's automation: every action without a program is POSTed here, signed.
    pub webhook_url: Option<String>,
    /// The environment variable holding the webhook's signing secret (16+ characters;
    /// default `ITOPS_ACTION_WEBHOOK_SECRET`).
    pub webhook_secret_env: Option<String>,
}

/// Which actions run without a human.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// `default` (low-risk reversible actions run unattended) or `always_ask`.
    pub mode: PolicyMode,
    /// Catalogue actions never allowed.
    pub denied: Vec<String>,
}

/// The policy preset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Low risk and reversible → automatic; everything else → approval.
    #[default]
    Default,
    /// Every plan waits for a human.
    AlwaysAsk,
    /// Every valid plan runs unattended (for benchmarks and drills).
    AutoApprove,
}

impl PolicyConfig {
    /// The action policy this configures.
    pub fn policy(&self) -> ActionPolicy {
        let mut policy = match self.mode {
            PolicyMode::Default => ActionPolicy::default(),
            PolicyMode::AlwaysAsk => ActionPolicy::always_ask(),
            PolicyMode::AutoApprove => ActionPolicy {
                auto_approve: true,
                auto_max_risk: itops_core::RiskLevel::High,
                auto_requires_reversible: false,
                ..ActionPolicy::default()
            },
        };
        policy.denied = self.denied.iter().cloned().collect();
        policy
    }
}

/// Approvals.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalConfig {
    /// How long a human has to decide, in seconds (default 3600); expiry escalates.
    pub ttl_secs: Option<u64>,
}

/// The workflow runner.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowConfig {
    /// Workflows advancing at once (default 4).
    pub max_concurrent: Option<usize>,
    /// Start the workflow of incidents raised by alerts at once (default true).
    pub auto_start_alerts: Option<bool>,
    /// Seconds to let a fix settle before verifying it (default 300; simulated time is
    /// fast-forwarded, real time is waited).
    pub settle_secs: Option<u64>,
}

/// Where notifications go.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationConfig {
    /// A generic webhook: receives a JSON event.
    pub webhook_url: Option<String>,
    /// A Slack-compatible incoming webhook: receives `{"text": ...}`.
    pub slack_webhook_url: Option<String>,
    /// The lowest severity that is notified (default `medium`; lower ones go on the
    /// timeline only). Approval requests are always sent.
    pub min_severity: Option<Severity>,
    /// Attempts per notification (default 4).
    pub attempts: Option<u32>,
}

/// Who may call the API.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The admin token (else `ITOPS_ADMIN_TOKEN`, else one is generated and printed once).
    pub admin_token: Option<String>,
    /// More tokens.
    pub tokens: Vec<TokenConfig>,
    /// A token (16+ characters) that may read `/metrics` and nothing else, for the
    /// scraper (else `ITOPS_METRICS_TOKEN`). Any API token may read `/metrics` too.
    pub metrics_token: Option<String>,
    /// Serve `/metrics` without a token (default false; `ITOPS_METRICS_PUBLIC`).
    pub public_metrics: bool,
}

/// One API token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (shown on the timeline).
    pub name: String,
    /// `viewer`, `operator`, `admin`, or `ingest` (sends OTLP telemetry, reads nothing).
    pub role: String,
    /// The token itself…
    #[serde(default)]
    pub token: Option<String>,
    /// …or its SHA-256, hex (so the file need not hold the secret).
    #[serde(default)]
    pub token_sha256: Option<String>,
}

/// HTTP limits and CORS.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Origins allowed to call the API from a browser (default none).
    pub cors_origins: Vec<String>,
    /// Requests per minute per valid token's holder (else per client address: an unknown
    /// or made-up credential earns no bucket of its own); default 1200.
    pub requests_per_minute: Option<u32>,
    /// Largest request body, bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
}

/// Logs and traces of itops itself.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObservabilityConfig {
    /// `text` (default on a terminal) or `json`.
    pub log_format: Option<String>,
    /// A `tracing` filter (default `info`; `RUST_LOG` wins).
    pub log_filter: Option<String>,
    /// Where to send itops's own spans over OTLP/HTTP (protobuf), e.g.
    /// `http://127.0.0.1:4318`: the collector's base URL, `/v1/traces` is appended. None
    /// (the default) exports nothing. `ITOPS_OTLP_ENDPOINT`, else the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, overrides it.
    pub otlp_endpoint: Option<String>,
}

impl ObservabilityConfig {
    /// The OTLP/HTTP traces URL (`{otlp_endpoint}/v1/traces`), when an endpoint is configured.
    pub fn otlp_traces_url(&self) -> Option<String> {
        let base = self.otlp_endpoint.as_deref()?.trim().trim_end_matches('/');
        if base.is_empty() {
            return None;
        }
        Some(if base.ends_with("/v1/traces") {
            base.to_string()
        } else {
            format!("{base}/v1/traces")
        })
    }
}

impl ServeConfig {
    /// Reads `path` (TOML). Unknown keys are refused, naming the key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text)
            .map_err(|e| Error::Usage(format!("{}: invalid configuration: {e}", path.display())))
    }

    /// Applies `ITOPS_*` overrides from `vars` (the process environment in production).
    pub fn apply_env(&mut self, vars: &BTreeMap<String, String>) -> Result<()> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(v) = get("ITOPS_LISTEN") {
            self.listen = Some(parse_addr(v, "ITOPS_LISTEN")?);
        }
        if let Some(v) = get("ITOPS_DATA_DIR") {
            self.data_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("ITOPS_PUBLIC_URL") {
            self.public_url = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_MODEL_PROVIDER") {
            self.model.provider = v
                .parse()
                .map_err(|e| Error::Usage(format!("ITOPS_MODEL_PROVIDER: {e}")))?;
        }
        if let Some(v) = get("ITOPS_BEDROCK_MODEL_ID") {
            let bedrock = self
                .model
                .bedrock
                .get_or_insert_with(BedrockConfig::default);
            bedrock.model_id = v.to_string();
        }
        if let Some(v) = get("ITOPS_TELEMETRY_BUNDLE") {
            self.telemetry.source = Some(TelemetrySourceKind::Bundle);
            self.telemetry.bundle_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("ITOPS_PROMETHEUS_URL") {
            self.telemetry.source = Some(TelemetrySourceKind::Prometheus);
            self.telemetry.prometheus_url = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_SIMULATOR_SEED") {
            self.telemetry.seed = Some(parse_num(v, "ITOPS_SIMULATOR_SEED")?);
        }
        if let Some(v) = get("ITOPS_SIMULATOR_RETENTION_HOURS") {
            self.telemetry.retention_hours = Some(parse_num(v, "ITOPS_SIMULATOR_RETENTION_HOURS")?);
        }
        self.simulator.apply_env(get(SIMULATOR_OTLP_ENDPOINT_ENV));
        if let Some(v) = get("ITOPS_POLICY") {
            self.policy.mode = match v {
                "default" => PolicyMode::Default,
                "always_ask" => PolicyMode::AlwaysAsk,
                "auto_approve" => PolicyMode::AutoApprove,
                other => {
                    return Err(Error::Usage(format!(
                        "ITOPS_POLICY: unknown policy '{other}': use default, always_ask or auto_approve"
                    )))
                }
            };
        }
        if let Some(v) = get("ITOPS_APPROVAL_TTL_SECS") {
            self.approvals.ttl_secs = Some(parse_num(v, "ITOPS_APPROVAL_TTL_SECS")?);
        }
        if let Some(v) = get("ITOPS_MAX_CONCURRENT") {
            self.workflow.max_concurrent = Some(parse_num(v, "ITOPS_MAX_CONCURRENT")?);
        }
        if let Some(v) = get("ITOPS_SETTLE_SECS") {
            self.workflow.settle_secs = Some(parse_num(v, "ITOPS_SETTLE_SECS")?);
        }
        self.alerts.apply_env(get(CORRELATION_WINDOW_ENV))?;
        if let Some(v) = get("ITOPS_WEBHOOK_URL") {
            self.notifications.webhook_url = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_SLACK_WEBHOOK_URL") {
            self.notifications.slack_webhook_url = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_ADMIN_TOKEN") {
            self.auth.admin_token = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_ADMIN_TOKEN_SHA256") {
            if v.len() != 64 || !v.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::Usage(format!(
                    "ITOPS_ADMIN_TOKEN_SHA256: '{v}' is not a SHA-256 in hex (64 characters)"
                )));
            }
            self.auth.tokens.push(TokenConfig {
                name: "admin".to_string(),
                role: "admin".to_string(),
                token: None,
                token_sha256: Some(v.to_string()),
            });
        }
        if let Some(v) = get("ITOPS_METRICS_TOKEN") {
            self.auth.metrics_token = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_METRICS_PUBLIC") {
            self.auth.public_metrics = parse_bool(v, "ITOPS_METRICS_PUBLIC")?;
        }
        if let Some(v) = get("ITOPS_CORS_ORIGINS") {
            self.http.cors_origins = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        if let Some(v) = get("ITOPS_RATE_LIMIT_PER_MINUTE") {
            self.http.requests_per_minute = Some(parse_num(v, "ITOPS_RATE_LIMIT_PER_MINUTE")?);
        }
        if let Some(v) = get("ITOPS_LOG_FORMAT") {
            self.observability.log_format = Some(v.to_string());
        }
        if let Some(v) = get("ITOPS_OTLP_ENDPOINT").or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            self.observability.otlp_endpoint = Some(v.to_string());
        }
        Ok(())
    }

    /// The listen address.
    pub fn listen(&self) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("itops-data"))
    }

    /// Approval time to live.
    pub fn approval_ttl(&self) -> Duration {
        Duration::from_secs(self.approvals.ttl_secs.unwrap_or(3600).max(1))
    }

    /// How long a fix settles before verification.
    pub fn settle(&self) -> Duration {
        Duration::from_secs(self.workflow.settle_secs.unwrap_or(300))
    }
}

fn parse_addr(v: &str, name: &str) -> Result<SocketAddr> {
    v.parse().map_err(|_| {
        Error::Usage(format!(
            "{name}: '{v}' is not an address like 127.0.0.1:8080"
        ))
    })
}

fn parse_bool(v: &str, name: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Usage(format!("{name}: '{v}' is not true or false"))),
    }
}

fn parse_num<T: std::str::FromStr>(v: &str, name: &str) -> Result<T> {
    v.parse()
        .map_err(|_| Error::Usage(format!("{name}: '{v}' is not a valid number")))
}

#[cfg(test)]
mod tests;
