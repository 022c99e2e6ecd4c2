//! The one error type of `itops-core`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Result alias used throughout `itops-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed source error carried by storage and I/O failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `itops-core`; every variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field failed validation.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The offending field, as named in the API (`title`, `urgency`, ...).
        field: String,
        /// What is wrong and what is accepted instead.
        message: String,
    },

    /// A word that must be one of a fixed set was something else.
    #[error("unknown {what} '{value}'; expected one of: {expected}")]
    UnknownVariant {
        /// What kind of value was parsed (`severity`, `status`, ...).
        what: &'static str,
        /// The value that was given.
        value: String,
        /// The accepted values, comma separated.
        expected: String,
    },

    /// The workflow does not allow this transition.
    #[error("workflow transition from '{from}' to '{to}' is not allowed{}", reason_suffix(.reason))]
    InvalidTransition {
        /// The state the incident is in.
        from: String,
        /// The state that was asked for.
        to: String,
        /// Why, when the workflow can say more.
        reason: Option<String>,
    },

    /// Optimistic concurrency: someone else updated the record first.
    #[error("{entity} '{id}' was modified concurrently: expected version {expected}, found {actual}; re-read it and retry")]
    Conflict {
        /// The kind of record (`incident`, `checkpoint`, ...).
        entity: &'static str,
        /// Its id.
        id: String,
        /// The version the caller had.
        expected: u64,
        /// The version in the store.
        actual: u64,
    },

    /// No record with this id.
    #[error("{entity} '{id}' not found")]
    NotFound {
        /// The kind of record.
        entity: &'static str,
        /// The id that was looked up.
        id: String,
    },

    /// A record with this id exists already.
    #[error("{entity} '{id}' already exists")]
    AlreadyExists {
        /// The kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
    },

    /// The approval was decided before; a decision is final.
    #[error("approval '{id}' was already decided ({status}); a decision cannot be changed")]
    ApprovalAlreadyDecided {
        /// The approval id.
        id: String,
        /// Its current status.
        status: String,
    },

    /// The approval expired before a decision arrived.
    #[error("approval '{id}' expired at {expired_at}; request a new one")]
    ApprovalExpired {
        /// The approval id.
        id: String,
        /// When it expired.
        expired_at: DateTime<Utc>,
    },

    /// The one-time token does not match the approval.
    #[error("the approval token for '{id}' is not valid")]
    ApprovalTokenInvalid {
        /// The approval id.
        id: String,
    },

    /// A circuit breaker is open and refuses calls for now.
    #[error("circuit '{name}' is open after repeated failures; retry in {}s", .retry_after.as_secs())]
    CircuitOpen {
        /// The breaker's name (usually the model or tool it guards).
        name: String,
        /// How long until a probe call is allowed.
        retry_after: Duration,
    },

    /// An operation took longer than its bound.
    #[error("{what} timed out after {}ms", .after.as_millis())]
    Timeout {
        /// What was running.
        what: String,
        /// The bound that was hit.
        after: Duration,
    },

    /// The language model failed.
    #[error("model '{model}' failed: {message}")]
    Model {
        /// The model's name.
        model: String,
        /// What went wrong.
        message: String,
        /// Whether trying again may succeed (throttling, 5xx, connection reset).
        retryable: bool,
    },

    /// A tool failed.
    #[error("tool '{tool}' failed: {message}")]
    Tool {
        /// The tool's name.
        tool: String,
        /// What went wrong.
        message: String,
        /// Whether trying again may succeed.
        retryable: bool,
    },

    /// The storage backend failed.
    #[error("storage error: {message}")]
    Storage {
        /// What was being done.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },

    /// A value could not be (de)serialised.
    #[error("could not (de)serialise {what}: {source}")]
    Serialization {
        /// What was being (de)serialised.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// A row of a telemetry bundle could not be read.
    #[error("{file} line {line}: {}{message}", field_prefix(.field))]
    Bundle {
        /// The bundle file (`metrics.csv`, `logs.jsonl`, ...).
        file: String,
        /// The line the row starts on, counting from 1.
        line: u64,
        /// The offending field, when one is to blame.
        field: Option<String>,
        /// What is wrong and what is accepted instead.
        message: String,
    },

    /// A step implementation of the workflow failed.
    #[error("workflow step '{step}' failed for incident '{incident}': {message}")]
    Step {
        /// The step (`triage`, `execute`, ...).
        step: String,
        /// The incident id.
        incident: String,
        /// What went wrong.
        message: String,
    },
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

fn field_prefix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!("field '{f}': "))
        .unwrap_or_default()
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Shorthand for [`Error::Storage`] with a source error.
    pub fn storage(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Storage {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Shorthand for [`Error::Serialization`].
    pub fn serialization(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Serialization {
            what: what.into(),
            source,
        }
    }

    /// True when the same call may succeed if tried again later: timeouts, throttling,
    /// transient storage failures. Retry policies retry only these.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Storage { .. } => true,
            Error::Model { retryable, .. } | Error::Tool { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// True when the failure says something about the health of the dependency (and so
    /// counts against a circuit breaker), as opposed to a caller's own mistake.
    pub fn is_dependency_failure(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. }
                | Error::Storage { .. }
                | Error::Model { .. }
                | Error::Tool { .. }
                | Error::Step { .. }
        )
    }
}
