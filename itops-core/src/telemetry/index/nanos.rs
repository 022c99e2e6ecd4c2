//! Instants as Unix nanoseconds, the index's internal clock.

use chrono::{DateTime, Utc};

/// Unix nanoseconds of `at`, clamped to what an `i64` holds (years 1677 to 2262).
pub(crate) fn to_nanos(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The instant `nanos` after the Unix epoch.
pub(crate) fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}
