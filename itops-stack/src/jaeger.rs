//! Spans from the Jaeger query service's HTTP API: `GET /api/services`,
//! `GET /api/traces?service=…&start=…&end=…&limit=…` (microseconds) and
//! `GET /api/traces/{id}`.
//!
//! A live source: it has no fixed time bounds. Metrics, logs and change events are not
//! Jaeger's: it returns none.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use itops_core::breaker::CircuitBreaker;
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, SpanStatus,
    TimeRange,
};
use itops_core::{Error, Result, TelemetrySource};
use serde::Deserialize;

use crate::http::{Backend, Connection};
use crate::traces;

/// The header a multi-tenant Jaeger reads the tenant from (its default).
const TENANT_HEADER: &str = "x-tenant";

/// Where and how to reach the Jaeger query service.
#[derive(Clone, Debug)]
pub struct JaegerConfig {
    /// Where and how to reach it.
    pub connection: Connection,
    /// Most traces one query reads; the rest are cut (and the cut logged).
    pub max_traces: usize,
}

impl JaegerConfig {
    /// Defaults for `url`: no authentication or tenant, 30 s timeout, 200 traces a query,
    /// answers of at most 64 MiB.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            connection: Connection::new(url, 64 << 20),
            max_traces: 200,
        }
    }

    /// With the bearer token held by the environment variable `var`, when it is set and
    /// not empty.
    pub fn bearer_token_from_env(mut self, var: &str) -> Self {
        self.connection = self.connection.bearer_token_from_env(var);
        self
    }

    /// With the tenant sent as `x-tenant`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.connection = self.connection.tenant(tenant);
        self
    }

    /// With at most `n` traces read per query.
    pub fn max_traces(mut self, n: usize) -> Self {
        self.max_traces = n;
        self
    }
}

/// A [`TelemetrySource`] of spans over the Jaeger query API.
pub struct JaegerSource {
    config: JaegerConfig,
    api: Backend,
}

impl std::fmt::Debug for JaegerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaegerSource")
            .field("url", &self.api.base())
            .finish_non_exhaustive()
    }
}

/// Every answer's envelope: `data`, and `errors` when something failed.
#[derive(Deserialize)]
struct Answer<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Option<Vec<ApiError>>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    msg: Option<String>,
}

fn messages(errors: &[ApiError]) -> Option<String> {
    let text: Vec<&str> = errors.iter().filter_map(|e| e.msg.as_deref()).collect();
    (!text.is_empty()).then(|| text.join("; "))
}

/// The `errors` of a failed answer's body.
fn error_text(body: &str) -> Option<String> {
    let answer: Answer<serde::de::IgnoredAny> = serde_json::from_str(body).ok()?;
    messages(answer.errors.as_deref()?)
}

#[derive(Deserialize)]
struct Trace {
    #[serde(default)]
    spans: Vec<JaegerSpan>,
    #[serde(default)]
    processes: HashMap<String, Process>,
}

#[derive(Deserialize)]
struct JaegerSpan {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(default, rename = "operationName")]
    operation_name: String,
    #[serde(default)]
    references: Vec<Reference>,
    /// Older answers name the parent here.
    #[serde(default, rename = "parentSpanID")]
    parent_span_id: Option<String>,
    /// Microseconds since the epoch.
    #[serde(rename = "startTime")]
    start_time: i64,
    /// Microseconds.
    duration: u64,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default, rename = "processID")]
    process_id: Option<String>,
    #[serde(default)]
    process: Option<Process>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(rename = "refType")]
    ref_type: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize)]
struct Tag {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Clone, Deserialize)]
struct Process {
    #[serde(rename = "serviceName")]
    service_name: String,
}

/// Microseconds since the epoch.
fn micros(at: DateTime<Utc>) -> String {
    at.timestamp_micros().to_string()
}

fn status(tags: &[Tag]) -> SpanStatus {
    let tag = |key: &str| tags.iter().find(|t| t.key == key).map(|t| &t.value);
    let error = match tag("error") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let otel = tag("otel.status_code")
        .and_then(|v| v.as_str())
        .map(str::to_ascii_uppercase);
    match otel.as_deref() {
        _ if error => SpanStatus::Error,
        Some("ERROR") => SpanStatus::Error,
        Some("OK") => SpanStatus::Ok,
        _ => SpanStatus::Unset,
    }
}

