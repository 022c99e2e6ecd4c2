//! The wire types: the chat-completions request as sent and the response as received.

use itops_core::text::clip;
use itops_core::{
    ContentBlock, Message, ModelRequest, ModelResponse, ModelStopReason, Role, TokenUsage,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{server_message, snippet, MAX_QUOTED_CHARS};

// ---- The request, as sent ----

#[derive(Serialize)]
pub(super) struct ChatRequest<'a> {
    pub(super) model: &'a str,
    pub(super) messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) temperature: Option<f32>,
    pub(super) stream: bool,
}

#[derive(Serialize)]
pub(super) struct WireTool<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) function: WireFunction<'a>,
}

#[derive(Serialize)]
pub(super) struct WireFunction<'a> {
    pub(super) name: &'a str,
    pub(super) description: &'a str,
    pub(super) parameters: &'a Value,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub(super) enum WireMessage<'a> {
    System {
        content: &'a str,
    },
    User {
        content: String,
    },
    Assistant {
        /// `null` when the turn is only tool calls.
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: String,
    },
}

#[derive(Serialize)]
pub(super) struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireCalledFunction<'a>,
}

#[derive(Serialize)]
struct WireCalledFunction<'a> {
    name: &'a str,
    /// The arguments as a JSON string, as the API wants them.
    arguments: String,
}

/// Text blocks joined by newlines, `None` when there are none.
fn joined_text(message: &Message) -> Option<String> {
    let text = message.text();
    (!text.is_empty()).then_some(text)
}

/// The conversation as chat messages: the system prompt first; a user message's tool results
/// become `tool` messages (right after the assistant turn that asked for them, as the API
/// requires), then its text a `user` message.
pub(super) fn wire_messages(
    request: &ModelRequest,
) -> std::result::Result<Vec<WireMessage<'_>>, String> {
    let mut out = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system.as_deref().filter(|s| !s.trim().is_empty()) {
        out.push(WireMessage::System { content: system });
    }
    for (index, message) in request.messages.iter().enumerate() {
        match message.role {
            Role::User => {
                let mut has_results = false;
                for block in &message.content {
                    match block {
                        ContentBlock::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            has_results = true;
                            // No status field on the wire: mark a failure in the text.
                            let content = match (*is_error, content.is_empty()) {
                                (true, _) => format!("[tool error] {content}"),
                                (false, true) => "(no output)".to_string(),
                                (false, false) => content.clone(),
                            };
                            out.push(WireMessage::Tool {
                                tool_call_id: tool_use_id,
                                content,
                            });
                        }
                        ContentBlock::ToolUse { name, .. } => {
                            return Err(format!(
                                "message {index} is the user's but asks for tool '{name}'; only \
                                 assistant messages can call tools"
                            ))
                        }
                        ContentBlock::Text { .. } => {}
                    }
                }
                match joined_text(message) {
                    Some(content) => out.push(WireMessage::User { content }),
                    None if !has_results => out.push(WireMessage::User {
                        content: String::new(),
                    }),
                    None => {}
                }
            }
            Role::Assistant => {
                let mut tool_calls = Vec::new();
                for block in &message.content {
                    match block {
                        ContentBlock::ToolUse { id, name, input } => {
                            let arguments = if input.is_null() {
                                "{}".to_string()
                            } else {
                                input.to_string()
                            };
                            tool_calls.push(WireToolCall {
                                id,
                                kind: "function",
                                function: WireCalledFunction { name, arguments },
                            });
                        }
                        ContentBlock::ToolResult { tool_use_id, .. } => {
                            return Err(format!(
                                "message {index} is the assistant's but carries the result of \
                                 call '{tool_use_id}'; tool results belong in user messages"
                            ))
                        }
                        ContentBlock::Text { .. } => {}
                    }
                }
                let content = match joined_text(message) {
                    Some(text) => Some(text),
                    None if tool_calls.is_empty() => Some(String::new()),
                    None => None,
                };
                out.push(WireMessage::Assistant {
                    content,
                    tool_calls,
                });
            }
        }
    }
    Ok(out)
}

// ---- The response, as received (lenient: servers differ in what they leave out) ----

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ResponseMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Value,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ResponseToolCall>>,
}

#[derive(Deserialize)]
struct ResponseToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<ResponseFunction>,
}

#[derive(Deserialize)]
struct ResponseFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// The text of a message's `content`: a string, `null`, or an array of text parts.
fn content_text(content: &Value) -> std::result::Result<String, String> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => Ok(parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("")),
        other => Err(format!(
            "the message content is neither text nor a list of parts: {}",
            clip(&other.to_string(), MAX_QUOTED_CHARS)
        )),
    }
}

/// A tool call's arguments: a JSON string (the standard), an object (some local servers),
/// or nothing (a tool without arguments).
fn call_arguments(name: &str, arguments: &Value) -> std::result::Result<Value, String> {
    match arguments {
        Value::Null => Ok(Value::Object(Default::default())),
        Value::Object(_) => Ok(arguments.clone()),
        Value::String(text) if text.trim().is_empty() => Ok(Value::Object(Default::default())),
        Value::String(text) => serde_json::from_str(text).map_err(|e| {
            format!(
                "the arguments of the call to tool '{name}' are not valid JSON ({e}): {}",
                clip(text, MAX_QUOTED_CHARS)
            )
        }),
        other => Err(format!(
            "the arguments of the call to tool '{name}' are neither a JSON string nor an \
             object: {}",
            clip(&other.to_string(), MAX_QUOTED_CHARS)
        )),
    }
}

