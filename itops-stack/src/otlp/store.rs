//! [`OtlpStore`]: what OTLP ingest received, held in memory for a retention window and
//! served as a [`TelemetrySource`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use itops_core::telemetry::{
    ChangeEvent, Cutoffs, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery,
    TelemetryIndex, TimeRange,
};
use itops_core::{Result, TelemetrySource};
use serde::Serialize;

/// How much an [`OtlpStore`] keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpStoreConfig {
    /// How long telemetry is kept, measured back from the newest instant held (see
    /// [`OtlpStore`]).
    pub retention: Duration,
    /// Most spans held; past it the oldest are dropped.
    pub max_spans: usize,
    /// Most log records held; past it the oldest are dropped.
    pub max_logs: usize,
    /// Most metric samples held (over all series); past it the oldest are dropped.
    pub max_metric_points: usize,
    /// How far past this machine's clock the newest data may lie and still move the
    /// retention window: a client whose clock runs ahead cannot push everything else out.
    pub max_clock_skew: Duration,
}

impl Default for OtlpStoreConfig {
    /// 8 hours (the live simulator's window: the charts' six hours before an incident
    /// and a margin), a million spans, a million log records, two million metric samples
    /// (a few hundred MB at most: see `benches/otlp.rs`), 5 minutes of clock skew.
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(8 * 3600),
            max_spans: 1_000_000,
            max_logs: 1_000_000,
            max_metric_points: 2_000_000,
            max_clock_skew: Duration::from_secs(300),
        }
    }
}

/// What an [`OtlpStore`] holds and has dropped, for a server's `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OtlpStoreStats {
    /// Spans held.
    pub spans: usize,
    /// Log records held.
    pub logs: usize,
    /// Metric samples held.
    pub metric_points: usize,
    /// Metric series (service, metric) held.
    pub series: usize,
    /// Services held.
    pub services: usize,
    /// Spans ingested since the store was made.
    pub ingested_spans: u64,
    /// Log records ingested since the store was made.
    pub ingested_logs: u64,
    /// Metric samples ingested since the store was made.
    pub ingested_metric_points: u64,
    /// Spans dropped since (older than the retention window, or over the cap).
    pub dropped_spans: u64,
    /// Log records dropped since.
    pub dropped_logs: u64,
    /// Metric samples dropped since.
    pub dropped_metric_points: u64,
    /// How many times the store was pruned (each a rebuild of what it holds).
    pub prunes: u64,
}

/// Telemetry received by OTLP ingest (spans, log records, metric samples), held in
/// memory and read as a [`TelemetrySource`] by the ranking, the tools and the verifier.
///
/// **In memory only: a restart loses everything it held.**
///
/// Bounded two ways:
///
/// - **retention**: data older than [`OtlpStoreConfig::retention`] before the newest
///   instant held (but never later than this machine's clock plus
///   [`OtlpStoreConfig::max_clock_skew`]) is dropped. Measured against the data rather
///   than the wall clock, so data replayed from the past (or from a clock running behind)
///   is kept as a whole. Pruning runs once the oldest data is an eighth of the window past
///   it, so up to 9/8 of the window may be held; data already older than the window when
///   it arrives is dropped at once.
/// - **size**: past [`OtlpStoreConfig::max_spans`], [`max_logs`](OtlpStoreConfig::max_logs)
///   or [`max_metric_points`](OtlpStoreConfig::max_metric_points), the oldest of that
///   signal are dropped down to 90 % of the cap (so pruning, a rebuild of what is held,
///   runs once per tenth of the cap ingested); a warning is logged the first time.
///
/// Thread-safe: ingest takes a write lock for the adds and, when one is due, the prune
/// (a rebuild of what is held: about 0.15–0.3 s at a million spans on 2 cores, see
/// `benches/otlp.rs`, during which queries wait); queries take a read lock. Decode
/// requests before calling in, outside any lock.
#[derive(Debug)]
pub struct OtlpStore {
    config: OtlpStoreConfig,
    index: RwLock<TelemetryIndex>,
    ingested: Counts,
    dropped: Counts,
    prunes: AtomicU64,
    warned_cap: AtomicBool,
}

#[derive(Debug, Default)]
struct Counts {
    spans: AtomicU64,
    logs: AtomicU64,
    metric_points: AtomicU64,
}

impl Counts {
    fn add(&self, spans: usize, logs: usize, metric_points: usize) {
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        self.logs.fetch_add(logs as u64, Ordering::Relaxed);
        self.metric_points
            .fetch_add(metric_points as u64, Ordering::Relaxed);
    }
}

impl OtlpStore {
    /// An empty store.
    pub fn new(config: OtlpStoreConfig) -> Self {
        Self {
            config,
            index: RwLock::new(TelemetryIndex::new()),
            ingested: Counts::default(),
            dropped: Counts::default(),
            prunes: AtomicU64::new(0),
            warned_cap: AtomicBool::new(false),
        }
    }

    /// What the store keeps.
    pub fn config(&self) -> &OtlpStoreConfig {
        &self.config
    }

    /// Adds spans (from [`decode_traces`](super::decode_traces)); those older than the
    /// retention window are dropped at once.
    pub fn ingest_spans(&self, spans: Vec<Span>) {
        let offered = spans.len();
        let mut index = self.write();
        let since = self.retained_since(&index);
        let mut late = 0;
        for span in spans {
            if since.is_some_and(|t| span.start < t) {
                late += 1;
            } else {
                index.add_span(span);
            }
        }
        self.ingested.add(offered, 0, 0);
        self.dropped.add(late, 0, 0);
        self.prune_if_due(&mut index);
    }

