//! [`CompositeSource`]: one [`TelemetrySource`] over several, each serving some signals
//! (metrics from Prometheus, logs from Loki, traces from Tempo, everything a collector sent
//! over OTLP, ...).
//!
//! Every query goes to the members that serve its signal, concurrently, and their answers
//! are merged. A member that fails does not sink the answer: the others' results come
//! back and the failure is logged; only when every member serving the signal failed is
//! the query an error (the first member's). A signal no member serves has no data.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::{join_all, BoxFuture};

use super::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TelemetrySource,
    TimeRange,
};
use crate::error::Result;

/// The signals a member of a [`CompositeSource`] serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Metric series.
    pub metrics: bool,
    /// Log records.
    pub logs: bool,
    /// Trace spans.
    pub traces: bool,
    /// Change events (deploys, config changes, ...).
    pub changes: bool,
}

impl Signals {
    /// Every signal.
    pub const ALL: Signals = Signals {
        metrics: true,
        logs: true,
        traces: true,
        changes: true,
    };
    /// Metrics only.
    pub const METRICS: Signals = Signals {
        metrics: true,
        logs: false,
        traces: false,
        changes: false,
    };
    /// Logs only.
    pub const LOGS: Signals = Signals {
        metrics: false,
        logs: true,
        traces: false,
        changes: false,
    };
    /// Traces only.
    pub const TRACES: Signals = Signals {
        metrics: false,
        logs: false,
        traces: true,
        changes: false,
    };

    /// The signals, as words (`metrics`, `logs`, `traces`, `changes`).
    pub fn words(self) -> Vec<&'static str> {
        [
            (self.metrics, "metrics"),
            (self.logs, "logs"),
            (self.traces, "traces"),
            (self.changes, "changes"),
        ]
        .into_iter()
        .filter_map(|(on, word)| on.then_some(word))
        .collect()
    }
}

/// One member: a source, what it serves, and a name for the logs.
struct Member {
    name: String,
    signals: Signals,
    source: Arc<dyn TelemetrySource>,
}

/// A [`TelemetrySource`] over several members, each serving some signals.
#[derive(Default)]
pub struct CompositeSource {
    members: Vec<Member>,
}

impl CompositeSource {
    /// A composite with no members (it holds no data until one is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `source` (called `name` in logs) serving `signals`.
    pub fn with(
        mut self,
        name: impl Into<String>,
        signals: Signals,
        source: Arc<dyn TelemetrySource>,
    ) -> Self {
        self.members.push(Member {
            name: name.into(),
            signals,
            source,
        });
        self
    }

    /// The members' names and signals, in the order they were added.
    pub fn members(&self) -> Vec<(String, Signals)> {
        self.members
            .iter()
            .map(|m| (m.name.clone(), m.signals))
            .collect()
    }

    /// The signals some member serves.
    pub fn signals(&self) -> Signals {
        self.members
            .iter()
            .fold(Signals::default(), |a, m| Signals {
                metrics: a.metrics || m.signals.metrics,
                logs: a.logs || m.signals.logs,
                traces: a.traces || m.signals.traces,
                changes: a.changes || m.signals.changes,
            })
    }

    /// Runs `ask` on every member `serves`, concurrently, and merges the answers.
    async fn gather<'a, T, F>(
        &'a self,
        what: &str,
        serves: fn(&Signals) -> bool,
        ask: F,
    ) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(&'a dyn TelemetrySource) -> BoxFuture<'a, Result<Vec<T>>> + Send + Sync,
    {
        let asked: Vec<&Member> = self.members.iter().filter(|m| serves(&m.signals)).collect();
        let answers = join_all(asked.iter().map(|m| ask(m.source.as_ref()))).await;
        let mut merged = Vec::new();
        let mut first_error = None;
        let mut answered = false;
        for (member, answer) in asked.iter().zip(answers) {
            match answer {
                Ok(items) => {
                    answered = true;
                    merged.extend(items);
                }
                Err(error) => {
                    tracing::warn!(source = %member.name, %error, "{what}: a telemetry source failed; answering with the others");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) if !answered => Err(error),
            _ => Ok(merged),
        }
    }
}

#[async_trait]
impl TelemetrySource for CompositeSource {
    async fn services(&self) -> Result<Vec<String>> {
        let mut all = self.gather("services", |_| true, |s| s.services()).await?;
        all.sort();
        all.dedup();
        Ok(all)
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        let bounds = self
            .gather(
                "time bounds",
                |_| true,
                |s| Box::pin(async move { s.time_bounds().await.map(|b| b.into_iter().collect()) }),
            )
            .await?;
        let start = bounds.iter().map(|b| b.start).min();
        let end = bounds.iter().map(|b| b.end).max();
        Ok(match (start, end) {
            (Some(start), Some(end)) => Some(TimeRange { start, end }),
            _ => None,
        })
    }

    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        let mut series = self
            .gather("metrics", |s| s.metrics, |s| s.metrics(query))
            .await?;
        series.sort_by(|a, b| (&a.service, &a.metric).cmp(&(&b.service, &b.metric)));
        Ok(series)
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        let mut records = self.gather("logs", |s| s.logs, |s| s.logs(query)).await?;
        records.sort_by_key(|r| r.at);
        records.truncate(query.limit);
        Ok(records)
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        let mut spans = self
            .gather("traces", |s| s.traces, |s| s.spans(query))
            .await?;
        spans.sort_by_key(|s| s.start);
        spans.truncate(query.limit);
        Ok(spans)
    }

    async fn changes(&self, range: TimeRange, service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        let mut changes = self
            .gather("changes", |s| s.changes, |s| s.changes(range, service))
            .await?;
        changes.sort_by_key(|c| c.at);
        Ok(changes)
    }
}

#[cfg(test)]
mod tests;
