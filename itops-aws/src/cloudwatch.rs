//! [`CloudWatchTelemetry`]: a [`TelemetrySource`] over CloudWatch metrics, CloudWatch Logs
//! and CloudWatch alarms.
//!
//! Metrics come from `GetMetricData`, with a configurable mapping from a dimension's value
//! to a service name; logs from `FilterLogEvents` or Logs Insights (`StartQuery` and
//! `GetQueryResults`, polled until a deadline); alarms from `DescribeAlarms`. Traces are not
//! covered: X-Ray is not one of the SDKs this crate uses, so [`TelemetrySource::spans`]
//! returns no spans (as a telemetry bundle without `traces.jsonl` does).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TimeRange,
};
use itops_core::TelemetrySource;

use crate::config::{region_of, AwsSettings};
use crate::error::Result;
use crate::sdk::Call;

mod alarms;
mod insights;
mod logs;
mod metrics;

pub use alarms::AlarmState;
pub use insights::insights_query;
pub use logs::{filter_pattern, guess_level};

/// Where one service's metrics live: a namespace, the dimension whose value names the
/// service, and the metrics to read.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSource {
    /// The CloudWatch namespace (`AWS/Lambda`, `AWS/ApplicationELB`, `MyApp`).
    pub namespace: String,
    /// The dimension whose value identifies the service (`FunctionName`, `TargetGroup`,
    /// `Service`).
    pub service_dimension: String,
    /// Other dimension names the wanted metrics carry; a metric is read only when its
    /// dimension names are exactly these plus the service dimension (so that per-AZ or
    /// per-instance copies of a metric are not mixed in).
    pub extra_dimensions: Vec<String>,
    /// The metrics to read.
    pub metrics: Vec<MetricSpec>,
    /// Dimension value → service name, where they differ (e.g. a target group ARN suffix →
    /// `checkout`). Values not listed are used as the service name as they are.
    pub service_names: BTreeMap<String, String>,
}

impl MetricSource {
    /// A source with no metrics yet and no renaming.
    pub fn new(namespace: impl Into<String>, service_dimension: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            service_dimension: service_dimension.into(),
            extra_dimensions: Vec::new(),
            metrics: Vec::new(),
            service_names: BTreeMap::new(),
        }
    }

    /// Adds a metric.
    pub fn metric(mut self, spec: MetricSpec) -> Self {
        self.metrics.push(spec);
        self
    }

    /// Maps a dimension value to a service name.
    pub fn service_name(mut self, value: impl Into<String>, service: impl Into<String>) -> Self {
        self.service_names.insert(value.into(), service.into());
        self
    }

    /// The service a dimension value names.
    pub fn service_of(&self, value: &str) -> String {
        self.service_names
            .get(value)
            .cloned()
            .unwrap_or_else(|| value.to_string())
    }

    /// The dimension value that names `service`.
    pub fn value_of(&self, service: &str) -> String {
        self.service_names
            .iter()
            .find(|(_, s)| s.as_str() == service)
            .map(|(value, _)| value.clone())
            .unwrap_or_else(|| service.to_string())
    }
}

/// One metric to read, and the name it gets in itops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSpec {
    /// The CloudWatch metric name (`Errors`, `TargetResponseTime`).
    pub metric_name: String,
    /// The statistic (`Average`, `Sum`, `Maximum`, `p99`, ...).
    pub stat: String,
    /// The sample period in seconds (60 or a multiple; 1, 5, 10, 30 for high resolution).
    pub period_secs: u32,
    /// The name the series gets (`error_rate`, `latency_p99_ms`); the metric name when unset.
    pub name: Option<String>,
}

impl MetricSpec {
    /// A metric read at one-minute periods.
    pub fn new(metric_name: impl Into<String>, stat: impl Into<String>) -> Self {
        Self {
            metric_name: metric_name.into(),
            stat: stat.into(),
            period_secs: 60,
            name: None,
        }
    }

    /// Sets the name the series gets.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the sample period.
    pub fn period_secs(mut self, secs: u32) -> Self {
        self.period_secs = secs;
        self
    }

    /// The name the series gets.
    pub fn series_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.metric_name)
    }
}

/// How [`CloudWatchTelemetry::logs`] searches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogSearch {
    /// `FilterLogEvents`: immediate, cheap for narrow searches.
    #[default]
    FilterLogEvents,
    /// Logs Insights: a query, polled until it completes or the deadline passes; scales to
    /// large log groups and matches case-insensitively on the service side.
    Insights,
}

/// Settings of a [`CloudWatchTelemetry`].
#[derive(Clone, Debug, PartialEq)]
pub struct CloudWatchSettings {
    /// Region, endpoint and credentials.
    pub aws: AwsSettings,
    /// Where metrics come from.
    pub metric_sources: Vec<MetricSource>,
    /// A log group name with `{service}` in it (`/aws/lambda/{service}`), for every service
    /// not listed in `log_groups`.
    pub log_group_pattern: Option<String>,
    /// Service → log group, where the pattern does not fit.
    pub log_groups: BTreeMap<String, String>,
    /// How logs are searched.
    pub log_search: LogSearch,
    /// Longest a Logs Insights query may run before it is stopped.
    pub insights_deadline: Duration,
    /// How often a running Logs Insights query is polled.
    pub insights_poll_interval: Duration,
    /// Most log events read (before the text and level filters) per log group and search.
    pub max_log_events_scanned: usize,
    /// Only alarms whose name starts with this, when set.
    pub alarm_name_prefix: Option<String>,
}

