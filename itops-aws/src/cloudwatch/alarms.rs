//! Alarms: `DescribeAlarms`, as alarm states and as change events.

use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
use chrono::{DateTime, Utc};
use itops_core::telemetry::{ChangeEvent, TimeRange};

use super::{from_aws_time, CloudWatchTelemetry};
use crate::error::Result;
use crate::sdk::classify;

/// A CloudWatch metric alarm as it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmState {
    /// The alarm's name.
    pub name: String,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// Why it is in that state (CloudWatch's text).
    pub reason: String,
    /// When it entered that state.
    pub since: Option<DateTime<Utc>>,
    /// The service its dimensions name, through the metric sources' mapping.
    pub service: Option<String>,
    /// The metric it watches (`namespace/metric`).
    pub metric: Option<String>,
}

impl CloudWatchTelemetry {
    /// Every metric alarm (with the configured name prefix), following pagination.
    pub async fn alarms(&self) -> Result<Vec<AlarmState>> {
        let mut alarms = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .metrics
                .describe_alarms()
                .set_alarm_name_prefix(self.settings.alarm_name_prefix.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(self.call("CloudWatch", "DescribeAlarms", "alarms"), e))?;
            alarms.extend(out.metric_alarms().iter().map(|a| self.alarm_state(a)));
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(alarms),
            }
        }
    }

    fn alarm_state(&self, alarm: &MetricAlarm) -> AlarmState {
        // The first metric source whose namespace and service dimension the alarm uses.
        let service = self.settings.metric_sources.iter().find_map(|source| {
            if alarm.namespace() != Some(source.namespace.as_str()) {
                return None;
            }
            alarm
                .dimensions()
                .iter()
                .find(|d| d.name() == Some(source.service_dimension.as_str()))
                .and_then(|d| d.value())
                .map(|value| source.service_of(value))
        });
        AlarmState {
            name: alarm.alarm_name().unwrap_or_default().to_string(),
            state: alarm
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: alarm.state_reason().unwrap_or_default().to_string(),
            since: alarm.state_updated_timestamp().and_then(from_aws_time),
            service,
            metric: match (alarm.namespace(), alarm.metric_name()) {
                (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
                _ => None,
            },
        }
    }

    /// Alarms that went into `ALARM` within `range`, as `alarm` change events, oldest first.
    pub(super) async fn alarm_changes(
        &self,
        range: TimeRange,
        service: Option<&str>,
    ) -> Result<Vec<ChangeEvent>> {
        let mut events: Vec<ChangeEvent> = self
            .alarms()
            .await?
            .into_iter()
            .filter(|a| a.state == StateValue::Alarm.as_str())
            .filter(|a| service.is_none_or(|s| a.service.as_deref() == Some(s)))
            .filter_map(|a| {
                let at = a.since.filter(|t| range.contains(*t))?;
                Some(ChangeEvent {
                    at,
                    service: a.service.clone().unwrap_or_else(|| a.name.clone()),
                    kind: "alarm".to_string(),
                    description: format!("alarm {} is ALARM: {}", a.name, a.reason),
                    version: None,
                    actor: Some("cloudwatch".to_string()),
                })
            })
            .collect();
        events.sort_by_key(|e| e.at);
        Ok(events)
    }
}
