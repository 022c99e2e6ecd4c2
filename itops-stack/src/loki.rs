//! Logs from Grafana Loki's HTTP API: LogQL over `GET /loki/api/v1/query_range`, and the
//! services from a label (`GET /loki/api/v1/labels`, `/loki/api/v1/label/{name}/values`).
//!
//! A live source: it has no fixed time bounds. Metrics, spans and change events are not
//! Loki's: it returns none.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use itops_core::breaker::CircuitBreaker;
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TimeRange,
};
use itops_core::{Error, Result, TelemetrySource};
use serde::Deserialize;

use crate::http::{self, Backend, Connection};
use crate::service_of_workload;

mod lines;

use lines::{entries, is_label_name, is_workload, logql, nanos, record, Streams};

/// The labels tried, in order, for the service a log stream belongs to.
pub const LOKI_SERVICE_LABELS: [&str; 6] =
    ["service_name", "service", "app", "job", "container", "pod"];

/// Where and how to reach Loki.
#[derive(Clone, Debug)]
pub struct LokiConfig {
    /// Where and how to reach it.
    pub connection: Connection,
    /// The label naming the service; `None`: the first of [`LOKI_SERVICE_LABELS`] that
    /// Loki knows.
    pub service_label: Option<String>,
    /// How far back label discovery and [`TelemetrySource::services`] look.
    pub lookback: Duration,
    /// Most lines one request asks for (Loki's `limit`); a full answer is followed by the
    /// next page. Loki refuses more than its `max_entries_limit_per_query` (5,000 by
    /// default).
    pub lines_per_request: usize,
    /// Most lines one query reads over all its pages; the rest are cut (and the cut logged).
    pub max_lines: usize,
}

impl LokiConfig {
    /// Defaults for `url`: the service label found from the data, no authentication or
    /// tenant, 30 s timeout, 24 h lookback, 1,000 lines a request, 10,000 a query, answers
    /// of at most 64 MiB.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            connection: Connection::new(url, 64 << 20),
            service_label: None,
            lookback: Duration::from_secs(24 * 3600),
            lines_per_request: 1_000,
            max_lines: 10_000,
        }
    }

    /// With `label` naming the service (`None`: found from the data).
    pub fn service_label(mut self, label: Option<String>) -> Self {
        self.service_label = label;
        self
    }

    /// With the bearer token held by the environment variable `var`, when it is set and
    /// not empty.
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

/// A [`TelemetrySource`] of logs over Loki's HTTP API.
pub struct LokiSource {
    config: LokiConfig,
    api: Backend,
    /// The service label, once found.
    label: OnceLock<String>,
}

impl std::fmt::Debug for LokiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LokiSource")
            .field("url", &self.api.base())
            .field("service_label", &self.label.get())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
}

