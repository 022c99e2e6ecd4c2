//! `CloudWatchTelemetry` and `PutMetricDataSink` against the emulator: metrics put and read
//! back, log search (FilterLogEvents and Logs Insights), alarms as change events.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{DateTime, Utc};
use itops_aws::cloudwatch::{CloudWatchSettings, LogSearch, MetricSource, MetricSpec};
use itops_aws::metrics::{MetricDatum, MetricUnit, MetricsSink, PutMetricDataSink};
use itops_aws::CloudWatchTelemetry;
use itops_core::telemetry::{LogLevel, LogQuery, MetricQuery, SpanQuery, TimeRange};
use itops_core::{IncidentId, TelemetrySource};

use crate::moto;

async fn sdk() -> SdkConfig {
    moto::settings().load().await.unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", IncidentId::new().simple_suffix())
}

trait Suffix {
    fn simple_suffix(&self) -> String;
}

impl Suffix for IncidentId {
    fn simple_suffix(&self) -> String {
        self.to_string().replace('-', "")[20..].to_string()
    }
}

/// A whole minute a few minutes ago (CloudWatch stores metrics at minute resolution).
fn minute_ago(minutes: i64) -> DateTime<Utc> {
    let now = Utc::now().timestamp();
    DateTime::from_timestamp(now - now % 60 - minutes * 60, 0).unwrap()
}

