//! `POST /v1/traces`: an `ExportTraceServiceRequest` into spans.

use itops_core::telemetry::{Span, SpanStatus};
use itops_core::Result;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span as OtlpSpan};

use super::common::{hex_id, instant, service_of};
use super::{decode_message, Decoded, Format, Rejections, Signal};

/// Decodes the body of `POST /v1/traces` (an `ExportTraceServiceRequest`, in `format`,
/// at most `max_bytes` once decompressed) into spans.
///
/// A span is rejected (and counted in [`Decoded::rejected`], with the reason in
/// [`Decoded::message`]) when its trace id is not 16 bytes or all zero, its span id not
/// 8 bytes or all zero, its parent span id neither empty nor 8 bytes, its start time
/// unset or past 2262, or its end before its start. An all-zero parent id is a root.
///
/// Errors ([`itops_core::Error::Invalid`]): a body that is not an OTLP message in that
/// encoding (`body`), not valid gzip (`body`), or too large (`body size`).
pub fn decode_traces(body: &[u8], format: Format, max_bytes: usize) -> Result<Decoded<Span>> {
    let request: ExportTraceServiceRequest = decode_message(body, format, max_bytes)?;
    Ok(spans_of(request))
}

/// The spans of a decoded request.
pub(crate) fn spans_of(request: ExportTraceServiceRequest) -> Decoded<Span> {
    let mut rejections = Rejections::default();
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service = service_of(resource_spans.resource.as_ref());
        for scope_spans in resource_spans.scope_spans {
            spans.reserve(scope_spans.spans.len());
            for span in scope_spans.spans {
                match to_span(span, &service) {
                    Ok(span) => spans.push(span),
                    Err(reason) => rejections.add(reason),
                }
            }
        }
    }
    let accepted = spans.len() as u64;
    rejections.finish(Signal::Traces, spans, accepted)
}

/// One span, or why it is rejected.
fn to_span(span: OtlpSpan, service: &str) -> Result<Span, &'static str> {
    let trace_id =
        hex_id(&span.trace_id, 16).ok_or("without a valid trace id (16 bytes, not all zero)")?;
    let span_id =
        hex_id(&span.span_id, 8).ok_or("without a valid span id (8 bytes, not all zero)")?;
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 => hex_id(&span.parent_span_id, 8),
        _ => return Err("with a parent span id that is not 8 bytes"),
    };
    let start = instant(span.start_time_unix_nano).ok_or("without a valid start time")?;
    let duration_ns = span
        .end_time_unix_nano
        .checked_sub(span.start_time_unix_nano)
        .ok_or("ending before they start")?;
    let status = match span.status.map(|s| StatusCode::try_from(s.code)) {
        Some(Ok(StatusCode::Ok)) => SpanStatus::Ok,
        Some(Ok(StatusCode::Error)) => SpanStatus::Error,
        _ => SpanStatus::Unset,
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        service: service.to_owned(),
        operation: span.name,
        start,
        duration_ns,
        status,
    })
}
