//! Evidence: pointers into telemetry that back a claim.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A piece of telemetry that supports (or refutes) a hypothesis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// A metric series over a window.
    Metric {
        /// The service.
        service: String,
        /// The metric name.
        metric: String,
        /// Window start.
        start: DateTime<Utc>,
        /// Window end.
        end: DateTime<Utc>,
        /// What it shows, with numbers (e.g. "p99 latency 40 ms → 900 ms, z=12").
        summary: String,
    },
    /// Log lines.
    Logs {
        /// The service.
        service: String,
        /// A few representative lines, verbatim (untrusted text).
        #[serde(default)]
        samples: Vec<String>,
        /// How many lines matched.
        count: u64,
        /// What they show.
        summary: String,
    },
    /// Trace spans.
    Trace {
        /// The trace.
        trace_id: String,
        /// The spans of interest.
        #[serde(default)]
        span_ids: Vec<String>,
        /// The service the spans belong to.
        service: String,
        /// What they show.
        summary: String,
    },
    /// A change event (deploy, config, flag, ...).
    Change {
        /// The service changed.
        service: String,
        /// The change kind.
        kind: String,
        /// When.
        at: DateTime<Utc>,
        /// What changed.
        summary: String,
    },
    /// A knowledge-base document (runbook or past incident).
    Knowledge {
        /// Document id.
        document_id: String,
        /// Why it is relevant.
        summary: String,
    },
}

impl Evidence {
    /// The service this evidence is about, when it is about one.
    pub fn service(&self) -> Option<&str> {
        match self {
            Evidence::Metric { service, .. }
            | Evidence::Logs { service, .. }
            | Evidence::Trace { service, .. }
            | Evidence::Change { service, .. } => Some(service),
            Evidence::Knowledge { .. } => None,
        }
    }

    /// The one-line summary.
    pub fn summary(&self) -> &str {
        match self {
            Evidence::Metric { summary, .. }
            | Evidence::Logs { summary, .. }
            | Evidence::Trace { summary, .. }
            | Evidence::Change { summary, .. }
            | Evidence::Knowledge { summary, .. } => summary,
        }
    }
}