impl LokiSource {
    /// A source for `config` (no request is made yet).
    pub fn new(config: LokiConfig) -> Result<Self> {
        if let Some(label) = config.service_label.as_deref() {
            if !is_label_name(label) {
                return Err(Error::invalid(
                    "service_label",
                    format!("'{label}' is not a Loki label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
                ));
            }
        }
        if config.lines_per_request == 0 || config.max_lines == 0 {
            return Err(Error::invalid(
                "lines_per_request",
                "lines_per_request and max_lines must be at least 1",
            ));
        }
        let api = Backend::new(
            "loki",
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

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Option<T>> {
        let envelope: Envelope<T> = self.api.get(path, params).await?;
        if envelope.status != "success" {
            return Err(self.api.failure(
                format!("{}{path}: status '{}'", self.api.base(), envelope.status),
                false,
            ));
        }
        Ok(envelope.data)
    }

    fn lookback(&self) -> Result<Vec<(&'static str, String)>> {
        let end = Utc::now();
        let back = chrono::Duration::from_std(self.config.lookback)
            .map_err(|e| Error::invalid("lookback", e.to_string()))?;
        Ok(vec![
            ("start", nanos(end - back, "lookback")?.to_string()),
            ("end", nanos(end, "lookback")?.to_string()),
        ])
    }

    /// The label naming services: configured, or the first of [`LOKI_SERVICE_LABELS`] that
    /// Loki knows over `params`' window.
    async fn service_label(&self, params: &[(&str, String)]) -> Result<String> {
        if let Some(label) = self.label.get() {
            return Ok(label.clone());
        }
        let known: Vec<String> = self
            .get("/loki/api/v1/labels", params)
            .await?
            .unwrap_or_default();
        let label = LOKI_SERVICE_LABELS
            .iter()
            .find(|l| known.iter().any(|k| k == *l))
            .ok_or_else(|| {
                self.api.failure(
                    format!(
                        "no log stream has any of the labels {} to name its service; set \
                         the service label",
                        LOKI_SERVICE_LABELS.join(", ")
                    ),
                    false,
                )
            })?;
        let _ = self.label.set(label.to_string());
        Ok(label.to_string())
    }

    /// One page: the streams' lines from `start_ns`, oldest first.
    async fn page(&self, query: &str, start_ns: i64, end_ns: i64, limit: usize) -> Result<Streams> {
        let params = [
            ("query", query.to_string()),
            ("start", start_ns.to_string()),
            ("end", end_ns.to_string()),
            ("limit", limit.to_string()),
            ("direction", "forward".to_string()),
        ];
        let streams: Streams = self
            .get("/loki/api/v1/query_range", &params)
            .await?
            .ok_or_else(|| {
                self.api
                    .failure(format!("{query}: an answer with no data"), false)
            })?;
        if streams.result_type != "streams" {
            return Err(self.api.failure(
                format!("{query}: expected streams, got a {}", streams.result_type),
                false,
            ));
        }
        Ok(streams)
    }
}

#[async_trait]
impl TelemetrySource for LokiSource {
    async fn services(&self) -> Result<Vec<String>> {
        let window = self.lookback()?;
        let label = self.service_label(&window).await?;
        let values: Vec<String> = self
            .get(&format!("/loki/api/v1/label/{label}/values"), &window)
            .await?
            .unwrap_or_default();
        let mut services: Vec<String> = values
            .into_iter()
            .map(|v| {
                if is_workload(&label) {
                    service_of_workload(&v)
                } else {
                    v
                }
            })
            .collect();
        services.sort();
        services.dedup();
        Ok(services)
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Ok(None)
    }

    async fn metrics(&self, _query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        Ok(Vec::new())
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        if query.limit == 0 || query.range.start >= query.range.end {
            return Ok(Vec::new());
        }
        let mut start_ns = nanos(query.range.start, "range")?;
        let end_ns = nanos(query.range.end, "range")?;
        let label = self
            .service_label(&[("start", start_ns.to_string()), ("end", end_ns.to_string())])
            .await?;
        let logql = logql(&label, query.service.as_deref(), query.contains.as_deref());
        let mut out: Vec<LogRecord> = Vec::new();
        let mut read = 0usize;
        // The lines of the last page at its last instant: the next page starts there again.
        let mut seen: HashSet<(String, String)> = HashSet::new();
        loop {
            let mut page_size = self
                .config
                .lines_per_request
                .min(self.config.max_lines - read);
            if query.min_level.is_none() {
                // Every new line read is kept (bar a prefix-matched neighbour service):
                // ask for no more than are missing, plus the lines read again.
                page_size = page_size.min(query.limit - out.len() + seen.len());
            }
            let streams = self.page(&logql, start_ns, end_ns, page_size).await?;
            let entries = entries(&streams).map_err(|value| {
                self.api.failure(
                    format!("{logql}: a stream value is not [\"<ns>\", \"<line>\"]: {value}"),
                    false,
                )
            })?;
            read += entries.len();
            let mut fresh = 0usize;
            let mut limited = false;
            for entry in &entries {
                let key = (format!("{:?}", entry.labels), entry.line.clone());
                if entry.at_ns == start_ns && seen.contains(&key) {
                    continue;
                }
                fresh += 1;
                let Some(record) = record(&label, entry) else {
                    continue;
                };
                let wanted = query.service.as_ref().is_none_or(|s| *s == record.service)
                    && query
                        .min_level
                        .is_none_or(|min| record.level.is_some_and(|l| l >= min));
                if !wanted {
                    continue;
                }
                if out.len() == query.limit {
                    limited = true;
                    break;
                }
                out.push(record);
            }
            let last_ns = match entries.last() {
                Some(last) if entries.len() >= page_size => last.at_ns,
                // Fewer lines than asked for: the range is covered.
                _ => break,
            };
            if limited || out.len() == query.limit {
                // The caller's own bound: the records asked for are there.
                tracing::debug!(query = %logql, kept = out.len(), "loki: the query's limit is reached");
                break;
            }
            if read >= self.config.max_lines {
                tracing::warn!(
                    query = %logql,
                    read,
                    max_lines = self.config.max_lines,
                    "loki: more lines than max_lines in the range; the later lines are cut"
                );
                break;
            }
            if last_ns == start_ns && fresh == 0 {
                // A full page at one instant, all read before: more lines there than a page
                // holds. Step past the instant.
                tracing::warn!(
                    query = %logql,
                    at_ns = last_ns,
                    "loki: more lines at one instant than lines_per_request; some are cut"
                );
                start_ns = last_ns.saturating_add(1);
                seen.clear();
                continue;
            }
            if last_ns != start_ns {
                seen.clear();
            }
            seen.extend(
                entries
                    .iter()
                    .filter(|e| e.at_ns == last_ns)
                    .map(|e| (format!("{:?}", e.labels), e.line.clone())),
            );
            start_ns = last_ns;
        }
        Ok(out)
    }

    async fn spans(&self, _query: &SpanQuery) -> Result<Vec<Span>> {
        Ok(Vec::new())
    }

    async fn changes(&self, _range: TimeRange, _service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(Vec::new())
    }
}
