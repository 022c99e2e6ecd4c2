//! [`OpenAiModel`]: a [`LanguageModel`] over an OpenAI-compatible chat-completions API.
//!
//! One client for OpenAI (`https://api.openai.com/v1`), Ollama (`http://localhost:11434/v1`),
//! vLLM (`http://localhost:8000/v1`) and LM Studio (`http://localhost:1234/v1`): each turn is
//! one `POST {base_url}/chat/completions` with the tools in the function-calling format.
//!
//! Errors follow the core's retry rules ([`Error::is_retryable`]): HTTP 408, 429 and 5xx and
//! connection failures are retryable [`Error::Model`]s, a client-side timeout is an
//! [`Error::Timeout`]; other statuses (400, 401, 403, 404, ...) and answers that cannot be
//! used (not JSON, no choices, tool arguments that are not JSON) are not retryable and say
//! what the server said. Put the model behind
//! [`ResilientModel`] (see [`OpenAiModel::resilient`]) for retries and a circuit breaker.

use itops_core::text::clip;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::breaker::{BreakerConfig, ConsecutiveFailureBreaker, ResilientModel, RetryPolicy};
use itops_core::{
    ContentBlock, Error, LanguageModel, Message, ModelRequest, ModelResponse, ModelStopReason,
    Result, Role, TokenUsage,
};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `base_url` when none is configured.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// How long one HTTP call may take when no timeout is configured (local models are slow).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Environment variable with the base URL (default [`DEFAULT_BASE_URL`]).
pub const ENV_BASE_URL: &str = "ITOPS_OPENAI_BASE_URL";
/// Environment variable with the model name (required).
pub const ENV_MODEL: &str = "ITOPS_OPENAI_MODEL";
/// Environment variable with the API key (optional).
pub const ENV_API_KEY: &str = "ITOPS_OPENAI_API_KEY";
/// The API key variable of OpenAI's own tools, read when [`ENV_API_KEY`] is not set.
pub const ENV_API_KEY_FALLBACK: &str = "OPENAI_API_KEY";

/// Longest server error message quoted in an error, in characters.
const MAX_QUOTED_CHARS: usize = 500;
/// Largest response body read; anything bigger is not a chat completion.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Connecting should never take long, even when generation does.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which request field carries the output token cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenLimitParam {
    /// `max_tokens`: what Ollama, vLLM and LM Studio read.
    MaxTokens,
    /// `max_completion_tokens`: what OpenAI asks for (its reasoning models refuse `max_tokens`).
    MaxCompletionTokens,
}

/// Settings of an [`OpenAiModel`]; deserialisable as a config table (`base_url`, `model`,
/// `api_key`, `timeout_secs`, `max_tokens`, `temperature`, `token_limit_param`).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenAiSettings {
    /// The API root, up to and including the version: `https://api.openai.com/v1`,
    /// `http://localhost:11434/v1` (Ollama), `http://localhost:8000/v1` (vLLM),
    /// `http://localhost:1234/v1` (LM Studio).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The model name as the server knows it (`gpt-4o-mini`, `llama3.1:8b`, ...).
    pub model: String,
    /// Sent as `Authorization: Bearer KEY` when set; local servers usually need none.
    /// Never shown by `Debug`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Bound on one HTTP call, connection to last byte (`timeout_secs` in a config file).
    #[serde(
        rename = "timeout_secs",
        default = "default_timeout",
        deserialize_with = "duration_from_secs"
    )]
    pub timeout: Duration,
    /// Output tokens per turn when the request sets none (`None` leaves it to the server).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature when the request sets none.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Which field carries the token cap; `None` picks `max_completion_tokens` for
    /// `api.openai.com` and `max_tokens` for every other server.
    #[serde(default)]
    pub token_limit_param: Option<TokenLimitParam>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

fn duration_from_secs<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    match Duration::try_from_secs_f64(secs) {
        Ok(timeout) if !timeout.is_zero() => Ok(timeout),
        _ => Err(serde::de::Error::custom(format!(
            "timeout_secs must be a positive number of seconds, not {secs}"
        ))),
    }
}

impl fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("max_tokens", &self.max_tokens)
            .field("temperature", &self.temperature)
            .field("token_limit_param", &self.token_limit_param)
            .finish()
    }
}

