//! The one error type of `itops-lambda`.

use std::path::PathBuf;

/// What can go wrong running the `itops` binary or the reference system.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the core (validation, storage, telemetry, ...).
    #[error(transparent)]
    Core(#[from] itops_core::Error),

    /// An MCP server or client failed (transport, protocol, configuration).
    #[error(transparent)]
    Mcp(itops_mcp::Error),

    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The command line or configuration is wrong; the message says how to fix it.
    #[error("{0}")]
    Usage(String),

    /// Output could not be rendered.
    #[error("could not render {what}: {source}")]
    Render {
        /// What was being rendered.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// Result alias of `itops-lambda`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
