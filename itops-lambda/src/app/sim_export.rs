//! The live simulator's logs and traces sent over OTLP/HTTP (`[simulator] otlp_endpoint`),
//! so a real stack (a collector, Tempo, Loki, another itops) can receive them.
//!
//! Every interval the exporter reads the spans and log records the simulator wrote since
//! the last read, adds them to what it has not sent yet, and posts that, oldest first, in
//! batches to `{endpoint}/v1/traces` and `{endpoint}/v1/logs` as protobuf. A batch the
//! receiver did not take stays for the next round; what waits is capped, the oldest
//! dropped first with a warning counting them. A batch the receiver refuses as malformed
//! (400, 413, 415: OTLP says not to retry) is dropped with a warning. Nothing here stops
//! the server.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::telemetry::{LogQuery, LogRecord, Span, SpanQuery, TimeRange};
use itops_core::{Clock, TelemetrySource};

use super::config::SimulatorConfig;
use crate::error::Result;

/// Most spans, and most log records, waiting to be sent; past it the oldest are dropped.
pub(crate) const MAX_PENDING: usize = 100_000;

/// Most spans or log records in one request.
pub(crate) const BATCH: usize = 5_000;

/// The longest stretch of simulated time read at once (a fault fast-forwards the
/// simulator by up to 20 minutes).
const READ_SLICE: Duration = Duration::from_secs(60);

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the simulator's telemetry goes.
#[derive(Clone, Debug)]
pub(crate) struct OtlpTarget {
    traces_url: String,
    logs_url: String,
    token: Option<String>,
    interval: Duration,
}

impl OtlpTarget {
    /// The target `[simulator]` configures, `None` without an `otlp_endpoint`; the token is
    /// read through `var` (the process environment in production).
    pub(crate) fn from_config(
        config: &SimulatorConfig,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>> {
        let Some(base) = config.otlp_base() else {
            return Ok(None);
        };
        Ok(Some(Self {
            traces_url: format!("{base}/v1/traces"),
            logs_url: format!("{base}/v1/logs"),
            token: config.otlp_token(var)?,
            interval: config.otlp_interval(),
        }))
    }

    /// The time between two exports.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }
}

/// What did not reach the receiver, by signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Spans dropped, since the start.
    pub spans: u64,
    /// Log records dropped, since the start.
    pub logs: u64,
}

/// Reads the simulator's new spans and log records and sends them.
pub(crate) struct SimExporter {
    target: OtlpTarget,
    client: reqwest::Client,
    telemetry: Arc<dyn TelemetrySource>,
    clock: Arc<dyn Clock>,
    /// How far behind the clock reading stops: the simulator writes a tick's telemetry
    /// when the tick ends, so the tick in progress is not read yet.
    lag: chrono::Duration,
    /// Where the next read starts: everything before it was read.
    from: DateTime<Utc>,
    spans: VecDeque<Span>,
    logs: VecDeque<LogRecord>,
    dropped: Dropped,
}

