//! Telemetry from a self-hosted stack: the sources a user lists (Prometheus-compatible
//! metrics, Loki logs, Tempo or Jaeger traces, what OpenTelemetry exporters push over
//! OTLP) composed into one [`TelemetrySource`], as
//! `itops serve` (`[[telemetry.sources]]`), `itops investigate` and `itops mcp monitoring`
//! (`--prometheus`, `--loki`, `--tempo`, `--jaeger`) take them.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use itops_core::breaker::CircuitBreaker;
use itops_core::telemetry::{
    CompositeSource, LogQuery, MetricQuery, Signals, SpanQuery, TelemetryIndex, TimeRange,
};
use itops_core::TelemetrySource;
use serde::Deserialize;

use crate::error::{Error, Result};

/// A kind of backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Metrics over the Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir).
    Prometheus,
    /// Logs over Loki's HTTP API (LogQL).
    Loki,
    /// Traces over Tempo's HTTP API.
    Tempo,
    /// Traces over the Jaeger query service's HTTP API.
    Jaeger,
    /// Whatever OpenTelemetry SDKs and collectors push to `itops serve` over OTLP/HTTP
    /// (`/v1/traces`, `/v1/logs`, `/v1/metrics`), held in memory.
    Otlp,
}

impl SourceKind {
    /// Its name in configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Loki => "loki",
            Self::Tempo => "tempo",
            Self::Jaeger => "jaeger",
            Self::Otlp => "otlp",
        }
    }

    /// The environment variable a bearer token for it is read from by default.
    pub fn default_token_var(self) -> &'static str {
        match self {
            Self::Prometheus => PROMETHEUS_TOKEN_VAR,
            Self::Loki => "ITOPS_LOKI_TOKEN",
            Self::Tempo => "ITOPS_TEMPO_TOKEN",
            Self::Jaeger => "ITOPS_JAEGER_TOKEN",
            Self::Otlp => "",
        }
    }

    /// The signals it serves.
    pub fn signals(self) -> Signals {
        match self {
            Self::Prometheus => Signals::METRICS,
            Self::Loki => Signals::LOGS,
            Self::Tempo | Self::Jaeger => Signals::TRACES,
            Self::Otlp => Signals {
                metrics: true,
                logs: true,
                traces: true,
                changes: false,
            },
        }
    }
}

/// The environment variable holding a bearer token for a Prometheus-compatible API.
pub(crate) const PROMETHEUS_TOKEN_VAR: &str = "ITOPS_PROMETHEUS_TOKEN";

/// One backend to read from (a `[[telemetry.sources]]` entry).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// `prometheus`, `loki`, `tempo`, `jaeger` or `otlp`.
    pub kind: SourceKind,
    /// The backend's base URL (not for `otlp`: exporters push to itops).
    #[serde(default)]
    pub url: String,
    /// The label naming each series' or stream's service (Prometheus, Loki; default:
    /// found from the data).
    #[serde(default)]
    pub service_label: Option<String>,
    /// The tenant (`X-Scope-OrgID`), for multi-tenant Loki, Tempo or Mimir.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The environment variable holding a bearer token (default `ITOPS_<KIND>_TOKEN`).
    /// Secrets never sit in the file.
    #[serde(default)]
    pub token_env: Option<String>,
    /// For `otlp`: how many hours of pushed telemetry are kept (default 8); older data is
    /// dropped, and all of it is lost on a restart.
    #[serde(default)]
    pub retention_hours: Option<u64>,
}

impl SourceSpec {
    /// A spec of `kind` at `url` with the defaults.
    pub fn new(kind: SourceKind, url: impl Into<String>) -> Self {
        Self {
            kind,
            url: url.into(),
            service_label: None,
            tenant: None,
            token_env: None,
            retention_hours: None,
        }
    }
}

/// The sources composed, with their circuit breakers.
pub(crate) struct Stack {
    /// Every source, each serving its signals.
    pub source: Arc<CompositeSource>,
    /// Each source's breaker, named by its kind (`prometheus`, `loki`, ...).
    pub breakers: Vec<(String, Arc<dyn CircuitBreaker>)>,
    /// What it reads, for people (`prometheus http://…, loki http://…`).
    pub description: String,
    /// The store OTLP exports land in, when an `otlp` source is listed.
    pub otlp: Option<Arc<itops_stack::OtlpStore>>,
}

