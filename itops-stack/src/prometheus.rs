//! Metrics from a Prometheus-compatible HTTP API (Prometheus, VictoriaMetrics, Thanos,
//! Mimir): `GET /api/v1/query` (the samples stored over a window, with a range selector),
//! `GET /api/v1/query_range` (windows too long for that) and
//! `GET /api/v1/label/{name}/values`.
//!
//! A live source: it has no fixed time bounds, so the ranking reads the hours around a
//! detection time. Logs, spans and change events are not Prometheus's: it returns none.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use itops_core::breaker::CircuitBreaker;
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TimeRange,
};
use itops_core::{Error, Result, TelemetrySource};
use serde::Deserialize;

use crate::http::{self, Backend, Connection};
use crate::merge::{is_counter_name, SeriesMerge};

mod grid;

use grid::Point;

/// The labels tried, in order, for the service a series belongs to.
pub const SERVICE_LABELS: [&str; 7] = [
    "service",
    "service_name",
    "job",
    "app",
    "app_kubernetes_io_name",
    "pod",
    "container",
];

/// Where and how to reach the API.
#[derive(Clone, Debug)]
pub struct PrometheusConfig {
    /// Where and how to reach it.
    pub connection: Connection,
    /// The label naming the service; `None`: the first of [`SERVICE_LABELS`] with values.
    pub service_label: Option<String>,
    /// Most series one query reads; the rest are cut (and the cut logged).
    pub max_series: usize,
}

impl PrometheusConfig {
    /// Defaults for `url`: the service label found from the data, no authentication, 30 s
    /// timeout, 10,000 series, answers of at most 512 MiB.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            connection: Connection::new(url, 512 << 20),
            service_label: None,
            max_series: 10_000,
        }
    }

    /// With `label` naming the service (`None`: found from the data).
    pub fn service_label(mut self, label: Option<String>) -> Self {
        self.service_label = label;
        self
    }

    /// With the bearer token held by the environment variable `var`, when it is set and
    /// not empty (secrets stay out of configuration files and command lines).
    pub fn bearer_token_from_env(mut self, var: &str) -> Self {
        self.connection = self.connection.bearer_token_from_env(var);
        self
    }

    /// With the tenant sent as `X-Scope-OrgID`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.connection = self.connection.tenant(tenant);
        self
    }
}

/// A [`TelemetrySource`] over a Prometheus-compatible API.
pub struct PrometheusSource {
    config: PrometheusConfig,
    api: Backend,
    /// The service label, once found.
    label: OnceLock<String>,
}

impl std::fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("url", &self.api.base())
            .field("service_label", &self.label.get())
            .finish_non_exhaustive()
    }
}

/// The most points a series is read with at a step; the step grows with the window to stay
/// under it.
const MAX_POINTS: i64 = 1_000;
/// The finest step read.
const MIN_STEP_SECONDS: i64 = 15;
/// The longest window read as the samples stored, in seconds (at a 15 s scrape interval,
/// as many points as [`MAX_POINTS`]); a longer one is read at a step.
const RAW_SPAN_SECONDS: i64 = MAX_POINTS * MIN_STEP_SECONDS;

fn failure(message: impl Into<String>, retryable: bool) -> Error {
    http::failure("prometheus", message, retryable)
}

/// The response envelope of the API.
#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
}

#[derive(Deserialize)]
struct Matrix {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RangeSeries>,
}

#[derive(Deserialize)]
struct RangeSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl PrometheusSource {
    /// A source for `config` (no request is made yet).
    pub fn new(config: PrometheusConfig) -> Result<Self> {
        let api = Backend::new(
            "prometheus",
            &config.connection,
            http::TENANT_HEADER,
            http::envelope_error,
        )?;
        let label = OnceLock::new();
        if let Some(l) = &config.service_label {
            let _ = label.set(l.clone());
        }
        Ok(Self { config, api, label })
    }

