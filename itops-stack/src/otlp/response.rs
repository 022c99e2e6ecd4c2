//! What an OTLP/HTTP server answers: `Export*ServiceResponse` on success (with
//! `partialSuccess` when some items were rejected), a `google.rpc.Status` on failure.

use itops_core::Error;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::{Encoding, Signal};

/// The body of a `200 OK` answer to an export of `signal`, in `encoding` (the request's):
/// an `Export{Trace,Logs,Metrics}ServiceResponse`, its `partialSuccess` set when
/// `rejected > 0` or a `message` is given (as OTLP requires), unset otherwise. Send it
/// with the `Content-Type` of [`Format::content_type`](super::Format::content_type).
pub fn export_response(
    signal: Signal,
    encoding: Encoding,
    rejected: u64,
    message: Option<&str>,
) -> Vec<u8> {
    let partial = rejected > 0 || message.is_some_and(|m| !m.is_empty());
    let rejected_i64 = i64::try_from(rejected).unwrap_or(i64::MAX);
    let error_message = message.unwrap_or_default().to_owned();
    match encoding {
        Encoding::Protobuf => match signal {
            Signal::Traces => ExportTraceServiceResponse {
                partial_success: partial.then_some(ExportTracePartialSuccess {
                    rejected_spans: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
            Signal::Logs => ExportLogsServiceResponse {
                partial_success: partial.then_some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
            Signal::Metrics => ExportMetricsServiceResponse {
                partial_success: partial.then_some(ExportMetricsPartialSuccess {
                    rejected_data_points: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
        },
        Encoding::Json => {
            if !partial {
                return b"{}".to_vec();
            }
            let field = match signal {
                Signal::Traces => "rejectedSpans",
                Signal::Logs => "rejectedLogRecords",
                Signal::Metrics => "rejectedDataPoints",
            };
            // 64-bit integers are strings in OTLP's JSON.
            let mut partial_success = serde_json::Map::new();
            partial_success.insert(field.into(), rejected.to_string().into());
            partial_success.insert("errorMessage".into(), error_message.into());
            serde_json::json!({ "partialSuccess": partial_success })
                .to_string()
                .into_bytes()
        }
    }
}

/// The body of a failed export's answer (4xx/5xx), in `encoding`: a `google.rpc.Status`
/// with `message` (its `code` left out, as OTLP allows).
pub fn error_response(encoding: Encoding, message: &str) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => {
            // google.rpc.Status { string message = 2; }
            let mut out = Vec::with_capacity(message.len() + 8);
            prost::encoding::string::encode(2, &message.to_owned(), &mut out);
            out
        }
        Encoding::Json => serde_json::json!({ "message": message })
            .to_string()
            .into_bytes(),
    }
}

/// The HTTP status for a decoding error: 415 for an unsupported `Content-Type` or
/// `Content-Encoding`, 413 for a body too large (after decompression), 400 for any other
/// invalid body (OTLP's "bad data": the client must not retry), 500 otherwise.
pub fn http_status(error: &Error) -> u16 {
    match error {
        Error::Invalid { field, .. } => match field.as_str() {
            "Content-Type" | "Content-Encoding" => 415,
            "body size" => 413,
            _ => 400,
        },
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_success_leaves_partial_success_unset() {
        assert_eq!(
            export_response(Signal::Traces, Encoding::Json, 0, None),
            b"{}"
        );
        assert!(export_response(Signal::Logs, Encoding::Protobuf, 0, None).is_empty());
    }

    #[test]
    fn partial_success_counts_the_rejected_items() {
        let json = export_response(
            Signal::Metrics,
            Encoding::Json,
            3,
            Some("3 data points rejected"),
        );
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["partialSuccess"]["rejectedDataPoints"], "3");
        assert_eq!(
            value["partialSuccess"]["errorMessage"],
            "3 data points rejected"
        );
        let proto = export_response(Signal::Traces, Encoding::Protobuf, 2, Some("why"));
        let decoded = ExportTraceServiceResponse::decode(proto.as_slice()).unwrap();
        let partial = decoded.partial_success.unwrap();
        assert_eq!(
            (partial.rejected_spans, partial.error_message.as_str()),
            (2, "why")
        );
    }

    #[test]
    fn errors_carry_their_message_and_status() {
        let proto = error_response(Encoding::Protobuf, "bad");
        assert_eq!(proto, [0x12, 3, b'b', b'a', b'd']);
        assert_eq!(
            error_response(Encoding::Json, "bad"),
            br#"{"message":"bad"}"#
        );
        assert_eq!(http_status(&Error::invalid("Content-Type", "x")), 415);
        assert_eq!(http_status(&Error::invalid("body size", "x")), 413);
        assert_eq!(http_status(&Error::invalid("body", "x")), 400);
    }
}
