//! Core conversation types to and from the Bedrock Converse shapes.

use aws_sdk_bedrockruntime::operation::converse::ConverseOutput as ConverseResponse;
use aws_sdk_bedrockruntime::types::{
    ContentBlock as BedrockBlock, ConversationRole, ConverseOutput, InferenceConfiguration,
    Message as BedrockMessage, StopReason, SystemContentBlock, Tool, ToolConfiguration,
    ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification,
    ToolUseBlock,
};
use itops_core::{
    ContentBlock, Message, ModelRequest, ModelResponse, ModelStopReason, Role, TokenUsage,
};

use super::document::{to_document, to_json};

/// What goes into one Converse call besides the model id.
#[derive(Debug)]
pub(crate) struct ConverseParts {
    pub(crate) system: Vec<SystemContentBlock>,
    pub(crate) messages: Vec<BedrockMessage>,
    pub(crate) tool_config: Option<ToolConfiguration>,
    pub(crate) inference: InferenceConfiguration,
}

/// Request options that come from the adapter's settings rather than the request.
#[derive(Clone, Debug, Default)]
pub(crate) struct RequestOptions {
    /// Whether the model accepts `status: error` on tool results (Anthropic models do);
    /// for others an error is marked in the text instead.
    pub(crate) tool_result_status: bool,
    pub(crate) top_p: Option<f32>,
    pub(crate) stop_sequences: Vec<String>,
    /// Used when the request sets no `max_tokens`.
    pub(crate) default_max_tokens: Option<u32>,
}

/// Why a request or response could not be converted.
#[derive(Debug)]
pub(crate) enum ConvertError {
    /// The request cannot be expressed in Converse (caller's mistake, not retryable).
    Request(String),
    /// The response is not what Converse promises (retryable: the next answer may be fine).
    Response(String),
}

/// Builds the Converse request from a core request.
pub(crate) fn request_parts(
    request: &ModelRequest,
    options: &RequestOptions,
) -> Result<ConverseParts, ConvertError> {
    let system = request
        .system
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| SystemContentBlock::Text(s.clone()))
        .collect();
    let mut messages = Vec::with_capacity(request.messages.len());
    let conversation = normalized(&request.messages, request.tools.is_empty());
    for (index, message) in conversation.iter().enumerate() {
        messages.push(
            message_to_bedrock(message, options)
                .map_err(|e| ConvertError::Request(format!("message {index}: {e}")))?,
        );
    }
    let tool_config = if request.tools.is_empty() {
        None
    } else {
        let mut builder = ToolConfiguration::builder();
        for spec in &request.tools {
            let mut schema = spec.input_schema.clone();
            // The meta-schema URI tells the model nothing and some providers reject it.
            if let Some(map) = schema.as_object_mut() {
                map.remove("$schema");
            }
            let mut tool = ToolSpecification::builder()
                .name(&spec.name)
                .input_schema(ToolInputSchema::Json(to_document(&schema)));
            if !spec.description.trim().is_empty() {
                tool = tool.description(&spec.description);
            }
            let tool = tool
                .build()
                .map_err(|e| ConvertError::Request(format!("tool '{}': {e}", spec.name)))?;
            builder = builder.tools(Tool::ToolSpec(tool));
        }
        Some(
            builder
                .build()
                .map_err(|e| ConvertError::Request(format!("tool configuration: {e}")))?,
        )
    };
    let mut inference = InferenceConfiguration::builder();
    if let Some(max) = request.max_tokens.or(options.default_max_tokens) {
        inference = inference.max_tokens(i32::try_from(max).unwrap_or(i32::MAX));
    }
    if let Some(t) = request.temperature {
        inference = inference.temperature(t);
    }
    if let Some(p) = options.top_p {
        inference = inference.top_p(p);
    }
    for stop in &options.stop_sequences {
        inference = inference.stop_sequences(stop);
    }
    Ok(ConverseParts {
        system,
        messages,
        tool_config,
        inference: inference.build(),
    })
}

/// The conversation in the shape Converse accepts: consecutive messages of one role merged
/// (Converse wants roles to alternate), and, when the request offers no tools, tool calls
/// and results written out as text (Converse refuses tool blocks without a tool
/// configuration, e.g. in a follow-up turn that only asks for a corrected answer).
fn normalized(messages: &[Message], no_tools: bool) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(messages.len());
    for message in messages {
        let content: Vec<ContentBlock> = message
            .content
            .iter()
            .map(|block| match block {
                ContentBlock::ToolUse { name, input, .. } if no_tools => {
                    ContentBlock::text(format!("[called tool {name} with {input}]"))
                }
                ContentBlock::ToolResult {
                    content, is_error, ..
                } if no_tools => ContentBlock::text(format!(
                    "[tool {}: {content}]",
                    if *is_error { "error" } else { "result" }
                )),
                other => other.clone(),
            })
            .collect();
        match out.last_mut() {
            Some(last) if last.role == message.role => last.content.extend(content),
            _ => out.push(Message {
                role: message.role,
                content,
            }),
        }
    }
    out
}