    /// How many HTTP requests the source has sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.api.requests_sent()
    }

    /// The circuit breaker guarding the API (for metrics and health reports).
    pub fn breaker(&self) -> Arc<dyn CircuitBreaker> {
        self.api.breaker()
    }

    /// One API call (retried when it may pass, through the circuit breaker), its
    /// envelope opened.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T> {
        let envelope: Envelope<T> = self.api.get(path, params).await?;
        match (envelope.status.as_str(), envelope.data) {
            ("success", Some(data)) => Ok(data),
            (status, _) => Err(failure(
                format!("{}{path}: status '{status}' and no data", self.api.base()),
                false,
            )),
        }
    }

    /// Values of `label` (over `range`, when given).
    async fn label_values(&self, label: &str, range: Option<TimeRange>) -> Result<Vec<String>> {
        let mut params = Vec::new();
        if let Some(r) = range {
            params.push(("start", seconds(r.start)));
            params.push(("end", seconds(r.end)));
        }
        self.get(&format!("/api/v1/label/{label}/values"), &params)
            .await
    }

    /// The label naming services: configured, or the first of [`SERVICE_LABELS`] with
    /// values.
    async fn service_label(&self, range: Option<TimeRange>) -> Result<String> {
        if let Some(label) = self.label.get() {
            return Ok(label.clone());
        }
        for label in SERVICE_LABELS {
            if !self.label_values(label, range).await?.is_empty() {
                let _ = self.label.set(label.to_string());
                return Ok(label.to_string());
            }
        }
        Err(failure(
            format!(
                "no series has any of the labels {} to name its service; set the service label",
                SERVICE_LABELS.join(", ")
            ),
            false,
        ))
    }
}

fn seconds(at: DateTime<Utc>) -> String {
    format!("{:.3}", at.timestamp_millis() as f64 / 1000.0)
}

/// A PromQL string literal.
fn quoted(value: &str) -> String {
    http::string_literal(value)
}

