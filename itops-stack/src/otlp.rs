//! OTLP/HTTP ingest: the bodies of `POST /v1/traces`, `/v1/logs` and `/v1/metrics`
//! decoded into itops's telemetry types, and [`OtlpStore`], a retention-bounded in-memory
//! store that holds them and serves them as a [`TelemetrySource`](itops_core::TelemetrySource).
//!
//! A server handler reads the headers into a [`Format`] (refusing an unsupported one
//! before reading the body), decodes the body with [`decode_traces`], [`decode_logs`] or
//! [`decode_metrics`], hands the items to the store, and answers with [`export_response`]
//! (or [`error_response`] and [`http_status`] when decoding failed):
//!
//! ```
//! use itops_stack::otlp::{decode_traces, export_response, Format, OtlpStore, OtlpStoreConfig};
//! use itops_stack::otlp::{Signal, DEFAULT_MAX_BODY_BYTES};
//!
//! let store = OtlpStore::new(OtlpStoreConfig::default());
//! let format = Format::from_headers(Some("application/json"), None)?;
//! let body = br#"{"resourceSpans": []}"#;
//! let decoded = decode_traces(body, format, DEFAULT_MAX_BODY_BYTES)?;
//! let reply = export_response(Signal::Traces, format.encoding, decoded.rejected, decoded.message.as_deref());
//! store.ingest_spans(decoded.items);
//! assert_eq!(reply, b"{}");
//! # Ok::<(), itops_core::Error>(())
//! ```
//!
//! The mapping, per signal:
//!
//! - **spans**: ids as lowercase hex (a span without a valid 16-byte trace id or 8-byte
//!   span id is rejected), the service from the resource's `service.name` (else
//!   `unknown_service`), the operation from the span's name, the duration from its start
//!   and end, its status code;
//! - **log records**: the time from `timeUnixNano`, else `observedTimeUnixNano`; the
//!   message from the body (a string as it is, any other value as JSON text); the level
//!   from `severityNumber` (1–8 debug, as itops has no trace level; 9–12 info; 13–16 warn;
//!   17–20 error; 21–24 fatal), else from `severityText`;
//! - **metrics**: see [`decode_metrics`].
//!
//! Every decoder returns what it accepted with a count of what it rejected and why
//! ([`Decoded`]), which is OTLP's partial success.
//!
//! The other way, [`encode_traces`] and [`encode_logs`] turn itops's spans and log records
//! into the protobuf bodies of those requests, for sending them to a collector; the
//! decoders give back what they encode.

use std::collections::BTreeMap;
use std::io::Read;

use itops_core::{Error, Result};

mod common;
mod encode;
mod logs;
mod metrics;
mod response;
mod store;
mod traces;

pub use encode::{encode_logs, encode_traces};
pub use logs::decode_logs;
pub use metrics::decode_metrics;
pub use response::{error_response, export_response, http_status};
pub use store::{OtlpStore, OtlpStoreConfig, OtlpStoreStats};
pub use traces::decode_traces;

/// The largest body decoded, after decompression: 20 MiB, the limit the OTLP
/// specification recommends. A larger one is refused ([`http_status`] 413).
pub const DEFAULT_MAX_BODY_BYTES: usize = 20 << 20;

/// The three OTLP signals itops ingests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `POST /v1/traces`: spans.
    Traces,
    /// `POST /v1/logs`: log records.
    Logs,
    /// `POST /v1/metrics`: metric data points.
    Metrics,
}

impl Signal {
    /// What one item of the signal is called, plural (`spans`, `log records`, `data points`).
    pub fn items(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
        }
    }
}

/// How a body is encoded: OTLP's binary protobuf or its JSON mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

/// How a body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No `Content-Encoding` (or `identity`).
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// A request body's encoding and compression, from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    /// Protobuf or JSON.
    pub encoding: Encoding,
    /// Gzip or none.
    pub compression: Compression,
}

