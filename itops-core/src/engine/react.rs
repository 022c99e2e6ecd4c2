//! The ReAct loop.
//!
//! Every model call runs in a `chat` span and every tool call in an `execute_tool` span,
//! named and attributed after the OpenTelemetry GenAI semantic conventions
//! (`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.*`, `gen_ai.tool.*`,
//! `error.type`); `otel.name` and `otel.kind` give an OpenTelemetry bridge the span's
//! conventional name (`chat {model}`, `execute_tool {tool}`) and kind. The spans cost
//! nothing when no subscriber listens.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;

use crate::engine::config::EngineConfig;
use crate::engine::hook::{ModelAction, StepHook, StepInfo, ToolAction};
use crate::engine::observation::{call_key, render, truncate};
use crate::engine::transcript::{
    Observation, StepRecord, StopReason, ToolCallRecord, ToolDisposition, Transcript,
};
use crate::error::{Error, Result};
use crate::model::{
    ContentBlock, LanguageModel, Message, ModelRequest, ModelStopReason, Role, TokenUsage,
    ToolCall, ToolSpec,
};
use crate::tool::DynTool;

/// Builds a [`ReactEngine`]: `ReactEngine::builder(model).system(..).tool(..).max_steps(n).build()`.
pub struct ReactEngineBuilder {
    model: Arc<dyn LanguageModel>,
    system: Option<String>,
    tools: Vec<Arc<dyn DynTool>>,
    hooks: Vec<Arc<dyn StepHook>>,
    config: EngineConfig,
}

impl ReactEngineBuilder {
    /// Sets the system prompt.
    pub fn system(mut self, system: impl Into<String>) -> Self {
        self.system = Some(system.into());
        self
    }

    /// Adds a tool.
    pub fn tool(mut self, tool: impl DynTool + 'static) -> Self {
        self.tools.push(Arc::new(tool));
        self
    }

    /// Adds shared tools.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Arc<dyn DynTool>>) -> Self {
        self.tools.extend(tools);
        self
    }

    /// Adds a hook called on every step of every run.
    pub fn hook(mut self, hook: Arc<dyn StepHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// Replaces all bounds.
    pub fn config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// Model turns at most.
    pub fn max_steps(mut self, steps: u32) -> Self {
        self.config.max_steps = steps;
        self
    }

    /// Tokens at most over the run.
    pub fn max_total_tokens(mut self, tokens: u64) -> Self {
        self.config.max_total_tokens = tokens;
        self
    }

    /// Longest one tool call may take.
    pub fn tool_timeout(mut self, timeout: Duration) -> Self {
        self.config.tool_timeout = timeout;
        self
    }

    /// Longest the run may take.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.config.deadline = deadline;
        self
    }

    /// Largest observation, in bytes.
    pub fn max_observation_bytes(mut self, bytes: usize) -> Self {
        self.config.max_observation_bytes = bytes;
        self
    }

    /// Validates the bounds and the tool set (names unique and non-empty).
    pub fn build(self) -> Result<ReactEngine> {
        self.config.validate()?;
        let mut tools = BTreeMap::new();
        let mut specs = Vec::with_capacity(self.tools.len());
        for tool in self.tools {
            let spec = tool.spec();
            if spec.name.trim().is_empty() {
                return Err(Error::invalid("tool name", "must not be empty"));
            }
            if tools.insert(spec.name.clone(), tool).is_some() {
                return Err(Error::invalid(
                    "tool name",
                    format!(
                        "'{}' is registered twice; tool names must be unique",
                        spec.name
                    ),
                ));
            }
            specs.push(spec);
        }
        Ok(ReactEngine {
            model: self.model,
            system: self.system,
            tools,
            specs,
            hooks: self.hooks,
            config: self.config,
        })
    }
}

/// A bounded ReAct loop over a model and tools. Cheap to share; each [`run`](Self::run) is independent.
pub struct ReactEngine {
    model: Arc<dyn LanguageModel>,
    system: Option<String>,
    tools: BTreeMap<String, Arc<dyn DynTool>>,
    specs: Vec<ToolSpec>,
    hooks: Vec<Arc<dyn StepHook>>,
    config: EngineConfig,
}

impl std::fmt::Debug for ReactEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReactEngine")
            .field("model", &self.model.name())
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Per-run state.
struct Run<'a> {
    engine: &'a ReactEngine,
    hooks: Vec<&'a dyn StepHook>,
    started: Instant,
    deadline: Instant,
    /// The conversation so far, kept in the request itself so no step copies it.
    request: ModelRequest,
    steps: Vec<StepRecord>,
    usage: TokenUsage,
    seen_calls: HashMap<String, u32>,
}

