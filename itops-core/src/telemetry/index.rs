//! `TelemetryIndex`: telemetry held in memory, indexed by service and time.
//!
//! Every signal is kept per service in time order, so a range query is two binary searches
//! and a query across services is a k-way merge of already-sorted slices. Service, metric
//! and operation names are interned; timestamps are held as Unix nanoseconds.

mod column;
mod merge;
mod names;
mod nanos;
mod retain;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use self::column::TimeColumn;
use self::merge::MergeByTime;
use self::names::{FastMap, Names};
pub(crate) use self::nanos::{from_nanos, to_nanos};
pub use self::retain::Cutoffs;
use super::{
    ChangeEvent, LogLevel, LogQuery, LogRecord, MetricPoint, MetricQuery, MetricSeries, Span,
    SpanQuery, SpanStatus, TelemetrySource, TimeRange,
};
use crate::error::Result;

/// An in-memory, indexed store of metrics, logs, spans and change events.
///
/// Adds may come in any time order; queries always answer in time order. An add in order
/// is a push; an add out of order is inserted at its place, costing one move per later
/// entry of its series (or service). Slightly late samples are as cheap as ordered ones
/// (`benches/bundle.rs`: ~15 M adds/s either way); fully shuffled adds are ~10× slower on
/// 10 000-point series and grow with series length, so bulk data in no particular order
/// should come in through [`bundle::load_bundle`](super::bundle::load_bundle), which sorts
/// once at the end. Instants outside the years 1677–2262 are clamped to that span (the
/// index counts in `i64` nanoseconds).
#[derive(Debug, Default, Clone)]
pub struct TelemetryIndex {
    services: Names,
    metric_names: Names,
    operations: Names,
    trace_ids: Names,
    /// Per service id: what that service emitted.
    per_service: Vec<ServiceSignals>,
    series: Vec<Series>,
    series_by_key: FastMap<(usize, usize), usize>,
    logs: Vec<StoredLog>,
    spans: Vec<StoredSpan>,
    /// Per trace id: its spans, by position in `spans`.
    trace_spans: Vec<Vec<usize>>,
    changes: Vec<StoredChange>,
    change_times: TimeColumn<usize>,
    metric_points: usize,
    /// Earliest and latest instant held, in nanos.
    bounds: Option<(i64, i64)>,
}

/// How much an index (or a bundle) holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TelemetryCounts {
    /// Distinct services across all signals.
    pub services: usize,
    /// Distinct (service, metric) series.
    pub series: usize,
    /// Metric samples.
    pub metric_points: usize,
    /// Log records.
    pub logs: usize,
    /// Spans.
    pub spans: usize,
    /// Change events.
    pub changes: usize,
}

/// What one service emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceCounts {
    /// Metric series.
    pub series: usize,
    /// Metric samples.
    pub metric_points: usize,
    /// Log records.
    pub logs: usize,
    /// Log records at level error or fatal.
    pub error_logs: usize,
    /// Spans.
    pub spans: usize,
    /// Spans with status `ERROR`.
    pub error_spans: usize,
    /// Change events.
    pub changes: usize,
}

#[derive(Debug, Clone, Default)]
struct ServiceSignals {
    series: Vec<usize>,
    logs: TimeColumn<usize>,
    spans: TimeColumn<usize>,
}

#[derive(Debug, Clone)]
struct Series {
    service: usize,
    metric: usize,
    points: TimeColumn<f64>,
}

#[derive(Debug, Clone)]
struct StoredLog {
    at: i64,
    service: usize,
    level: Option<LogLevel>,
    message: Box<str>,
    trace_id: Option<Box<str>>,
    span_id: Option<Box<str>>,
}

#[derive(Debug, Clone)]
struct StoredSpan {
    trace: usize,
    span_id: Box<str>,
    parent_span_id: Option<Box<str>>,
    service: usize,
    operation: usize,
    start: i64,
    duration_ns: u64,
    status: SpanStatus,
}

#[derive(Debug, Clone)]
struct StoredChange {
    service: usize,
    event: ChangeEvent,
}

/// Whether a column is being filled by the ordered public adds or by a bulk load.
#[derive(Clone, Copy)]
enum Order {
    /// Insert at the right place now.
    Keep,
    /// Append; the caller sorts once at the end.
    Later,
}