fn message_to_bedrock(
    message: &Message,
    options: &RequestOptions,
) -> Result<BedrockMessage, String> {
    let role = match message.role {
        Role::User => ConversationRole::User,
        Role::Assistant => ConversationRole::Assistant,
    };
    let mut builder = BedrockMessage::builder().role(role);
    let mut blocks = 0usize;
    for block in &message.content {
        let converted = match block {
            // Converse rejects blank text blocks.
            ContentBlock::Text { text } if text.trim().is_empty() => continue,
            ContentBlock::Text { text } => BedrockBlock::Text(text.clone()),
            ContentBlock::ToolUse { id, name, input } => BedrockBlock::ToolUse(
                ToolUseBlock::builder()
                    .tool_use_id(id)
                    .name(name)
                    .input(to_document(input))
                    .build()
                    .map_err(|e| format!("tool use '{name}': {e}"))?,
            ),
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let mut result = ToolResultBlock::builder().tool_use_id(tool_use_id);
                let text = if *is_error && !options.tool_result_status {
                    format!("[tool error] {content}")
                } else {
                    content.clone()
                };
                // A tool result needs some content; an empty observation is still an answer.
                let text = if text.is_empty() {
                    "(no output)".to_string()
                } else {
                    text
                };
                result = result.content(ToolResultContentBlock::Text(text));
                if options.tool_result_status {
                    result = result.status(if *is_error {
                        ToolResultStatus::Error
                    } else {
                        ToolResultStatus::Success
                    });
                }
                BedrockBlock::ToolResult(
                    result
                        .build()
                        .map_err(|e| format!("tool result '{tool_use_id}': {e}"))?,
                )
            }
        };
        builder = builder.content(converted);
        blocks += 1;
    }
    if blocks == 0 {
        return Err("has no content (Converse needs at least one non-blank block)".to_string());
    }
    builder.build().map_err(|e| e.to_string())
}

