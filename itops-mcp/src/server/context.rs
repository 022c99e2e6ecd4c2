//! Tools that talk to the client while they run: progress, logs, cancellation, and the
//! client's own capabilities (sampling, elicitation) through the peer.

// MCP logging is deprecated in the newest protocol revision, but still part of the
// revisions clients speak today (2025-06-18, 2025-11-25).
#![allow(deprecated)]

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use itops_core::telemetry::LogLevel;
use itops_core::ToolSpec;
use rmcp::model::{
    CallToolResult, LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam,
    ProgressToken,
};
use rmcp::service::{Peer, RoleServer};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A tool that reports progress, sends log messages or asks the client for input while it
/// runs. Plain core tools ([`itops_core::DynTool`]) need none of this; use this trait for
/// the rest.
#[async_trait]
pub trait ContextTool: Send + Sync {
    /// Name, description and input schema (derive the schema; see
    /// [`itops_core::tool::input_schema_for`]).
    fn spec(&self) -> ToolSpec;

    /// Runs the tool on the call's arguments (a JSON object). An `Err` becomes a tool
    /// result with `isError: true`.
    async fn call(
        &self,
        arguments: Value,
        context: ToolContext,
    ) -> itops_core::Result<CallToolResult>;
}

/// The minimum level of log messages a session's client wants (`logging/setLevel`).
#[derive(Debug)]
pub(crate) struct SessionLogLevel(AtomicU8);

impl SessionLogLevel {
    pub(crate) fn new() -> Self {
        // Until the client says otherwise: info and above.
        Self(AtomicU8::new(rank(LoggingLevel::Info)))
    }

    pub(crate) fn set(&self, level: LoggingLevel) {
        self.0.store(rank(level), Ordering::Relaxed);
    }

    pub(crate) fn wants(&self, level: LoggingLevel) -> bool {
        rank(level) >= self.0.load(Ordering::Relaxed)
    }
}

fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

pub(crate) fn mcp_level(level: LogLevel) -> LoggingLevel {
    match level {
        LogLevel::Debug => LoggingLevel::Debug,
        LogLevel::Info => LoggingLevel::Info,
        LogLevel::Warn => LoggingLevel::Warning,
        LogLevel::Error => LoggingLevel::Error,
        LogLevel::Fatal => LoggingLevel::Critical,
    }
}

/// Sends a log message to the client if its level passes the session's filter.
pub(crate) async fn send_log(
    peer: &Peer<RoleServer>,
    filter: &SessionLogLevel,
    level: LogLevel,
    logger: &str,
    message: String,
) {
    let level = mcp_level(level);
    if !filter.wants(level) {
        return;
    }
    let param = LoggingMessageNotificationParam::new(level, Value::String(message))
        .with_logger(logger.to_string());
    if let Err(error) = peer.notify_logging_message(param).await {
        tracing::debug!(%error, "could not send a log message to the MCP client");
    }
}

/// What a [`ContextTool`] gets besides its arguments.
#[derive(Clone)]
pub struct ToolContext {
    pub(crate) tool: String,
    pub(crate) peer: Peer<RoleServer>,
    pub(crate) progress_token: Option<ProgressToken>,
    pub(crate) cancellation: CancellationToken,
    pub(crate) log_level: Arc<SessionLogLevel>,
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("tool", &self.tool)
            .field("progress_token", &self.progress_token)
            .field("cancelled", &self.cancellation.is_cancelled())
            .finish()
    }
}

impl ToolContext {
    /// The name of the tool being called.
    pub fn tool_name(&self) -> &str {
        &self.tool
    }

    /// Whether the client asked for progress notifications on this call.
    pub fn wants_progress(&self) -> bool {
        self.progress_token.is_some()
    }

    /// Reports progress (`progress` must grow from one report to the next; `total` when
    /// known). Does nothing when the client did not ask for progress.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let Some(token) = &self.progress_token else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token.clone(), progress);
        if let Some(total) = total {
            param = param.with_total(total);
        }
        if let Some(message) = message {
            param = param.with_message(message);
        }
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, tool = %self.tool, "could not send progress");
        }
    }

    /// Sends a log message to the client, if it wants messages of this level.
    pub async fn log(&self, level: LogLevel, message: impl Into<String>) {
        send_log(
            &self.peer,
            &self.log_level,
            level,
            &self.tool,
            message.into(),
        )
        .await;
    }

    /// The client connection, for requests to it (sampling, elicitation, roots). Check the
    /// client's capabilities first (`peer().peer_info()`).
    pub fn peer(&self) -> &Peer<RoleServer> {
        &self.peer
    }

    /// Whether the client cancelled this call.
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// Completes when the client cancels this call.
    pub async fn cancelled(&self) {
        self.cancellation.cancelled().await
    }
}