impl OpenAiSettings {
    /// Settings for `model` on OpenAI, without a key, with the default timeout.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            base_url: default_base_url(),
            model: model.into(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            max_tokens: None,
            temperature: None,
            token_limit_param: None,
        }
    }

    /// Sets the API root (e.g. `http://localhost:11434/v1`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Sets the API key.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// Sets the bound on one HTTP call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reads `ITOPS_OPENAI_BASE_URL` (default [`DEFAULT_BASE_URL`]), `ITOPS_OPENAI_MODEL`
    /// (required) and `ITOPS_OPENAI_API_KEY` (else `OPENAI_API_KEY`, else none). Empty
    /// variables count as unset.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), with variables from `lookup` (for tests and
    /// other sources of environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let model = get(ENV_MODEL).ok_or_else(|| {
            Error::invalid(
                ENV_MODEL,
                "the environment variable is not set; set it to the model name the server \
                 knows (e.g. gpt-4o-mini on OpenAI, llama3.1:8b on Ollama)",
            )
        })?;
        let mut settings = Self::new(model);
        if let Some(base_url) = get(ENV_BASE_URL) {
            settings.base_url = base_url;
        }
        settings.api_key = get(ENV_API_KEY).or_else(|| get(ENV_API_KEY_FALLBACK));
        Ok(settings)
    }
}

/// A [`LanguageModel`] over an OpenAI-compatible `POST {base_url}/chat/completions`
/// (OpenAI, Ollama, vLLM, LM Studio, ...), with function-calling tools.
#[derive(Clone)]
pub struct OpenAiModel {
    client: reqwest::Client,
    endpoint: Url,
    model: String,
    auth: Option<HeaderValue>,
    timeout: Duration,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
    token_limit: TokenLimitParam,
}