impl Default for CloudWatchSettings {
    fn default() -> Self {
        Self {
            aws: AwsSettings::default(),
            metric_sources: Vec::new(),
            log_group_pattern: None,
            log_groups: BTreeMap::new(),
            log_search: LogSearch::default(),
            insights_deadline: Duration::from_secs(30),
            insights_poll_interval: Duration::from_secs(1),
            max_log_events_scanned: 10_000,
            alarm_name_prefix: None,
        }
    }
}

/// A [`TelemetrySource`] over CloudWatch metrics, CloudWatch Logs and CloudWatch alarms.
///
/// | core call | AWS calls |
/// |---|---|
/// | `services` | `ListMetrics` per metric source, `DescribeLogGroups` for the log-group pattern |
/// | `metrics` | `ListMetrics` (the dimension sets that exist), `GetMetricData` (500 queries a call, paginated) |
/// | `logs` | `FilterLogEvents` per log group (paginated), or Logs Insights `StartQuery` + `GetQueryResults` |
/// | `changes` | `DescribeAlarms`: alarms that changed state in the range, as `alarm` events |
/// | `spans` | none: X-Ray is not covered, so no spans |
/// | `time_bounds` | none: a live source has no fixed bounds |
#[derive(Clone, Debug)]
pub struct CloudWatchTelemetry {
    metrics: aws_sdk_cloudwatch::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    region: String,
    settings: CloudWatchSettings,
}

impl CloudWatchTelemetry {
    /// Loads the AWS configuration from `settings.aws` and builds the source.
    pub async fn connect(settings: CloudWatchSettings) -> Result<Self> {
        let sdk = settings.aws.load().await?;
        Ok(Self::from_sdk_config(&sdk, settings))
    }

    /// Builds the source from an already loaded AWS configuration.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: CloudWatchSettings) -> Self {
        Self {
            metrics: aws_sdk_cloudwatch::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            region: region_of(sdk),
            settings,
        }
    }

    /// Builds the source from existing clients (e.g. with custom retry or a mocked HTTP
    /// layer); `settings.aws` is not used.
    pub fn from_clients(
        metrics: aws_sdk_cloudwatch::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
        settings: CloudWatchSettings,
    ) -> Self {
        let region = logs
            .config()
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "(no region)".to_string());
        Self {
            metrics,
            logs,
            region,
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &CloudWatchSettings {
        &self.settings
    }

    /// The log group of `service`, if it has one.
    pub fn log_group_of(&self, service: &str) -> Option<String> {
        self.settings.log_groups.get(service).cloned().or_else(|| {
            self.settings
                .log_group_pattern
                .as_ref()
                .map(|p| p.replace("{service}", service))
        })
    }

    fn call<'a>(
        &'a self,
        service: &'static str,
        operation: &'static str,
        resource: &'a str,
    ) -> Call<'a> {
        Call {
            service,
            operation,
            resource,
            region: &self.region,
        }
    }
}

/// Converts a time to the SDK's time type.
pub(crate) fn to_aws_time(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

/// Converts the SDK's time type to a time.
pub(crate) fn from_aws_time(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// Milliseconds since the epoch, as the Logs API counts.
pub(crate) fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[async_trait]
impl TelemetrySource for CloudWatchTelemetry {
    async fn services(&self) -> itops_core::Result<Vec<String>> {
        let mut services: BTreeSet<String> = BTreeSet::new();
        for source in &self.settings.metric_sources {
            services.extend(self.metric_services(source).await?);
        }
        services.extend(self.settings.log_groups.keys().cloned());
        services.extend(self.log_group_services().await?);
        Ok(services.into_iter().collect())
    }

    async fn time_bounds(&self) -> itops_core::Result<Option<TimeRange>> {
        Ok(None)
    }

    async fn metrics(&self, query: &MetricQuery) -> itops_core::Result<Vec<MetricSeries>> {
        Ok(self.read_metrics(query).await?)
    }

    async fn logs(&self, query: &LogQuery) -> itops_core::Result<Vec<LogRecord>> {
        Ok(match self.settings.log_search {
            LogSearch::FilterLogEvents => self.filter_logs(query).await?,
            LogSearch::Insights => self.insights_logs(query).await?,
        })
    }

    async fn spans(&self, _query: &SpanQuery) -> itops_core::Result<Vec<Span>> {
        Ok(Vec::new())
    }

    async fn changes(
        &self,
        range: TimeRange,
        service: Option<&str>,
    ) -> itops_core::Result<Vec<ChangeEvent>> {
        Ok(self.alarm_changes(range, service).await?)
    }
}