/// Reads the model's turn out of a Converse response.
pub(crate) fn response_from_bedrock(
    output: &ConverseResponse,
) -> Result<ModelResponse, ConvertError> {
    let stop_reason =
        match output.stop_reason() {
            StopReason::EndTurn => ModelStopReason::EndTurn,
            StopReason::ToolUse => ModelStopReason::ToolUse,
            StopReason::MaxTokens => ModelStopReason::MaxTokens,
            StopReason::StopSequence => ModelStopReason::StopSequence,
            StopReason::ContentFiltered | StopReason::GuardrailIntervened => {
                ModelStopReason::ContentFiltered
            }
            StopReason::MalformedModelOutput | StopReason::MalformedToolUse => {
                return Err(ConvertError::Response(format!(
                "the model produced malformed output (stop reason {}); a retry usually succeeds",
                output.stop_reason().as_str()
            )))
            }
            StopReason::ModelContextWindowExceeded => return Err(ConvertError::Request(
                "the conversation no longer fits the model's context window; lower the engine's \
                 max_steps or max_observation_bytes, or use a model with a larger window"
                    .to_string(),
            )),
            other => {
                return Err(ConvertError::Response(format!(
                    "unknown stop reason '{}'",
                    other.as_str()
                )))
            }
        };
    let message = match output.output() {
        Some(ConverseOutput::Message(message)) => message,
        Some(_) | None => {
            return Err(ConvertError::Response(
                "the response has no message".to_string(),
            ))
        }
    };
    let mut content = Vec::with_capacity(message.content().len());
    for block in message.content() {
        match block {
            BedrockBlock::Text(text) => content.push(ContentBlock::text(text.clone())),
            BedrockBlock::ToolUse(call) => content.push(ContentBlock::ToolUse {
                id: call.tool_use_id().to_string(),
                name: call.name().to_string(),
                input: to_json(call.input()),
            }),
            // Reasoning traces, citations and the like are not part of the core conversation.
            other => tracing::debug!(block = ?other, "ignoring a Converse content block"),
        }
    }
    if stop_reason == ModelStopReason::ToolUse
        && !content
            .iter()
            .any(|b| matches!(b, ContentBlock::ToolUse { .. }))
    {
        return Err(ConvertError::Response(
            "the model stopped for tool use but asked for no tool".to_string(),
        ));
    }
    let usage = output
        .usage()
        .map(|u| TokenUsage {
            input_tokens: u64::try_from(u.input_tokens()).unwrap_or(0),
            output_tokens: u64::try_from(u.output_tokens()).unwrap_or(0),
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
    use aws_smithy_types::Document;
    use itops_core::ToolSpec;
    use serde_json::json;

    fn request() -> ModelRequest {
        ModelRequest {
            system: Some("You investigate incidents.".to_string()),
            messages: vec![
                Message::user("Checkout is failing."),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        ContentBlock::text("Check the error rate."),
                        ContentBlock::ToolUse {
                            id: "t1".to_string(),
                            name: "error_rate".to_string(),
                            input: json!({"service": "checkout", "minutes": 30}),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![ContentBlock::ToolResult {
                        tool_use_id: "t1".to_string(),
                        content: "unknown service".to_string(),
                        is_error: true,
                    }],
                },
            ],
            tools: vec![ToolSpec {
                name: "error_rate".to_string(),
                description: "Error rate of a service.".to_string(),
                input_schema: json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object",
                    "properties": {"service": {"type": "string"}},
                    "required": ["service"]
                }),
            }],
            max_tokens: Some(512),
            temperature: Some(0.2),
        }
    }

    #[test]
    fn request_carries_system_tools_and_inference_config() {
        let parts = request_parts(
            &request(),
            &RequestOptions {
                tool_result_status: true,
                ..RequestOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            parts.system,
            vec![SystemContentBlock::Text(
                "You investigate incidents.".to_string()
            )]
        );
        assert_eq!(parts.messages.len(), 3);
        assert_eq!(parts.inference.max_tokens(), Some(512));
        assert_eq!(parts.inference.temperature(), Some(0.2));
        let tools = parts.tool_config.unwrap();
        let Tool::ToolSpec(spec) = &tools.tools()[0] else {
            panic!("expected a tool spec")
        };
        assert_eq!(spec.name(), "error_rate");
        let Some(ToolInputSchema::Json(Document::Object(schema))) = spec.input_schema() else {
            panic!("expected a JSON schema")
        };
        assert!(!schema.contains_key("$schema"));
        assert!(schema.contains_key("properties"));

        let BedrockBlock::ToolUse(call) = &parts.messages[1].content()[1] else {
            panic!("expected a tool use")
        };
        assert_eq!(call.tool_use_id(), "t1");
        assert_eq!(
            to_json(call.input()),
            json!({"service": "checkout", "minutes": 30})
        );
        let BedrockBlock::ToolResult(result) = &parts.messages[2].content()[0] else {
            panic!("expected a tool result")
        };
        assert_eq!(result.status(), Some(&ToolResultStatus::Error));
        assert_eq!(
            result.content(),
            &[ToolResultContentBlock::Text("unknown service".to_string())]
        );
    }

    #[test]
    fn models_without_result_status_get_the_error_in_the_text() {
        let parts = request_parts(&request(), &RequestOptions::default()).unwrap();
        let BedrockBlock::ToolResult(result) = &parts.messages[2].content()[0] else {
            panic!("expected a tool result")
        };
        assert_eq!(result.status(), None);
        assert_eq!(
            result.content(),
            &[ToolResultContentBlock::Text(
                "[tool error] unknown service".to_string()
            )]
        );
    }

    #[test]
    fn without_tools_tool_blocks_become_text_and_roles_alternate() {
        let mut req = request();
        req.tools.clear();
        req.messages
            .push(Message::user("Reply with only the corrected JSON."));
        let parts = request_parts(&req, &RequestOptions::default()).unwrap();
        assert!(parts.tool_config.is_none());
        // The tool result and the follow-up question were two user messages: now one.
        assert_eq!(parts.messages.len(), 3);
        let texts = |m: &BedrockMessage| -> Vec<String> {
            m.content()
                .iter()
                .map(|b| match b {
                    BedrockBlock::Text(t) => t.clone(),
                    other => panic!("expected only text, got {other:?}"),
                })
                .collect()
        };
        let assistant = texts(&parts.messages[1]);
        assert_eq!(assistant[0], "Check the error rate.");
        // (Key order depends on serde_json's features; the content does not.)
        assert!(
            assistant[1].starts_with("[called tool error_rate with {")
                && assistant[1].contains(r#""service":"checkout""#)
                && assistant[1].contains(r#""minutes":30"#),
            "{}",
            assistant[1]
        );
        assert_eq!(
            texts(&parts.messages[2]),
            vec![
                "[tool error: unknown service]".to_string(),
                "Reply with only the corrected JSON.".to_string()
            ]
        );
    }

    #[test]
    fn blank_text_is_dropped_and_an_empty_message_refused() {
        let mut req = request();
        req.messages.push(Message::assistant("   "));
        match request_parts(&req, &RequestOptions::default()) {
            Err(ConvertError::Request(message)) => assert!(message.contains("message 3")),
            other => panic!("expected a request error, got {other:?}"),
        }
    }
}
