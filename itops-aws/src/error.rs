//! The one error type of `itops-aws`: every variant names the AWS resource involved and
//! says what to do about it.

use std::time::Duration;

/// Result alias used throughout `itops-aws`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to AWS.
///
/// The adapters return `itops_core::Error` from the core traits; this error is what they
/// carry inside (as the `source` of `Error::Storage`, or the message of `Error::Model`), and
/// what the crate's own setup functions (config loading, table creation) return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The AWS configuration is unusable (no region, a bad endpoint URL, no HTTP client).
    #[error("AWS configuration: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A DynamoDB table (or one of its indexes) does not exist where the client looked.
    #[error(
        "DynamoDB table '{table}' was not found in region {region}: create it \
         (`DynamoDbTable::create`, or the SAM template), or check the table name and region"
    )]
    TableNotFound {
        /// The table name.
        table: String,
        /// The region the client used.
        region: String,
    },

    /// Another resource the call names does not exist (a log group, a model id).
    #[error("{service} {operation}: {resource} was not found in region {region}: {message}")]
    ResourceNotFound {
        /// The AWS service (`DynamoDB`, `Bedrock`, `CloudWatch Logs`, ...).
        service: &'static str,
        /// The API operation (`Query`, `Converse`, ...).
        operation: &'static str,
        /// What was named (a table, a log group, a model id).
        resource: String,
        /// The region the client used.
        region: String,
        /// What AWS said.
        message: String,
    },

    /// AWS refused the credentials: missing, expired, or invalid.
    #[error(
        "{service} {operation} on {resource}: the AWS credentials were rejected ({code}: {message}); \
         refresh them (e.g. `aws sso login`, or a new session token) or check AWS_PROFILE and the \
         credential environment variables"
    )]
    Credentials {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// What was named.
        resource: String,
        /// AWS's error code, or `none` when no credentials were found at all.
        code: String,
        /// What AWS (or the credential chain) said.
        message: String,
    },

    /// The credentials are valid but not allowed to do this.
    #[error(
        "{service} {operation} on {resource}: access denied ({message}); grant the caller's IAM \
         role permission for this action on this resource (for Bedrock, also enable model access \
         for the model in this region)"
    )]
    AccessDenied {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// What was named.
        resource: String,
        /// What AWS said.
        message: String,
    },

    /// AWS throttled the request; trying again later may succeed.
    #[error(
        "{service} {operation} on {resource} was throttled ({code}); retry with backoff, lower the \
         request rate, or raise the quota (DynamoDB: use on-demand capacity)"
    )]
    Throttled {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// What was named.
        resource: String,
        /// AWS's error code.
        code: String,
    },

    /// A DynamoDB item would exceed DynamoDB's 400 KB item limit.
    #[error(
        "the {entity} '{id}' is too large for one DynamoDB item ({bytes} bytes, limit {limit}) in \
         table '{table}'; shorten it (e.g. truncate tool output or payloads before storing)"
    )]
    ItemTooLarge {
        /// The table.
        table: String,
        /// What was being stored (`incident`, `timeline entry`, ...).
        entity: &'static str,
        /// Its id.
        id: String,
        /// Its encoded size, when known (0 when AWS reported it without a size).
        bytes: usize,
        /// The limit.
        limit: usize,
    },

    /// The endpoint could not be reached (DNS, connection refused, TLS, timeout).
    #[error(
        "could not reach {service} ({operation}) in region {region}: {message}; check the region \
         name, any endpoint_url override, and network access"
    )]
    Unreachable {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// The region the client used.
        region: String,
        /// What failed.
        message: String,
        /// Whether it timed out (rather than failing to connect).
        timed_out: bool,
    },

    /// AWS rejected the request as invalid.
    #[error("{service} {operation} on {resource} was rejected as invalid ({code}): {message}")]
    Invalid {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// What was named.
        resource: String,
        /// AWS's error code.
        code: String,
        /// What AWS said.
        message: String,
    },

    /// Any other failure reported by AWS (including 5xx errors).
    #[error("{service} {operation} on {resource} failed ({code}): {message}")]
    Service {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// What was named.
        resource: String,
        /// AWS's error code (or the HTTP status).
        code: String,
        /// What AWS said.
        message: String,
        /// Whether trying again may succeed (5xx, transient errors).
        retryable: bool,
    },

    /// Something AWS returned could not be understood (a malformed response, a corrupt item).
    #[error("{service} {operation}: could not read {what}: {message}")]
    Malformed {
        /// The AWS service.
        service: &'static str,
        /// The API operation.
        operation: &'static str,
        /// What was being read.
        what: String,
        /// What is wrong with it.
        message: String,
    },

    /// A CloudWatch Logs Insights query did not finish before its deadline.
    #[error(
        "CloudWatch Logs Insights query {query_id} on {log_groups} did not complete within {}s; \
         narrow the time range or the log groups, or raise the query deadline", .after.as_secs()
    )]
    QueryTimeout {
        /// The query id.
        query_id: String,
        /// The log groups queried, comma separated.
        log_groups: String,
        /// The deadline that passed.
        after: Duration,
    },
}

impl Error {
    /// True when the same call may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Throttled { .. } | Error::Unreachable { .. } | Error::QueryTimeout { .. } => {
                true
            }
            Error::Service { retryable, .. } => *retryable,
            _ => false,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }
}

impl From<aws_smithy_types::error::operation::BuildError> for Error {
    fn from(e: aws_smithy_types::error::operation::BuildError) -> Self {
        // Builders fail only when a required field is missing: a bug here, not a user error.
        Error::config(format!("an AWS request could not be built: {e}"))
    }
}

impl From<Error> for itops_core::Error {
    /// Store and telemetry failures surface to core as `Storage` errors carrying this one,
    /// except an oversized item, which is the caller's input to fix (`Invalid`).
    fn from(e: Error) -> Self {
        match e {
            Error::ItemTooLarge { entity, .. } => itops_core::Error::invalid(entity, e.to_string()),
            e => itops_core::Error::storage(e.to_string(), e),
        }
    }
}
