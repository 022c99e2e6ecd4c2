//! One remote MCP tool as a core tool.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::breaker::{call_guarded, CircuitBreaker};
use itops_core::{DynTool, ToolSpec};
use rmcp::model::CallToolResult;
use serde_json::Value;

use super::{result_value, McpClient};

/// A tool of a remote MCP server, behind the client's call timeout, retry policy and the
/// server's circuit breaker.
pub(crate) struct RemoteTool {
    client: McpClient,
    remote_name: String,
    spec: ToolSpec,
    breaker: Arc<dyn CircuitBreaker>,
}

impl RemoteTool {
    pub(crate) fn new(
        client: McpClient,
        remote: ToolSpec,
        prefix: &str,
        breaker: Arc<dyn CircuitBreaker>,
    ) -> Self {
        let remote_name = remote.name.clone();
        let spec = ToolSpec {
            name: format!("{prefix}{}", remote.name),
            ..remote
        };
        Self {
            client,
            remote_name,
            spec,
            breaker,
        }
    }

    /// One attempt: the breaker sees only whether the server answered in time.
    async fn attempt(&self, input: Value) -> itops_core::Result<Value> {
        let limit = self.client.options().call_timeout;
        let answered = call_guarded(self.breaker.as_ref(), async {
            let request = self
                .client
                .request(&self.remote_name, &self.spec.name, input);
            match tokio::time::timeout(limit, request).await {
                Ok(answer) => answer,
                Err(_) => Err(itops_core::Error::Timeout {
                    what: format!(
                        "tool '{}' of MCP server '{}'",
                        self.spec.name,
                        self.client.name()
                    ),
                    after: limit,
                }),
            }
        })
        .await;
        answered.and_then(|answer| answer)
    }
}

#[async_trait]
impl DynTool for RemoteTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call_json(&self, input: Value) -> itops_core::Result<Value> {
        self.client
            .options()
            .retry
            .run(|_| self.attempt(input.clone()))
            .await
    }
}

/// A remote result as a core result: `isError` results become [`itops_core::Error::Tool`]
/// (retryable when the server said so in itops's structured error shape).
pub(crate) fn output(tool: &str, result: CallToolResult) -> itops_core::Result<Value> {
    if result.is_error != Some(true) {
        return Ok(result_value(&result));
    }
    let retryable = result
        .structured_content
        .as_ref()
        .and_then(|s| s.get("retryable"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    let message = if text.is_empty() {
        "the tool reported an error without a message".to_string()
    } else {
        text.join("\n")
    };
    Err(itops_core::Error::Tool {
        tool: tool.to_string(),
        message,
        retryable,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rmcp::model::ContentBlock;
    use serde_json::json;

    #[test]
    fn structured_content_wins() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("ignored")]);
        r.structured_content = Some(json!({"a": 1}));
        assert_eq!(output("t", r).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn json_text_is_parsed_and_plain_text_kept() {
        let r = CallToolResult::success(vec![ContentBlock::text(r#"{"n":2}"#)]);
        assert_eq!(output("t", r).unwrap(), json!({"n": 2}));
        let r = CallToolResult::success(vec![ContentBlock::text("hello")]);
        assert_eq!(output("t", r).unwrap(), json!("hello"));
        let r = CallToolResult::success(vec![ContentBlock::text("a"), ContentBlock::text("b")]);
        assert_eq!(output("t", r).unwrap(), json!("a\nb"));
    }

    #[test]
    fn other_content_is_returned_as_blocks() {
        let r = CallToolResult::success(vec![ContentBlock::image("AAAA", "image/png")]);
        let v = output("t", r).unwrap();
        assert_eq!(v[0]["type"], "image");
        assert_eq!(v[0]["mimeType"], "image/png");
    }

    #[test]
    fn error_results_are_tool_errors() {
        let mut r = CallToolResult::error(vec![ContentBlock::text("backend down")]);
        r.structured_content = Some(json!({"error": "backend down", "retryable": true}));
        match output("t", r).unwrap_err() {
            itops_core::Error::Tool {
                tool,
                message,
                retryable,
            } => {
                assert_eq!(tool, "t");
                assert_eq!(message, "backend down");
                assert!(retryable);
            }
            other => panic!("{other}"),
        }
    }
}
