//! `[simulator]`: what the live simulator sends out, its logs and traces over OTLP/HTTP to
//! a collector (or Tempo, Loki, another itops), so a real stack can receive them.

use std::time::Duration;

use serde::Deserialize;

use super::TelemetrySourceKind;
use crate::error::{Error, Result};

/// The environment variable of [`SimulatorConfig::otlp_endpoint`].
pub const SIMULATOR_OTLP_ENDPOINT_ENV: &str = "ITOPS_SIMULATOR_OTLP_ENDPOINT";

/// How often the simulator's logs and traces are sent when nothing else is said.
pub const DEFAULT_OTLP_INTERVAL: Duration = Duration::from_secs(10);

/// Longest interval accepted between two exports: an hour.
pub const MAX_OTLP_INTERVAL_SECS: u64 = 60 * 60;

/// The live simulator's export of its logs and traces.
///
/// ```toml
/// [simulator]
/// otlp_endpoint = "http://127.0.0.1:4318"   # /v1/traces and /v1/logs are appended
/// otlp_token_env = "SHOP_OTLP_TOKEN"        # the variable holding a bearer token
/// otlp_interval_secs = 10
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// The OTLP/HTTP receiver's base URL (`/v1/traces` and `/v1/logs` are appended): the
    /// simulator's spans and log records are sent there as protobuf. None (the default)
    /// sends nothing.
    pub otlp_endpoint: Option<String>,
    /// The environment variable holding a bearer token for the receiver (none: no
    /// `Authorization` header).
    pub otlp_token_env: Option<String>,
    /// Seconds between two exports (default 10, at most an hour).
    pub otlp_interval_secs: Option<u64>,
}

impl SimulatorConfig {
    /// The receiver's base URL without a trailing slash, when one is configured.
    pub fn otlp_base(&self) -> Option<&str> {
        let base = self.otlp_endpoint.as_deref()?.trim().trim_end_matches('/');
        (!base.is_empty()).then_some(base)
    }

    /// The time between two exports.
    pub fn otlp_interval(&self) -> Duration {
        self.otlp_interval_secs
            .map_or(DEFAULT_OTLP_INTERVAL, Duration::from_secs)
    }

    /// Applies `ITOPS_SIMULATOR_OTLP_ENDPOINT` when `value` holds it.
    pub(super) fn apply_env(&mut self, value: Option<&str>) {
        if let Some(v) = value {
            self.otlp_endpoint = Some(v.to_string());
        }
    }

    /// Refuses a URL that is not http(s), an interval out of range, a token variable that
    /// is not a variable name, and any of it with telemetry that is not the simulator.
    pub(super) fn validate(&self, kind: TelemetrySourceKind) -> Result<()> {
        let refuse =
            |key: &str, message: String| Error::Usage(format!("simulator.{key}: {message}"));
        if let Some(url) = &self.otlp_endpoint {
            super::validate::http_url(url).map_err(|m| {
                Error::Usage(format!(
                    "simulator.otlp_endpoint ({SIMULATOR_OTLP_ENDPOINT_ENV}): {m}"
                ))
            })?;
        }
        if let Some(secs) = self.otlp_interval_secs {
            if secs == 0 || secs > MAX_OTLP_INTERVAL_SECS {
                return Err(refuse(
                    "otlp_interval_secs",
                    format!("{secs} is not between 1 and {MAX_OTLP_INTERVAL_SECS} seconds"),
                ));
            }
        }
        if let Some(var) = &self.otlp_token_env {
            let name_like = !var.is_empty()
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !var.starts_with(|c: char| c.is_ascii_digit());
            if !name_like {
                return Err(refuse(
                    "otlp_token_env",
                    format!(
                        "'{var}' is not an environment variable's name (it names the variable \
                         holding the token, not the token)"
                    ),
                ));
            }
        }
        let set = self.otlp_endpoint.is_some()
            || self.otlp_token_env.is_some()
            || self.otlp_interval_secs.is_some();
        if set && kind != TelemetrySourceKind::Simulator {
            return Err(Error::Usage(format!(
                "[simulator] configures the live simulator's export, but the telemetry is \
                 \"{}\", not the simulator; remove [simulator]",
                kind.name()
            )));
        }
        if self.otlp_endpoint.is_none() && set {
            return Err(refuse(
                "otlp_endpoint",
                "is not set, so otlp_token_env and otlp_interval_secs do nothing; set it (or \
                 ITOPS_SIMULATOR_OTLP_ENDPOINT) to the receiver's base URL"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The bearer token, read from [`otlp_token_env`](Self::otlp_token_env) through `var`
    /// (the process environment in production); an error names the setting when the
    /// variable is unset or empty.
    pub fn otlp_token(&self, var: impl Fn(&str) -> Option<String>) -> Result<Option<String>> {
        let Some(name) = &self.otlp_token_env else {
            return Ok(None);
        };
        match var(name).map(|t| t.trim().to_string()) {
            Some(token) if !token.is_empty() => Ok(Some(token)),
            _ => Err(Error::Usage(format!(
                "simulator.otlp_token_env: the variable {name} is not set (or empty)"
            ))),
        }
    }
}
