//! Telemetry as MCP resources: an overview, the change events, and a summary per service,
//! read from any [`TelemetrySource`] (a bundle, the simulator, a cloud adapter).
//!
//! | URI | contents (JSON) |
//! |---|---|
//! | `itops://telemetry/overview` | services, the time range held, how many change events |
//! | `itops://telemetry/changes` | the change events, oldest first (at most 500) |
//! | `itops://telemetry/services/{service}` | per metric: samples, first, last, min, max, mean; error logs (count and the latest 20); failed spans; changes |

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use itops_core::telemetry::{LogLevel, LogQuery, MetricQuery, SpanQuery, TimeRange};
use itops_core::TelemetrySource;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use serde_json::{json, Value};

use crate::server::ResourceProvider;

const OVERVIEW: &str = "itops://telemetry/overview";
const CHANGES: &str = "itops://telemetry/changes";
const SERVICE_PREFIX: &str = "itops://telemetry/services/";
const SERVICE_TEMPLATE: &str = "itops://telemetry/services/{service}";
const MAX_CHANGES: usize = 500;
const MAX_LISTED_SERVICES: usize = 200;
const RECENT_ERRORS: usize = 20;
const JSON: &str = "application/json";

/// Serves a telemetry source as MCP resources.
pub struct TelemetryResources {
    source: Arc<dyn TelemetrySource>,
}

impl TelemetryResources {
    /// Resources over `source`.
    pub fn new(source: Arc<dyn TelemetrySource>) -> Self {
        Self { source }
    }

    /// Everything held: `[start, end]` widened by a nanosecond, as ranges are half-open.
    async fn whole_range(&self) -> itops_core::Result<Option<TimeRange>> {
        Ok(self.source.time_bounds().await?.map(|r| TimeRange {
            start: r.start,
            end: r.end + Duration::nanoseconds(1),
        }))
    }

    async fn overview(&self) -> itops_core::Result<Value> {
        let services = self.source.services().await?;
        let range = self.source.time_bounds().await?;
        let changes = match self.whole_range().await? {
            Some(range) => self.source.changes(range, None).await?.len(),
            None => 0,
        };
        Ok(json!({
            "services": services,
            "time_range": range,
            "change_events": changes,
        }))
    }

    async fn changes(&self) -> itops_core::Result<Value> {
        let Some(range) = self.whole_range().await? else {
            return Ok(json!([]));
        };
        let mut changes = self.source.changes(range, None).await?;
        changes.truncate(MAX_CHANGES);
        Ok(serde_json::to_value(changes).unwrap_or(Value::Null))
    }

    async fn service(&self, service: &str) -> itops_core::Result<Option<Value>> {
        if !self.source.services().await?.iter().any(|s| s == service) {
            return Ok(None);
        }
        let Some(range) = self.whole_range().await? else {
            return Ok(Some(json!({ "service": service })));
        };
        let series = self
            .source
            .metrics(&MetricQuery {
                range,
                service: Some(service.to_string()),
                metric: None,
            })
            .await?;
        let metrics: Vec<Value> = series
            .iter()
            .filter(|s| !s.points.is_empty())
            .map(|s| {
                let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
                let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                json!({
                    "metric": s.metric,
                    "samples": values.len(),
                    "first": s.points.first().map(|p| p.at),
                    "last": s.points.last().map(|p| json!({"at": p.at, "value": p.value})),
                    "min": min,
                    "max": max,
                    "mean": mean,
                })
            })
            .collect();
        let errors = self
            .source
            .logs(&LogQuery {
                range,
                service: Some(service.to_string()),
                contains: None,
                min_level: Some(LogLevel::Error),
                limit: usize::MAX,
            })
            .await?;
        let recent: Vec<Value> = errors
            .iter()
            .rev()
            .take(RECENT_ERRORS)
            .map(|l| json!({"at": l.at, "level": l.level, "message": l.message}))
            .collect();
        let failed_spans = self
            .source
            .spans(&SpanQuery {
                range,
                service: Some(service.to_string()),
                trace_id: None,
                errors_only: true,
                limit: usize::MAX,
            })
            .await?
            .len();
        let changes = self.source.changes(range, Some(service)).await?;
        Ok(Some(json!({
            "service": service,
            "metrics": metrics,
            "error_logs": { "count": errors.len(), "latest": recent },
            "failed_spans": failed_spans,
            "changes": changes,
        })))
    }
}

fn json_contents(uri: &str, value: &Value) -> Vec<ResourceContents> {
    vec![ResourceContents::text(value.to_string(), uri).with_mime_type(JSON)]
}

#[async_trait]
impl ResourceProvider for TelemetryResources {
    async fn list(&self) -> itops_core::Result<Vec<Resource>> {
        let mut resources = vec![
            Resource::new(OVERVIEW, "Telemetry overview")
                .with_description("Services, the time range held and the number of change events")
                .with_mime_type(JSON),
            Resource::new(CHANGES, "Change events")
                .with_description("Deploys, config changes, restarts... oldest first")
                .with_mime_type(JSON),
        ];
        for service in self
            .source
            .services()
            .await?
            .into_iter()
            .take(MAX_LISTED_SERVICES)
        {
            resources.push(
                Resource::new(
                    format!("{SERVICE_PREFIX}{service}"),
                    format!("Service {service}"),
                )
                .with_description("Metric summaries, error logs, failed spans and changes")
                .with_mime_type(JSON),
            );
        }
        Ok(resources)
    }

    async fn templates(&self) -> itops_core::Result<Vec<ResourceTemplate>> {
        Ok(vec![ResourceTemplate::new(
            SERVICE_TEMPLATE,
            "Service telemetry summary",
        )
        .with_description("Metric summaries, error logs, failed spans and changes of one service")
        .with_mime_type(JSON)])
    }

    async fn read(&self, uri: &str) -> itops_core::Result<Option<Vec<ResourceContents>>> {
        let value = match uri {
            OVERVIEW => Some(self.overview().await?),
            CHANGES => Some(self.changes().await?),
            _ => match uri.strip_prefix(SERVICE_PREFIX) {
                Some(service) if !service.is_empty() => self.service(service).await?,
                _ => None,
            },
        };
        Ok(value.map(|v| json_contents(uri, &v)))
    }

    async fn complete(
        &self,
        template: &str,
        argument: &str,
        value: &str,
    ) -> itops_core::Result<Vec<String>> {
        if template != SERVICE_TEMPLATE || argument != "service" {
            return Ok(Vec::new());
        }
        let value = value.to_lowercase();
        Ok(self
            .source
            .services()
            .await?
            .into_iter()
            .filter(|s| s.to_lowercase().starts_with(&value))
            .collect())
    }
}
