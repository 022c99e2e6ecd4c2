//! What the trace sources (Tempo, Jaeger) share: checking a trace id before it goes into a
//! URL, and applying a span query's filters, order and limit to the spans read.

use itops_core::telemetry::{Span, SpanQuery, SpanStatus};
use itops_core::{Error, Result};

/// A trace id as a URL path segment: hex only, 1 to 32 digits, lower-cased.
pub(crate) fn checked_trace_id(id: &str) -> Result<String> {
    let id = id.trim();
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid(
            "trace_id",
            format!("'{id}' is not a trace id (1 to 32 hex digits)"),
        ));
    }
    Ok(id.to_ascii_lowercase())
}

/// The spans that pass `query` (range by start, service, errors only), by start time, at
/// most `query.limit`; each span once.
pub(crate) fn finish(mut spans: Vec<Span>, query: &SpanQuery) -> Vec<Span> {
    spans.retain(|s| {
        query.range.contains(s.start)
            && query.service.as_ref().is_none_or(|want| *want == s.service)
            && (!query.errors_only || s.status == SpanStatus::Error)
    });
    spans.sort_by(|a, b| {
        (a.start, &a.trace_id, &a.span_id).cmp(&(b.start, &b.trace_id, &b.span_id))
    });
    spans.dedup_by(|a, b| a.trace_id == b.trace_id && a.span_id == b.span_id);
    spans.truncate(query.limit);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_must_be_hex() {
        assert_eq!(checked_trace_id("00AB").unwrap(), "00ab");
        assert!(checked_trace_id("../api/services").is_err());
        assert!(checked_trace_id("").is_err());
    }
}