impl Format {
    /// The format a request's `Content-Type` and `Content-Encoding` headers name
    /// (parameters such as `; charset=utf-8` and letter case are ignored). Anything but
    /// `application/x-protobuf` or `application/json`, and an encoding other than `gzip`
    /// or none, is an [`Error::Invalid`] for the field `Content-Type` or
    /// `Content-Encoding` ([`http_status`] 415).
    pub fn from_headers(
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Result<Self> {
        let media = content_type
            .and_then(|value| value.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let encoding = match media.as_str() {
            "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
            "application/json" => Encoding::Json,
            "" => {
                return Err(Error::invalid(
                    "Content-Type",
                    "missing; OTLP/HTTP accepts application/x-protobuf or application/json",
                ))
            }
            other => {
                return Err(Error::invalid(
                    "Content-Type",
                    format!(
                        "'{other}' is not supported; OTLP/HTTP accepts application/x-protobuf or application/json"
                    ),
                ))
            }
        };
        let compression = match content_encoding.map(|value| value.trim().to_ascii_lowercase()) {
            None => Compression::None,
            Some(value) if value.is_empty() || value == "identity" => Compression::None,
            Some(value) if value == "gzip" || value == "x-gzip" => Compression::Gzip,
            Some(other) => {
                return Err(Error::invalid(
                    "Content-Encoding",
                    format!("'{other}' is not supported; send gzip or no compression"),
                ))
            }
        };
        Ok(Self {
            encoding,
            compression,
        })
    }

    /// The `Content-Type` of this encoding, for the response (OTLP answers in the
    /// request's encoding).
    pub fn content_type(&self) -> &'static str {
        self.encoding.content_type()
    }
}

impl Encoding {
    /// The `Content-Type` of a body in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// What a decoder made of one request: the items it accepted, and how many it rejected
/// and why (OTLP's partial success).
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<T> {
    /// The decoded items, ready for the store. For metrics, the merged series.
    pub items: Vec<T>,
    /// Spans, log records or data points accepted.
    pub accepted: u64,
    /// Spans, log records or data points rejected (`rejected_spans`,
    /// `rejected_log_records`, `rejected_data_points` of the response).
    pub rejected: u64,
    /// Why they were rejected, in English, when any were (the response's `error_message`).
    pub message: Option<String>,
}

/// Rejected items counted by reason.
#[derive(Debug, Default)]
pub(crate) struct Rejections {
    reasons: BTreeMap<&'static str, u64>,
}

impl Rejections {
    /// One more item rejected for `reason`.
    pub(crate) fn add(&mut self, reason: &'static str) {
        *self.reasons.entry(reason).or_default() += 1;
    }

    /// `n` more items rejected for `reason`.
    pub(crate) fn add_n(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            *self.reasons.entry(reason).or_default() += n;
        }
    }

    /// The result: `items` with `accepted` counted, and the rejections.
    pub(crate) fn finish<T>(self, signal: Signal, items: Vec<T>, accepted: u64) -> Decoded<T> {
        let rejected: u64 = self.reasons.values().sum();
        let message = (rejected > 0).then(|| {
            let why: Vec<String> = self
                .reasons
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            format!("{rejected} {} rejected: {}", signal.items(), why.join("; "))
        });
        Decoded {
            items,
            accepted,
            rejected,
            message,
        }
    }
}

/// The body decompressed (at most `max_bytes`), then decoded as the message `M`.
pub(crate) fn decode_message<M>(body: &[u8], format: Format, max_bytes: usize) -> Result<M>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
{
    let inflated;
    let bytes = match format.compression {
        Compression::None => {
            if body.len() > max_bytes {
                return Err(too_large(max_bytes));
            }
            body
        }
        Compression::Gzip => {
            inflated = gunzip(body, max_bytes)?;
            inflated.as_slice()
        }
    };
    match format.encoding {
        Encoding::Protobuf => M::decode(bytes)
            .map_err(|e| Error::invalid("body", format!("not a valid OTLP protobuf message: {e}"))),
        Encoding::Json => serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid("body", format!("not a valid OTLP JSON message: {e}"))),
    }
}

fn too_large(max_bytes: usize) -> Error {
    Error::invalid(
        "body size",
        format!("the body is larger than {max_bytes} bytes (after decompression)"),
    )
}

/// `body` gunzipped, refusing to inflate more than `max_bytes`: a gzip bomb stops there.
fn gunzip(body: &[u8], max_bytes: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_bytes));
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    flate2::read::MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Error::invalid("body", format!("not valid gzip: {e}")))?;
    if out.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_the_format() {
        let format = Format::from_headers(Some("Application/JSON; charset=utf-8"), Some("GZIP"));
        assert_eq!(
            format.unwrap(),
            Format {
                encoding: Encoding::Json,
                compression: Compression::Gzip
            }
        );
        let format = Format::from_headers(Some("application/x-protobuf"), Some("identity"));
        assert_eq!(format.unwrap().content_type(), "application/x-protobuf");
        for (content_type, encoding, field) in [
            (None, None, "Content-Type"),
            (Some("text/plain"), None, "Content-Type"),
            (Some("application/json"), Some("br"), "Content-Encoding"),
        ] {
            match Format::from_headers(content_type, encoding) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{content_type:?} {encoding:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rejections_say_how_many_and_why() {
        let mut rejections = Rejections::default();
        rejections.add("without a trace id");
        rejections.add_n("without a trace id", 2);
        rejections.add("ending before they start");
        let decoded = rejections.finish(Signal::Traces, vec![1], 5);
        assert_eq!(decoded.rejected, 4);
        assert_eq!(
            decoded.message.as_deref(),
            Some("4 spans rejected: 1 ending before they start; 3 without a trace id")
        );
        let clean = Rejections::default().finish::<u8>(Signal::Logs, vec![], 0);
        assert_eq!((clean.rejected, clean.message), (0, None));
    }
}
