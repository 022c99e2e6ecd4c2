//! Core tool specs and results in MCP's shapes.

use std::sync::Arc;

use itops_core::ToolSpec;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Longest tool name MCP allows.
const MAX_TOOL_NAME_LEN: usize = 128;

/// The MCP listing of a core tool: same name, description and input schema.
pub(crate) fn to_mcp_tool(spec: ToolSpec) -> Result<Tool> {
    check_tool_name(&spec.name)?;
    let mut schema = match spec.input_schema {
        Value::Object(map) => map,
        other => {
            return Err(Error::invalid_option(
                "tools",
                format!(
                    "tool '{}' has an input schema that is not a JSON object ({other}); MCP needs an object schema",
                    spec.name
                ),
            ))
        }
    };
    match schema.get("type") {
        // Schemas of enums or untagged types carry no top-level type; their
        // instances are still objects, and MCP clients require the keyword.
        None => {
            schema.insert("type".into(), Value::String("object".into()));
        }
        Some(Value::String(t)) if t == "object" => {}
        Some(other) => {
            return Err(Error::invalid_option(
                "tools",
                format!(
                    "tool '{}' takes {other} input; MCP tools take an object, so wrap the argument in a struct",
                    spec.name
                ),
            ))
        }
    }
    Ok(Tool::new(spec.name, spec.description, Arc::new(schema)))
}

fn check_tool_name(name: &str) -> Result<()> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if name.is_empty() || name.len() > MAX_TOOL_NAME_LEN || !valid_chars {
        return Err(Error::invalid_option(
            "tools",
            format!(
                "tool name '{name}' is not valid for MCP: use 1 to {MAX_TOOL_NAME_LEN} of A-Z, a-z, 0-9, '_', '-', '.'"
            ),
        ));
    }
    Ok(())
}

/// A successful core tool output: compact JSON text for any client, and the same value as
/// structured content (wrapped as `{"result": ...}` when it is not an object, as MCP
/// requires structured content to be an object).
pub(crate) fn success_result(output: Value) -> CallToolResult {
    let text = output.to_string();
    let structured = match output {
        Value::Object(_) => output,
        other => json!({ "result": other }),
    };
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result
}

/// A failed tool call, as a tool result with `isError: true` (not a protocol error), so the
/// model reads why and can correct itself.
pub(crate) fn error_result(error: &itops_core::Error) -> CallToolResult {
    let message = error.to_string();
    let mut result = CallToolResult::error(vec![ContentBlock::text(message.clone())]);
    result.structured_content = Some(json!({
        "error": message,
        "retryable": error.is_retryable(),
    }));
    result
}

/// The arguments of a call as the JSON object core tools take.
pub(crate) fn arguments_value(arguments: Option<JsonObject>) -> Value {
    Value::Object(arguments.unwrap_or_default())
}
