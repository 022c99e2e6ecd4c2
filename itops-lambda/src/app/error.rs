//! API errors: one JSON shape, `{"error": {"code", "message", "field"?}}`, and a status that
//! tells the client what to do. Client mistakes are 4xx; only the server's own failures are 5xx.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered by the API.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`not_found`, `invalid`, `conflict`, ...).
    pub code: &'static str,
    /// What went wrong and how to fix it.
    pub message: String,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 400: the request is malformed.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422 naming a field.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
        e.field = Some(field.into());
        e
    }

    /// 401: no or unknown credentials.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: known, but not allowed.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
}

impl From<itops_core::Error> for ApiError {
    fn from(error: itops_core::Error) -> Self {
        use itops_core::Error as E;
        let message = error.to_string();
        match &error {
            E::Invalid { field, .. } => ApiError::invalid(field.clone(), message),
            E::UnknownVariant { what, .. } => ApiError::invalid(*what, message),
            E::NotFound { .. } => ApiError::not_found(message),
            E::Conflict { .. } | E::AlreadyExists { .. } | E::InvalidTransition { .. } => {
                ApiError::conflict(message)
            }
            E::ApprovalAlreadyDecided { .. } => {
                ApiError::new(StatusCode::CONFLICT, "already_decided", message)
            }
            E::ApprovalExpired { .. } => ApiError::new(StatusCode::CONFLICT, "expired", message),
            E::ApprovalTokenInvalid { .. } => ApiError::forbidden(message),
            E::CircuitOpen { .. } | E::Timeout { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            _ => {
                tracing::error!(%error, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server failed to complete the request; see its logs",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"itops\""),
            );
        }
        response
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = std::result::Result<T, ApiError>;