impl fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("endpoint", &self.endpoint.as_str())
            .field("model", &self.model)
            .field("api_key", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiModel {
    /// Checks the settings (URL, model name, key, timeout) and builds the client; makes no
    /// network call.
    pub fn new(settings: OpenAiSettings) -> Result<Self> {
        let model = settings.model.trim().to_string();
        if model.is_empty() {
            return Err(Error::invalid(
                "model",
                "is empty; set the model name the server knows (e.g. gpt-4o-mini, llama3.1:8b)",
            ));
        }
        let endpoint = endpoint_of(&settings.base_url)?;
        if settings.timeout.is_zero() {
            return Err(Error::invalid("timeout", "must be longer than zero"));
        }
        if settings
            .temperature
            .is_some_and(|t| !(t.is_finite() && t >= 0.0))
        {
            return Err(Error::invalid("temperature", "must be a number >= 0"));
        }
        let auth = match settings.api_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    Error::invalid(
                        "api_key",
                        "contains characters that cannot be sent in an HTTP header (line \
                         breaks, non-ASCII); check how the key was copied",
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let token_limit = settings.token_limit_param.unwrap_or(
            if endpoint.host_str() == Some("api.openai.com") {
                TokenLimitParam::MaxCompletionTokens
            } else {
                TokenLimitParam::MaxTokens
            },
        );
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(MAX_CONNECT_TIMEOUT))
            .user_agent(concat!("itops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Model {
                model: model.clone(),
                message: format!("the HTTP client could not be built: {}", error_chain(&e)),
                retryable: false,
            })?;
        Ok(Self {
            client,
            endpoint,
            model,
            auth,
            timeout: settings.timeout,
            max_tokens: settings.max_tokens,
            temperature: settings.temperature,
            token_limit,
        })
    }

    /// The model behind the core's resilience: a [`ConsecutiveFailureBreaker`] (named
    /// `openai:MODEL`) with `breaker`, retries of retryable errors with `retry`, and a
    /// per-attempt bound slightly above the settings' timeout (so the client's own, more
    /// precise timeout fires first).
    pub fn resilient(
        settings: OpenAiSettings,
        breaker: BreakerConfig,
        retry: RetryPolicy,
    ) -> Result<ResilientModel<OpenAiModel>> {
        retry.validate()?;
        let model = Self::new(settings)?;
        let breaker = ConsecutiveFailureBreaker::new(format!("openai:{}", model.model), breaker)?;
        let attempt_timeout = model.timeout.saturating_add(Duration::from_secs(1));
        Ok(ResilientModel::new(
            model,
            Arc::new(breaker),
            retry,
            attempt_timeout,
        ))
    }

    /// The model name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The URL every turn is posted to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    fn model_error(&self, message: impl Into<String>, retryable: bool) -> Error {
        Error::Model {
            model: self.model.clone(),
            message: message.into(),
            retryable,
        }
    }

    /// A failure to get an answer at all.
    fn transport_error(&self, error: &reqwest::Error) -> Error {
        if error.is_timeout() {
            return Error::Timeout {
                what: format!("model '{}' at {}", self.model, self.endpoint),
                after: self.timeout,
            };
        }
        let detail = error_chain(error);
        if error.is_builder() || error.is_redirect() {
            self.model_error(
                format!(
                    "the request to {} could not be made: {detail}",
                    self.endpoint
                ),
                false,
            )
        } else if error.is_connect() {
            self.model_error(
                format!(
                    "could not connect to {}: {detail}; check base_url and that the server is \
                     running",
                    self.endpoint
                ),
                true,
            )
        } else {
            // A connection cut mid-request or mid-body: worth another try.
            self.model_error(
                format!("the request to {} failed: {detail}", self.endpoint),
                true,
            )
        }
    }

    /// A non-success HTTP status.
    fn status_error(&self, status: StatusCode, body: &[u8], retry_after: Option<&str>) -> Error {
        let code = status.as_u16();
        let retryable = code == 408 || code == 429 || status.is_server_error();
        let hint = match code {
            401 | 403 => format!(
                "; check the API key ({ENV_API_KEY} or {ENV_API_KEY_FALLBACK}) and its access \
                 to model '{}'",
                self.model
            ),
            404 => format!(
                "; check base_url (the API root including the version, e.g. .../v1) and that \
                 the server has model '{}'",
                self.model
            ),
            429 => match retry_after.map(str::trim) {
                // Retry-After is seconds or an HTTP date.
                Some(after) if after.parse::<u64>().is_ok() => {
                    format!("; rate limited, the server asks to retry after {after}s")
                }
                Some(after) => format!("; rate limited, the server asks to retry after {after}"),
                None => "; rate limited".to_string(),
            },
            _ => String::new(),
        };
        self.model_error(
            format!(
                "{} answered HTTP {status}: {}{hint}",
                self.endpoint,
                server_message(body)
            ),
            retryable,
        )
    }

    fn request_body(&self, request: &ModelRequest) -> Result<Vec<u8>> {
        let messages = wire_messages(request).map_err(|m| {
            self.model_error(
                format!("the conversation cannot be sent as chat completions: {m}"),
                false,
            )
        })?;
        let max_tokens = request.max_tokens.or(self.max_tokens);
        let body = ChatRequest {
            model: &self.model,
            messages,
            tools: request
                .tools
                .iter()
                .map(|t| WireTool {
                    kind: "function",
                    function: WireFunction {
                        name: &t.name,
                        description: &t.description,
                        parameters: &t.input_schema,
                    },
                })
                .collect(),
            max_tokens: max_tokens.filter(|_| self.token_limit == TokenLimitParam::MaxTokens),
            max_completion_tokens: max_tokens
                .filter(|_| self.token_limit == TokenLimitParam::MaxCompletionTokens),
            temperature: request.temperature.or(self.temperature),
            stream: false,
        };
        serde_json::to_vec(&body).map_err(|e| Error::serialization("chat-completions request", e))
    }

    /// Reads the body, refusing anything larger than a chat completion can be.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                return Err(self.model_error(
                    format!(
                        "{} sent more than {} MiB; that is not a chat completion",
                        self.endpoint,
                        MAX_RESPONSE_BYTES / (1024 * 1024)
                    ),
                    false,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.model
    }

    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse> {
        let body = self.request_body(request)?;
        let mut http = self
            .client
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(auth) = &self.auth {
            http = http.header(AUTHORIZATION, auth.clone());
        }
        let response = http.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = self.read_body(response).await?;
        if !status.is_success() {
            return Err(self.status_error(status, &body, retry_after.as_deref()));
        }
        parse_response(&body).map_err(|m| {
            self.model_error(
                format!(
                    "unusable chat-completions response from {}: {m}",
                    self.endpoint
                ),
                false,
            )
        })
    }
}

