//! Logs Insights: `StartQuery`, then `GetQueryResults` polled until done or the deadline.

use std::collections::BTreeMap;

use itops_core::telemetry::{LogQuery, LogRecord, TimeRange};
use tokio::time::Instant;

use super::logs::{passes, record};
use super::CloudWatchTelemetry;
use crate::error::{Error, Result};
use crate::sdk::classify;

/// Logs Insights returns at most this many rows per query.
const MAX_ROWS: usize = 10_000;
/// One query may name at most this many log groups.
const GROUPS_PER_QUERY: usize = 50;

/// The Logs Insights query run for a core log query.
///
/// The text filter is a case-insensitive regular expression on `@message` (so it matches
/// what the core's case-insensitive `contains` does); the level filter is applied to the
/// rows afterwards, since levels are guessed from each line. Example, for text
/// `pool exhausted` and limit 50:
///
/// ```text
/// fields @timestamp, @message, @log
/// | filter @message like /(?i)pool exhausted/
/// | sort @timestamp asc
/// | limit 50
/// ```
pub fn insights_query(query: &LogQuery, max_rows: usize) -> String {
    let mut q = String::from("fields @timestamp, @message, @log");
    if let Some(text) = query.contains.as_deref().filter(|t| !t.is_empty()) {
        q.push_str("\n| filter @message like /(?i)");
        q.push_str(&regex_escape(text));
        q.push('/');
    }
    q.push_str("\n| sort @timestamp asc");
    q.push_str(&format!("\n| limit {}", max_rows.clamp(1, MAX_ROWS)));
    q
}

