//! OTLP/HTTP ingest: `POST /v1/traces`, `/v1/logs`, `/v1/metrics`, where OpenTelemetry
//! SDKs and collectors export (protobuf or JSON, gzip or none). What arrives lands in the
//! server's in-memory OTLP store, which the agents, charts and verification read. Needs an
//! ingest (or operator, or admin) token; 404 unless an `otlp` source is configured.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use itops_stack::otlp::{
    decode_logs, decode_metrics, decode_traces, error_response, export_response, http_status,
    Encoding, Format, Signal, DEFAULT_MAX_BODY_BYTES,
};
use itops_stack::OtlpStore;

use crate::app::auth::Ingester;
use crate::app::AppState;

/// The largest request body accepted before decompression.
pub(crate) const MAX_COMPRESSED_BYTES: usize = 16 << 20;

/// `POST /v1/traces`.
pub(crate) async fn traces(
    State(state): State<AppState>,
    who: Ingester,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ingest(state, who, Signal::Traces, &headers, body).await
}

/// `POST /v1/logs`.
pub(crate) async fn logs(
    State(state): State<AppState>,
    who: Ingester,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ingest(state, who, Signal::Logs, &headers, body).await
}

/// `POST /v1/metrics`.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    who: Ingester,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ingest(state, who, Signal::Metrics, &headers, body).await
}

/// An answer in `encoding` (OTLP answers in the request's encoding).
fn answer(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

async fn ingest(
    state: AppState,
    Ingester(who): Ingester,
    signal: Signal,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let header_text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header_text(header::CONTENT_TYPE);
    // A failure's answer goes in the request's encoding when it can be told, else JSON.
    let wants_protobuf = content_type
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().contains("protobuf"));
    let fallback = if wants_protobuf {
        Encoding::Protobuf
    } else {
        Encoding::Json
    };
    let Some(store) = state.otlp.clone() else {
        return answer(
            StatusCode::NOT_FOUND,
            fallback,
            error_response(
                fallback,
                "OTLP ingest is not enabled on this server: add [[telemetry.sources]] with \
                 kind = \"otlp\"",
            ),
        );
    };
    let format = match Format::from_headers(
        content_type.as_deref(),
        header_text(header::CONTENT_ENCODING).as_deref(),
    ) {
        Ok(format) => format,
        Err(error) => {
            let status =
                StatusCode::from_u16(http_status(&error)).unwrap_or(StatusCode::BAD_REQUEST);
            return answer(
                status,
                fallback,
                error_response(fallback, &error.to_string()),
            );
        }
    };
    // Decoding and storing are CPU work (and a store may prune): off the async workers.
    let outcome =
        tokio::task::spawn_blocking(move || decode_and_store(&store, signal, format, &body)).await;
    let (rejected, message) = match outcome {
        Ok(Ok(counts)) => counts,
        Ok(Err(error)) => {
            let status =
                StatusCode::from_u16(http_status(&error)).unwrap_or(StatusCode::BAD_REQUEST);
            tracing::info!(sender = %who.name, %error, "an OTLP export was refused");
            return answer(
                status,
                format.encoding,
                error_response(format.encoding, &error.to_string()),
            );
        }
        Err(error) => {
            tracing::error!(%error, "OTLP ingest failed");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                format.encoding,
                error_response(format.encoding, "ingest failed; retry"),
            );
        }
    };
    answer(
        StatusCode::OK,
        format.encoding,
        export_response(signal, format.encoding, rejected, message.as_deref()),
    )
}

/// Decodes `body` and adds what it holds to `store`; the rejected count and why.
fn decode_and_store(
    store: &Arc<OtlpStore>,
    signal: Signal,
    format: Format,
    body: &[u8],
) -> itops_core::Result<(u64, Option<String>)> {
    Ok(match signal {
        Signal::Traces => {
            let decoded = decode_traces(body, format, DEFAULT_MAX_BODY_BYTES)?;
            store.ingest_spans(decoded.items);
            (decoded.rejected, decoded.message)
        }
        Signal::Logs => {
            let decoded = decode_logs(body, format, DEFAULT_MAX_BODY_BYTES)?;
            store.ingest_logs(decoded.items);
            (decoded.rejected, decoded.message)
        }
        Signal::Metrics => {
            let decoded = decode_metrics(body, format, DEFAULT_MAX_BODY_BYTES)?;
            store.ingest_metrics(decoded.items);
            (decoded.rejected, decoded.message)
        }
    })
}
