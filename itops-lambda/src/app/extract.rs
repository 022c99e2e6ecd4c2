//! Request extractors whose rejections are API errors (JSON, naming what is wrong) instead
//! of axum's plain-text ones.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use itops_core::IncidentId;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            // "Failed to deserialize the JSON body into the target type: title: missing field ..."
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, d)| d)
                .to_string();
            let field = detail
                .split_once(": ")
                .map(|(f, _)| f.to_string())
                .filter(|f| !f.contains(' '))
                .unwrap_or_else(|| "body".to_string());
            ApiError::invalid(field, detail)
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
        ),
        _ if rejection_is_too_large(&text) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large",
        ),
        _ => {
            // A value of the wrong type inside valid JSON (e.g. `"severity": 5`) is reported
            // with the path of the field it sits in: that is the field to fix.
            let detail = text
                .split_once("as JSON: ")
                .map_or(text.as_str(), |(_, d)| d);
            match detail.split_once(": ") {
                Some((field, _)) if !field.is_empty() && !field.contains(' ') => {
                    ApiError::invalid(field, detail.to_string())
                }
                _ => ApiError::bad_request(format!("the body is not valid JSON: {text}")),
            }
        }
    }
}

fn rejection_is_too_large(text: &str) -> bool {
    text.contains("length limit") || text.contains("too large")
}

/// A query string.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::invalid("query", rejection.body_text())
}

/// Path parameters (a rejection is a JSON 400, not axum's plain text).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

/// A segment that does not decode (say, `%FF`, not UTF-8) is the client's mistake; a route
/// without the parameter is the server's.
fn path_rejection(rejection: PathRejection) -> ApiError {
    let status = rejection.status();
    let text = rejection.body_text();
    if status.is_server_error() {
        tracing::error!(%text, "path parameters");
        return ApiError::new(
            status,
            "internal",
            "the server failed to complete the request; see its logs",
        );
    }
    ApiError::new(status, "bad_request", text)
}

/// An incident id from the path; an id that is not a UUID names no incident (404).
pub(crate) fn incident_id(raw: &str) -> Result<IncidentId, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::not_found(format!("no incident '{}'", itops_core::text::clip(raw, 80)))
    })
}

/// An approval id from the path.
pub(crate) fn approval_id(raw: &str) -> Result<itops_core::ApprovalId, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::not_found(format!("no approval '{}'", itops_core::text::clip(raw, 80)))
    })
}

/// Parses an optional query value, naming the field when it is wrong.
pub(crate) fn parse_opt<T>(field: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| ApiError::invalid(field, format!("{field}: {e}")))
        })
        .transpose()
}
