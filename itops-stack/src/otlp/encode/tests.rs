use chrono::{DateTime, Utc};
use itops_core::telemetry::{LogLevel, LogRecord, Span, SpanStatus};

use super::{encode_logs, encode_traces};
use crate::otlp::{decode_logs, decode_traces, Format, DEFAULT_MAX_BODY_BYTES};

fn protobuf() -> Format {
    Format::from_headers(Some("application/x-protobuf"), None).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn span(trace: &str, id: &str, parent: Option<&str>, service: &str, status: SpanStatus) -> Span {
    Span {
        trace_id: trace.into(),
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        service: service.into(),
        operation: format!("GET /{service}"),
        start: at("2026-11-24T09:42:00.123456789Z"),
        duration_ns: 1_500_000,
        status,
    }
}

#[test]
fn spans_come_back_from_the_body_as_they_were_sent() {
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let spans = vec![
        span(trace, "b7ad6b7169203331", None, "frontend", SpanStatus::Ok),
        span(
            trace,
            "00f067aa0ba902b7",
            Some("b7ad6b7169203331"),
            "checkout",
            SpanStatus::Error,
        ),
        span(
            trace,
            "1111111111111111",
            Some("b7ad6b7169203331"),
            "frontend",
            SpanStatus::Unset,
        ),
    ];
    let decoded =
        decode_traces(&encode_traces(&spans), protobuf(), DEFAULT_MAX_BODY_BYTES).unwrap();
    assert_eq!(decoded.rejected, 0, "{:?}", decoded.message);
    // Grouped by service: the frontend's two spans, then checkout's.
    let mut expected = spans.clone();
    expected.swap(1, 2);
    assert_eq!(decoded.items, expected);
}

#[test]
fn log_records_come_back_with_their_level_and_ids() {
    let record = |service: &str, level: Option<LogLevel>, ids: bool| LogRecord {
        at: at("2026-11-24T09:42:01.5Z"),
        service: service.into(),
        message: format!("{service}: payment declined {{\"code\": 402}}"),
        level,
        trace_id: ids.then(|| "0af7651916cd43dd8448eb211c80319c".into()),
        span_id: ids.then(|| "00f067aa0ba902b7".into()),
    };
    let records = vec![
        record("payment", Some(LogLevel::Error), true),
        record("payment", Some(LogLevel::Debug), false),
        record("payment", Some(LogLevel::Info), false),
        record("payment", Some(LogLevel::Warn), false),
        record("payment", Some(LogLevel::Fatal), false),
        record("payment", None, false),
    ];
    let decoded = decode_logs(&encode_logs(&records), protobuf(), DEFAULT_MAX_BODY_BYTES).unwrap();
    assert_eq!(decoded.rejected, 0, "{:?}", decoded.message);
    assert_eq!(decoded.items, records);
}

#[test]
fn each_service_is_one_resource() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let spans: Vec<Span> = ["a", "b", "a", "c", "b"]
        .iter()
        .enumerate()
        .map(|(i, service)| {
            let id = format!("{:016x}", i + 1);
            span(trace, &id, None, service, SpanStatus::Ok)
        })
        .collect();
    let request = ExportTraceServiceRequest::decode(encode_traces(&spans).as_slice()).unwrap();
    let sizes: Vec<usize> = request
        .resource_spans
        .iter()
        .map(|r| r.scope_spans.iter().map(|s| s.spans.len()).sum())
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert!(encode_traces(&[]).is_empty());
}
