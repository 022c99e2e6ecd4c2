//! The one error type of `itops-mcp`.

use std::path::PathBuf;

/// Result alias of `itops-mcp`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong serving tools over MCP or using a remote MCP server; each message says
/// what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from the core (a tool, a store, a breaker).
    #[error(transparent)]
    Core(#[from] itops_core::Error),

    /// A server or client option is wrong.
    #[error("invalid MCP option {option}: {message}")]
    InvalidOption {
        /// The option, as named in the API or on the command line.
        option: String,
        /// What is wrong and what is accepted.
        message: String,
    },

    /// The MCP servers config file could not be used.
    #[error("MCP servers config {}: {message}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A socket, pipe or process could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (`binding 127.0.0.1:8080`, `starting 'npx'`, ...).
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A remote MCP server could not be reached or did not complete the handshake.
    #[error("could not connect to MCP server '{server}': {message}")]
    Connect {
        /// The server's name.
        server: String,
        /// What went wrong, with the tail of its error output when there is one.
        message: String,
    },

    /// A remote MCP server answered a request with an error, or the connection broke.
    #[error("MCP server '{server}' failed to {operation}: {message}")]
    Remote {
        /// The server's name.
        server: String,
        /// What was asked (`list tools`, `call tool 'x'`).
        operation: String,
        /// The error.
        message: String,
    },

    /// Serving MCP stopped with an error.
    #[error("MCP {transport} transport failed: {message}")]
    Transport {
        /// `stdio` or `http`.
        transport: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidOption`].
    pub fn invalid_option(option: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidOption {
            option: option.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
