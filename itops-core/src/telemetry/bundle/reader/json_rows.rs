//! The rows of `logs.jsonl`, `traces.jsonl` and `events.jsonl`.
//!
//! Each line is first split into its fields as raw JSON, then every field is read on its
//! own, so an error names the field, and numbers (timestamps, nanoseconds) are read from
//! their exact text rather than through a float.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::fields::{integer, json_text, log_level, name, quote, span_status, timestamp, RowError};
use crate::telemetry::index::from_nanos;
use crate::telemetry::{ChangeEvent, LogRecord, Span, SpanStatus};

#[derive(Deserialize)]
struct RawLog<'a> {
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    service: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    level: Option<&'a RawValue>,
    #[serde(borrow)]
    trace_id: Option<&'a RawValue>,
    #[serde(borrow)]
    span_id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawSpan<'a> {
    #[serde(borrow)]
    trace_id: Option<&'a RawValue>,
    #[serde(borrow)]
    span_id: Option<&'a RawValue>,
    #[serde(borrow)]
    parent_span_id: Option<&'a RawValue>,
    #[serde(borrow)]
    service: Option<&'a RawValue>,
    #[serde(borrow)]
    operation: Option<&'a RawValue>,
    #[serde(borrow)]
    start_unix_nano: Option<&'a RawValue>,
    #[serde(borrow)]
    duration_ns: Option<&'a RawValue>,
    #[serde(borrow)]
    status_code: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    service: Option<&'a RawValue>,
    #[serde(borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
    #[serde(borrow)]
    version: Option<&'a RawValue>,
    #[serde(borrow)]
    actor: Option<&'a RawValue>,
}

fn object<'a, T: Deserialize<'a>>(line: &'a str) -> Result<T, RowError> {
    serde_json::from_str(line).map_err(|e| RowError::row(format!("not a valid JSON object: {e}")))
}

/// An optional text field; empty counts as absent.
fn optional(field: &'static str, raw: Option<&RawValue>) -> Result<Option<String>, RowError> {
    Ok(json_text(field, raw)?
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty()))
}

/// One line of `logs.jsonl`.
pub(crate) fn log(line: &str) -> Result<LogRecord, RowError> {
    let raw: RawLog = object(line)?;
    let at = timestamp(
        "timestamp",
        json_text("timestamp", raw.timestamp)?.as_deref(),
    )?;
    let service = name("service", json_text("service", raw.service)?.as_deref())?.to_owned();
    let message = json_text("message", raw.message)?
        .ok_or_else(|| RowError::field("message", "missing"))?
        .into_owned();
    let level = json_text("level", raw.level)?.and_then(|text| log_level(&text));
    Ok(LogRecord {
        at: from_nanos(at),
        service,
        message,
        level,
        trace_id: optional("trace_id", raw.trace_id)?,
        span_id: optional("span_id", raw.span_id)?,
    })
}

/// One line of `traces.jsonl`.
pub(crate) fn span(line: &str) -> Result<Span, RowError> {
    let raw: RawSpan = object(line)?;
    let text = |field, value| json_text(field, value);
    let trace_id = name("trace_id", text("trace_id", raw.trace_id)?.as_deref())?.to_owned();
    let span_id = name("span_id", text("span_id", raw.span_id)?.as_deref())?.to_owned();
    let service = name("service", text("service", raw.service)?.as_deref())?.to_owned();
    let operation = text("operation", raw.operation)?
        .ok_or_else(|| RowError::field("operation", "missing"))?
        .trim()
        .to_owned();
    let start = text("start_unix_nano", raw.start_unix_nano)?
        .ok_or_else(|| RowError::field("start_unix_nano", "missing"))?;
    let start = i64::try_from(integer("start_unix_nano", &start)?).map_err(|_| {
        RowError::field(
            "start_unix_nano",
            format!("{} is outside the years 1677 to 2262", quote(&start)),
        )
    })?;
    let duration = text("duration_ns", raw.duration_ns)?
        .ok_or_else(|| RowError::field("duration_ns", "missing"))?;
    let duration_ns = match integer("duration_ns", &duration)? {
        negative if negative < 0 => {
            return Err(RowError::field(
                "duration_ns",
                format!("{} is negative", quote(&duration)),
            ))
        }
        value => u64::try_from(value).map_err(|_| {
            RowError::field("duration_ns", format!("{} is too large", quote(&duration)))
        })?,
    };
    let status = match text("status_code", raw.status_code)? {
        Some(code) => span_status("status_code", &code)?,
        None => SpanStatus::Unset,
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id: optional("parent_span_id", raw.parent_span_id)?,
        service,
        operation,
        start: from_nanos(start),
        duration_ns,
        status,
    })
}

/// One line of `events.jsonl`.
pub(crate) fn event(line: &str) -> Result<ChangeEvent, RowError> {
    let raw: RawEvent = object(line)?;
    let at = timestamp(
        "timestamp",
        json_text("timestamp", raw.timestamp)?.as_deref(),
    )?;
    let service = name("service", json_text("service", raw.service)?.as_deref())?.to_owned();
    let kind = name("kind", json_text("kind", raw.kind)?.as_deref())?.to_owned();
    let description = json_text("description", raw.description)?
        .ok_or_else(|| RowError::field("description", "missing"))?
        .into_owned();
    Ok(ChangeEvent {
        at: from_nanos(at),
        service,
        kind,
        description,
        version: optional("version", raw.version)?,
        actor: optional("actor", raw.actor)?,
    })
}