impl ReactEngine {
    /// Starts a builder.
    pub fn builder(model: Arc<dyn LanguageModel>) -> ReactEngineBuilder {
        ReactEngineBuilder {
            model,
            system: None,
            tools: Vec::new(),
            hooks: Vec::new(),
            config: EngineConfig::default(),
        }
    }

    /// The bounds.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The tools as the model sees them.
    pub fn tool_specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// The model's name.
    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    /// Runs the loop from a conversation (usually one user message stating the task).
    pub async fn run(&self, messages: Vec<Message>) -> Transcript {
        self.run_with_hooks(messages, &[]).await
    }

    /// Runs with extra hooks for this run only (after the engine's own), e.g. one that writes
    /// this incident's timeline.
    pub async fn run_with_hooks(
        &self,
        messages: Vec<Message>,
        extra_hooks: &[Arc<dyn StepHook>],
    ) -> Transcript {
        let started = Instant::now();
        let mut run = Run {
            engine: self,
            hooks: self
                .hooks
                .iter()
                .chain(extra_hooks.iter())
                .map(|h| h.as_ref())
                .collect(),
            started,
            deadline: started + self.config.deadline,
            request: ModelRequest {
                system: self.system.clone(),
                messages,
                tools: self.specs.clone(),
                max_tokens: None,
                temperature: self.config.temperature,
            },
            steps: Vec::new(),
            usage: TokenUsage::default(),
            seen_calls: HashMap::new(),
        };
        let (stop_reason, final_answer) = run.drive().await;
        tracing::debug!(
            model = self.model.name(),
            steps = run.steps.len(),
            ?stop_reason,
            "react run ended"
        );
        Transcript {
            steps: run.steps,
            messages: run.request.messages,
            final_answer,
            stop_reason,
            usage: run.usage,
            elapsed: started.elapsed(),
        }
    }
}