impl TelemetryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one metric sample.
    pub fn add_metric(&mut self, service: &str, metric: &str, at: DateTime<Utc>, value: f64) {
        self.push_metric(service, metric, to_nanos(at), value, Order::Keep);
    }

    /// Adds one log record.
    pub fn add_log(&mut self, record: LogRecord) {
        self.push_log(record, Order::Keep);
    }

    /// Adds one span.
    pub fn add_span(&mut self, span: Span) {
        self.push_span(span, Order::Keep);
    }

    /// Adds one change event.
    pub fn add_change(&mut self, event: ChangeEvent) {
        self.push_change(event, Order::Keep);
    }

    /// Every service that appears in any signal, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut names: Vec<String> = self.services.iter().map(str::to_owned).collect();
        names.sort_unstable();
        names
    }

    /// `[earliest, latest + 1ns)` over every signal (spans by start), or `None` when empty.
    pub fn time_bounds(&self) -> Option<TimeRange> {
        self.bounds.map(|(first, last)| TimeRange {
            start: from_nanos(first),
            end: from_nanos(last.saturating_add(1)),
        })
    }

    /// The series matching the query that have at least one point in its range: points
    /// oldest first, series sorted by (service, metric).
    pub fn metrics(&self, query: &MetricQuery) -> Vec<MetricSeries> {
        let (start, end) = range_nanos(&query.range);
        let metric = match query.metric.as_deref() {
            Some(name) => match self.metric_names.get(name) {
                Some(id) => Some(id),
                None => return Vec::new(),
            },
            None => None,
        };
        let candidates: Box<dyn Iterator<Item = &Series>> = match query.service.as_deref() {
            Some(name) => match self.service_signals(name) {
                Some(signals) => {
                    Box::new(signals.series.iter().filter_map(|&id| self.series.get(id)))
                }
                None => return Vec::new(),
            },
            None => Box::new(self.series.iter()),
        };
        let mut found: Vec<MetricSeries> = candidates
            .filter(|series| metric.is_none_or(|id| series.metric == id))
            .filter_map(|series| {
                let points = series.points.range(start, end);
                (!points.is_empty()).then(|| MetricSeries {
                    service: self.services.name(series.service).to_owned(),
                    metric: self.metric_names.name(series.metric).to_owned(),
                    points: points
                        .iter()
                        .map(|&(at, value)| MetricPoint {
                            at: from_nanos(at),
                            value,
                        })
                        .collect(),
                })
            })
            .collect();
        found.sort_by(|a, b| (&a.service, &a.metric).cmp(&(&b.service, &b.metric)));
        found
    }

    /// Log records matching the query, oldest first, at most `limit`.
    ///
    /// `contains` matches case-insensitively; `min_level` leaves out records whose level
    /// is unknown.
    pub fn logs(&self, query: &LogQuery) -> Vec<LogRecord> {
        let (start, end) = range_nanos(&query.range);
        let columns = match self.columns(query.service.as_deref(), |s| &s.logs) {
            Some(columns) => columns,
            None => return Vec::new(),
        };
        let needle = query.contains.as_deref().map(Needle::new);
        MergeByTime::new(
            columns.iter().map(|c| c.range(start, end)).collect(),
            |_, &id| id as u64,
        )
        .filter_map(|(_, &(_, id))| self.logs.get(id))
        .filter(|log| {
            query
                .min_level
                .is_none_or(|min| log.level.is_some_and(|level| level >= min))
        })
        .filter(|log| needle.as_ref().is_none_or(|n| n.found_in(&log.message)))
        .take(query.limit)
        .map(|log| self.log_record(log))
        .collect()
    }

    /// Spans matching the query, by start time, at most `limit`.
    pub fn spans(&self, query: &SpanQuery) -> Vec<Span> {
        let (start, end) = range_nanos(&query.range);
        let wanted = |span: &StoredSpan| !query.errors_only || span.status == SpanStatus::Error;
        if let Some(trace) = query.trace_id.as_deref() {
            let service = match query.service.as_deref() {
                Some(name) => match self.services.get(name) {
                    Some(id) => Some(id),
                    None => return Vec::new(),
                },
                None => None,
            };
            let mut ids: Vec<usize> = self
                .trace_ids
                .get(trace)
                .and_then(|trace| self.trace_spans.get(trace))
                .map(|ids| {
                    ids.iter()
                        .copied()
                        .filter(|&id| {
                            self.spans.get(id).is_some_and(|span| {
                                span.start >= start
                                    && span.start < end
                                    && service.is_none_or(|s| span.service == s)
                                    && wanted(span)
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            ids.sort_by_key(|&id| (self.spans.get(id).map_or(0, |s| s.start), id));
            return ids
                .into_iter()
                .take(query.limit)
                .filter_map(|id| self.spans.get(id))
                .map(|span| self.span(span))
                .collect();
        }
        let columns = match self.columns(query.service.as_deref(), |s| &s.spans) {
            Some(columns) => columns,
            None => return Vec::new(),
        };
        MergeByTime::new(
            columns.iter().map(|c| c.range(start, end)).collect(),
            |_, &id| id as u64,
        )
        .filter_map(|(_, &(_, id))| self.spans.get(id))
        .filter(|span| wanted(span))
        .take(query.limit)
        .map(|span| self.span(span))
        .collect()
    }

    /// Change events in the range, oldest first, optionally for one service.
    pub fn changes(&self, range: TimeRange, service: Option<&str>) -> Vec<ChangeEvent> {
        let (start, end) = range_nanos(&range);
        let service = match service {
            Some(name) => match self.services.get(name) {
                Some(id) => Some(id),
                None => return Vec::new(),
            },
            None => None,
        };
        self.change_times
            .range(start, end)
            .iter()
            .filter_map(|&(_, id)| self.changes.get(id))
            .filter(|change| service.is_none_or(|s| change.service == s))
            .map(|change| change.event.clone())
            .collect()
    }

    /// How much the index holds.
    pub fn counts(&self) -> TelemetryCounts {
        TelemetryCounts {
            services: self.services.len(),
            series: self.series.len(),
            metric_points: self.metric_points,
            logs: self.logs.len(),
            spans: self.spans.len(),
            changes: self.changes.len(),
        }
    }

    /// Every `(service, metric)` pair that has samples, sorted.
    pub fn series_names(&self) -> Vec<(String, String)> {
        let mut names: Vec<(String, String)> = self
            .series
            .iter()
            .map(|series| {
                (
                    self.services.name(series.service).to_owned(),
                    self.metric_names.name(series.metric).to_owned(),
                )
            })
            .collect();
        names.sort_unstable();
        names
    }

    /// What one service emitted; all zero for a service the index does not know.
    pub fn service_counts(&self, service: &str) -> ServiceCounts {
        let Some(id) = self.services.get(service) else {
            return ServiceCounts::default();
        };
        let Some(signals) = self.per_service.get(id) else {
            return ServiceCounts::default();
        };
        let logs = || {
            signals
                .logs
                .all()
                .iter()
                .filter_map(|&(_, log)| self.logs.get(log))
        };
        let spans = || {
            signals
                .spans
                .all()
                .iter()
                .filter_map(|&(_, span)| self.spans.get(span))
        };
        ServiceCounts {
            series: signals.series.len(),
            metric_points: signals
                .series
                .iter()
                .filter_map(|&series| self.series.get(series))
                .map(|series| series.points.all().len())
                .sum(),
            logs: signals.logs.all().len(),
            error_logs: logs()
                .filter(|log| log.level.is_some_and(|level| level >= LogLevel::Error))
                .count(),
            spans: signals.spans.all().len(),
            error_spans: spans()
                .filter(|span| span.status == SpanStatus::Error)
                .count(),
            changes: self.changes.iter().filter(|c| c.service == id).count(),
        }
    }

    /// Every metric sample as `(service, metric, at, value)`, in time order; at equal
    /// times by (service, metric).
    pub(crate) fn metric_rows(&self) -> impl Iterator<Item = (&str, &str, DateTime<Utc>, f64)> {
        let mut order: Vec<usize> = (0..self.series.len()).collect();
        order.sort_by_key(|&id| {
            self.series.get(id).map(|series| {
                (
                    self.services.name(series.service),
                    self.metric_names.name(series.metric),
                )
            })
        });
        let sources = order
            .iter()
            .filter_map(|&id| self.series.get(id))
            .map(|series| series.points.all())
            .collect();
        MergeByTime::new(sources, |source, _| source as u64).filter_map(
            move |(source, &(at, value))| {
                let series = self.series.get(*order.get(source)?)?;
                Some((
                    self.services.name(series.service),
                    self.metric_names.name(series.metric),
                    from_nanos(at),
                    value,
                ))
            },
        )
    }

    /// Every log record, in the order [`TelemetryIndex::logs`] answers.
    pub(crate) fn log_rows(&self) -> impl Iterator<Item = LogRecord> + '_ {
        MergeByTime::new(
            self.per_service.iter().map(|s| s.logs.all()).collect(),
            |_, &id| id as u64,
        )
        .filter_map(|(_, &(_, id))| self.logs.get(id))
        .map(|log| self.log_record(log))
    }

    /// Every span, in the order [`TelemetryIndex::spans`] answers.
    pub(crate) fn span_rows(&self) -> impl Iterator<Item = Span> + '_ {
        MergeByTime::new(
            self.per_service.iter().map(|s| s.spans.all()).collect(),
            |_, &id| id as u64,
        )
        .filter_map(|(_, &(_, id))| self.spans.get(id))
        .map(|span| self.span(span))
    }

    /// Every change event, oldest first.
    pub(crate) fn change_rows(&self) -> impl Iterator<Item = &ChangeEvent> {
        self.change_times
            .all()
            .iter()
            .filter_map(|&(_, id)| self.changes.get(id))
            .map(|change| &change.event)
    }

    /// Adds a metric sample during a bulk load (any order; call `finish_load` after).
    pub(crate) fn load_metric(&mut self, service: &str, metric: &str, at: i64, value: f64) {
        self.push_metric(service, metric, at, value, Order::Later);
    }

    /// Adds a log record during a bulk load.
    pub(crate) fn load_log(&mut self, record: LogRecord) {
        self.push_log(record, Order::Later);
    }

    /// Adds a span during a bulk load.
    pub(crate) fn load_span(&mut self, span: Span) {
        self.push_span(span, Order::Later);
    }

    /// Adds a change event during a bulk load.
    pub(crate) fn load_change(&mut self, event: ChangeEvent) {
        self.push_change(event, Order::Later);
    }

    /// Restores time order after a bulk load.
    pub(crate) fn finish_load(&mut self) {
        for series in &mut self.series {
            series.points.sort();
        }
        for signals in &mut self.per_service {
            signals.logs.sort();
            signals.spans.sort();
        }
        self.change_times.sort();
    }

    fn push_metric(&mut self, service: &str, metric: &str, at: i64, value: f64, order: Order) {
        let service = self.service_id(service);
        let metric = self.metric_names.intern(metric);
        let series = match self.series_by_key.get(&(service, metric)) {
            Some(&id) => id,
            None => {
                let id = self.series.len();
                self.series.push(Series {
                    service,
                    metric,
                    points: TimeColumn::default(),
                });
                self.series_by_key.insert((service, metric), id);
                if let Some(signals) = self.per_service.get_mut(service) {
                    signals.series.push(id);
                }
                id
            }
        };
        if let Some(series) = self.series.get_mut(series) {
            add(&mut series.points, at, value, order);
        }
        self.metric_points += 1;
        self.widen_bounds(at);
    }

    fn push_log(&mut self, record: LogRecord, order: Order) {
        let service = self.service_id(&record.service);
        let at = to_nanos(record.at);
        let id = self.logs.len();
        self.logs.push(StoredLog {
            at,
            service,
            level: record.level,
            message: record.message.into(),
            trace_id: record.trace_id.map(Into::into),
            span_id: record.span_id.map(Into::into),
        });
        if let Some(signals) = self.per_service.get_mut(service) {
            add(&mut signals.logs, at, id, order);
        }
        self.widen_bounds(at);
    }

    fn push_span(&mut self, span: Span, order: Order) {
        let service = self.service_id(&span.service);
        let trace = self.trace_ids.intern(&span.trace_id);
        if trace == self.trace_spans.len() {
            self.trace_spans.push(Vec::new());
        }
        let start = to_nanos(span.start);
        let id = self.spans.len();
        self.spans.push(StoredSpan {
            trace,
            span_id: span.span_id.into(),
            parent_span_id: span.parent_span_id.map(Into::into),
            service,
            operation: self.operations.intern(&span.operation),
            start,
            duration_ns: span.duration_ns,
            status: span.status,
        });
        if let Some(spans) = self.trace_spans.get_mut(trace) {
            spans.push(id);
        }
        if let Some(signals) = self.per_service.get_mut(service) {
            add(&mut signals.spans, start, id, order);
        }
        self.widen_bounds(start);
    }

    fn push_change(&mut self, event: ChangeEvent, order: Order) {
        let service = self.service_id(&event.service);
        let at = to_nanos(event.at);
        let id = self.changes.len();
        self.changes.push(StoredChange { service, event });
        add(&mut self.change_times, at, id, order);
        self.widen_bounds(at);
    }

    fn service_id(&mut self, name: &str) -> usize {
        let id = self.services.intern(name);
        if id == self.per_service.len() {
            self.per_service.push(ServiceSignals::default());
        }
        id
    }

    fn service_signals(&self, name: &str) -> Option<&ServiceSignals> {
        self.per_service.get(self.services.get(name)?)
    }

    /// The columns of one service (`None` when it is unknown) or of all services.
    fn columns<T>(
        &self,
        service: Option<&str>,
        column: impl Fn(&ServiceSignals) -> &TimeColumn<T>,
    ) -> Option<Vec<&TimeColumn<T>>> {
        match service {
            Some(name) => Some(vec![column(self.service_signals(name)?)]),
            None => Some(self.per_service.iter().map(column).collect()),
        }
    }

    fn widen_bounds(&mut self, at: i64) {
        self.bounds = Some(match self.bounds {
            Some((first, last)) => (first.min(at), last.max(at)),
            None => (at, at),
        });
    }

    fn log_record(&self, log: &StoredLog) -> LogRecord {
        LogRecord {
            at: from_nanos(log.at),
            service: self.services.name(log.service).to_owned(),
            message: log.message.to_string(),
            level: log.level,
            trace_id: log.trace_id.as_deref().map(str::to_owned),
            span_id: log.span_id.as_deref().map(str::to_owned),
        }
    }

    fn span(&self, span: &StoredSpan) -> Span {
        Span {
            trace_id: self.trace_ids.name(span.trace).to_owned(),
            span_id: span.span_id.to_string(),
            parent_span_id: span.parent_span_id.as_deref().map(str::to_owned),
            service: self.services.name(span.service).to_owned(),
            operation: self.operations.name(span.operation).to_owned(),
            start: from_nanos(span.start),
            duration_ns: span.duration_ns,
            status: span.status,
        }
    }
}

fn add<T: Copy>(column: &mut TimeColumn<T>, at: i64, value: T, order: Order) {
    match order {
        Order::Keep => column.insert(at, value),
        Order::Later => column.push_unordered(at, value),
    }
}

fn range_nanos(range: &TimeRange) -> (i64, i64) {
    (to_nanos(range.start), to_nanos(range.end))
}

/// A case-insensitive substring to look for in log messages.
struct Needle {
    lower: String,
}

impl Needle {
    fn new(text: &str) -> Self {
        Self {
            lower: text.to_lowercase(),
        }
    }

    fn found_in(&self, haystack: &str) -> bool {
        let needle = self.lower.as_bytes();
        if needle.is_empty() {
            return true;
        }
        if self.lower.is_ascii() {
            // An ASCII needle compares bytes without allocating (the bytes of a multi-byte
            // UTF-8 character never equal an ASCII byte).
            return haystack
                .as_bytes()
                .windows(needle.len())
                .any(|window| window.eq_ignore_ascii_case(needle));
        }
        haystack.to_lowercase().contains(&self.lower)
    }
}

#[async_trait]
impl TelemetrySource for TelemetryIndex {
    async fn services(&self) -> Result<Vec<String>> {
        Ok(TelemetryIndex::services(self))
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Ok(TelemetryIndex::time_bounds(self))
    }

    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        Ok(TelemetryIndex::metrics(self, query))
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(TelemetryIndex::logs(self, query))
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        Ok(TelemetryIndex::spans(self, query))
    }

    async fn changes(&self, range: TimeRange, service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(TelemetryIndex::changes(self, range, service))
    }
}
