//! The client: [`OpenAiModel`] over HTTP, and what its errors say.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::breaker::{BreakerConfig, ConsecutiveFailureBreaker, ResilientModel, RetryPolicy};
use itops_core::text::clip;
use itops_core::{Error, LanguageModel, ModelRequest, ModelResponse, Result};
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::wire::{parse_response, wire_messages, ChatRequest, WireFunction, WireTool};
use super::{OpenAiSettings, TokenLimitParam, ENV_API_KEY, ENV_API_KEY_FALLBACK};

/// Longest server error message quoted in an error, in characters.
pub(super) const MAX_QUOTED_CHARS: usize = 500;
/// Largest response body read; anything bigger is not a chat completion.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Connecting should never take long, even when generation does.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
pub(super) fn snippet(body: &[u8]) -> String {
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
pub(super) fn server_message(body: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
