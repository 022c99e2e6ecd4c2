//! Serving an [`McpServer`](crate::McpServer): over stdio (or any byte stream) and over
//! streamable HTTP.

mod http;
mod stdio;

pub use http::{router, serve_http, HttpOptions, HttpServer, DEFAULT_LISTEN, MCP_PATH};
pub use stdio::{serve_io, serve_stdio};
