//! Spans from Grafana Tempo's HTTP API: a search by service and time (`GET /api/search`,
//! TraceQL or tags), then each trace found (`GET /api/traces/{id}`, OTLP JSON); services
//! from the `service.name` tag's values.
//!
//! A live source: it has no fixed time bounds. Metrics, logs and change events are not
//! Tempo's: it returns none.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use itops_core::breaker::CircuitBreaker;
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TimeRange,
};
use itops_core::{Result, TelemetrySource};
use serde::Deserialize;

use crate::http::{self, Backend, Connection};
use crate::traces;

mod otlp;

/// Traces fetched at once.
const CONCURRENT_FETCHES: usize = 8;

/// How traces are searched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TempoSearch {
    /// TraceQL (`q={resource.service.name="…"}`) and the v2 tag values API: Tempo 2.
    #[default]
    TraceQl,
    /// Tag search (`tags=service.name=…`) and the v1 tag values API: Tempo 1, or a
    /// Tempo 2 without TraceQL.
    Tags,
}

/// Where and how to reach Tempo.
#[derive(Clone, Debug)]
pub struct TempoConfig {
    /// Where and how to reach it.
    pub connection: Connection,
    /// How traces are searched.
    pub search: TempoSearch,
    /// Most traces one query fetches; the rest are cut (and the cut logged).
    pub max_traces: usize,
    /// How far back [`TelemetrySource::services`] looks.
    pub lookback: Duration,
}

impl TempoConfig {
    /// Defaults for `url`: TraceQL search, no authentication or tenant, 30 s timeout, 200
    /// traces a query, 24 h lookback, answers of at most 64 MiB.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            connection: Connection::new(url, 64 << 20),
            search: TempoSearch::default(),
            max_traces: 200,
            lookback: Duration::from_secs(24 * 3600),
        }
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

    /// With at most `n` traces fetched per query.
    pub fn max_traces(mut self, n: usize) -> Self {
        self.max_traces = n;
        self
    }

    /// With traces searched `how`.
    pub fn search(mut self, how: TempoSearch) -> Self {
        self.search = how;
        self
    }
}

/// A [`TelemetrySource`] of spans over Tempo's HTTP API.
pub struct TempoSource {
    config: TempoConfig,
    api: Backend,
}

impl std::fmt::Debug for TempoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempoSource")
            .field("url", &self.api.base())
            .field("search", &self.config.search)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    traces: Vec<FoundTrace>,
}

#[derive(Deserialize)]
struct FoundTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
}

#[derive(Deserialize)]
struct TagValues {
    #[serde(default, rename = "tagValues")]
    tag_values: Vec<TagValue>,
}

/// A tag value: a bare string (v1) or `{"type": "string", "value": "…"}` (v2).
#[derive(Deserialize)]
#[serde(untagged)]
enum TagValue {
    Bare(String),
    Typed { value: String },
}

/// Unix seconds, rounded down (`up`: up).
fn seconds(at: DateTime<Utc>, up: bool) -> String {
    let s = at.timestamp();
    let partial = at.timestamp_subsec_nanos() > 0;
    (if up && partial { s + 1 } else { s }).to_string()
}

/// The search's query parameter: TraceQL or a logfmt tag list.
fn search_param(
    how: TempoSearch,
    service: Option<&str>,
    errors_only: bool,
) -> Option<(&'static str, String)> {
    match how {
        TempoSearch::TraceQl => {
            let mut conditions = Vec::new();
            if let Some(s) = service {
                conditions.push(format!("resource.service.name={}", http::string_literal(s)));
            }
            if errors_only {
                conditions.push("status=error".to_string());
            }
            Some(("q", format!("{{{}}}", conditions.join(" && "))))
        }
        TempoSearch::Tags => service.map(|s| {
            let plain = !s.is_empty()
                && s.chars()
                    .all(|c| !c.is_whitespace() && c != '"' && c != '=' && c != '\\');
            let value = if plain {
                s.to_string()
            } else {
                http::string_literal(s)
            };
            ("tags", format!("service.name={value}"))
        }),
    }
}

