//! Bundle timestamps: RFC 3339 text, or a Unix time as a number (in text or JSON).

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 in UTC with nanoseconds, the form bundles are written in.
pub(crate) fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}
