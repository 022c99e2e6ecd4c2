//! The telemetry bundle: a directory of plain files that any exporter can produce.
//!
//! | file | one row is | fields |
//! |---|---|---|
//! | `metrics.csv` | a sample | header `timestamp,service,metric,value` (any column order, extra columns ignored) |
//! | `logs.jsonl` | a log record | `timestamp`, `service`, `message`; optional `level`, `trace_id`, `span_id` |
//! | `traces.jsonl` | a span | `trace_id`, `span_id`, `parent_span_id` (absent, null or empty for a root), `service`, `operation`, `start_unix_nano`, `duration_ns`; optional `status_code` (`OK`, `ERROR`, `UNSET`) |
//! | `events.jsonl` | a change event | `timestamp`, `service`, `kind`, `description`; optional `version`, `actor` |
//!
//! Any file may be absent. Timestamps are RFC 3339 or Unix time numbers (see
//! [`load_bundle`] for the exact rules); [`write_bundle`] writes RFC 3339 with nanoseconds.
//!
//! ```no_run
//! use itops_core::telemetry::bundle::{load_bundle, summarize, LoadOptions};
//!
//! let bundle = load_bundle("incident-42".as_ref(), &LoadOptions { lenient: true })?;
//! println!("{}", summarize(&bundle));
//! # Ok::<(), itops_core::Error>(())
//! ```

mod reader;
mod summary;
mod timestamp;
mod writer;

pub use reader::{load_bundle, FileReport, LoadOptions, LoadedBundle, MAX_SKIP_REASONS};
pub use summary::{summarize, BundleSummary, ServiceSummary};
pub use writer::{write_bundle, BundleWriter};

/// The metrics file of a bundle.
pub const METRICS_FILE: &str = "metrics.csv";
/// The logs file of a bundle.
pub const LOGS_FILE: &str = "logs.jsonl";
/// The spans file of a bundle.
pub const TRACES_FILE: &str = "traces.jsonl";
/// The change-events file of a bundle.
pub const EVENTS_FILE: &str = "events.jsonl";

/// The columns `metrics.csv` must have, in the order bundles are written.
const METRICS_HEADER: [&str; 4] = ["timestamp", "service", "metric", "value"];

/// A name field (service, metric, ids, kind) must hold something other than blanks.
fn check_name(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{field} is empty"))
    } else {
        Ok(())
    }
}
