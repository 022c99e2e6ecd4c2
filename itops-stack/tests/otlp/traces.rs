//! Spans, protobuf and JSON, plain and gzip: the mapping and partial success.

use itops_core::telemetry::SpanStatus;
use itops_stack::otlp::{decode_traces, DEFAULT_MAX_BODY_BYTES};
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;

use crate::support::*;

#[test]
fn protobuf_spans_map_ids_parents_durations_statuses_and_services() {
    let t0 = at("2026-03-01T10:00:00Z");
    let root = SpanSpec {
        trace: 1,
        id: 1,
        parent: None,
        name: "GET /checkout",
        start: t0,
        duration_ms: 120,
        error: false,
    };
    let child = SpanSpec {
        trace: 1,
        id: 2,
        parent: Some(1),
        name: "SELECT cart",
        start: t0 + chrono::Duration::milliseconds(10),
        duration_ms: 30,
        error: true,
    };
    let mut unset = span(&child);
    unset.span_id = span_id(3);
    unset.status = None;
    let mut zero_parent = span(&root);
    zero_parent.span_id = span_id(4);
    zero_parent.parent_span_id = vec![0; 8];
    let request = traces(vec![
        (Some("frontend"), vec![span(&root), zero_parent]),
        (Some("cart"), vec![span(&child)]),
        (None, vec![unset]),
    ]);
    let body = request.encode_to_vec();
    for (bytes, format) in [(body.clone(), PROTOBUF), (gzip(&body), PROTOBUF_GZIP)] {
        let decoded = decode_traces(&bytes, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        assert_eq!((decoded.accepted, decoded.rejected), (4, 0));
        assert_eq!(decoded.message, None);
        let spans = decoded.items;
        assert_eq!(spans[0].trace_id, "abababababababab0000000000000001");
        assert_eq!(spans[0].span_id, "8000000000000001");
        assert_eq!(spans[0].parent_span_id, None);
        assert_eq!(spans[0].service, "frontend");
        assert_eq!(spans[0].operation, "GET /checkout");
        assert_eq!(spans[0].start, t0);
        assert_eq!(spans[0].duration_ns, 120_000_000);
        assert_eq!(spans[0].status, SpanStatus::Ok);
        assert_eq!(
            spans[1].parent_span_id, None,
            "an all-zero parent is a root"
        );
        assert_eq!(spans[2].service, "cart");
        assert_eq!(spans[2].parent_span_id.as_deref(), Some("8000000000000001"));
        assert_eq!(spans[2].status, SpanStatus::Error);
        assert_eq!(spans[2].duration_ns, 30_000_000);
        assert_eq!(spans[3].service, "unknown_service");
        assert_eq!(spans[3].status, SpanStatus::Unset);
    }
}

#[test]
fn invalid_spans_are_rejected_and_counted_with_the_reason() {
    let good = SpanSpec {
        trace: 9,
        id: 9,
        parent: None,
        name: "ok",
        start: at("2026-03-01T10:00:00Z"),
        duration_ms: 1,
        error: false,
    };
    let mut no_trace = span(&good);
    no_trace.trace_id = Vec::new();
    let mut zero_trace = span(&good);
    zero_trace.trace_id = vec![0; 16];
    let mut short_span = span(&good);
    short_span.span_id = vec![1; 4];
    let mut bad_parent = span(&good);
    bad_parent.parent_span_id = vec![1; 3];
    let mut backwards = span(&good);
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
    let mut no_start = span(&good);
    no_start.start_time_unix_nano = 0;
    let mut unknown_status = span(&good);
    unknown_status.status = Some(Status {
        code: 7,
        message: String::new(),
    });
    let request = traces(vec![(
        Some("cart"),
        vec![
            span(&good),
            no_trace,
            zero_trace,
            short_span,
            bad_parent,
            backwards,
            no_start,
            unknown_status,
        ],
    )]);
    let decoded =
        decode_traces(&request.encode_to_vec(), PROTOBUF, DEFAULT_MAX_BODY_BYTES).unwrap();
    assert_eq!((decoded.accepted, decoded.rejected), (2, 6));
    assert_eq!(
        decoded.items[1].status,
        SpanStatus::Unset,
        "an unknown code is unset"
    );
    let message = decoded.message.unwrap();
    assert!(message.starts_with("6 spans rejected: "), "{message}");
    for reason in [
        "2 without a valid trace id",
        "1 without a valid span id",
        "1 with a parent span id that is not 8 bytes",
        "1 ending before they start",
        "1 without a valid start time",
    ] {
        assert!(message.contains(reason), "{reason}: {message}");
    }
}

/// An `ExportTraceServiceRequest` as the OTLP specification writes it in JSON: upper-case
/// hex ids, 64-bit times as strings and as numbers, enums as integers, an empty parent,
/// fields this receiver does not know.
const SPEC_TRACES: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "checkout"}},
      {"key": "service.instance.id", "value": {"intValue": "3"}}
    ]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "spans": [
        {
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "EEE19B7EC3C1B174",
          "parentSpanId": "",
          "name": "POST /pay",
          "kind": 2,
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "attributes": [{"key": "http.status", "value": {"intValue": 500}}],
          "events": [{"timeUnixNano": "1544712660500000000", "name": "retry"}],
          "status": {"code": 2, "message": "card declined"},
          "someFutureField": {"x": 1}
        },
        {
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "eee19b7ec3c1b175",
          "parentSpanId": "EEE19B7EC3C1B174",
          "name": "charge",
          "startTimeUnixNano": 1544712660100000000,
          "endTimeUnixNano": "1544712660350000000"
        },
        {
          "traceId": "",
          "spanId": "eee19b7ec3c1b176",
          "name": "orphan",
          "startTimeUnixNano": "1544712660100000000",
          "endTimeUnixNano": "1544712660350000000"
        }
      ]
    }]
  }]
}"#;

#[test]
fn json_spans_as_the_specification_writes_them() {
    let body = SPEC_TRACES.as_bytes();
    for (bytes, format) in [(body.to_vec(), JSON), (gzip(body), JSON_GZIP)] {
        let decoded = decode_traces(&bytes, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        assert_eq!((decoded.accepted, decoded.rejected), (2, 1));
        let spans = decoded.items;
        assert_eq!(spans[0].trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(spans[0].span_id, "eee19b7ec3c1b174");
        assert_eq!(spans[0].parent_span_id, None);
        assert_eq!(spans[0].service, "checkout");
        assert_eq!(spans[0].operation, "POST /pay");
        assert_eq!(spans[0].start, at("2018-12-13T14:51:00Z"));
        assert_eq!(spans[0].duration_ns, 1_000_000_000);
        assert_eq!(spans[0].status, SpanStatus::Error);
        assert_eq!(spans[1].parent_span_id.as_deref(), Some("eee19b7ec3c1b174"));
        assert_eq!(spans[1].duration_ns, 250_000_000);
        assert_eq!(spans[1].status, SpanStatus::Unset);
    }
}

#[test]
fn an_empty_request_is_a_success_with_nothing_in_it() {
    let decoded = decode_traces(b"", PROTOBUF, DEFAULT_MAX_BODY_BYTES).unwrap();
    assert_eq!(
        (decoded.items.len(), decoded.accepted, decoded.rejected),
        (0, 0, 0)
    );
    let decoded = decode_traces(b"{}", JSON, DEFAULT_MAX_BODY_BYTES).unwrap();
    assert!(decoded.items.is_empty());
}