/// Composes the sources of `specs`: a bad URL or setting is an error naming the source.
pub(crate) fn build(specs: &[SourceSpec]) -> Result<Stack> {
    if specs.is_empty() {
        return Err(Error::Usage(
            "no telemetry source is given: name at least one (prometheus, loki, tempo, jaeger or otlp)"
                .into(),
        ));
    }
    let mut composite = CompositeSource::new();
    let mut breakers = Vec::new();
    let mut described = Vec::new();
    let mut otlp = None;
    for spec in specs {
        if spec.kind == SourceKind::Otlp {
            if otlp.is_some() {
                return Err(Error::Usage("list the otlp source once".into()));
            }
            let mut config = itops_stack::OtlpStoreConfig::default();
            if let Some(hours) = spec.retention_hours {
                if hours == 0 {
                    return Err(Error::Usage(
                        "otlp source: retention_hours must be at least 1".into(),
                    ));
                }
                config.retention = std::time::Duration::from_secs(hours.saturating_mul(3600));
            }
            let hours = config.retention.as_secs() / 3600;
            let store = Arc::new(itops_stack::OtlpStore::new(config));
            composite = composite.with("otlp", spec.kind.signals(), store.clone());
            described.push(format!(
                "otlp ingest at /v1/traces, /v1/logs, /v1/metrics (in memory, {hours} h)"
            ));
            otlp = Some(store);
            continue;
        }
        if spec.retention_hours.is_some() {
            return Err(Error::Usage(format!(
                "{} source {}: retention_hours is for the otlp source only",
                spec.kind.name(),
                spec.url
            )));
        }
        let name = spec.kind.name();
        let token_var = spec
            .token_env
            .clone()
            .unwrap_or_else(|| spec.kind.default_token_var().to_string());
        let bad = |e: itops_core::Error| Error::Usage(format!("{name} source {}: {e}", spec.url));
        let (source, breaker): (Arc<dyn TelemetrySource>, Arc<dyn CircuitBreaker>) = match spec.kind
        {
            SourceKind::Prometheus => {
                let mut config = itops_stack::PrometheusConfig::new(spec.url.clone())
                    .service_label(spec.service_label.clone())
                    .bearer_token_from_env(&token_var);
                if let Some(tenant) = &spec.tenant {
                    config = config.tenant(tenant.clone());
                }
                let source = itops_stack::PrometheusSource::new(config).map_err(bad)?;
                let breaker = source.breaker();
                (Arc::new(source), breaker)
            }
            SourceKind::Loki => {
                let mut config = itops_stack::LokiConfig::new(spec.url.clone())
                    .service_label(spec.service_label.clone())
                    .bearer_token_from_env(&token_var);
                if let Some(tenant) = &spec.tenant {
                    config = config.tenant(tenant.clone());
                }
                let source = itops_stack::LokiSource::new(config).map_err(bad)?;
                let breaker = source.breaker();
                (Arc::new(source), breaker)
            }
            SourceKind::Tempo => {
                let mut config = itops_stack::TempoConfig::new(spec.url.clone())
                    .bearer_token_from_env(&token_var);
                if let Some(tenant) = &spec.tenant {
                    config = config.tenant(tenant.clone());
                }
                let source = itops_stack::TempoSource::new(config).map_err(bad)?;
                let breaker = source.breaker();
                (Arc::new(source), breaker)
            }
            SourceKind::Otlp => continue,
            SourceKind::Jaeger => {
                let mut config = itops_stack::JaegerConfig::new(spec.url.clone())
                    .bearer_token_from_env(&token_var);
                if let Some(tenant) = &spec.tenant {
                    config = config.tenant(tenant.clone());
                }
                let source = itops_stack::JaegerSource::new(config).map_err(bad)?;
                let breaker = source.breaker();
                (Arc::new(source), breaker)
            }
        };
        composite = composite.with(name, spec.kind.signals(), source);
        breakers.push((name.to_string(), breaker));
        described.push(format!("{name} {}", spec.url));
    }
    Ok(Stack {
        source: Arc::new(composite),
        breakers,
        description: described.join(", "),
        otlp,
    })
}

/// Most log records and spans a snapshot reads.
const SNAPSHOT_LOGS: usize = 100_000;
const SNAPSHOT_SPANS: usize = 100_000;

/// Everything `source` holds from two hours before `at` to an hour after it (or now),
/// copied into an index the offline agents work on.
pub(crate) async fn snapshot(
    source: &dyn TelemetrySource,
    at: DateTime<Utc>,
) -> Result<TelemetryIndex> {
    let end = (at + Duration::hours(1)).min(Utc::now().max(at + Duration::seconds(1)));
    let range = TimeRange::new(at - Duration::hours(2), end)?;
    let series = source
        .metrics(&MetricQuery {
            range,
            service: None,
            metric: None,
        })
        .await?;
    let logs = source
        .logs(&LogQuery {
            range,
            service: None,
            contains: None,
            min_level: None,
            limit: SNAPSHOT_LOGS,
        })
        .await?;
    let spans = source
        .spans(&SpanQuery {
            range,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: SNAPSHOT_SPANS,
        })
        .await?;
    let changes = source.changes(range, None).await?;
    let mut index = TelemetryIndex::new();
    for s in &series {
        for p in &s.points {
            index.add_metric(&s.service, &s.metric, p.at, p.value);
        }
    }
    logs.into_iter().for_each(|r| index.add_log(r));
    spans.into_iter().for_each(|s| index.add_span(s));
    changes.into_iter().for_each(|c| index.add_change(c));
    Ok(index)
}