impl Run<'_> {
    fn info(&self, step: u32) -> StepInfo {
        StepInfo {
            step,
            elapsed: self.started.elapsed(),
            usage: self.usage,
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    async fn drive(&mut self) -> (StopReason, Option<String>) {
        let config = &self.engine.config;
        let mut step: u32 = 0;
        loop {
            if step >= config.max_steps {
                return (StopReason::MaxSteps, None);
            }
            if self.remaining().is_zero() {
                return (StopReason::Deadline, None);
            }
            step += 1;
            let remaining_tokens = config.max_total_tokens.saturating_sub(self.usage.total());
            self.request.max_tokens = Some(
                u32::try_from(remaining_tokens.min(u64::from(config.max_tokens_per_turn)))
                    .unwrap_or(u32::MAX),
            );
            let info = self.info(step);
            for hook in &self.hooks {
                match hook.before_model(&info, &self.request).await {
                    Ok(ModelAction::Continue) => {}
                    Ok(ModelAction::Stop { reason }) => {
                        return (StopReason::StoppedByHook { message: reason }, None)
                    }
                    Err(e) => {
                        return (
                            StopReason::HookFailed {
                                message: e.to_string(),
                            },
                            None,
                        )
                    }
                }
            }

            let model_started = Instant::now();
            let span = chat_span(self.engine.model.name(), self.request.max_tokens);
            let response = match tokio::time::timeout(
                self.remaining(),
                self.engine
                    .model
                    .converse(&self.request)
                    .instrument(span.clone()),
            )
            .await
            {
                Err(_) => {
                    record_error(&span, "timeout");
                    return (StopReason::Deadline, None);
                }
                Ok(Err(e)) => {
                    record_error(&span, model_error_type(&e));
                    return (
                        StopReason::ModelFailed {
                            message: e.to_string(),
                        },
                        None,
                    );
                }
                Ok(Ok(response)) => response,
            };
            span.record("gen_ai.usage.input_tokens", response.usage.input_tokens);
            span.record("gen_ai.usage.output_tokens", response.usage.output_tokens);
            span.record(
                "gen_ai.response.finish_reasons",
                finish_reason(response.stop_reason),
            );
            drop(span);
            let model_latency = model_started.elapsed();
            self.usage += response.usage;
            let info = self.info(step);
            for hook in &self.hooks {
                if let Err(e) = hook.after_model(&info, &response).await {
                    return (
                        StopReason::HookFailed {
                            message: e.to_string(),
                        },
                        None,
                    );
                }
            }

            let mut message = response.message;
            message.role = Role::Assistant;
            // Give every call an id so results can be matched even if the model left it out.
            for (i, block) in message.content.iter_mut().enumerate() {
                if let ContentBlock::ToolUse { id, .. } = block {
                    if id.trim().is_empty() {
                        *id = format!("call_{step}_{i}");
                    }
                }
            }
            let thought = message.text();
            let calls = message.tool_calls();
            self.request.messages.push(message);
            self.steps.push(StepRecord {
                index: step,
                thought: thought.clone(),
                model_latency,
                usage: response.usage,
                tool_calls: Vec::new(),
            });

            if self.usage.total() > config.max_total_tokens {
                return (StopReason::TokenBudget, None);
            }
            if calls.is_empty() {
                return (StopReason::Completed, Some(thought));
            }

            let mut results = Vec::with_capacity(calls.len());
            let mut stop = None;
            for call in calls {
                if stop.is_some() {
                    // The run is ending; the remaining calls are answered so the conversation stays well-formed.
                    results.push(ContentBlock::ToolResult {
                        tool_use_id: call.id.clone(),
                        content: "not run: the run was stopped".to_string(),
                        is_error: true,
                    });
                    continue;
                }
                let span = tool_span(&call);
                let outcome = self.handle_call(step, call).instrument(span.clone()).await;
                match &outcome {
                    Ok(record) => {
                        span.record(
                            "itops.tool.disposition",
                            disposition_name(record.observation.disposition),
                        );
                        if let Some(error_type) = tool_error_type(record.observation.disposition) {
                            record_error(&span, error_type);
                        }
                    }
                    Err((_, reason)) => record_error(&span, stop_error_type(reason)),
                }
                drop(span);
                match outcome {
                    Ok(record) => {
                        results.push(ContentBlock::ToolResult {
                            tool_use_id: record.call.id.clone(),
                            content: record.observation.content.clone(),
                            is_error: record.observation.is_error,
                        });
                        if let Some(last) = self.steps.last_mut() {
                            last.tool_calls.push(record);
                        }
                    }
                    Err((id, reason)) => {
                        results.push(ContentBlock::ToolResult {
                            tool_use_id: id,
                            content: "not run: the run was stopped".to_string(),
                            is_error: true,
                        });
                        stop = Some(reason);
                    }
                }
            }
            self.request.messages.push(Message {
                role: Role::User,
                content: results,
            });
            if let Some(reason) = stop {
                return (reason, None);
            }
        }
    }

    /// Runs one requested call through hooks, refusal and bounds. `Err` ends the run.
    async fn handle_call(
        &mut self,
        step: u32,
        mut call: ToolCall,
    ) -> Result<ToolCallRecord, (String, StopReason)> {
        let info = self.info(step);
        let mut rewritten_from = None;
        let mut skipped = None;
        for hook in &self.hooks {
            match hook.before_tool(&info, &call).await {
                Ok(ToolAction::Run) => {}
                Ok(ToolAction::Rewrite { input }) => {
                    rewritten_from.get_or_insert_with(|| call.input.clone());
                    call.input = input;
                }
                Ok(ToolAction::Skip { observation }) => {
                    skipped = Some(observation);
                    break;
                }
                Ok(ToolAction::Stop { reason }) => {
                    return Err((call.id, StopReason::StoppedByHook { message: reason }));
                }
                Err(e) => {
                    return Err((
                        call.id,
                        StopReason::HookFailed {
                            message: e.to_string(),
                        },
                    ))
                }
            }
        }

        let observation = match skipped {
            Some(text) => self.observation(text, true, ToolDisposition::Skipped, Duration::ZERO),
            None => self.execute(step, &call).await,
        };
        let info = self.info(step);
        for hook in &self.hooks {
            if let Err(e) = hook.after_tool(&info, &call, &observation).await {
                return Err((
                    call.id,
                    StopReason::HookFailed {
                        message: e.to_string(),
                    },
                ));
            }
        }
        Ok(ToolCallRecord {
            call,
            rewritten_from,
            observation,
        })
    }

    async fn execute(&mut self, step: u32, call: &ToolCall) -> Observation {
        let Some(tool) = self.engine.tools.get(&call.name).cloned() else {
            let known: Vec<&str> = self.engine.tools.keys().map(String::as_str).collect();
            return self.observation(
                format!(
                    "error: there is no tool named '{}'; available tools: {}",
                    call.name,
                    known.join(", ")
                ),
                true,
                ToolDisposition::UnknownTool,
                Duration::ZERO,
            );
        };
        let key = call_key(&call.name, &call.input);
        if let Some(first) = self.seen_calls.get(&key) {
            return self.observation(
                format!(
                    "refused: this exact call ({} with the same arguments) was already made at step {first}; \
                     its result is above. Call something different or give your answer.",
                    call.name
                ),
                true,
                ToolDisposition::Refused,
                Duration::ZERO,
            );
        }
        self.seen_calls.insert(key, step);

        let limit = self.engine.config.tool_timeout.min(self.remaining());
        let started = Instant::now();
        let outcome = tokio::time::timeout(limit, tool.call_json(call.input.clone())).await;
        let took = started.elapsed();
        match outcome {
            Ok(Ok(output)) => {
                self.observation(render(&output), false, ToolDisposition::Executed, took)
            }
            Ok(Err(e)) => {
                self.observation(format!("error: {e}"), true, ToolDisposition::Failed, took)
            }
            Err(_) => self.observation(
                format!(
                    "error: tool '{}' timed out after {} ms; try a narrower query or another tool",
                    call.name,
                    limit.as_millis()
                ),
                true,
                ToolDisposition::TimedOut,
                took,
            ),
        }
    }

    fn observation(
        &self,
        content: String,
        is_error: bool,
        disposition: ToolDisposition,
        duration: Duration,
    ) -> Observation {
        let (content, truncated) = truncate(content, self.engine.config.max_observation_bytes);
        Observation {
            content,
            is_error,
            truncated,
            disposition,
            duration,
        }
    }
}

/// The span of one model call: `chat {model}` in OpenTelemetry GenAI terms; token counts,
/// finish reason and any `error.type` are recorded when the call returns.
fn chat_span(model: &str, max_tokens: Option<u32>) -> tracing::Span {
    tracing::info_span!(
        "chat",
        otel.name = %format_args!("chat {model}"),
        otel.kind = "client",
        otel.status_code = Empty,
        gen_ai.operation.name = "chat",
        gen_ai.request.model = model,
        gen_ai.request.max_tokens = max_tokens,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        error.type = Empty,
    )
}

/// The span of one requested tool call (hooks, refusal and the call itself):
/// `execute_tool {name}` in OpenTelemetry GenAI terms.
fn tool_span(call: &ToolCall) -> tracing::Span {
    tracing::info_span!(
        "execute_tool",
        otel.name = %format_args!("execute_tool {}", call.name),
        otel.kind = "internal",
        otel.status_code = Empty,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = %call.name,
        gen_ai.tool.call.id = %call.id,
        gen_ai.tool.type = "function",
        itops.tool.disposition = Empty,
        error.type = Empty,
    )
}

/// Marks a span as failed with a low-cardinality `error.type`.
fn record_error(span: &tracing::Span, error_type: &'static str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "error");
}

/// The `error.type` of a failed model call.
fn model_error_type(error: &Error) -> &'static str {
    match error {
        Error::Timeout { .. } => "timeout",
        Error::CircuitOpen { .. } => "circuit_open",
        Error::Model { .. } => "model_error",
        _ => "_OTHER",
    }
}