impl TempoSource {
    /// A source for `config` (no request is made yet).
    pub fn new(config: TempoConfig) -> Result<Self> {
        if config.max_traces == 0 {
            return Err(itops_core::Error::invalid(
                "max_traces",
                "must be at least 1",
            ));
        }
        let api = Backend::new("tempo", &config.connection, http::TENANT_HEADER, |_| None)?;
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

    /// One trace's spans; none when Tempo does not have it.
    async fn trace(&self, id: &str) -> Result<Vec<Span>> {
        let path = format!("/api/traces/{}", traces::checked_trace_id(id)?);
        match self.api.get_if_found::<otlp::Trace>(&path, &[]).await? {
            Some(trace) => trace
                .spans()
                .map_err(|e| self.api.failure(format!("{path}: {e}"), false)),
            None => Ok(Vec::new()),
        }
    }

    /// The ids of the traces that match `query`, at most `max_traces`.
    async fn search(&self, query: &SpanQuery) -> Result<Vec<String>> {
        let max = self.config.max_traces;
        let mut params = vec![
            ("start", seconds(query.range.start, false)),
            ("end", seconds(query.range.end, true)),
            // One more than kept, to know whether the rest were cut.
            ("limit", (max.saturating_add(1)).to_string()),
        ];
        params.extend(search_param(
            self.config.search,
            query.service.as_deref(),
            query.errors_only,
        ));
        let answer: SearchAnswer = self.api.get("/api/search", &params).await?;
        let mut ids: Vec<String> = answer.traces.into_iter().map(|t| t.trace_id).collect();
        ids.dedup();
        if ids.len() > max {
            tracing::warn!(
                service = query.service.as_deref().unwrap_or("*"),
                found = ids.len(),
                kept = max,
                "tempo: more traces than max_traces; the rest are cut"
            );
            ids.truncate(max);
        }
        Ok(ids)
    }
}

#[async_trait]
impl TelemetrySource for TempoSource {
    async fn services(&self) -> Result<Vec<String>> {
        let path = match self.config.search {
            TempoSearch::TraceQl => "/api/v2/search/tag/resource.service.name/values",
            TempoSearch::Tags => "/api/search/tag/service.name/values",
        };
        let end = Utc::now();
        let back = chrono::Duration::from_std(self.config.lookback)
            .map_err(|e| itops_core::Error::invalid("lookback", e.to_string()))?;
        let params = [
            ("start", seconds(end - back, false)),
            ("end", seconds(end, true)),
        ];
        let answer: TagValues = self.api.get(path, &params).await?;
        let mut services: Vec<String> = answer
            .tag_values
            .into_iter()
            .map(|v| match v {
                TagValue::Bare(s) | TagValue::Typed { value: s } => s,
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

    async fn logs(&self, _query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(Vec::new())
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        if let Some(id) = query.trace_id.as_deref() {
            return Ok(traces::finish(self.trace(id).await?, query));
        }
        let ids = self.search(query).await?;
        let spans: Vec<Vec<Span>> = stream::iter(ids)
            .map(|id| async move { self.trace(&id).await })
            .buffered(CONCURRENT_FETCHES)
            .try_collect()
            .await?;
        Ok(traces::finish(spans.into_iter().flatten().collect(), query))
    }

    async fn changes(&self, _range: TimeRange, _service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_name_the_service_safely() {
        assert_eq!(
            search_param(TempoSearch::TraceQl, Some(r#"a"}"#), true),
            Some((
                "q",
                r#"{resource.service.name="a\"}" && status=error}"#.to_string()
            ))
        );
        assert_eq!(
            search_param(TempoSearch::TraceQl, None, false),
            Some(("q", "{}".to_string()))
        );
        assert_eq!(
            search_param(TempoSearch::Tags, Some("cart"), false),
            Some(("tags", "service.name=cart".to_string()))
        );
        assert_eq!(
            search_param(TempoSearch::Tags, Some("my cart"), false),
            Some(("tags", r#"service.name="my cart""#.to_string()))
        );
        assert_eq!(search_param(TempoSearch::Tags, None, true), None);
    }
}
