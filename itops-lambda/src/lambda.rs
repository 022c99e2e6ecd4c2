//! The AWS reference deployment's Lambda functions (one binary each, see
//! `deploy/template.yaml`), adapters around the application layer ([`crate::app`]): the HTTP
//! API (the same axum router as `itops serve`), its
//! authorizer, one function per workflow step of the Step Functions state machine
//! generated from the core workflow ([`crate::state_machine`]), notifications, the approval
//! decision (the table's stream → `SendTaskSuccess`) and CloudWatch alarm intake.
//!
//! Every step function runs exactly one step through [`LocalRunner::step`], with the
//! checkpoint in DynamoDB as the source of truth: a task Step Functions retries after the
//! step ran answers the recorded outcome instead of running it twice.
//!
//! [`LocalRunner::step`]: itops_core::workflow::LocalRunner::step

mod authorizer;
mod config;
mod deployment;
mod executions;
mod handlers;

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use authorizer::Authorizer;
pub use config::LambdaConfig;
pub use deployment::{Deployment, Surroundings};
pub use executions::{Executions, StepFunctions};
// The action webhook, re-exported from where it lives (`app::webhook`, since `itops serve`
// runs actions through it too).
pub use crate::app::webhook::{signature, WebhookExecutor, MIN_SECRET_CHARS, SIGNATURE_HEADER};

use crate::app::auth::Tokens;

/// The deployment's functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// The HTTP API.
    Api,
    /// The HTTP API's authorizer.
    Authorizer,
    /// The triage step.
    Triage,
    /// The root-cause investigation step.
    RootCause,
    /// The remediation planning step.
    Remediation,
    /// The approval step (the state machine waits on its task token).
    ApprovalRequest,
    /// The execution step.
    Execute,
    /// The verification step.
    Verify,
    /// Notifications.
    Notify,
    /// Resumes a waiting execution when its approval is decided (the table's stream).
    ApprovalDecision,
    /// CloudWatch alarms → incidents → executions.
    AlarmIntake,
}

impl Function {
    /// Whether the function runs an agent (and so needs the configured model).
    pub fn thinks(self) -> bool {
        matches!(
            self,
            Function::Triage | Function::RootCause | Function::Remediation
        )
    }
}

/// JSON logs to standard error (CloudWatch Logs), filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `function` on the Lambda runtime: JSON logs, what it needs built once at cold start,
/// then one event after another.
pub async fn run(function: Function) -> Result<(), lambda_runtime::Error> {
    init_logging();
    match function {
        Function::Authorizer => {
            let config = LambdaConfig::from_env()?;
            let (tokens, _) = Tokens::from_config(&config.serve.auth)?;
            let authorizer = Authorizer::new(tokens);
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let answer = authorizer.decide(&event.payload);
                async move { Ok::<Value, lambda_runtime::Error>(answer) }
            }))
            .await
        }
        Function::Api => {
            let deployment = Deployment::from_env(function).await?;
            lambda_http::run(deployment.router()).await
        }
        _ => {
            let deployment = Arc::new(Deployment::from_env(function).await?);
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
                let deployment = deployment.clone();
                async move {
                    deployment
                        .handle(function, event.payload)
                        .await
                        .map_err(|e| {
                            tracing::error!(error = %e, ?function, "the function failed");
                            lambda_runtime::Error::from(e)
                        })
                }
            }))
            .await
        }
    }
}
