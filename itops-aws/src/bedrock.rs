//! [`BedrockModel`]: a [`LanguageModel`] over the Bedrock Converse API.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::Client;
use itops_core::{LanguageModel, ModelRequest, ModelResponse};

use crate::config::{region_of, AwsSettings};
use crate::error::{Error, Result};
use crate::sdk::{classify_known, Call};

mod convert;
mod document;

use convert::{request_parts, response_from_bedrock, ConvertError, RequestOptions};

/// Settings of a [`BedrockModel`].
#[derive(Clone, Debug, PartialEq)]
pub struct BedrockSettings {
    /// A Converse-capable model id or inference profile id, e.g.
    /// `anthropic.claude-3-5-haiku-20241022-v1:0`, `us.amazon.nova-lite-v1:0`,
    /// `meta.llama3-1-70b-instruct-v1:0`, `mistral.mistral-large-2407-v1:0`.
    pub model_id: String,
    /// Region, endpoint and credentials.
    pub aws: AwsSettings,
    /// Attempts the SDK itself makes per call (1 = no SDK retries). Retries normally belong
    /// to `itops_core::breaker::ResilientModel`, so that the circuit breaker sees every
    /// failure; raise this only when the model is used without it.
    pub sdk_max_attempts: u32,
    /// Output tokens per turn when the request sets none (Converse requires a bound for some
    /// models).
    pub default_max_tokens: Option<u32>,
    /// Nucleus sampling, when set.
    pub top_p: Option<f32>,
    /// Stop sequences, when any.
    pub stop_sequences: Vec<String>,
    /// Whether tool results carry Converse's `status` field. `None` decides from the model id
    /// (Anthropic models support it; for others a failed tool's text is marked instead).
    pub tool_result_status: Option<bool>,
}

impl BedrockSettings {
    /// Settings for `model_id` with everything else from the standard AWS chain.
    pub fn new(model_id: impl Into<String>) -> Self {
        Self {
            model_id: model_id.into(),
            aws: AwsSettings::default(),
            sdk_max_attempts: 1,
            default_max_tokens: Some(4_096),
            top_p: None,
            stop_sequences: Vec::new(),
            tool_result_status: None,
        }
    }

    /// Sets the region, endpoint and credentials.
    pub fn aws(mut self, aws: AwsSettings) -> Self {
        self.aws = aws;
        self
    }

    fn request_options(&self) -> RequestOptions {
        RequestOptions {
            tool_result_status: self
                .tool_result_status
                .unwrap_or_else(|| self.model_id.contains("anthropic.")),
            top_p: self.top_p,
            stop_sequences: self.stop_sequences.clone(),
            default_max_tokens: self.default_max_tokens,
        }
    }
}

/// A [`LanguageModel`] backed by Amazon Bedrock's Converse API.
///
/// Works with any model that supports Converse with tool use (Anthropic Claude, Amazon
/// Nova, Meta Llama 3.1+, Mistral Large). Throttling and 5xx responses become retryable
/// `Error::Model`s, so `ResilientModel` retries them and its circuit breaker counts them;
/// validation and permission errors are not retryable and say what to fix.
#[derive(Clone, Debug)]
pub struct BedrockModel {
    client: Client,
    model_id: String,
    region: String,
    options: RequestOptions,
}

impl BedrockModel {
    /// Loads the AWS configuration from `settings` and builds the model.
    pub async fn connect(settings: &BedrockSettings) -> Result<Self> {
        let sdk = settings.aws.load().await?;
        Self::from_sdk_config(&sdk, settings)
    }

    /// Builds the model from an already loaded AWS configuration.
    pub fn from_sdk_config(sdk: &SdkConfig, settings: &BedrockSettings) -> Result<Self> {
        if settings.model_id.trim().is_empty() {
            return Err(Error::config(
                "the Bedrock model id is empty; set it (e.g. anthropic.claude-3-5-haiku-20241022-v1:0)",
            ));
        }
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .retry_config(
                RetryConfig::standard().with_max_attempts(settings.sdk_max_attempts.max(1)),
            )
            .build();
        Ok(Self {
            client: Client::from_conf(config),
            model_id: settings.model_id.clone(),
            region: region_of(sdk),
            options: settings.request_options(),
        })
    }

    /// Wraps an existing client (e.g. one with a mocked HTTP layer).
    pub fn from_client(client: Client, settings: &BedrockSettings) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "(no region)".to_string());
        Self {
            client,
            model_id: settings.model_id.clone(),
            region,
            options: settings.request_options(),
        }
    }

    /// The model id.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    fn model_error(&self, message: impl Into<String>, retryable: bool) -> itops_core::Error {
        itops_core::Error::Model {
            model: self.model_id.clone(),
            message: message.into(),
            retryable,
        }
    }

    fn sdk_error(&self, error: Error) -> itops_core::Error {
        let retryable = error.is_retryable();
        let message = match &error {
            Error::Invalid { message, .. } => format!(
                "Bedrock rejected the request in region {} ({message}); check the model id (some \
                 models need an inference profile id such as `us.<model id>`), that the model \
                 supports Converse with tools, and the inference settings",
                self.region
            ),
            Error::ResourceNotFound { message, .. } => format!(
                "model '{}' is not available in region {} ({message}); check the model id and \
                 region",
                self.model_id, self.region
            ),
            _ => error.to_string(),
        };
        self.model_error(message, retryable)
    }
}

/// The error code a typed Converse error stands for.
fn variant_code(error: &ConverseError) -> Option<&'static str> {
    Some(match error {
        ConverseError::ThrottlingException(_) => "ThrottlingException",
        ConverseError::ServiceUnavailableException(_) => "ServiceUnavailableException",
        ConverseError::InternalServerException(_) => "InternalServerException",
        ConverseError::ModelNotReadyException(_) => "ModelNotReadyException",
        ConverseError::ModelTimeoutException(_) => "ModelTimeoutException",
        ConverseError::ModelErrorException(_) => "ModelErrorException",
        ConverseError::ValidationException(_) => "ValidationException",
        ConverseError::AccessDeniedException(_) => "AccessDeniedException",
        ConverseError::ResourceNotFoundException(_) => "ResourceNotFoundException",
        _ => return None,
    })
}

#[async_trait]
impl LanguageModel for BedrockModel {
    fn name(&self) -> &str {
        &self.model_id
    }

    async fn converse(&self, request: &ModelRequest) -> itops_core::Result<ModelResponse> {
        let parts = request_parts(request, &self.options).map_err(|e| match e {
            ConvertError::Request(m) | ConvertError::Response(m) => self.model_error(
                format!("the request cannot be sent to Converse: {m}"),
                false,
            ),
        })?;
        let output = self
            .client
            .converse()
            .model_id(&self.model_id)
            .set_system((!parts.system.is_empty()).then_some(parts.system))
            .set_messages(Some(parts.messages))
            .set_tool_config(parts.tool_config)
            .inference_config(parts.inference)
            .send()
            .await
            .map_err(|e| {
                let known = e.as_service_error().and_then(variant_code);
                self.sdk_error(classify_known(
                    Call {
                        service: "Bedrock",
                        operation: "Converse",
                        resource: &format!("model {}", self.model_id),
                        region: &self.region,
                    },
                    e,
                    known,
                ))
            })?;
        response_from_bedrock(&output).map_err(|e| match e {
            ConvertError::Request(m) => self.model_error(m, false),
            ConvertError::Response(m) => {
                self.model_error(format!("unusable Converse response: {m}"), true)
            }
        })
    }
}
