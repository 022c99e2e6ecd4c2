//! Log records, protobuf and JSON: times, messages, levels, ids, partial success.

use itops_core::telemetry::LogLevel;
use itops_stack::otlp::{decode_logs, DEFAULT_MAX_BODY_BYTES};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;

use crate::support::*;

fn body(value: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

#[test]
fn protobuf_records_map_time_message_level_and_ids() {
    let t0 = at("2026-03-01T10:00:00Z");
    let records = vec![
        LogRecord {
            time_unix_nano: nanos(t0),
            observed_time_unix_nano: nanos(t0) + 5,
            severity_number: 17,
            severity_text: "INFO".into(),
            body: body(Value::StringValue("payment failed".into())),
            trace_id: trace_id(1),
            span_id: span_id(2),
            ..Default::default()
        },
        LogRecord {
            observed_time_unix_nano: nanos(t0) + 1_000,
            severity_text: "Warning".into(),
            body: body(Value::KvlistValue(KeyValueList {
                values: vec![string("event", "retry")],
            })),
            ..Default::default()
        },
        LogRecord {
            time_unix_nano: nanos(t0) + 2_000,
            severity_number: 3,
            event_name: "cache.miss".into(),
            trace_id: vec![1; 5],
            span_id: vec![0; 8],
            ..Default::default()
        },
        LogRecord {
            time_unix_nano: nanos(t0) + 3_000,
            severity_number: 23,
            body: body(Value::IntValue(42)),
            ..Default::default()
        },
        LogRecord {
            body: body(Value::StringValue("no time at all".into())),
            ..Default::default()
        },
    ];
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(Some("payments")),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let bytes = request.encode_to_vec();
    for (bytes, format) in [(bytes.clone(), PROTOBUF), (gzip(&bytes), PROTOBUF_GZIP)] {
        let decoded = decode_logs(&bytes, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        assert_eq!((decoded.accepted, decoded.rejected), (4, 1));
        assert!(decoded.message.unwrap().contains("1 without a valid time"));
        let logs = decoded.items;
        assert_eq!(logs[0].at, t0, "timeUnixNano first");
        assert_eq!(logs[0].service, "payments");
        assert_eq!(logs[0].message, "payment failed");
        assert_eq!(
            logs[0].level,
            Some(LogLevel::Error),
            "the number wins over the text"
        );
        assert_eq!(
            logs[0].trace_id.as_deref(),
            Some("abababababababab0000000000000001")
        );
        assert_eq!(logs[0].span_id.as_deref(), Some("8000000000000002"));
        assert_eq!(
            logs[1].at,
            t0 + chrono::Duration::nanoseconds(1_000),
            "else observed"
        );
        assert_eq!(logs[1].message, r#"{"event":"retry"}"#);
        assert_eq!(logs[1].level, Some(LogLevel::Warn));
        assert_eq!(logs[2].message, "cache.miss", "no body: the event name");
        assert_eq!(logs[2].level, Some(LogLevel::Debug), "trace is debug");
        assert_eq!(
            (logs[2].trace_id.clone(), logs[2].span_id.clone()),
            (None, None)
        );
        assert_eq!(logs[3].message, "42");
        assert_eq!(logs[3].level, Some(LogLevel::Fatal));
    }
}

/// Log records as the OTLP specification writes them in JSON.
const SPEC_LOGS: &str = r#"{
  "resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeLogs": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "logRecords": [
        {
          "timeUnixNano": "1544712660300000000",
          "observedTimeUnixNano": "1544712660300000000",
          "severityNumber": 10,
          "severityText": "Information",
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "EEE19B7EC3C1B174",
          "body": {"stringValue": "Example log record"},
          "attributes": [
            {"key": "int.attribute", "value": {"intValue": 10}},
            {"key": "double.attribute", "value": {"doubleValue": 637.704}},
            {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}]}}}
          ]
        },
        {
          "observedTimeUnixNano": 1544712661000000000,
          "severityText": "ERROR",
          "body": {"kvlistValue": {"values": [{"key": "code", "value": {"intValue": "503"}}]}}
        },
        {"severityNumber": 9, "body": {"stringValue": "never stamped"}}
      ]
    }]
  }]
}"#;

#[test]
fn json_records_as_the_specification_writes_them() {
    let decoded = decode_logs(SPEC_LOGS.as_bytes(), JSON, DEFAULT_MAX_BODY_BYTES).unwrap();
    assert_eq!((decoded.accepted, decoded.rejected), (2, 1));
    let logs = decoded.items;
    assert_eq!(logs[0].at, at("2018-12-13T14:51:00.3Z"));
    assert_eq!(logs[0].service, "my.service");
    assert_eq!(logs[0].message, "Example log record");
    assert_eq!(logs[0].level, Some(LogLevel::Info));
    assert_eq!(
        logs[0].trace_id.as_deref(),
        Some("5b8efff798038103d269b633813fc60c")
    );
    assert_eq!(logs[0].span_id.as_deref(), Some("eee19b7ec3c1b174"));
    assert_eq!(logs[1].at, at("2018-12-13T14:51:01Z"));
    assert_eq!(logs[1].message, r#"{"code":503}"#);
    assert_eq!(logs[1].level, Some(LogLevel::Error));
    let gzipped = decode_logs(
        &gzip(SPEC_LOGS.as_bytes()),
        JSON_GZIP,
        DEFAULT_MAX_BODY_BYTES,
    );
    assert_eq!(gzipped.unwrap().items, logs);
}