pub(super) fn parse_response(body: &[u8]) -> std::result::Result<ModelResponse, String> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}): {}", snippet(body)))?;
    let response: ChatResponse = serde_json::from_value(json)
        .map_err(|e| format!("the body is not a chat completion ({e}): {}", snippet(body)))?;
    let choices = match (response.choices, &response.error) {
        (Some(choices), _) => choices,
        (None, Some(_)) => {
            return Err(format!(
                "the server reported an error: {}",
                server_message(body)
            ))
        }
        (None, None) => return Err(format!("there is no `choices` field: {}", snippet(body))),
    };
    let choice = choices
        .into_iter()
        .next()
        .ok_or_else(|| "`choices` is empty: the server returned no answer".to_string())?;
    let message = choice
        .message
        .ok_or_else(|| "the first choice has no `message`".to_string())?;

    let mut content = Vec::new();
    let mut text = content_text(&message.content)?;
    if text.trim().is_empty() {
        text = message.refusal.unwrap_or_default();
    }
    if !text.trim().is_empty() {
        content.push(ContentBlock::Text { text });
    }
    let mut calls = 0;
    for (i, call) in message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let function = call
            .function
            .ok_or_else(|| format!("tool call {i} has no `function`"))?;
        let name = function
            .name
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| format!("tool call {i} has no function name"))?;
        let input = call_arguments(&name, &function.arguments)?;
        let id = call
            .id
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| format!("call_{i}"));
        content.push(ContentBlock::ToolUse { id, name, input });
        calls += 1;
    }

    // Some servers (older Ollama) say `stop` even when they call tools: the calls decide.
    let stop_reason = match choice.finish_reason.as_deref() {
        Some("length") => ModelStopReason::MaxTokens,
        Some("content_filter") => ModelStopReason::ContentFiltered,
        _ if calls > 0 => ModelStopReason::ToolUse,
        _ => ModelStopReason::EndTurn,
    };
    let usage = response
        .usage
        .map(|u| TokenUsage {
            input_tokens: u.prompt_tokens.unwrap_or(0),
            output_tokens: u.completion_tokens.unwrap_or(0),
        })
        .unwrap_or_default();
    Ok(ModelResponse {
        message: Message {
            role: Role::Assistant,
            content,
        },
        stop_reason,
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use itops_core::ToolSpec;
    use serde_json::json;

    #[test]
    fn conversation_maps_to_chat_messages() {
        let request = ModelRequest {
            system: Some("Be brief.".into()),
            messages: vec![
                Message::user("Why is checkout failing?"),
                Message {
                    role: Role::Assistant,
                    content: vec![ContentBlock::ToolUse {
                        id: "c1".into(),
                        name: "error_rate".into(),
                        input: json!({"service": "checkout"}),
                    }],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        ContentBlock::ToolResult {
                            tool_use_id: "c1".into(),
                            content: "unknown service".into(),
                            is_error: true,
                        },
                        ContentBlock::text("Keep going."),
                    ],
                },
            ],
            tools: vec![ToolSpec {
                name: "error_rate".into(),
                description: "Error rate.".into(),
                input_schema: json!({"type": "object"}),
            }],
            max_tokens: Some(100),
            temperature: Some(0.0),
        };
        let messages = serde_json::to_value(wire_messages(&request).unwrap()).unwrap();
        assert_eq!(
            messages,
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Why is checkout failing?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "error_rate", "arguments": "{\"service\":\"checkout\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "[tool error] unknown service"},
                {"role": "user", "content": "Keep going."}
            ])
        );
    }

    #[test]
    fn tool_use_in_a_user_message_is_refused() {
        let request = ModelRequest {
            messages: vec![Message {
                role: Role::User,
                content: vec![ContentBlock::ToolUse {
                    id: "x".into(),
                    name: "t".into(),
                    input: json!({}),
                }],
            }],
            ..ModelRequest::default()
        };
        assert!(wire_messages(&request).is_err());
    }

    #[test]
    fn lenient_response_shapes_are_read() {
        let body = json!({
            "choices": [{
                "message": {"content": [{"type": "text", "text": "thinking"}],
                            "tool_calls": [{"function": {"name": "t", "arguments": {"a": 1}}},
                                           {"id": "", "function": {"name": "u", "arguments": ""}}]},
                "finish_reason": "stop"
            }]
        });
        let response = parse_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(response.stop_reason, ModelStopReason::ToolUse);
        assert_eq!(response.message.text(), "thinking");
        let calls = response.message.tool_calls();
        assert_eq!(calls[0].id, "call_0");
        assert_eq!(calls[0].input, json!({"a": 1}));
        assert_eq!(calls[1].id, "call_1");
        assert_eq!(calls[1].input, json!({}));
        assert_eq!(response.usage, TokenUsage::default());
    }
}