impl Trace {
    fn into_spans(self) -> Vec<Span> {
        let processes = self.processes;
        self.spans
            .into_iter()
            .map(|span| {
                let service = span
                    .process
                    .as_ref()
                    .or_else(|| processes.get(span.process_id.as_deref()?))
                    .map(|p| p.service_name.clone())
                    .unwrap_or_else(|| "unknown".to_string());
                let parent = span
                    .references
                    .iter()
                    .find(|r| r.ref_type == "CHILD_OF")
                    .or_else(|| span.references.first())
                    .map(|r| r.span_id.clone())
                    .or_else(|| span.parent_span_id.clone())
                    .filter(|p| !p.is_empty() && p.chars().any(|c| c != '0'));
                Span {
                    trace_id: span.trace_id.to_ascii_lowercase(),
                    span_id: span.span_id.to_ascii_lowercase(),
                    parent_span_id: parent.map(|p| p.to_ascii_lowercase()),
                    service,
                    operation: span.operation_name,
                    start: DateTime::from_timestamp_micros(span.start_time).unwrap_or_default(),
                    duration_ns: span.duration.saturating_mul(1_000),
                    status: status(&span.tags),
                }
            })
            .collect()
    }
}

impl JaegerSource {
    /// A source for `config` (no request is made yet).
    pub fn new(config: JaegerConfig) -> Result<Self> {
        if config.max_traces == 0 {
            return Err(Error::invalid("max_traces", "must be at least 1"));
        }
        let api = Backend::new("jaeger", &config.connection, TENANT_HEADER, error_text)?;
        Ok(Self { config, api })
    }

    /// How many HTTP requests the source has sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.api.requests_sent()
    }

    /// The circuit breaker guarding the API (for metrics and health reports).
    pub fn breaker(&self) -> Arc<dyn CircuitBreaker> {
        self.api.breaker()
    }

    /// An answer's data; its errors, when it has no data, as an error.
    fn data<T>(&self, path: &str, answer: Answer<T>) -> Result<T> {
        let errors = answer.errors.as_deref().and_then(messages);
        match (answer.data, errors) {
            (Some(data), None) => Ok(data),
            (Some(data), Some(errors)) => {
                tracing::warn!(path, %errors, "jaeger: an answer with errors; its data is used");
                Ok(data)
            }
            (None, errors) => Err(self.api.failure(
                format!(
                    "{}{path}: no data: {}",
                    self.api.base(),
                    errors.unwrap_or_else(|| "no message".into())
                ),
                false,
            )),
        }
    }

    async fn traces(&self, service: &str, query: &SpanQuery, limit: usize) -> Result<Vec<Trace>> {
        let mut params = vec![
            ("service", service.to_string()),
            ("start", micros(query.range.start)),
            ("end", micros(query.range.end)),
            ("limit", limit.to_string()),
        ];
        if query.errors_only {
            params.push(("tags", r#"{"error":"true"}"#.to_string()));
        }
        let answer = self.api.get("/api/traces", &params).await?;
        self.data("/api/traces", answer)
    }
}

#[async_trait]
impl TelemetrySource for JaegerSource {
    async fn services(&self) -> Result<Vec<String>> {
        let answer: Answer<Vec<String>> = self.api.get("/api/services", &[]).await?;
        let mut services = self.data("/api/services", answer)?;
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

    async fn logs(&self, _query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(Vec::new())
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        if let Some(id) = query.trace_id.as_deref() {
            let path = format!("/api/traces/{}", traces::checked_trace_id(id)?);
            let spans = match self
                .api
                .get_if_found::<Answer<Vec<Trace>>>(&path, &[])
                .await?
            {
                Some(answer) => self
                    .data(&path, answer)?
                    .into_iter()
                    .flat_map(Trace::into_spans)
                    .collect(),
                None => Vec::new(),
            };
            return Ok(traces::finish(spans, query));
        }
        // Jaeger searches one service at a time.
        let services = match &query.service {
            Some(service) => vec![service.clone()],
            None => self.services().await?,
        };
        let max = self.config.max_traces;
        let mut seen = HashSet::new();
        let mut spans = Vec::new();
        let mut cut = false;
        let count = services.len();
        for (n, service) in services.into_iter().enumerate() {
            let room = max - seen.len();
            // One more than there is room for, to know whether the rest were cut.
            for trace in self.traces(&service, query, room + 1).await? {
                let Some(id) = trace.spans.first().map(|s| s.trace_id.to_ascii_lowercase()) else {
                    continue;
                };
                if seen.contains(&id) {
                    continue;
                }
                if seen.len() == max {
                    cut = true;
                    break;
                }
                seen.insert(id);
                spans.extend(trace.into_spans());
            }
            if seen.len() == max {
                // Services not searched may have had more.
                cut |= n + 1 < count;
                break;
            }
        }
        if cut {
            tracing::warn!(
                service = query.service.as_deref().unwrap_or("*"),
                kept = max,
                "jaeger: more traces than max_traces; the rest are cut"
            );
        }
        Ok(traces::finish(spans, query))
    }

    async fn changes(&self, _range: TimeRange, _service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(Vec::new())
    }
}
