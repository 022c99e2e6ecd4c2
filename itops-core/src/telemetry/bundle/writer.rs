//! Writing a telemetry bundle: `BundleWriter` streams rows to the four files.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::timestamp::format_timestamp;
use super::{check_name, EVENTS_FILE, LOGS_FILE, METRICS_FILE, METRICS_HEADER, TRACES_FILE};
use crate::error::{Error, Result};
use crate::telemetry::index::to_nanos;
use crate::telemetry::{ChangeEvent, LogLevel, LogRecord, Span, SpanStatus, TelemetryIndex};

/// Writes everything `index` holds as a bundle in `dir` (created when missing): all four
/// files, each in time order, replacing files of the same names.
///
/// Loading the bundle back gives an index that answers every query the same way.
pub fn write_bundle(dir: &Path, index: &TelemetryIndex) -> Result<()> {
    let mut writer = BundleWriter::create(dir)?;
    for (service, metric, at, value) in index.metric_rows() {
        writer.metric(service, metric, at, value)?;
    }
    for record in index.log_rows() {
        writer.log(&record)?;
    }
    for span in index.span_rows() {
        writer.span(&span)?;
    }
    for event in index.change_rows() {
        writer.change(event)?;
    }
    writer.finish()
}

/// Streams rows into a bundle directory without holding them; call
/// [`BundleWriter::finish`] at the end to flush.
///
/// Rows are written in the order given. Timestamps are RFC 3339 with nanoseconds and values
/// the shortest text that reads back as the same `f64`, so nothing is lost on the way.
pub struct BundleWriter {
    dir: PathBuf,
    metrics: csv::Writer<File>,
    logs: BufWriter<File>,
    traces: BufWriter<File>,
    events: BufWriter<File>,
    value_text: String,
}

impl std::fmt::Debug for BundleWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleWriter")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct LogRow<'a> {
    timestamp: String,
    service: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<LogLevel>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<&'a str>,
}

#[derive(Serialize)]
struct SpanRow<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<&'a str>,
    service: &'a str,
    operation: &'a str,
    start_unix_nano: i64,
    duration_ns: u64,
    status_code: SpanStatus,
}

#[derive(Serialize)]
struct EventRow<'a> {
    timestamp: String,
    service: &'a str,
    kind: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<&'a str>,
}

impl BundleWriter {
    /// Creates `dir` when missing and starts the four files in it (truncating old ones).
    pub fn create(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| {
            Error::storage(
                format!("cannot create bundle directory {}", dir.display()),
                e,
            )
        })?;
        let open = |name: &str| {
            let path = dir.join(name);
            File::create(&path)
                .map_err(|e| Error::storage(format!("cannot create {}", path.display()), e))
        };
        let mut metrics = csv::Writer::from_writer(open(METRICS_FILE)?);
        metrics
            .write_record(METRICS_HEADER)
            .map_err(|e| write_error(dir, METRICS_FILE, e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            metrics,
            logs: BufWriter::new(open(LOGS_FILE)?),
            traces: BufWriter::new(open(TRACES_FILE)?),
            events: BufWriter::new(open(EVENTS_FILE)?),
            value_text: String::new(),
        })
    }

    /// Writes one metric sample; the value must be finite.
    pub fn metric(
        &mut self,
        service: &str,
        metric: &str,
        at: DateTime<Utc>,
        value: f64,
    ) -> Result<()> {
        check_name("service", service).map_err(|m| Error::invalid("service", m))?;
        check_name("metric", metric).map_err(|m| Error::invalid("metric", m))?;
        if !value.is_finite() {
            return Err(Error::invalid(
                "metric value",
                format!(
                    "{service} {metric} at {at} is {value}; a bundle holds finite numbers only"
                ),
            ));
        }
        self.value_text.clear();
        // `{}` of an f64 is the shortest text that parses back to the same value.
        let _ = write!(self.value_text, "{value}");
        self.metrics
            .write_record([
                format_timestamp(at).as_str(),
                service,
                metric,
                self.value_text.as_str(),
            ])
            .map_err(|e| write_error(&self.dir, METRICS_FILE, e))
    }

    /// Writes one log record.
    pub fn log(&mut self, record: &LogRecord) -> Result<()> {
        check_name("service", &record.service).map_err(|m| Error::invalid("service", m))?;
        let row = LogRow {
            timestamp: format_timestamp(record.at),
            service: &record.service,
            level: record.level,
            message: &record.message,
            trace_id: non_empty(&record.trace_id),
            span_id: non_empty(&record.span_id),
        };
        json_line(&mut self.logs, &row).map_err(|e| write_error(&self.dir, LOGS_FILE, e))
    }

    /// Writes one span.
    pub fn span(&mut self, span: &Span) -> Result<()> {
        check_name("service", &span.service).map_err(|m| Error::invalid("service", m))?;
        check_name("trace_id", &span.trace_id).map_err(|m| Error::invalid("trace_id", m))?;
        check_name("span_id", &span.span_id).map_err(|m| Error::invalid("span_id", m))?;
        let row = SpanRow {
            trace_id: &span.trace_id,
            span_id: &span.span_id,
            parent_span_id: non_empty(&span.parent_span_id),
            service: &span.service,
            operation: &span.operation,
            start_unix_nano: to_nanos(span.start),
            duration_ns: span.duration_ns,
            status_code: span.status,
        };
        json_line(&mut self.traces, &row).map_err(|e| write_error(&self.dir, TRACES_FILE, e))
    }

    /// Writes one change event.
    pub fn change(&mut self, event: &ChangeEvent) -> Result<()> {
        check_name("service", &event.service).map_err(|m| Error::invalid("service", m))?;
        check_name("kind", &event.kind).map_err(|m| Error::invalid("kind", m))?;
        let row = EventRow {
            timestamp: format_timestamp(event.at),
            service: &event.service,
            kind: &event.kind,
            description: &event.description,
            version: event.version.as_deref(),
            actor: event.actor.as_deref(),
        };
        json_line(&mut self.events, &row).map_err(|e| write_error(&self.dir, EVENTS_FILE, e))
    }

    /// Flushes every file; rows are only certain to be on disk after this.
    pub fn finish(mut self) -> Result<()> {
        self.metrics
            .flush()
            .map_err(|e| write_error(&self.dir, METRICS_FILE, e))?;
        for (file, name) in [
            (&mut self.logs, LOGS_FILE),
            (&mut self.traces, TRACES_FILE),
            (&mut self.events, EVENTS_FILE),
        ] {
            file.flush().map_err(|e| write_error(&self.dir, name, e))?;
        }
        Ok(())
    }
}

fn json_line(
    out: &mut impl Write,
    row: &impl Serialize,
) -> std::result::Result<(), std::io::Error> {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")
}

/// An empty id reads back as "absent", so it is written as absent.
fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn write_error(dir: &Path, file: &str, error: impl Into<crate::error::BoxError>) -> Error {
    Error::storage(format!("cannot write {}", dir.join(file).display()), error)
}