/// `{base_url}/chat/completions`, after checking the URL.
fn endpoint_of(base_url: &str) -> Result<Url> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let example = "use e.g. https://api.openai.com/v1 or http://localhost:11434/v1";
    let url = Url::parse(trimmed).map_err(|e| {
        Error::invalid(
            "base_url",
            format!("'{trimmed}' is not a URL ({e}); {example}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::invalid(
            "base_url",
            format!("'{trimmed}' is not an http(s) URL with a host; {example}"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            "base_url",
            format!("'{trimmed}' has a query or fragment; give the API root only; {example}"),
        ));
    }
    #[cfg(not(feature = "rustls"))]
    if url.scheme() == "https" {
        return Err(Error::invalid(
            "base_url",
            format!(
                "'{trimmed}' needs HTTPS, but itops-agents was built without its `rustls` \
                 feature; enable it or use an http:// server"
            ),
        ));
    }
    // Accept the full endpoint too: a common way to paste it.
    let full = if url.path().ends_with("/chat/completions") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/chat/completions")
    };
    Url::parse(&full).map_err(|e| Error::invalid("base_url", format!("'{full}': {e}")))
}

/// An error's sources, joined with `: `, each message once; the error itself when it has
/// none (reqwest's own message only repeats the URL the caller already names).
fn error_chain(error: &dyn std::error::Error) -> String {
    let Some(first) = error.source() else {
        return error.to_string();
    };
    let mut parts: Vec<String> = vec![first.to_string()];
    let mut source = first.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// A body as quotable text: whitespace collapsed, clipped.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        "(empty body)".to_string()
    } else {
        clip(&collapsed, MAX_QUOTED_CHARS)
    }
}

/// The server's own words from an error body: `error.message` (OpenAI, Ollama, vLLM),
/// `error` as text, `message` or `detail`; else the body itself.
fn server_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return snippet(body);
    };
    let text = [
        json.pointer("/error/message"),
        json.get("error"),
        json.get("message"),
        json.get("detail"),
    ]
    .into_iter()
    .flatten()
    .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()));
    match text {
        Some(text) => snippet(text.as_bytes()),
        None => snippet(body),
    }
}

// ---- The request, as sent ----

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
enum WireMessage<'a> {
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
struct WireToolCall<'a> {
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
fn wire_messages(request: &ModelRequest) -> std::result::Result<Vec<WireMessage<'_>>, String> {
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

fn parse_response(body: &[u8]) -> std::result::Result<ModelResponse, String> {
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
    fn endpoint_appends_chat_completions_once() {
        let url = endpoint_of("http://localhost:11434/v1/").unwrap();
        assert_eq!(url.as_str(), "http://localhost:11434/v1/chat/completions");
        let url = endpoint_of("http://localhost:8000/v1/chat/completions").unwrap();
        assert_eq!(url.as_str(), "http://localhost:8000/v1/chat/completions");
        assert!(endpoint_of("localhost:11434").is_err());
        assert!(endpoint_of("ftp://example.com/v1").is_err());
        assert!(endpoint_of("not a url").is_err());
        assert!(endpoint_of("http://h/v1?x=1").is_err());
    }

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

    #[test]
    fn server_messages_are_found_and_clipped() {
        assert_eq!(
            server_message(br#"{"error":{"message":"bad key","type":"x"}}"#),
            "bad key"
        );
        assert_eq!(
            server_message(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(server_message(br#"{"detail":"nope"}"#), "nope");
        assert_eq!(
            server_message(b"  <html>\n oops </html>"),
            "<html> oops </html>"
        );
        assert_eq!(server_message(b""), "(empty body)");
        let long = "é".repeat(2 * MAX_QUOTED_CHARS);
        let clipped = server_message(long.as_bytes());
        assert_eq!(clipped.chars().count(), MAX_QUOTED_CHARS);
        assert!(clipped.ends_with('…'));
    }
}