/// The finish reason in the words OpenAI-compatible providers use (the conventions'
/// examples), so dashboards need no per-provider mapping.
fn finish_reason(reason: ModelStopReason) -> &'static str {
    match reason {
        ModelStopReason::EndTurn | ModelStopReason::StopSequence => "stop",
        ModelStopReason::ToolUse => "tool_calls",
        ModelStopReason::MaxTokens => "length",
        ModelStopReason::ContentFiltered => "content_filter",
    }
}

/// How a tool call ended, as in the transcript's JSON.
fn disposition_name(disposition: ToolDisposition) -> &'static str {
    match disposition {
        ToolDisposition::Executed => "executed",
        ToolDisposition::Failed => "failed",
        ToolDisposition::TimedOut => "timed_out",
        ToolDisposition::Refused => "refused",
        ToolDisposition::Skipped => "skipped",
        ToolDisposition::UnknownTool => "unknown_tool",
    }
}

/// The `error.type` of a tool call that did not give the model a result; `None` when it
/// did (a hook's substitute observation is deliberate, not a failure).
fn tool_error_type(disposition: ToolDisposition) -> Option<&'static str> {
    match disposition {
        ToolDisposition::Executed | ToolDisposition::Skipped => None,
        ToolDisposition::Failed => Some("tool_error"),
        ToolDisposition::TimedOut => Some("timeout"),
        ToolDisposition::Refused => Some("repeated_call"),
        ToolDisposition::UnknownTool => Some("unknown_tool"),
    }
}

/// The `error.type` of a tool call whose hooks ended the run.
fn stop_error_type(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::HookFailed { .. } => "hook_failed",
        _ => "run_stopped",
    }
}