/// Escapes regex metacharacters and the `/` that ends an Insights regex literal.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()[]{}|^$/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parses an Insights `@timestamp`: AWS sends `2024-05-01 12:00:00.000` (UTC); some
/// emulators send Unix milliseconds.
fn parse_timestamp(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(millis) = text.parse::<i64>() {
        return chrono::DateTime::from_timestamp_millis(millis);
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

impl CloudWatchTelemetry {
    /// Runs a Logs Insights query over `log_groups` (at most 50) in `range`, polling until it
    /// completes; stops it and fails with [`Error::QueryTimeout`] when the configured deadline
    /// passes. Each row maps field names to values.
    pub async fn insights(
        &self,
        query_string: &str,
        log_groups: &[String],
        range: TimeRange,
    ) -> Result<Vec<BTreeMap<String, String>>> {
        let groups = log_groups.join(", ");
        let started = Instant::now();
        let query_id = self
            .logs
            .start_query()
            .set_log_group_names(Some(log_groups.to_vec()))
            .start_time(range.start.timestamp())
            // Seconds, inclusive: round the exclusive end down past its last full second.
            .end_time(range.end.timestamp())
            .query_string(query_string)
            .send()
            .await
            .map_err(|e| classify(self.call("CloudWatch Logs", "StartQuery", &groups), e))?
            .query_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Malformed {
                service: "CloudWatch Logs",
                operation: "StartQuery",
                what: "the response".to_string(),
                message: "it has no query id".to_string(),
            })?;
        loop {
            let out = self
                .logs
                .get_query_results()
                .query_id(&query_id)
                .send()
                .await
                .map_err(|e| {
                    classify(self.call("CloudWatch Logs", "GetQueryResults", &groups), e)
                })?;
            use aws_sdk_cloudwatchlogs::types::QueryStatus;
            match out.status() {
                Some(QueryStatus::Complete) => {
                    return Ok(out
                        .results()
                        .iter()
                        .map(|row| {
                            row.iter()
                                .filter_map(|f| {
                                    Some((f.field()?.to_string(), f.value()?.to_string()))
                                })
                                .collect()
                        })
                        .collect())
                }
                Some(QueryStatus::Failed | QueryStatus::Cancelled | QueryStatus::Timeout) => {
                    return Err(Error::Service {
                        service: "CloudWatch Logs",
                        operation: "GetQueryResults",
                        resource: groups,
                        code: out
                            .status()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        message: format!("Logs Insights query {query_id} did not complete"),
                        retryable: true,
                    })
                }
                _ => {}
            }
            if started.elapsed() >= self.settings.insights_deadline {
                // Best effort: a query left running costs money until it ends by itself.
                if let Err(e) = self.logs.stop_query().query_id(&query_id).send().await {
                    tracing::debug!(%query_id, error = %e, "stopping a Logs Insights query failed");
                }
                return Err(Error::QueryTimeout {
                    query_id,
                    log_groups: groups,
                    after: self.settings.insights_deadline,
                });
            }
            tokio::time::sleep(self.settings.insights_poll_interval).await;
        }
    }

    /// A core log query through Logs Insights.
    pub(super) async fn insights_logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        let targets = self.log_targets(query.service.as_deref()).await?;
        // Levels are filtered here, so ask for more rows when a level is wanted.
        let rows_wanted = if query.min_level.is_some() {
            self.settings.max_log_events_scanned
        } else {
            query.limit
        };
        let query_string = insights_query(query, rows_wanted);
        let mut records = Vec::new();
        for chunk in targets.chunks(GROUPS_PER_QUERY) {
            let groups: Vec<String> = chunk.iter().map(|(_, g)| g.clone()).collect();
            for row in self.insights(&query_string, &groups, query.range).await? {
                let (Some(at), Some(message)) = (
                    row.get("@timestamp").and_then(|t| parse_timestamp(t)),
                    row.get("@message"),
                ) else {
                    continue;
                };
                // `@log` is `account:group`.
                let group = row
                    .get("@log")
                    .map(|l| l.split_once(':').map_or(l.as_str(), |(_, g)| g));
                let service = chunk
                    .iter()
                    .find(|(_, g)| Some(g.as_str()) == group)
                    .or(chunk.first().filter(|_| chunk.len() == 1))
                    .map(|(s, _)| s.as_str())
                    .unwrap_or("unknown");
                let record = record(service, at, message.clone());
                if query.range.contains(at) && passes(query, &record) {
                    records.push(record);
                }
            }
        }
        records.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.service.cmp(&b.service)));
        records.truncate(query.limit);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itops_core::telemetry::LogLevel;

    fn query(contains: Option<&str>, min_level: Option<LogLevel>) -> LogQuery {
        let start = chrono::DateTime::from_timestamp(1_714_564_800, 0).unwrap();
        LogQuery {
            range: TimeRange::new(start, start + chrono::Duration::hours(1)).unwrap(),
            service: None,
            contains: contains.map(str::to_string),
            min_level,
            limit: 50,
        }
    }

    #[test]
    fn query_text_is_built_exactly() {
        assert_eq!(
            insights_query(&query(Some("pool exhausted"), None), 50),
            "fields @timestamp, @message, @log\n\
             | filter @message like /(?i)pool exhausted/\n\
             | sort @timestamp asc\n\
             | limit 50"
        );
        assert_eq!(
            insights_query(&query(None, None), 20_000),
            "fields @timestamp, @message, @log\n| sort @timestamp asc\n| limit 10000"
        );
    }

    #[test]
    fn regex_metacharacters_and_slashes_are_escaped() {
        assert_eq!(
            insights_query(&query(Some("GET /api/v1?id=(3)"), None), 5),
            "fields @timestamp, @message, @log\n\
             | filter @message like /(?i)GET \\/api\\/v1\\?id=\\(3\\)/\n\
             | sort @timestamp asc\n\
             | limit 5"
        );
    }

    #[tokio::test]
    async fn a_query_past_its_deadline_is_stopped_and_reported() {
        use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
        use aws_sdk_cloudwatchlogs::operation::start_query::StartQueryOutput;
        use aws_sdk_cloudwatchlogs::operation::stop_query::StopQueryOutput;
        use aws_sdk_cloudwatchlogs::types::QueryStatus;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        let start = mock!(aws_sdk_cloudwatchlogs::Client::start_query)
            .then_output(|| StartQueryOutput::builder().query_id("q-1").build());
        let running = mock!(aws_sdk_cloudwatchlogs::Client::get_query_results)
            .match_requests(|r| r.query_id() == Some("q-1"))
            .then_output(|| {
                GetQueryResultsOutput::builder()
                    .status(QueryStatus::Running)
                    .build()
            });
        let stop = mock!(aws_sdk_cloudwatchlogs::Client::stop_query)
            .match_requests(|r| r.query_id() == Some("q-1"))
            .then_output(|| StopQueryOutput::builder().success(true).build());
        let logs = mock_client!(
            aws_sdk_cloudwatchlogs,
            RuleMode::MatchAny,
            &[&start, &running, &stop]
        );
        // Never called here; a plain client will do.
        let metrics = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::Config::builder()
                .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
                .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
                .build(),
        );
        let telemetry = CloudWatchTelemetry::from_clients(
            metrics,
            logs,
            super::super::CloudWatchSettings {
                insights_deadline: std::time::Duration::from_millis(60),
                insights_poll_interval: std::time::Duration::from_millis(10),
                ..Default::default()
            },
        );
        let err = telemetry
            .insights(
                "fields @message",
                &["/app/db".to_string()],
                query(None, None).range,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::QueryTimeout { .. }), "{err:?}");
        assert!(err.is_retryable());
        assert!(err.to_string().contains("/app/db"), "{err}");
        assert!(running.num_calls() >= 2);
        assert_eq!(stop.num_calls(), 1);
    }

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(
            parse_timestamp("2024-05-01 12:00:00.250"),
            Some(chrono::DateTime::from_timestamp_millis(1_714_564_800_250).unwrap())
        );
        assert_eq!(
            parse_timestamp("1714564800250"),
            parse_timestamp("2024-05-01 12:00:00.250")
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
