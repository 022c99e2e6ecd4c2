//! The offline planner: a deterministic [`LanguageModel`] for when no LLM is configured.
//!
//! It runs inside the same ReAct engine as an LLM would, with the same tools and prompts.
//! Each turn it reads the conversation — the task's `<context>` block and every tool
//! result so far — and decides the next tool call or the final answer. Nothing is scripted
//! per scenario: which services it inspects, which tools it calls and what it concludes
//! follow from what the tools returned.

use async_trait::async_trait;
use itops_core::{
    ContentBlock, Error, LanguageModel, Message, ModelRequest, ModelResponse, ModelStopReason,
    Result, Role, TokenUsage, ToolCall,
};
use serde_json::Value;

use crate::agents::prompt::read_context;

mod remediation;
mod root_cause;
mod triage;

/// The deterministic planner.
#[derive(Clone, Debug, Default)]
pub struct OfflinePlanner;

impl OfflinePlanner {
    /// A planner.
    pub fn new() -> Self {
        Self
    }
}

/// One tool call of the conversation and its result.
#[derive(Clone, Debug)]
pub(crate) struct CallRecord {
    pub(crate) call: ToolCall,
    /// The result as JSON (or as a JSON string when it was not JSON); `None` until answered.
    pub(crate) output: Option<Value>,
    pub(crate) is_error: bool,
}

/// What the planner reads from a request.
pub(crate) struct Conversation<'a> {
    pub(crate) context: Value,
    pub(crate) calls: Vec<CallRecord>,
    pub(crate) tools: Vec<&'a str>,
}

impl<'a> Conversation<'a> {
    fn read(request: &'a ModelRequest) -> Result<Self> {
        let context = request
            .messages
            .iter()
            .filter(|m| m.role == Role::User)
            .find_map(|m| read_context(&m.text()))
            .ok_or_else(|| Error::Model {
                model: "offline-planner".into(),
                message: "the task has no <context> block; the offline planner works only with itops agent prompts".into(),
                retryable: false,
            })?;
        let mut calls: Vec<CallRecord> = Vec::new();
        for message in &request.messages {
            for block in &message.content {
                match block {
                    ContentBlock::ToolUse { id, name, input } => calls.push(CallRecord {
                        call: ToolCall {
                            id: id.clone(),
                            name: name.clone(),
                            input: input.clone(),
                        },
                        output: None,
                        is_error: false,
                    }),
                    ContentBlock::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    } => {
                        if let Some(record) =
                            calls.iter_mut().rev().find(|c| &c.call.id == tool_use_id)
                        {
                            record.output = Some(
                                serde_json::from_str(content)
                                    .unwrap_or_else(|_| Value::String(content.clone())),
                            );
                            record.is_error = *is_error;
                        }
                    }
                    ContentBlock::Text { .. } => {}
                }
            }
        }
        Ok(Self {
            context,
            calls,
            tools: request.tools.iter().map(|t| t.name.as_str()).collect(),
        })
    }

    /// Whether the tool is available.
    pub(crate) fn has_tool(&self, name: &str) -> bool {
        self.tools.contains(&name)
    }

    /// The successful result of the first call to `name` whose input matches `matches`.
    pub(crate) fn result(&self, name: &str, matches: impl Fn(&Value) -> bool) -> Option<&Value> {
        self.calls
            .iter()
            .find(|c| c.call.name == name && !c.is_error && matches(&c.call.input))
            .and_then(|c| c.output.as_ref())
    }

    /// Whether a call to `name` with an input matching `matches` was made (whatever its outcome).
    pub(crate) fn called(&self, name: &str, matches: impl Fn(&Value) -> bool) -> bool {
        self.calls
            .iter()
            .any(|c| c.call.name == name && matches(&c.call.input))
    }
}

/// What the planner does next.
pub(crate) enum Move {
    /// Call these tools (in one turn).
    Call(Vec<(String, Value)>, String),
    /// Answer with this text.
    Answer(String),
}

#[async_trait]
impl LanguageModel for OfflinePlanner {
    fn name(&self) -> &str {
        "offline-planner"
    }

    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse> {
        let conversation = Conversation::read(request)?;
        let role = conversation
            .context
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let next = match role.as_str() {
            "root_cause" => root_cause::next(&conversation),
            "remediation" => remediation::next(&conversation),
            "triage" => triage::next(&conversation),
            other => {
                return Err(Error::Model {
                    model: self.name().into(),
                    message: format!("the offline planner has no plan for the role '{other}'"),
                    retryable: false,
                })
            }
        };
        let (content, stop_reason) = match next {
            Move::Call(calls, thought) => {
                let mut content = vec![ContentBlock::text(thought)];
                let step = conversation.calls.len();
                content.extend(calls.into_iter().enumerate().map(|(i, (name, input))| {
                    ContentBlock::ToolUse {
                        id: format!("planner_{}", step + i),
                        name,
                        input,
                    }
                }));
                (content, ModelStopReason::ToolUse)
            }
            Move::Answer(text) => (vec![ContentBlock::text(text)], ModelStopReason::EndTurn),
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                content,
            },
            stop_reason,
            usage: TokenUsage::default(),
        })
    }
}
