//! [`AgentModel`]: the language model the agents think with, and the circuit breaker guarding
//! it, as `itops serve` and the Lambda functions build it from `[model]`.

use std::sync::Arc;
use std::time::Duration;

use itops_core::breaker::{BreakerConfig, CircuitBreaker, RetryPolicy};
use itops_core::LanguageModel;

use super::config::{ModelProvider, ServeConfig};
use crate::error::{Error, Result};

/// Why `model.provider = "bedrock"` is refused by an `itops` built without the `aws` feature
/// (the AWS SDK, and so Bedrock, is not compiled in).
#[cfg(not(feature = "aws"))]
pub(crate) const BEDROCK_NEEDS_AWS: &str = "model.provider = \"bedrock\" (ITOPS_MODEL_PROVIDER): \
     this itops was built without the `aws` feature; rebuild with `--features aws` to use \
     Bedrock (cargo build --release --bin itops --features aws)";

/// The language model the agents think with, and the circuit breaker guarding it (whose
/// state `/metrics` reports).
#[derive(Clone)]
pub struct AgentModel {
    /// The model (behind its breaker and retries, when it has a breaker).
    pub model: Arc<dyn LanguageModel>,
    /// The model's circuit breaker; none for a model that cannot fail, such as the offline
    /// planner.
    pub breaker: Option<Arc<dyn CircuitBreaker>>,
}

impl AgentModel {
    /// `model` with no circuit breaker to report.
    pub fn unguarded(model: Arc<dyn LanguageModel>) -> Self {
        Self {
            model,
            breaker: None,
        }
    }

    /// The offline planner: no language model, no network, no breaker.
    pub fn offline() -> Self {
        Self::unguarded(Arc::new(itops_agents::planner::OfflinePlanner::new()))
    }

    /// The model `[model]` configures (offline, an OpenAI-compatible API or Bedrock), behind
    /// a circuit breaker and retries as configured.
    pub(crate) async fn from_config(config: &ServeConfig) -> Result<Self> {
        let breaker = BreakerConfig {
            failure_threshold: config.model.breaker_failures.unwrap_or(5).max(1),
            open_interval: Duration::from_secs(config.model.breaker_open_secs.unwrap_or(30)),
            ..BreakerConfig::default()
        };
        let retry = RetryPolicy {
            max_attempts: config.model.attempts.unwrap_or(3).max(1),
            ..RetryPolicy::default()
        };
        match config.model.provider {
            ModelProvider::Offline => Ok(Self::offline()),
            ModelProvider::Openai => {
                let settings = match &config.model.openai {
                    Some(s) => s.clone(),
                    None => itops_agents::openai::OpenAiSettings::from_env()
                        .map_err(|e| Error::Usage(format!("model.provider = \"openai\": {e}")))?,
                };
                let model = itops_agents::openai::OpenAiModel::resilient(settings, breaker, retry)
                    .map_err(|e| Error::Usage(format!("model.openai: {e}")))?;
                let breaker = model.breaker().clone();
                Ok(Self {
                    model: Arc::new(model),
                    breaker: Some(breaker),
                })
            }
            #[cfg(feature = "aws")]
            ModelProvider::Bedrock => Self::bedrock(config, breaker, retry).await,
            #[cfg(not(feature = "aws"))]
            ModelProvider::Bedrock => Err(Error::Usage(BEDROCK_NEEDS_AWS.into())),
        }
    }

    /// Bedrock (Converse) as `[model.bedrock]` configures it, behind a circuit breaker and
    /// retries.
    #[cfg(feature = "aws")]
    async fn bedrock(
        config: &ServeConfig,
        breaker: BreakerConfig,
        retry: RetryPolicy,
    ) -> Result<Self> {
        use itops_core::breaker::{ConsecutiveFailureBreaker, ResilientModel};

        let bedrock = config
            .model
            .bedrock
            .clone()
            .ok_or_else(|| Error::Usage("model.bedrock.model_id is not set".into()))?;
        let mut settings = itops_aws::BedrockSettings::new(bedrock.model_id);
        settings.aws.region = bedrock.region;
        let model = itops_aws::BedrockModel::connect(&settings)
            .await
            .map_err(|e| Error::Usage(format!("Bedrock: {e}")))?;
        let breaker: Arc<dyn CircuitBreaker> =
            Arc::new(ConsecutiveFailureBreaker::new("bedrock", breaker)?);
        Ok(Self {
            model: Arc::new(ResilientModel::new(
                model,
                breaker.clone(),
                retry,
                Duration::from_secs(120),
            )),
            breaker: Some(breaker),
        })
    }
}

impl std::fmt::Debug for AgentModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentModel")
            .field("model", &self.model.name())
            .field(
                "breaker",
                &self.breaker.as_ref().map(|b| b.name().to_string()),
            )
            .finish()
    }
}

#[cfg(all(test, not(feature = "aws")))]
mod tests {
    use super::*;
    use crate::app::config::BedrockConfig;

    #[tokio::test]
    async fn bedrock_without_the_aws_feature_is_a_clear_error() {
        let mut config = ServeConfig::default();
        config.model.provider = ModelProvider::Bedrock;
        config.model.bedrock = Some(BedrockConfig {
            model_id: "us.anthropic.claude-3-5-haiku-20241022-v1:0".into(),
            ..BedrockConfig::default()
        });
        let Err(error) = AgentModel::from_config(&config).await else {
            panic!("Bedrock was built without the AWS SDK");
        };
        assert!(matches!(error, Error::Usage(_)), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("built without the `aws` feature")
                && message.contains("--features aws"),
            "{message}"
        );
    }
}
