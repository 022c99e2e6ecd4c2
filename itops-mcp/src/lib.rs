#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod client;
pub mod error;
pub mod server;
pub mod telemetry;
pub mod transport;

pub use client::{
    ClientOptions, ConfiguredServer, McpClient, McpServersConfig, McpToolbox, ServerTarget,
};
pub use error::{Error, Result};
pub use server::{
    ContextTool, McpServer, McpServerBuilder, McpSession, PromptProvider, ResourceProvider,
    ResourceUpdates, ToolContext,
};
pub use telemetry::TelemetryResources;
pub use transport::{serve_http, serve_io, serve_stdio, HttpOptions, HttpServer};

/// The MCP SDK this crate is built on, for the types of [`ContextTool`] results, resources
/// and prompts.
pub use rmcp;
