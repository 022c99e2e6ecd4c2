//! Building OTLP requests with `opentelemetry-proto`'s types, encoding them with prost,
//! and gzip.

use std::io::Write;

use chrono::{DateTime, Utc};
use itops_stack::otlp::{Compression, Encoding, Format};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};

pub const PROTOBUF: Format = Format {
    encoding: Encoding::Protobuf,
    compression: Compression::None,
};
pub const PROTOBUF_GZIP: Format = Format {
    encoding: Encoding::Protobuf,
    compression: Compression::Gzip,
};
pub const JSON: Format = Format {
    encoding: Encoding::Json,
    compression: Compression::None,
};
pub const JSON_GZIP: Format = Format {
    encoding: Encoding::Json,
    compression: Compression::Gzip,
};

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// A resource naming `service` (none when `None`).
pub fn resource(service: Option<&str>) -> Option<Resource> {
    Some(Resource {
        attributes: service
            .map(|s| vec![string("service.name", s), string("host.name", "node-1")])
            .unwrap_or_default(),
        ..Default::default()
    })
}

pub fn nanos(at: DateTime<Utc>) -> u64 {
    at.timestamp_nanos_opt().unwrap() as u64
}

/// A 16-byte trace id from a number.
pub fn trace_id(n: u64) -> Vec<u8> {
    let mut id = vec![0xab; 8];
    id.extend_from_slice(&n.to_be_bytes());
    id
}

/// An 8-byte span id from a number.
pub fn span_id(n: u64) -> Vec<u8> {
    (n | 1 << 63).to_be_bytes().to_vec()
}

pub struct SpanSpec {
    pub trace: u64,
    pub id: u64,
    pub parent: Option<u64>,
    pub name: &'static str,
    pub start: DateTime<Utc>,
    pub duration_ms: u64,
    pub error: bool,
}

pub fn span(spec: &SpanSpec) -> Span {
    let start = nanos(spec.start);
    Span {
        trace_id: trace_id(spec.trace),
        span_id: span_id(spec.id),
        parent_span_id: spec.parent.map(span_id).unwrap_or_default(),
        name: spec.name.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + spec.duration_ms * 1_000_000,
        status: Some(Status {
            code: if spec.error {
                StatusCode::Error as i32
            } else {
                StatusCode::Ok as i32
            },
            message: String::new(),
        }),
        attributes: vec![string("http.route", "/cart")],
        ..Default::default()
    }
}

/// A request holding `spans` per service.
pub fn traces(by_service: Vec<(Option<&str>, Vec<Span>)>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .map(|(service, spans)| ResourceSpans {
                resource: resource(service),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().unwrap()
}