/// The backends on the command line (`itops investigate`, `itops mcp monitoring`).
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct StackArgs {
    /// Metrics from a Prometheus-compatible API (Prometheus, VictoriaMetrics, Thanos,
    /// Mimir); a bearer token from `ITOPS_PROMETHEUS_TOKEN`.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// The label naming each series' or log stream's service, for `--prometheus` and
    /// `--loki` (default: the first of service, service_name, job, app, … with values).
    #[arg(long, value_name = "LABEL")]
    pub service_label: Option<String>,
    /// Logs from Loki (LogQL); a bearer token from `ITOPS_LOKI_TOKEN`.
    #[arg(long, value_name = "URL")]
    pub loki: Option<String>,
    /// Traces from Tempo; a bearer token from `ITOPS_TEMPO_TOKEN`.
    #[arg(long, value_name = "URL", conflicts_with = "jaeger")]
    pub tempo: Option<String>,
    /// Traces from the Jaeger query service; a bearer token from `ITOPS_JAEGER_TOKEN`.
    #[arg(long, value_name = "URL")]
    pub jaeger: Option<String>,
}

impl StackArgs {
    /// The names of the flags that select a backend, for clap's `conflicts_with_all`.
    pub(crate) const FLAGS: [&'static str; 4] = ["prometheus", "loki", "tempo", "jaeger"];

    /// The sources the flags name, in the order metrics, logs, traces.
    pub(crate) fn specs(&self) -> Vec<SourceSpec> {
        let with_label = |mut spec: SourceSpec| {
            spec.service_label = self.service_label.clone();
            spec
        };
        [
            self.prometheus
                .as_ref()
                .map(|u| with_label(SourceSpec::new(SourceKind::Prometheus, u))),
            self.loki
                .as_ref()
                .map(|u| with_label(SourceSpec::new(SourceKind::Loki, u))),
            self.tempo
                .as_ref()
                .map(|u| SourceSpec::new(SourceKind::Tempo, u)),
            self.jaeger
                .as_ref()
                .map(|u| SourceSpec::new(SourceKind::Jaeger, u)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Whether no backend is named.
    pub(crate) fn is_empty(&self) -> bool {
        self.specs().is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn sources_come_from_toml_with_their_defaults_and_unknown_keys_are_refused() {
        #[derive(Deserialize)]
        struct File {
            sources: Vec<SourceSpec>,
        }
        let file: File = toml::from_str(
            r#"
            [[sources]]
            kind = "prometheus"
            url = "http://prometheus:9090"
            service_label = "job"

            [[sources]]
            kind = "loki"
            url = "http://loki:3100"
            tenant = "team-a"
            token_env = "LOKI_TOKEN"
            "#,
        )
        .unwrap();
        assert_eq!(file.sources[0].kind, SourceKind::Prometheus);
        assert_eq!(file.sources[0].service_label.as_deref(), Some("job"));
        assert_eq!(file.sources[1].tenant.as_deref(), Some("team-a"));
        assert_eq!(file.sources[1].token_env.as_deref(), Some("LOKI_TOKEN"));
        let error = toml::from_str::<File>(
            "[[sources]]\nkind = \"loki\"\nurl = \"http://loki\"\npassword = \"x\"\n",
        )
        .err()
        .unwrap();
        assert!(error.to_string().contains("password"), "{error}");
        let error = toml::from_str::<File>("[[sources]]\nkind = \"splunk\"\nurl = \"x\"\n")
            .err()
            .unwrap();
        assert!(error.to_string().contains("splunk"), "{error}");
    }

    #[test]
    fn each_backend_serves_its_signals_and_a_bad_url_names_its_source() {
        let stack = build(&[
            SourceSpec::new(SourceKind::Prometheus, "http://127.0.0.1:9"),
            SourceSpec::new(SourceKind::Loki, "http://127.0.0.1:9"),
            SourceSpec::new(SourceKind::Jaeger, "http://127.0.0.1:9"),
        ])
        .unwrap();
        assert_eq!(
            stack.source.signals().words(),
            ["metrics", "logs", "traces"]
        );
        let names: Vec<&str> = stack.breakers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["prometheus", "loki", "jaeger"]);
        let error = build(&[SourceSpec::new(SourceKind::Loki, "not a url")])
            .err()
            .unwrap();
        assert!(
            error.to_string().starts_with("loki source not a url"),
            "{error}"
        );
        assert!(build(&[]).is_err());
    }

    #[test]
    fn the_flags_name_the_sources_in_signal_order() {
        let args = StackArgs {
            jaeger: Some("http://jaeger:16686".into()),
            prometheus: Some("http://prometheus:9090".into()),
            service_label: Some("app".into()),
            ..StackArgs::default()
        };
        let specs = args.specs();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].kind, SourceKind::Prometheus);
        assert_eq!(specs[0].service_label.as_deref(), Some("app"));
        assert_eq!(specs[1].kind, SourceKind::Jaeger);
        assert!(StackArgs::default().is_empty());
    }
}
