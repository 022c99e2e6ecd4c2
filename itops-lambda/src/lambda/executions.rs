//! The Step Functions side of the deployment: starting one execution per incident and
//! resuming an execution that waits on a task token.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use itops_core::workflow::{LocalRunner, WorkflowCheckpoint};
use itops_core::{Error, IncidentId, Result};
use serde_json::{json, Value};

use crate::app::Orchestrator;

/// Executions of the incident state machine.
#[async_trait]
pub trait Executions: Send + Sync {
    /// Starts the incident's execution. It is named after the incident, so a second start
    /// of the same incident is refused by Step Functions and answered `Ok` here.
    async fn start(&self, incident_id: IncidentId) -> Result<()>;

    /// Completes the task waiting on `token` with `output`; `false` when nothing waits on
    /// it any more (it timed out, or was completed before).
    async fn resume(&self, token: &str, output: &Value) -> Result<bool>;
}

/// [`Executions`] on AWS Step Functions.
#[derive(Clone, Debug)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    /// Executions of the state machine `state_machine_arn` through `client`.
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

fn aws_error<E: std::error::Error + Send + Sync + 'static>(
    operation: &str,
    error: SdkError<E>,
) -> Error {
    let retryable = matches!(
        error,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
    );
    let message = format!(
        "Step Functions {operation}: {}",
        aws_sdk_sfn::error::DisplayErrorContext(&error)
    );
    Error::Tool {
        tool: format!("stepfunctions:{operation}"),
        message,
        retryable,
    }
}

#[async_trait]
impl Executions for StepFunctions {
    async fn start(&self, incident_id: IncidentId) -> Result<()> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(incident_id.to_string())
            .input(json!({ "incident_id": incident_id }).to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), StartExecutionError::ExecutionAlreadyExists(_)) =>
            {
                tracing::info!(%incident_id, "the execution was started before");
                Ok(())
            }
            Err(e) => Err(aws_error("StartExecution", e)),
        }
    }

    async fn resume(&self, token: &str, output: &Value) -> Result<bool> {
        let result = self
            .client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    SendTaskSuccessError::TaskTimedOut(_)
                        | SendTaskSuccessError::TaskDoesNotExist(_)
                        | SendTaskSuccessError::InvalidToken(_)
                ) =>
            {
                tracing::info!("the task no longer waits: {}", e.err());
                Ok(false)
            }
            Err(e) => Err(aws_error("SendTaskSuccess", e)),
        }
    }
}

/// The API's and alarm intake's [`Orchestrator`] on AWS: a start stores the workflow's
/// first checkpoint, then starts the incident's execution; decisions reach a waiting
/// execution through the table's stream (the approval decision function), so waking is
/// nothing to do here.
#[derive(Clone)]
pub(crate) struct StateMachineOrchestrator {
    runner: LocalRunner,
    executions: Arc<dyn Executions>,
}

impl StateMachineOrchestrator {
    /// Starts workflows with `runner`'s store and `executions`.
    pub(crate) fn new(runner: LocalRunner, executions: Arc<dyn Executions>) -> Self {
        Self { runner, executions }
    }
}

#[async_trait]
impl Orchestrator for StateMachineOrchestrator {
    async fn start(&self, incident_id: IncidentId) -> Result<WorkflowCheckpoint> {
        let checkpoint = self.runner.start(incident_id).await?;
        self.executions.start(incident_id).await?;
        Ok(checkpoint)
    }

    fn wake(&self, incident_id: IncidentId) {
        tracing::debug!(%incident_id, "the state machine resumes through the table's stream");
    }
}