#[tokio::test]
async fn metrics_put_then_read_back_by_service() {
    let sdk = sdk().await;
    let namespace = unique("itops-test");
    let sink = PutMetricDataSink::new(&sdk, &namespace);
    let mut data = Vec::new();
    for (service, base) in [("checkout", 100.0), ("payments", 900.0)] {
        for m in 0..5 {
            data.push(MetricDatum {
                name: "Latency".to_string(),
                unit: MetricUnit::Milliseconds,
                value: base + m as f64,
                dimensions: vec![("Service".to_string(), format!("svc-{service}"))],
                at: minute_ago(10 - m),
            });
        }
    }
    sink.emit(&data).await.unwrap();

    let source = MetricSource::new(&namespace, "Service")
        .metric(MetricSpec::new("Latency", "Average").named("latency_ms"))
        .service_name("svc-checkout", "checkout")
        .service_name("svc-payments", "payments");
    let telemetry = CloudWatchTelemetry::from_sdk_config(
        &sdk,
        CloudWatchSettings {
            metric_sources: vec![source],
            ..CloudWatchSettings::default()
        },
    );
    assert_eq!(
        telemetry.services().await.unwrap(),
        vec!["checkout".to_string(), "payments".to_string()]
    );

    let range = TimeRange::new(minute_ago(15), Utc::now()).unwrap();
    let series = telemetry
        .metrics(&MetricQuery {
            range,
            service: Some("payments".to_string()),
            metric: None,
        })
        .await
        .unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0].service, "payments");
    assert_eq!(series[0].metric, "latency_ms");
    let values: Vec<f64> = series[0].points.iter().map(|p| p.value).collect();
    assert_eq!(values, vec![900.0, 901.0, 902.0, 903.0, 904.0]);
    assert!(series[0].points.windows(2).all(|w| w[0].at < w[1].at));

    let all = telemetry
        .metrics(&MetricQuery {
            range,
            service: None,
            metric: Some("latency_ms".to_string()),
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| s.service.as_str()).collect::<Vec<_>>(),
        vec!["checkout", "payments"]
    );
    let none = telemetry
        .metrics(&MetricQuery {
            range,
            service: None,
            metric: Some("error_rate".to_string()),
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// Creates a log group with one stream holding `lines` (seconds offset, message).
async fn seed_logs(sdk: &SdkConfig, group: &str, lines: &[(i64, &str)], start: DateTime<Utc>) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("main")
        .send()
        .await
        .unwrap();
    let events = lines
        .iter()
        .map(|(offset, message)| {
            InputLogEvent::builder()
                .timestamp((start + chrono::Duration::seconds(*offset)).timestamp_millis())
                .message(*message)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("main")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

fn log_settings(prefix: &str, search: LogSearch) -> CloudWatchSettings {
    CloudWatchSettings {
        log_group_pattern: Some(format!("/{prefix}/{{service}}")),
        log_groups: BTreeMap::new(),
        log_search: search,
        insights_deadline: Duration::from_secs(20),
        insights_poll_interval: Duration::from_millis(200),
        ..CloudWatchSettings::default()
    }
}

#[tokio::test]
async fn log_search_by_text_level_and_service() {
    let sdk = sdk().await;
    let prefix = unique("itops-logs");
    let start = Utc::now() - chrono::Duration::minutes(30);
    seed_logs(
        &sdk,
        &format!("/{prefix}/db"),
        &[
            (1, "INFO connected to primary"),
            (
                2,
                r#"{"level":"error","msg":"Connection pool EXHAUSTED","trace_id":"abc"}"#,
            ),
            (3, "WARN slow query 900ms"),
            (4, "ERROR connection pool exhausted again"),
        ],
        start,
    )
    .await;
    seed_logs(
        &sdk,
        &format!("/{prefix}/api"),
        &[(5, "ERROR upstream db timed out"), (6, "INFO ok")],
        start,
    )
    .await;
    let telemetry = CloudWatchTelemetry::from_sdk_config(
        &sdk,
        log_settings(&prefix, LogSearch::FilterLogEvents),
    );
    assert_eq!(
        telemetry.services().await.unwrap(),
        vec!["api".to_string(), "db".to_string()]
    );
    let range = TimeRange::new(start, Utc::now()).unwrap();
    let query = |service: Option<&str>, contains: Option<&str>, min_level| LogQuery {
        range,
        service: service.map(str::to_string),
        contains: contains.map(str::to_string),
        min_level,
        limit: 100,
    };

    let hits = telemetry
        .logs(&query(Some("db"), Some("pool exhausted"), None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0].trace_id.as_deref(), Some("abc"));
    assert_eq!(hits[0].level, Some(LogLevel::Error));
    assert!(hits.iter().all(|r| r.service == "db"));

    let errors = telemetry
        .logs(&query(None, None, Some(LogLevel::Warn)))
        .await
        .unwrap();
    let messages: Vec<&str> = errors.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(errors.len(), 4, "{messages:?}");
    assert!(
        errors.windows(2).all(|w| w[0].at <= w[1].at),
        "oldest first"
    );
    assert_eq!(errors[3].service, "api");

    let limited = telemetry.logs(&query(None, None, None)).await.unwrap();
    assert_eq!(limited.len(), 6);
    let mut one = query(None, None, None);
    one.limit = 1;
    assert_eq!(
        telemetry.logs(&one).await.unwrap()[0].message,
        "INFO connected to primary"
    );

    // A service without a log group has no logs, not an error.
    assert!(telemetry
        .logs(&query(Some("ghost"), None, None))
        .await
        .unwrap()
        .is_empty());
    // Traces are not covered by CloudWatch: no spans.
    assert!(telemetry
        .spans(&SpanQuery {
            range,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: 10,
        })
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn log_search_through_logs_insights() {
    let sdk = sdk().await;
    let prefix = unique("itops-insights");
    let start = Utc::now() - chrono::Duration::minutes(30);
    seed_logs(
        &sdk,
        &format!("/{prefix}/db"),
        &[
            (1, "INFO connected"),
            (2, "ERROR pool exhausted"),
            (3, "ERROR disk full"),
        ],
        start,
    )
    .await;
    let telemetry =
        CloudWatchTelemetry::from_sdk_config(&sdk, log_settings(&prefix, LogSearch::Insights));
    let range = TimeRange::new(start, Utc::now()).unwrap();
    let hits = telemetry
        .logs(&LogQuery {
            range,
            service: Some("db".to_string()),
            contains: Some("POOL".to_string()),
            min_level: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        hits.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
        vec!["ERROR pool exhausted"]
    );
    assert_eq!(hits[0].service, "db");

    let rows = telemetry
        .insights(
            "fields @timestamp, @message | sort @timestamp asc",
            &[format!("/{prefix}/db")],
            range,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains_key("@message")));
}

#[tokio::test]
async fn alarms_in_alarm_state_are_change_events() {
    let sdk = sdk().await;
    let namespace = unique("itops-alarms");
    let cw = aws_sdk_cloudwatch::Client::new(&sdk);
    let alarm = unique("checkout-5xx");
    cw.put_metric_alarm()
        .alarm_name(&alarm)
        .namespace(&namespace)
        .metric_name("Errors")
        .dimensions(
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name("Service")
                .value("checkout")
                .build(),
        )
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(5.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    cw.set_alarm_state()
        .alarm_name(&alarm)
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold crossed: 12 errors")
        .send()
        .await
        .unwrap();
    let telemetry = CloudWatchTelemetry::from_sdk_config(
        &sdk,
        CloudWatchSettings {
            metric_sources: vec![MetricSource::new(&namespace, "Service")],
            alarm_name_prefix: Some(alarm.clone()),
            ..CloudWatchSettings::default()
        },
    );
    let alarms = telemetry.alarms().await.unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].state, "ALARM");
    assert_eq!(alarms[0].service.as_deref(), Some("checkout"));

    let range = TimeRange::new(
        Utc::now() - chrono::Duration::hours(1),
        Utc::now() + chrono::Duration::minutes(1),
    )
    .unwrap();
    let changes = telemetry.changes(range, Some("checkout")).await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].kind, "alarm");
    assert!(changes[0].description.contains("12 errors"));
    assert!(telemetry
        .changes(range, Some("payments"))
        .await
        .unwrap()
        .is_empty());
}
