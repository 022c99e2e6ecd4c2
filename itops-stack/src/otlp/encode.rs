//! The other way: itops's spans and log records as the protobuf bodies of `POST /v1/traces`
//! and `POST /v1/logs`, for sending them to an OpenTelemetry collector (or Tempo, Loki, or
//! another itops).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use itops_core::telemetry::{LogLevel, LogRecord, Span, SpanStatus};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{
    LogRecord as OtlpLogRecord, ResourceLogs, ScopeLogs, SeverityNumber,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};
use prost::Message;

use super::common::unhex;

/// The instrumentation scope named in what itops sends.
const SCOPE: &str = "itops";

/// `spans` as the protobuf body of `POST /v1/traces` (an `ExportTraceServiceRequest`,
/// `Content-Type: application/x-protobuf`): one resource per service (`service.name`), in
/// the order the services first appear; ids from hex to bytes (an id that is not hex is
/// left empty, which a receiver rejects); the end time from the start and the duration;
/// the status code (`UNSET` as no status).
///
/// [`decode_traces`](super::decode_traces) gives the spans back.
pub fn encode_traces(spans: &[Span]) -> Vec<u8> {
    let resource_spans = by_service(spans, |s| &s.service)
        .into_iter()
        .map(|(service, spans)| ResourceSpans {
            resource: Some(resource(service)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans: spans.into_iter().map(to_otlp_span).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

/// `records` as the protobuf body of `POST /v1/logs` (an `ExportLogsServiceRequest`): one
/// resource per service, the message as a string body, the time as both `timeUnixNano`
/// and `observedTimeUnixNano`, the level as the first severity number of its range
/// (debug 5, info 9, warn 13, error 17, fatal 21) with its name in capitals as the
/// severity text, and the trace and span ids when the record has them.
///
/// [`decode_logs`](super::decode_logs) gives the records back.
pub fn encode_logs(records: &[LogRecord]) -> Vec<u8> {
    let resource_logs = by_service(records, |r| &r.service)
        .into_iter()
        .map(|(service, records)| ResourceLogs {
            resource: Some(resource(service)),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records.into_iter().map(to_otlp_record).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }.encode_to_vec()
}

/// The items of each service, services in order of first appearance.
fn by_service<'a, T>(
    items: &'a [T],
    service: impl Fn(&'a T) -> &'a str,
) -> Vec<(&'a str, Vec<&'a T>)> {
    let mut order: BTreeMap<&str, usize> = BTreeMap::new();
    let mut groups: Vec<(&str, Vec<&T>)> = Vec::new();
    for item in items {
        let name = service(item);
        let index = *order.entry(name).or_insert_with(|| {
            groups.push((name, Vec::new()));
            groups.len() - 1
        });
        if let Some((_, group)) = groups.get_mut(index) {
            group.push(item);
        }
    }
    groups
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(service.to_owned())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE.into(),
        ..Default::default()
    }
}

/// Unix nanoseconds of `at`; 0 (unset) before 1970.
fn nanos(at: DateTime<Utc>) -> u64 {
    at.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

fn to_otlp_span(span: &Span) -> OtlpSpan {
    let start = nanos(span.start);
    let code = match span.status {
        SpanStatus::Unset => None,
        SpanStatus::Ok => Some(StatusCode::Ok),
        SpanStatus::Error => Some(StatusCode::Error),
    };
    OtlpSpan {
        trace_id: unhex(&span.trace_id).unwrap_or_default(),
        span_id: unhex(&span.span_id).unwrap_or_default(),
        parent_span_id: span
            .parent_span_id
            .as_deref()
            .and_then(unhex)
            .unwrap_or_default(),
        name: span.operation.clone(),
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(span.duration_ns),
        status: code.map(|code| Status {
            code: code.into(),
            message: String::new(),
        }),
        ..Default::default()
    }
}

fn to_otlp_record(record: &LogRecord) -> OtlpLogRecord {
    let at = nanos(record.at);
    let (number, text) = match record.level {
        None => (SeverityNumber::Unspecified, ""),
        Some(LogLevel::Debug) => (SeverityNumber::Debug, "DEBUG"),
        Some(LogLevel::Info) => (SeverityNumber::Info, "INFO"),
        Some(LogLevel::Warn) => (SeverityNumber::Warn, "WARN"),
        Some(LogLevel::Error) => (SeverityNumber::Error, "ERROR"),
        Some(LogLevel::Fatal) => (SeverityNumber::Fatal, "FATAL"),
    };
    OtlpLogRecord {
        time_unix_nano: at,
        observed_time_unix_nano: at,
        severity_number: number.into(),
        severity_text: text.into(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(record.message.clone())),
        }),
        trace_id: record
            .trace_id
            .as_deref()
            .and_then(unhex)
            .unwrap_or_default(),
        span_id: record
            .span_id
            .as_deref()
            .and_then(unhex)
            .unwrap_or_default(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
