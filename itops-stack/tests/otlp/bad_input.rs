//! Bodies that are not OTLP, formats that are not supported, and bodies too large once
//! decompressed: each a clear error with the HTTP status to answer, never a panic.

use std::io::Write;

use itops_core::Error;
use itops_stack::otlp::{
    decode_logs, decode_metrics, decode_traces, error_response, http_status, Encoding, Format,
    DEFAULT_MAX_BODY_BYTES,
};
use prost::Message;

use crate::support::*;

/// The field and message of an `Error::Invalid`.
fn invalid(error: Error) -> (String, String) {
    match error {
        Error::Invalid { field, message } => (field, message),
        other => panic!("not an invalid-field error: {other:?}"),
    }
}

fn a_request() -> Vec<u8> {
    let spec = SpanSpec {
        trace: 1,
        id: 1,
        parent: None,
        name: "GET /",
        start: at("2026-03-01T10:00:00Z"),
        duration_ms: 5,
        error: false,
    };
    traces(vec![(Some("api"), vec![span(&spec)])]).encode_to_vec()
}

#[test]
fn unsupported_content_types_and_encodings_are_refused_with_415() {
    for (content_type, encoding, field) in [
        (None, None, "Content-Type"),
        (Some("text/plain"), None, "Content-Type"),
        (Some("application/grpc"), None, "Content-Type"),
        (
            Some("application/x-protobuf"),
            Some("deflate"),
            "Content-Encoding",
        ),
        (Some("application/json"), Some("zstd"), "Content-Encoding"),
    ] {
        let error = Format::from_headers(content_type, encoding).unwrap_err();
        assert_eq!(http_status(&error), 415);
        let (f, message) = invalid(error);
        assert_eq!(f, field);
        assert!(
            message.contains("not supported") || message.contains("missing"),
            "{message}"
        );
    }
}

#[test]
fn truncated_protobuf_and_invalid_json_are_bad_data() {
    let whole = a_request();
    let truncated = &whole[..whole.len() - 3];
    let error = decode_traces(truncated, PROTOBUF, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(http_status(&error), 400);
    let (field, message) = invalid(error);
    assert_eq!(field, "body");
    assert!(
        message.contains("not a valid OTLP protobuf message"),
        "{message}"
    );

    // JSON sent as protobuf, and protobuf sent as JSON.
    let error =
        decode_logs(br#"{"resourceLogs": []}"#, PROTOBUF, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(http_status(&error), 400);
    let error = decode_traces(&whole, JSON, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert!(invalid(error).1.contains("not a valid OTLP JSON message"));

    for body in [
        &br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "#[..],
        br#"{"resourceSpans": {"not": "a list"}}"#,
        br#"[1, 2, 3]"#,
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "not hex!", "spanId": "00"}]}]}]}"#,
        b"",
    ] {
        let error = decode_traces(body, JSON, DEFAULT_MAX_BODY_BYTES).unwrap_err();
        assert_eq!(http_status(&error), 400, "{}", String::from_utf8_lossy(body));
        let (field, message) = invalid(error);
        assert_eq!(field, "body");
        assert!(message.contains("not a valid OTLP JSON message"), "{message}");
    }
    // A metrics body that is JSON but not protobuf-JSON of the right message.
    let error =
        decode_metrics(br#"{"resourceMetrics": "x"}"#, JSON, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(http_status(&error), 400);
    // The error's text is what the client is told.
    let reply = error_response(Encoding::Json, &error.to_string());
    assert!(String::from_utf8(reply).unwrap().contains("invalid body"));
}

#[test]
fn a_body_that_is_not_gzip_is_bad_data() {
    let error = decode_traces(&a_request(), PROTOBUF_GZIP, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(http_status(&error), 400);
    assert!(invalid(error).1.contains("not valid gzip"));
    let whole = gzip(&a_request());
    let error = decode_traces(
        &whole[..whole.len() / 2],
        PROTOBUF_GZIP,
        DEFAULT_MAX_BODY_BYTES,
    )
    .unwrap_err();
    assert_eq!(http_status(&error), 400);
}

#[test]
fn a_gzip_bomb_is_refused_not_inflated() {
    // 100 MB of zeros compress to about 100 kB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let started = std::time::Instant::now();
    let error = decode_traces(&bomb, PROTOBUF_GZIP, DEFAULT_MAX_BODY_BYTES).unwrap_err();
    assert_eq!(http_status(&error), 413);
    let (field, message) = invalid(error);
    assert_eq!(field, "body size");
    assert!(
        message.contains(&DEFAULT_MAX_BODY_BYTES.to_string()),
        "{message}"
    );
    // It stopped at the limit rather than inflating the 100 MB (a generous bound: debug build).
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // The same limit holds for a body sent uncompressed, and a small limit for a small body.
    let error = decode_traces(&zeros, PROTOBUF, 1_000).unwrap_err();
    assert_eq!(http_status(&error), 413);
    let request = a_request();
    assert!(decode_traces(&gzip(&request), PROTOBUF_GZIP, request.len()).is_ok());
    let error = decode_traces(&gzip(&request), PROTOBUF_GZIP, request.len() - 1).unwrap_err();
    assert_eq!(http_status(&error), 413);
}