    /// Adds log records (from [`decode_logs`](super::decode_logs)); those older than the
    /// retention window are dropped at once.
    pub fn ingest_logs(&self, logs: Vec<LogRecord>) {
        let offered = logs.len();
        let mut index = self.write();
        let since = self.retained_since(&index);
        let mut late = 0;
        for record in logs {
            if since.is_some_and(|t| record.at < t) {
                late += 1;
            } else {
                index.add_log(record);
            }
        }
        self.ingested.add(0, offered, 0);
        self.dropped.add(0, late, 0);
        self.prune_if_due(&mut index);
    }

    /// Adds metric samples (from [`decode_metrics`](super::decode_metrics)); those older
    /// than the retention window are dropped at once.
    pub fn ingest_metrics(&self, series: Vec<MetricSeries>) {
        let offered: usize = series.iter().map(|s| s.points.len()).sum();
        let mut index = self.write();
        let since = self.retained_since(&index);
        let mut late = 0;
        for s in &series {
            for point in &s.points {
                if since.is_some_and(|t| point.at < t) {
                    late += 1;
                } else {
                    index.add_metric(&s.service, &s.metric, point.at, point.value);
                }
            }
        }
        self.ingested.add(0, 0, offered);
        self.dropped.add(0, 0, late);
        self.prune_if_due(&mut index);
    }

    /// What the store holds and has dropped.
    pub fn stats(&self) -> OtlpStoreStats {
        let counts = self.read().counts();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        OtlpStoreStats {
            spans: counts.spans,
            logs: counts.logs,
            metric_points: counts.metric_points,
            series: counts.series,
            services: counts.services,
            ingested_spans: load(&self.ingested.spans),
            ingested_logs: load(&self.ingested.logs),
            ingested_metric_points: load(&self.ingested.metric_points),
            dropped_spans: load(&self.dropped.spans),
            dropped_logs: load(&self.dropped.logs),
            dropped_metric_points: load(&self.dropped.metric_points),
            prunes: load(&self.prunes),
        }
    }

    /// A copy of what the store holds (to write it as a bundle, for instance).
    pub fn snapshot(&self) -> TelemetryIndex {
        self.read().clone()
    }

    fn read(&self) -> RwLockReadGuard<'_, TelemetryIndex> {
        // Every add leaves the index whole: a poisoned lock still holds a valid one.
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, TelemetryIndex> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn retention(&self) -> ChronoDuration {
        ChronoDuration::from_std(self.config.retention).unwrap_or(ChronoDuration::MAX)
    }

    /// The start of the retention window: the newest instant held (no later than the
    /// clock plus the allowed skew) less the retention; `None` when empty.
    fn retained_since(&self, index: &TelemetryIndex) -> Option<DateTime<Utc>> {
        let newest = index.time_bounds()?.end - ChronoDuration::nanoseconds(1);
        let skew =
            ChronoDuration::from_std(self.config.max_clock_skew).unwrap_or(ChronoDuration::zero());
        let reference = newest.min(Utc::now() + skew);
        reference.checked_sub_signed(self.retention())
    }

    /// Drops what is past the retention window (once an eighth of the window past it)
    /// and what is over a cap (down to 90 % of it).
    fn prune_if_due(&self, index: &mut TelemetryIndex) {
        let mut cutoffs = Cutoffs::default();
        if let (Some(since), Some(bounds)) = (self.retained_since(index), index.time_bounds()) {
            let slack = self.retention() / 8;
            if since
                .checked_sub_signed(slack)
                .is_some_and(|due| bounds.start < due)
            {
                cutoffs = Cutoffs::since(since);
            }
        }
        let counts = index.counts();
        let low_water = |cap: usize| cap - cap / 10;
        let mut capped = Cutoffs::default();
        if counts.spans > self.config.max_spans {
            capped.spans = index.span_cutoff_keeping(low_water(self.config.max_spans));
        }
        if counts.logs > self.config.max_logs {
            capped.logs = index.log_cutoff_keeping(low_water(self.config.max_logs));
        }
        if counts.metric_points > self.config.max_metric_points {
            capped.metrics = index.metric_cutoff_keeping(low_water(self.config.max_metric_points));
        }
        if capped != Cutoffs::default() && !self.warned_cap.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                spans = counts.spans,
                logs = counts.logs,
                metric_points = counts.metric_points,
                max_spans = self.config.max_spans,
                max_logs = self.config.max_logs,
                max_metric_points = self.config.max_metric_points,
                "otlp store: over a cap; the oldest telemetry is dropped before the retention window ends (warned once)"
            );
        }
        let cutoffs = cutoffs.later(capped);
        if cutoffs == Cutoffs::default() {
            return;
        }
        let dropped = index.retain(&cutoffs);
        self.dropped
            .add(dropped.spans, dropped.logs, dropped.metric_points);
        self.prunes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl TelemetrySource for OtlpStore {
    async fn services(&self) -> Result<Vec<String>> {
        Ok(self.read().services())
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Ok(self.read().time_bounds())
    }

    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        Ok(self.read().metrics(query))
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(self.read().logs(query))
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        Ok(self.read().spans(query))
    }

    async fn changes(&self, range: TimeRange, service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(self.read().changes(range, service))
    }
}
