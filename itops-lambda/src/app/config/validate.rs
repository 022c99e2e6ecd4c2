//! The checks of a [`ServeConfig`] that parsing cannot make. Every mistake is refused at
//! start with a message naming the setting, by its key in the file and its environment
//! variable, so that `itops serve` never starts half-configured nor panics later.

use std::fmt::Display;

use itops_core::catalogue::ActionCatalogue;

use super::{ModelProvider, ServeConfig, TelemetrySourceKind};
use crate::error::{Error, Result};

/// An error naming the setting `key` (its environment variable `env`, when it has one).
fn refuse(key: &str, env: Option<&str>, message: impl Display) -> Error {
    match env {
        Some(env) => Error::Usage(format!("{key} ({env}): {message}")),
        None => Error::Usage(format!("{key}: {message}")),
    }
}

impl ServeConfig {
    /// Checks what cannot be checked while parsing; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        self.validate_sources()?;
        self.alerts.validate()?;
        self.simulator.validate(self.telemetry.kind())?;
        for (key, env, url) in [
            (
                "notifications.webhook_url",
                "ITOPS_WEBHOOK_URL",
                &self.notifications.webhook_url,
            ),
            (
                "notifications.slack_webhook_url",
                "ITOPS_SLACK_WEBHOOK_URL",
                &self.notifications.slack_webhook_url,
            ),
            ("public_url", "ITOPS_PUBLIC_URL", &self.public_url),
            (
                "observability.otlp_endpoint",
                "ITOPS_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT",
                &self.observability.otlp_endpoint,
            ),
        ] {
            if let Some(url) = url {
                http_url(url).map_err(|m| refuse(key, Some(env), m))?;
            }
        }
        for origin in &self.http.cors_origins {
            exact_origin(origin)
                .map_err(|m| refuse("http.cors_origins", Some("ITOPS_CORS_ORIGINS"), m))?;
        }
        for (key, env, value) in [
            (
                "workflow.max_concurrent",
                Some("ITOPS_MAX_CONCURRENT"),
                self.workflow.max_concurrent.map(|n| n as u64),
            ),
            (
                "http.requests_per_minute",
                Some("ITOPS_RATE_LIMIT_PER_MINUTE"),
                self.http.requests_per_minute.map(u64::from),
            ),
            (
                "http.max_body_bytes",
                None,
                self.http.max_body_bytes.map(|n| n as u64),
            ),
            (
                "approvals.ttl_secs",
                Some("ITOPS_APPROVAL_TTL_SECS"),
                self.approvals.ttl_secs,
            ),
            (
                "telemetry.retention_hours",
                Some("ITOPS_SIMULATOR_RETENTION_HOURS"),
                self.telemetry.retention_hours,
            ),
            ("model.attempts", None, self.model.attempts.map(u64::from)),
            (
                "model.breaker_failures",
                None,
                self.model.breaker_failures.map(u64::from),
            ),
            (
                "notifications.attempts",
                None,
                self.notifications.attempts.map(u64::from),
            ),
        ] {
            if value == Some(0) {
                return Err(refuse(key, env, "must be at least 1"));
            }
        }
        if let Some(format) = &self.observability.log_format {
            if !matches!(format.as_str(), "text" | "json") {
                return Err(refuse(
                    "observability.log_format",
                    Some("ITOPS_LOG_FORMAT"),
                    format!("'{format}' is neither text nor json"),
                ));
            }
        }
        if let Some(filter) = &self.observability.log_filter {
            tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
                refuse(
                    "observability.log_filter",
                    None,
                    format!("'{filter}' is not a log filter: {e}"),
                )
            })?;
        }
        let catalogue = ActionCatalogue::standard();
        for id in &self.policy.denied {
            if catalogue.get(id).is_err() {
                let known: Vec<&str> = catalogue.entries().iter().map(|e| e.id).collect();
                return Err(refuse(
                    "policy.denied",
                    None,
                    format!(
                        "'{id}' is not a catalogue action; the catalogue has {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The telemetry source and the model have what they need.
    fn validate_sources(&self) -> Result<()> {
        let kind = self.telemetry.kind();
        if kind == TelemetrySourceKind::Stack && self.telemetry.sources.is_empty() {
            return Err(Error::Usage(
                "telemetry.source = \"stack\" needs at least one [[telemetry.sources]] entry \
                 (kind = \"prometheus\", \"loki\", \"tempo\" or \"jaeger\", and its url)"
                    .into(),
            ));
        }
        if kind != TelemetrySourceKind::Stack && !self.telemetry.sources.is_empty() {
            return Err(Error::Usage(format!(
                "[[telemetry.sources]] are read only with telemetry.source = \"stack\" (it is \
                 \"{}\"); remove one or the other",
                kind.name()
            )));
        }
        let acts = !self.actions.command.is_empty() || self.actions.webhook_url.is_some();
        if acts
            && matches!(
                kind,
                TelemetrySourceKind::Simulator | TelemetrySourceKind::Bundle
            )
        {
            return Err(Error::Usage(format!(
                "[actions] runs actions on real infrastructure, but the telemetry is the {}: \
                 {}",
                kind.name(),
                if kind == TelemetrySourceKind::Simulator {
                    "the simulator runs its actions itself"
                } else {
                    "a recorded bundle has nothing live to act on"
                }
            )));
        }
        if self.telemetry.kind() == TelemetrySourceKind::Bundle {
            match &self.telemetry.bundle_dir {
                None => {
                    return Err(Error::Usage(
                        "telemetry.source = \"bundle\" needs telemetry.bundle_dir (or \
                         ITOPS_TELEMETRY_BUNDLE)"
                            .into(),
                    ))
                }
                Some(dir) if !dir.is_dir() => {
                    return Err(refuse(
                        "telemetry.bundle_dir",
                        Some("ITOPS_TELEMETRY_BUNDLE"),
                        format!("'{}' is not a directory", dir.display()),
                    ))
                }
                Some(_) => {}
            }
        }
        if self.model.provider == ModelProvider::Bedrock
            && self
                .model
                .bedrock
                .as_ref()
                .is_none_or(|b| b.model_id.trim().is_empty())
        {
            return Err(Error::Usage(
                "model.provider = \"bedrock\" needs model.bedrock.model_id (or \
                 ITOPS_BEDROCK_MODEL_ID)"
                    .into(),
            ));
        }
        #[cfg(not(feature = "aws"))]
        if self.model.provider == ModelProvider::Bedrock {
            return Err(Error::Usage(crate::app::model::BEDROCK_NEEDS_AWS.into()));
        }
        Ok(())
    }
}

/// `Ok` for an absolute http(s) URL with a host.
pub(super) fn http_url(url: &str) -> std::result::Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("'{url}' is not an http(s) URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{url}' has no host"));
    }
    Ok(())
}

/// `Ok` for an exact origin, `scheme://host[:port]` as browsers send it: no wildcard, no
/// path, no trailing slash.
fn exact_origin(origin: &str) -> std::result::Result<(), String> {
    if origin.contains('*') {
        return Err(format!(
            "'{origin}': wildcards are not allowed; list each origin the UI is served from, \
             e.g. https://ops.example.com"
        ));
    }
    let parsed = reqwest::Url::parse(origin)
        .map_err(|_| format!("'{origin}' is not an origin like https://ops.example.com"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "'{origin}' is not an http(s) origin like https://ops.example.com"
        ));
    }
    let exact = parsed.origin().ascii_serialization();
    if exact != origin {
        return Err(format!(
            "'{origin}' is not an exact origin (scheme, host and port only); write {exact}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_exact() {
        assert!(exact_origin("https://ops.example.com").is_ok());
        assert!(exact_origin("http://127.0.0.1:8080").is_ok());
        for bad in [
            "*",
            "https://*.example.com",
            "https://ops.example.com/",
            "https://ops.example.com/ui",
            "ops.example.com",
            "null",
            "ftp://ops.example.com",
            "https://OPS.example.com",
            "https://ops.example.com:443",
        ] {
            assert!(exact_origin(bad).is_err(), "{bad}");
        }
    }
}
