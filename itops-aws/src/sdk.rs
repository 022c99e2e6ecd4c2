//! Turning any AWS SDK error into this crate's [`Error`], the same way for every service.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::Error;

/// What a failed call was doing, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    /// `DynamoDB`, `Bedrock`, `CloudWatch`, `CloudWatch Logs`.
    pub(crate) service: &'static str,
    /// The API operation.
    pub(crate) operation: &'static str,
    /// The resource it names (table, model id, log group, namespace).
    pub(crate) resource: &'a str,
    /// The client's region.
    pub(crate) region: &'a str,
}

/// Error codes that mean "slow down": retryable.
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "LimitExceededException",
    "ServiceQuotaExceededException",
    "SlowDown",
];

/// Error codes that mean the credentials are missing, expired or invalid.
const CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "AuthFailure",
    "RequestExpired",
];

/// Error codes that mean the caller is not allowed.
const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "NotAuthorized",
];

/// Error codes of transient service-side failures: retryable.
const TRANSIENT: &[&str] = &[
    "InternalServerError",
    "InternalServerException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServiceException",
    "ModelNotReadyException",
    "ModelTimeoutException",
    "ModelErrorException",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionInProgressException",
];

/// Error codes of requests that are wrong as sent.
const INVALID: &[&str] = &[
    "ValidationException",
    "ValidationError",
    "InvalidParameterException",
    "InvalidParameterValue",
    "InvalidParameterValueException",
    "InvalidParameterCombination",
    "MissingParameter",
    "MissingRequiredParameterException",
    "SerializationException",
    "MalformedQueryException",
    "InvalidSequenceTokenException",
];

/// Converts an SDK error into [`Error`], classifying it by error code, HTTP status and kind.
pub(crate) fn classify<E>(call: Call<'_>, err: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify_known(call, err, None)
}

/// [`classify`], with the error code the caller read from the typed error variant, for
/// errors whose metadata carries none (e.g. errors built by hand in tests).
pub(crate) fn classify_known<E>(call: Call<'_>, err: SdkError<E>, known_code: Option<&str>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let region = call.region.to_string();
    let resource = call.resource.to_string();
    match &err {
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = err.code().or(known_code).map(str::to_string);
            let message = err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| chain(&err));
            // A success status whose body could not be read is an unreadable response.
            if code.is_none() && status.is_some_and(|s| s < 300) {
                return Error::Service {
                    service: call.service,
                    operation: call.operation,
                    resource,
                    code: "unreadable response".to_string(),
                    message,
                    retryable: true,
                };
            }
            classify_code(call, code.as_deref(), status, message)
        }
        SdkError::TimeoutError(_) => Error::Unreachable {
            service: call.service,
            operation: call.operation,
            region,
            message: format!("the request timed out ({})", chain(&err)),
            timed_out: true,
        },
        // A response that does not parse is usually a cut connection or a proxy's error page:
        // worth another try.
        SdkError::ResponseError(_) => Error::Service {
            service: call.service,
            operation: call.operation,
            resource,
            code: "unreadable response".to_string(),
            message: chain(&err),
            retryable: true,
        },
        // Construction and dispatch failures: no (usable) response. Missing credentials
        // surface here too, from the credential chain.
        _ => {
            let message = chain(&err);
            let lower = message.to_ascii_lowercase();
            if lower.contains("credential") || lower.contains("identity") {
                Error::Credentials {
                    service: call.service,
                    operation: call.operation,
                    resource,
                    code: "none".to_string(),
                    message,
                }
            } else if lower.contains("region") && !lower.contains("connect") {
                Error::config(format!(
                    "{} {} on {resource}: {message}; set AWS_REGION (or the profile's region, or \
                     the adapter's region setting)",
                    call.service, call.operation
                ))
            } else {
                let timed_out = matches!(&err, SdkError::DispatchFailure(d) if d.is_timeout());
                Error::Unreachable {
                    service: call.service,
                    operation: call.operation,
                    region,
                    message,
                    timed_out,
                }
            }
        }
    }
}

/// An error and its sources, each as its own message, joined with `: ` (without the
/// debug dumps the SDK's own formatter adds).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

/// Classifies a service error response by its code and HTTP status.
pub(crate) fn classify_code(
    call: Call<'_>,
    code: Option<&str>,
    status: Option<u16>,
    message: String,
) -> Error {
    let service = call.service;
    let operation = call.operation;
    let resource = call.resource.to_string();
    let code_text = code
        .map(str::to_string)
        .or_else(|| status.map(|s| format!("HTTP {s}")))
        .unwrap_or_else(|| "unknown".to_string());
    let is = |list: &[&str]| code.is_some_and(|c| list.contains(&c));
    if is(THROTTLING) || status == Some(429) {
        Error::Throttled {
            service,
            operation,
            resource,
            code: code_text,
        }
    } else if is(CREDENTIALS) {
        Error::Credentials {
            service,
            operation,
            resource,
            code: code_text,
            message,
        }
    } else if is(ACCESS_DENIED) || status == Some(403) {
        Error::AccessDenied {
            service,
            operation,
            resource,
            message,
        }
    } else if code == Some("ResourceNotFoundException") || code == Some("ResourceNotFound") {
        Error::ResourceNotFound {
            service,
            operation,
            resource,
            region: call.region.to_string(),
            message,
        }
    } else if is(INVALID) || status == Some(400) {
        Error::Invalid {
            service,
            operation,
            resource,
            code: code_text,
            message,
        }
    } else {
        let retryable = is(TRANSIENT) || status.is_some_and(|s| s >= 500);
        Error::Service {
            service,
            operation,
            resource,
            code: code_text,
            message,
            retryable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call<'static> {
        Call {
            service: "DynamoDB",
            operation: "PutItem",
            resource: "table itops",
            region: "eu-west-1",
        }
    }

    #[test]
    fn codes_map_to_kinds() {
        let c = |code: &str, status: u16| {
            classify_code(call(), Some(code), Some(status), "msg".to_string())
        };
        assert!(matches!(
            c("ProvisionedThroughputExceededException", 400),
            Error::Throttled { .. }
        ));
        assert!(matches!(
            c("ExpiredTokenException", 400),
            Error::Credentials { .. }
        ));
        assert!(matches!(
            c("AccessDeniedException", 400),
            Error::AccessDenied { .. }
        ));
        assert!(matches!(
            c("ResourceNotFoundException", 400),
            Error::ResourceNotFound { .. }
        ));
        assert!(matches!(
            c("ValidationException", 400),
            Error::Invalid { .. }
        ));
        assert!(matches!(
            c("InternalServerError", 500),
            Error::Service {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            c("SomethingNew", 418),
            Error::Service {
                retryable: false,
                ..
            }
        ));
        assert!(matches!(
            classify_code(call(), None, Some(503), String::new()),
            Error::Service {
                retryable: true,
                ..
            }
        ));
    }

    #[test]
    fn messages_name_the_resource_and_the_fix() {
        let e = classify_code(
            call(),
            Some("ExpiredTokenException"),
            Some(400),
            "The security token included in the request is expired".to_string(),
        );
        let text = e.to_string();
        assert!(text.contains("table itops"), "{text}");
        assert!(text.contains("refresh them"), "{text}");
        let e = classify_code(
            call(),
            Some("ThrottlingException"),
            Some(400),
            String::new(),
        );
        assert!(e.is_retryable());
        assert!(e.to_string().contains("retry with backoff"));
    }
}
