//! A trace as Tempo returns it: OTLP JSON (`batches` or `resourceSpans`, perhaps inside
//! `trace`), its ids in base64 or hex, its times and status codes as numbers or strings.

use chrono::DateTime;
use itops_core::telemetry::{Span, SpanStatus};
use serde::Deserialize;

/// The answer of `GET /api/traces/{id}` (v1: `batches`; v2 and OTLP: `resourceSpans`,
/// v2 inside `trace`).
#[derive(Deserialize)]
pub(super) struct Trace {
    #[serde(default)]
    batches: Vec<ResourceSpans>,
    #[serde(default, rename = "resourceSpans")]
    resource_spans: Vec<ResourceSpans>,
    #[serde(default)]
    trace: Option<Box<Trace>>,
}

#[derive(Deserialize)]
struct ResourceSpans {
    #[serde(default)]
    resource: Option<Resource>,
    #[serde(default, rename = "scopeSpans")]
    scope_spans: Vec<ScopeSpans>,
    #[serde(default, rename = "instrumentationLibrarySpans")]
    library_spans: Vec<ScopeSpans>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    attributes: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: Option<AnyValue>,
}

#[derive(Deserialize)]
struct AnyValue {
    #[serde(default, rename = "stringValue")]
    string_value: Option<String>,
}

#[derive(Deserialize)]
struct ScopeSpans {
    #[serde(default)]
    spans: Vec<OtlpSpan>,
}

#[derive(Deserialize)]
struct OtlpSpan {
    #[serde(rename = "traceId")]
    trace_id: String,
    #[serde(rename = "spanId")]
    span_id: String,
    #[serde(default, rename = "parentSpanId")]
    parent_span_id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(rename = "startTimeUnixNano")]
    start: Number,
    #[serde(rename = "endTimeUnixNano")]
    end: Number,
    #[serde(default)]
    status: Option<Status>,
}

/// A 64-bit number, written as a JSON number or (proto3 JSON) a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(u64),
    Text(String),
}

impl Number {
    fn value(&self, what: &str) -> Result<u64, String> {
        match self {
            Number::Int(n) => Ok(*n),
            Number::Text(t) => t
                .parse()
                .map_err(|_| format!("{what} '{t}' is not a number of nanoseconds")),
        }
    }
}

#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    code: Option<Code>,
}

/// A status code: OTLP's number (0 unset, 1 ok, 2 error) or its name.
#[derive(Deserialize)]
#[serde(untagged)]
enum Code {
    Int(i64),
    Text(String),
}

fn status(status: Option<&Status>) -> SpanStatus {
    match status.and_then(|s| s.code.as_ref()) {
        Some(Code::Int(2)) => SpanStatus::Error,
        Some(Code::Int(1)) => SpanStatus::Ok,
        Some(Code::Text(t)) => {
            let word = t.to_ascii_uppercase();
            match word.strip_prefix("STATUS_CODE_").unwrap_or(&word) {
                "ERROR" | "2" => SpanStatus::Error,
                "OK" | "1" => SpanStatus::Ok,
                _ => SpanStatus::Unset,
            }
        }
        _ => SpanStatus::Unset,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard or URL-safe base64, padded or not.
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// An OTLP id as lower-case hex: hex of 16 or 32 digits is taken as it is, anything else
/// is read as base64 (protobuf's JSON form of bytes, which Tempo writes).
pub(super) fn id(text: &str) -> Result<String, String> {
    let text = text.trim();
    if matches!(text.len(), 16 | 32) && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(text.to_ascii_lowercase());
    }
    match base64(text) {
        Some(bytes) if matches!(bytes.len(), 8 | 16) => Ok(hex(&bytes)),
        _ => Err(format!(
            "'{text}' is neither a hex nor a base64 span or trace id"
        )),
    }
}

impl Trace {
    /// Its spans, in the core's form; `Err` says what could not be read.
    pub(super) fn spans(self) -> Result<Vec<Span>, String> {
        let mut out = Vec::new();
        let mut groups = vec![self];
        while let Some(trace) = groups.pop() {
            if let Some(inner) = trace.trace {
                groups.push(*inner);
            }
            for batch in trace.batches.into_iter().chain(trace.resource_spans) {
                let service = batch
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|kv| kv.key == "service.name")
                    .and_then(|kv| kv.value.as_ref()?.string_value.clone())
                    .unwrap_or_else(|| "unknown".to_string());
                for scope in batch.scope_spans.into_iter().chain(batch.library_spans) {
                    for span in scope.spans {
                        out.push(convert(span, &service)?);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn convert(span: OtlpSpan, service: &str) -> Result<Span, String> {
    let start = span.start.value("startTimeUnixNano")?;
    let end = span.end.value("endTimeUnixNano")?;
    let start_ns = i64::try_from(start).map_err(|_| format!("start {start} is out of range"))?;
    Ok(Span {
        trace_id: id(&span.trace_id)?,
        span_id: id(&span.span_id)?,
        parent_span_id: match span.parent_span_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(parent) => Some(id(parent)?),
        },
        service: service.to_string(),
        operation: span.name,
        start: DateTime::from_timestamp_nanos(start_ns),
        duration_ns: end.saturating_sub(start),
        status: status(span.status.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_hex_or_base64() {
        assert_eq!(
            id("AAAAAAAAAAAAAAAAAAAAAQ==").unwrap(),
            format!("{:032x}", 1)
        );
        assert_eq!(id("EjRWeJCrze8=").unwrap(), "1234567890abcdef");
        assert_eq!(id("1234567890ABCDEF").unwrap(), "1234567890abcdef");
        assert!(id("not an id!").is_err());
        assert!(id("AQID").is_err());
    }

    #[test]
    fn status_codes_are_numbers_or_names() {
        let code = |c: Code| status(Some(&Status { code: Some(c) }));
        assert_eq!(code(Code::Int(2)), SpanStatus::Error);
        assert_eq!(code(Code::Text("STATUS_CODE_OK".into())), SpanStatus::Ok);
        assert_eq!(
            code(Code::Text("STATUS_CODE_UNSET".into())),
            SpanStatus::Unset
        );
        assert_eq!(status(None), SpanStatus::Unset);
    }
}
