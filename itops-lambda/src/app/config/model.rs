//! Which model the agents use: the offline planner, an OpenAI-compatible server or Bedrock.

use itops_agents::openai::OpenAiSettings;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Which model the agents use.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `offline` (default: the deterministic planner, no LLM), `openai` (any
    /// OpenAI-compatible server) or `bedrock` (with the `aws` feature).
    pub provider: ModelProvider,
    /// Settings of the OpenAI-compatible client (else from `ITOPS_OPENAI_*`).
    pub openai: Option<OpenAiSettings>,
    /// Settings of the Bedrock model.
    pub bedrock: Option<BedrockConfig>,
    /// Consecutive failures that open the model's circuit breaker (default 5).
    pub breaker_failures: Option<u32>,
    /// How long the breaker stays open, in seconds (default 30).
    pub breaker_open_secs: Option<u64>,
    /// Attempts per model call, retries included (default 3).
    pub attempts: Option<u32>,
}

/// The model provider.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelProvider {
    /// The deterministic offline planner.
    #[default]
    Offline,
    /// An OpenAI-compatible chat-completions server.
    #[serde(alias = "openai-compatible", alias = "openai_compatible")]
    Openai,
    /// Amazon Bedrock (Converse). Needs an `itops` built with the `aws` feature; without it,
    /// the configuration is refused at start.
    Bedrock,
}

impl std::str::FromStr for ModelProvider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "offline" => Ok(Self::Offline),
            "openai" | "openai-compatible" | "openai_compatible" => Ok(Self::Openai),
            "bedrock" => Ok(Self::Bedrock),
            other => Err(Error::Usage(format!(
                "unknown model provider '{other}': use offline, openai or bedrock"
            ))),
        }
    }
}

/// Bedrock settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BedrockConfig {
    /// Model or inference-profile id.
    pub model_id: String,
    /// Region (else the AWS chain's).
    #[serde(default)]
    pub region: Option<String>,
}
