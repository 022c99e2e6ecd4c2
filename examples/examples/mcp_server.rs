//! Serve your own tool to any MCP client: over stdio by default, or over HTTP with `--http`
//! (`cargo run -p itops-examples --example mcp_server -- --http` serves http://127.0.0.1:8765/mcp).
use std::sync::Arc;

use async_trait::async_trait;
use itops_mcp::{serve_http, serve_stdio, HttpOptions, McpServer};
use schemars::JsonSchema;
use serde::Deserialize;

/// Tells whether a service is within its error budget.
struct ErrorBudget;

/// Arguments: the doc comments become the tool's JSON schema descriptions.
#[derive(Deserialize, JsonSchema)]
struct Args {
    /// Errors in the window.
    errors: u64,
    /// Requests in the window.
    requests: u64,
    /// The SLO, e.g. 0.999.
    slo: f64,
}

#[async_trait]
impl itops_core::Tool for ErrorBudget {
    type Args = Args;
    type Output = serde_json::Value;
    fn name(&self) -> &str {
        "error_budget"
    }
    fn description(&self) -> &str {
        "Share of the error budget left, given errors, requests and the SLO."
    }
    async fn call(&self, a: Args) -> itops_core::Result<serde_json::Value> {
        let allowed = ((1.0 - a.slo) * a.requests as f64).max(1.0);
        let left = 1.0 - a.errors as f64 / allowed;
        Ok(serde_json::json!({ "budget_left": left, "within_budget": left >= 0.0 }))
    }
}

#[tokio::main]
async fn main() -> itops_mcp::Result<()> {
    let server = McpServer::builder("error-budget", "0.1.0")
        .tool(Arc::new(ErrorBudget))
        .build()?;
    if std::env::args().any(|a| a == "--http") {
        let http = serve_http(&server, HttpOptions::default()).await?;
        eprintln!("serving {}", http.url());
        http.wait().await
    } else {
        serve_stdio(&server).await // log to stderr only: stdout carries the protocol
    }
}