impl SimExporter {
    /// An exporter of what `telemetry` holds from `clock`'s now on (the history the
    /// simulator makes up at start is not sent), reading `lag` behind the clock.
    pub(crate) fn new(
        target: OtlpTarget,
        telemetry: Arc<dyn TelemetrySource>,
        clock: Arc<dyn Clock>,
        lag: Duration,
    ) -> Self {
        let lag = chrono::Duration::from_std(lag).unwrap_or(chrono::Duration::zero());
        let from = clock.now() - lag;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            target,
            client,
            telemetry,
            clock,
            lag,
            from,
            spans: VecDeque::new(),
            logs: VecDeque::new(),
            dropped: Dropped::default(),
        }
    }

    /// Spans and log records read and not sent yet.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> (usize, usize) {
        (self.spans.len(), self.logs.len())
    }

    /// What was dropped since the start.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// Exports every interval, forever.
    pub(crate) fn spawn(mut self) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.target.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.round().await;
            }
        });
    }

    /// One export: reads what is new, then sends what waits.
    pub(crate) async fn round(&mut self) {
        self.read().await;
        let before = self.dropped;
        send_all(
            &self.client,
            &self.target.traces_url,
            self.target.token.as_deref(),
            &mut self.spans,
            itops_stack::otlp::encode_traces,
            &mut self.dropped.spans,
        )
        .await;
        send_all(
            &self.client,
            &self.target.logs_url,
            self.target.token.as_deref(),
            &mut self.logs,
            itops_stack::otlp::encode_logs,
            &mut self.dropped.logs,
        )
        .await;
        if self.dropped != before {
            tracing::warn!(
                spans = self.dropped.spans - before.spans,
                logs = self.dropped.logs - before.logs,
                total_spans = self.dropped.spans,
                total_logs = self.dropped.logs,
                "simulator OTLP export: the receiver refused a batch; it is dropped"
            );
        }
    }

    /// Reads the simulator's spans and log records from `from` to the clock (less the lag),
    /// a slice at a time, keeping at most [`MAX_PENDING`] of each.
    async fn read(&mut self) {
        let until = self.clock.now() - self.lag;
        let slice = chrono::Duration::from_std(READ_SLICE).unwrap_or(chrono::Duration::zero());
        let before = self.dropped;
        while self.from < until {
            let end = (self.from + slice).min(until);
            let Ok(range) = TimeRange::new(self.from, end) else {
                break;
            };
            let span_query = SpanQuery {
                range,
                service: None,
                trace_id: None,
                errors_only: false,
                limit: MAX_PENDING,
            };
            let log_query = LogQuery {
                range,
                service: None,
                contains: None,
                min_level: None,
                limit: MAX_PENDING,
            };
            let spans = self.telemetry.spans(&span_query).await;
            let logs = self.telemetry.logs(&log_query).await;
            match (spans, logs) {
                (Ok(spans), Ok(logs)) => {
                    self.dropped.spans += keep(&mut self.spans, spans);
                    self.dropped.logs += keep(&mut self.logs, logs);
                    self.from = end;
                }
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!(%error, "simulator OTLP export: could not read the simulator's telemetry; retrying next time");
                    break;
                }
            }
        }
        if self.dropped != before {
            tracing::warn!(
                spans = self.dropped.spans - before.spans,
                logs = self.dropped.logs - before.logs,
                total_spans = self.dropped.spans,
                total_logs = self.dropped.logs,
                max_pending = MAX_PENDING,
                "simulator OTLP export: the receiver is behind; the oldest spans and log records waiting are dropped"
            );
        }
    }
}

/// Appends `new` to `pending`, dropping the oldest past [`MAX_PENDING`]; how many were dropped.
fn keep<T>(pending: &mut VecDeque<T>, new: Vec<T>) -> u64 {
    pending.extend(new);
    let over = pending.len().saturating_sub(MAX_PENDING);
    pending.drain(..over);
    over as u64
}

/// What became of one request.
enum Sent {
    /// Taken: drop the batch from what waits.
    Taken,
    /// Refused as malformed (do not retry): drop it, counted.
    Refused,
    /// Not taken now (unreachable, overloaded, not authorised): keep it for next time.
    Later,
}

/// Sends `pending` in batches, oldest first, until it is empty or a batch is not taken.
async fn send_all<T>(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    pending: &mut VecDeque<T>,
    encode: fn(&[T]) -> Vec<u8>,
    dropped: &mut u64,
) {
    while !pending.is_empty() {
        let n = pending.len().min(BATCH);
        let body = encode(&pending.make_contiguous()[..n]);
        match post(client, url, token, body).await {
            Sent::Taken => {
                pending.drain(..n);
            }
            Sent::Refused => {
                pending.drain(..n);
                *dropped += n as u64;
            }
            Sent::Later => return,
        }
    }
}

/// Posts one protobuf body.
async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: Vec<u8>) -> Sent {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%url, %error, "simulator OTLP export: the receiver is unreachable; retrying next time");
            return Sent::Later;
        }
    };
    let status = response.status();
    if status.is_success() {
        return Sent::Taken;
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    if matches!(status.as_u16(), 400 | 413 | 415) {
        tracing::warn!(%url, %status, body = %text, "simulator OTLP export: the receiver refused the batch");
        Sent::Refused
    } else {
        tracing::warn!(%url, %status, body = %text, "simulator OTLP export: the receiver did not take the batch; retrying next time");
        Sent::Later
    }
}

#[cfg(test)]
mod tests;
