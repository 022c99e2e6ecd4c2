//! [`OpenAiModel`]: a [`LanguageModel`](itops_core::LanguageModel) over an OpenAI-compatible
//! chat-completions API.
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
//! [`ResilientModel`](itops_core::breaker::ResilientModel) (see [`OpenAiModel::resilient`])
//! for retries and a circuit breaker.
//!
//! The settings are here; the client and its errors are in `client`, the request and
//! response as they travel in `wire`.
use std::fmt;
use std::time::Duration;

use itops_core::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};

mod client;
mod wire;

pub use client::OpenAiModel;

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