/// The series selector of a query: every series but histogram buckets, of `service` (its
/// pods by name prefix when `label` holds workload names) or of every service, of `metric`
/// when given. The names are quoted and, inside a regex, escaped: they are data.
fn selector(label: &str, service: Option<&str>, metric: Option<&str>) -> String {
    let workload = label == "pod" || label == "container";
    let mut matchers = vec![r#"__name__!~".+_bucket""#.to_string()];
    match (service, workload) {
        (Some(service), true) => matchers.push(format!(
            "{label}=~{}",
            quoted(&format!("{}(-.+)?", http::regex_escaped(service)))
        )),
        (Some(service), false) => matchers.push(format!("{label}={}", quoted(service))),
        (None, _) => matchers.push(format!("{label}!=\"\"")),
    }
    if let Some(metric) = metric {
        matchers.push(format!("__name__={}", quoted(metric)));
    }
    format!("{{{}}}", matchers.join(","))
}

/// The service a workload's pod or container name belongs to: its replica suffixes
/// removed (`checkout-7d9f8b6c5-x2k4q` → `checkout`, `db-0` → `db`).
pub fn service_of_workload(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('-').collect();
    while parts.len() > 1 {
        let last = parts[parts.len() - 1];
        let digits = !last.is_empty() && last.chars().all(|c| c.is_ascii_digit());
        let alnum = last
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        // A ReplicaSet's hash (6 to 10 characters) or a pod's random suffix (5), with a
        // digit in it (a word such as "cache" is part of the name).
        let hash =
            alnum && (5..=10).contains(&last.len()) && last.chars().any(|c| c.is_ascii_digit());
        let pod_suffix = alnum && last.len() == 5 && parts.len() > 2;
        if digits || hash || pod_suffix {
            parts.pop();
        } else {
            break;
        }
    }
    parts.join("-")
}

#[async_trait]
impl TelemetrySource for PrometheusSource {
    async fn services(&self) -> Result<Vec<String>> {
        let label = self.service_label(None).await?;
        let workload = label == "pod" || label == "container";
        let mut services: Vec<String> = self
            .label_values(&label, None)
            .await?
            .into_iter()
            .map(|v| if workload { service_of_workload(&v) } else { v })
            .collect();
        services.sort();
        services.dedup();
        Ok(services)
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Ok(None)
    }

    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        let label = self.service_label(Some(query.range)).await?;
        let workload = label == "pod" || label == "container";
        let promql = selector(&label, query.service.as_deref(), query.metric.as_deref());
        let span_ms = (query.range.end - query.range.start)
            .num_milliseconds()
            .max(1);
        // Up to RAW_SPAN, the samples as stored (a range selector at the window's end); a
        // longer window at a step (the value at each step, the same sample repeated when
        // the step is finer than the scrape interval: a counter then looks stopped at every
        // other step).
        let stored = span_ms <= RAW_SPAN_SECONDS * 1000;
        let (path, params) = if stored {
            (
                "/api/v1/query",
                vec![
                    // A millisecond more: some backends leave the window's start out.
                    ("query", format!("{promql}[{}ms]", span_ms + 1)),
                    ("time", seconds(query.range.end)),
                ],
            )
        } else {
            let step = (span_ms / 1000 / MAX_POINTS).max(MIN_STEP_SECONDS);
            (
                "/api/v1/query_range",
                vec![
                    ("query", promql.clone()),
                    ("start", seconds(query.range.start)),
                    ("end", seconds(query.range.end)),
                    ("step", format!("{step}s")),
                ],
            )
        };
        let matrix: Matrix = self.get(path, &params).await?;
        if matrix.result_type != "matrix" {
            return Err(failure(
                format!("{promql}: expected a matrix, got a {}", matrix.result_type),
                false,
            ));
        }
        let mut result = matrix.result;
        if result.len() > self.config.max_series {
            tracing::warn!(
                query = %promql,
                series = result.len(),
                kept = self.config.max_series,
                "prometheus: more series than the bound; the rest are cut"
            );
            result.truncate(self.config.max_series);
        }
        // The series of one service and metric (replicas, instances, other labels).
        let start = query
            .range
            .start
            .timestamp_millis()
            .saturating_mul(1_000_000);
        let mut groups: BTreeMap<(String, String), Vec<Vec<Point>>> = BTreeMap::new();
        for series in result {
            let (Some(name), Some(owner)) =
                (series.metric.get("__name__"), series.metric.get(&label))
            else {
                continue;
            };
            let service = if workload {
                service_of_workload(owner)
            } else {
                owner.clone()
            };
            if query.service.as_ref().is_some_and(|s| *s != service) {
                continue;
            }
            let points = series
                .values
                .iter()
                .filter_map(|(at, value)| {
                    // At millisecond precision, as the API's timestamps are.
                    let millis = (at * 1000.0).round() as i64;
                    Some((millis.saturating_mul(1_000_000), value.parse::<f64>().ok()?))
                })
                .filter(|(at, _)| *at >= start)
                .collect();
            groups
                .entry((service, name.clone()))
                .or_default()
                .push(points);
        }
        // Merged: counters summed, gauges averaged, at each instant; stored samples of
        // several series put on one grid first, as each was scraped at its own times.
        let mut merged = SeriesMerge::default();
        for ((service, name), series) in groups {
            let series = if stored && series.len() > 1 {
                grid::on_common_grid(&series)
            } else {
                series
            };
            let points = merged.series(&service, &name, is_counter_name(&name));
            for (at, value) in series.into_iter().flatten() {
                points.add(at, value);
            }
        }
        Ok(merged.finish())
    }

    async fn logs(&self, _query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(Vec::new())
    }

    async fn spans(&self, _query: &SpanQuery) -> Result<Vec<Span>> {
        Ok(Vec::new())
    }

    async fn changes(&self, _range: TimeRange, _service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_lose_their_replica_suffixes() {
        assert_eq!(service_of_workload("checkout-7d9f8b6c5-x2k4q"), "checkout");
        assert_eq!(
            service_of_workload("product-catalog-6c8f9d7b4d-9zt2m"),
            "product-catalog"
        );
        assert_eq!(service_of_workload("orders-db-0"), "orders-db");
        assert_eq!(service_of_workload("redis-cache"), "redis-cache");
        assert_eq!(service_of_workload("frontend"), "frontend");
    }

    #[test]
    fn a_service_name_is_data_in_the_selector() {
        assert_eq!(
            selector("pod", Some("api.v2"), None),
            r#"{__name__!~".+_bucket",pod=~"api\\.v2(-.+)?"}"#,
            "a dot in a pod-prefix regex matches only a dot"
        );
        assert_eq!(
            selector("job", Some(r#"a"b"#), Some("up")),
            r#"{__name__!~".+_bucket",job="a\"b",__name__="up"}"#
        );
        assert_eq!(
            selector("job", None, None),
            r#"{__name__!~".+_bucket",job!=""}"#
        );
    }

    #[test]
    fn a_url_that_is_not_http_is_refused() {
        let err = PrometheusSource::new(PrometheusConfig::new("localhost:9090")).unwrap_err();
        assert!(err.to_string().contains("not an http"), "{err}");
    }
}
