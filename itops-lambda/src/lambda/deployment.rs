//! [`Deployment`]: what the functions share, assembled once per cold start from the
//! configuration, the table, the state machine and what the agents observe and act on.

use std::sync::Arc;
use std::time::Duration;

use itops_agents::knowledge::seed_knowledge;
use itops_agents::responders::Responders;
use itops_aws::{
    AwsSettings, CloudWatchTelemetry, DedupClaims, DynamoDbApprovalGate, DynamoDbStateStore,
    DynamoDbTable, TaskTokens,
};
use itops_core::environment::ActionExecutor;
use itops_core::workflow::LocalRunner;
use itops_core::{ApprovalGate, Clock, StateStore, SystemClock, TelemetrySource};

use super::config::LambdaConfig;
use super::executions::{Executions, StateMachineOrchestrator, StepFunctions};
use super::Function;
use crate::app::alerts::{AlertClaims, Intake};
use crate::app::auth::Tokens;
use crate::app::events::EventBus;
use crate::app::guard::GuardedSteps;
use crate::app::metrics::Metrics;
use crate::app::notify::Notifier;
use crate::app::ratelimit::RateLimiter;
use crate::app::steps::{AgentSteps, Settle};
use crate::app::webhook::WebhookExecutor;
use crate::app::{
    notifier_for, responders_for, router, AgentModel, AppState, Orchestrator, ServerInfo,
};
use crate::error::{Error, Result};

/// What the agents of the Lambda functions observe and act on, and how they think: given to
/// [`Deployment::assemble`] (`itops serve` opens its own from its configuration).
pub struct Surroundings {
    /// Telemetry (CloudWatch in the deployment).
    pub telemetry: Arc<dyn TelemetrySource>,
    /// What runs actions (the action webhook in the deployment).
    pub executor: Arc<dyn ActionExecutor>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// How executed actions settle before verification (in the deployment a `Wait` state
    /// of the state machine does most of the waiting).
    pub settle: Settle,
    /// The agents' model, and the breaker guarding it.
    pub model: AgentModel,
}

/// Everything a function needs.
pub struct Deployment {
    /// The configuration.
    pub config: LambdaConfig,
    /// Incidents, timelines, checkpoints, knowledge.
    pub store: Arc<dyn StateStore>,
    /// Approvals.
    pub gate: Arc<dyn ApprovalGate>,
    /// Task tokens of executions waiting for a decision.
    pub task_tokens: TaskTokens,
    /// The state machine's executions.
    pub executions: Arc<dyn Executions>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The workflow runner (one step per call, see [`LocalRunner::step`]).
    pub runner: LocalRunner,
    /// Notifications.
    pub notifier: Notifier,
    /// Alert intake, starting executions.
    pub(crate) intake: Intake,
    /// The API's state.
    pub(crate) state: AppState,
}

impl Deployment {
    /// Assembles a deployment over `table`, the state machine's `executions` and
    /// `surroundings`, with the built-in agents.
    pub fn assemble(
        config: LambdaConfig,
        table: DynamoDbTable,
        executions: Arc<dyn Executions>,
        surroundings: Surroundings,
    ) -> Result<Self> {
        Self::assemble_with_agents(config, table, executions, surroundings, |agents| agents)
    }

    /// [`Self::assemble`], with `agents` choosing who fills the workflow's roles, starting
    /// from the built-in agents (e.g. `|agents| agents.with_root_cause(my_agent)`): the
    /// triage, root-cause and remediation functions run them.
    pub fn assemble_with_agents(
        config: LambdaConfig,
        table: DynamoDbTable,
        executions: Arc<dyn Executions>,
        surroundings: Surroundings,
        agents: impl FnOnce(Responders) -> Responders,
    ) -> Result<Self> {
        let Surroundings {
            telemetry,
            executor,
            clock,
            settle,
            model: AgentModel { model, breaker },
        } = surroundings;
        let store: Arc<dyn StateStore> = Arc::new(DynamoDbStateStore::new(table.clone()));
        let gate: Arc<dyn ApprovalGate> =
            Arc::new(DynamoDbApprovalGate::new(table.clone(), clock.clone()));
        let metrics = Metrics::new();
        let notifier = notifier_for(&config.serve, store.clone(), clock.clone());
        let model_name = model.name().to_string();
        let steps = AgentSteps {
            responders: agents(responders_for(
                &config.serve,
                model,
                &store,
                &gate,
                &clock,
                &telemetry,
            )),
            store: store.clone(),
            clock: clock.clone(),
            executor,
            telemetry: telemetry.clone(),
            settle,
            settle_for: config.serve.settle(),
            notifier: notifier.clone(),
            notify_at_triage: false,
            notices_in_background: false,
            public_url: config.serve.public_url.clone().unwrap_or_default(),
            metrics: metrics.clone(),
        };
        let steps = GuardedSteps::new(steps, gate.clone());
        let runner = LocalRunner::new(store.clone(), gate.clone(), Arc::new(steps), clock.clone())
            .with_approval_ttl(config.approval_ttl());
        let orchestrator: Arc<dyn Orchestrator> = Arc::new(StateMachineOrchestrator::new(
            runner.clone(),
            executions.clone(),
        ));
        let intake = Intake::new(store.clone(), clock.clone(), orchestrator.clone(), true)
            .with_claims(Arc::new(TableClaims {
                claims: DedupClaims::new(table.clone()),
                clock: clock.clone(),
            }));
        let (tokens, _unknown_admin_token) = Tokens::from_config(&config.serve.auth)?;
        let state = AppState {
            store: store.clone(),
            gate: gate.clone(),
            clock: clock.clone(),
            tokens,
            workflows: orchestrator,
            intake: intake.clone(),
            bus: EventBus::default(),
            telemetry,
            live: None,
            otlp: None,
            metrics,
            limiter: RateLimiter::new(config.serve.http.requests_per_minute.unwrap_or(1200)),
            breakers: breaker.into_iter().collect(),
            info: Arc::new(ServerInfo {
                model: model_name,
                telemetry: "cloudwatch".into(),
            }),
        };
        Ok(Self {
            config,
            store,
            gate,
            task_tokens: TaskTokens::new(table),
            executions,
            clock,
            runner,
            notifier,
            intake,
            state,
        })
    }

    /// The deployment on AWS, from the function's environment: DynamoDB, Step Functions,
    /// CloudWatch, the action webhook, and the configured model. Clients are built once,
    /// here, at cold start; the knowledge base is seeded by the functions that read it.
    pub async fn from_env(function: Function) -> Result<Self> {
        let config = LambdaConfig::from_env()?;
        let aws = AwsSettings::new();
        let sdk = aws
            .load()
            .await
            .map_err(|e| Error::Usage(format!("AWS configuration: {e}")))?;
        let table = DynamoDbTable::from_sdk_config(&sdk, config.table.clone());
        let executions: Arc<dyn Executions> = Arc::new(StepFunctions::new(
            aws_sdk_sfn::Client::new(&sdk),
            config.state_machine_arn.clone().unwrap_or_default(),
        ));
        if matches!(function, Function::Api | Function::AlarmIntake) {
            config.state_machine()?;
        }
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let model = if function.thinks() {
            AgentModel::from_config(&config.serve).await?
        } else {
            AgentModel::offline()
        };
        let mut cloudwatch = config.cloudwatch();
        cloudwatch.aws = aws;
        let surroundings = Surroundings {
            telemetry: Arc::new(CloudWatchTelemetry::from_sdk_config(&sdk, cloudwatch)),
            executor: Arc::new(
                WebhookExecutor::new(config.action_webhook_url.clone(), clock.clone())
                    .with_secret(webhook_secret(&config, &sdk, function).await?),
            ),
            clock,
            settle: Settle::Wait,
            model,
        };
        let deployment = Self::assemble(config, table, executions, surroundings)?;
        if matches!(function, Function::RootCause | Function::Remediation) {
            deployment.seed_knowledge().await?;
        }
        Ok(deployment)
    }

    /// Adds the built-in runbooks to the knowledge base (unchanged ones are left alone).
    pub async fn seed_knowledge(&self) -> Result<usize> {
        Ok(seed_knowledge(self.store.as_ref(), self.clock.now()).await?)
    }

    /// The HTTP API: the same router as `itops serve`.
    pub fn router(&self) -> axum::Router {
        router(self.state.clone(), &self.config.serve)
    }

    /// How long a task token is kept: the approval's time plus a day.
    pub(crate) fn task_token_ttl(&self) -> Duration {
        self.config.approval_ttl() + Duration::from_secs(24 * 60 * 60)
    }
}

/// The action webhook's signing secret: from the environment, else (for the function that
/// executes actions only) from Secrets Manager, read once at cold start.
async fn webhook_secret(
    config: &LambdaConfig,
    sdk: &aws_config::SdkConfig,
    function: Function,
) -> Result<Option<String>> {
    if config.action_webhook_secret.is_some() || function != Function::Execute {
        return Ok(config.action_webhook_secret.clone());
    }
    let Some(arn) = &config.action_webhook_secret_arn else {
        return Ok(None);
    };
    let answer = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            Error::Usage(format!(
                "ITOPS_ACTION_WEBHOOK_SECRET_ARN: the secret could not be read: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))
        })?;
    Ok(answer.secret_string().map(str::to_string))
}

/// How long a claim holds: long enough for the incident to show in the store's listings.
const CLAIM_HOLD: Duration = Duration::from_secs(15 * 60);

/// Alert dedup claims in the deployment's table, shared by every alarm-intake instance.
struct TableClaims {
    claims: DedupClaims,
    clock: Arc<dyn Clock>,
}

#[async_trait::async_trait]
impl AlertClaims for TableClaims {
    async fn claim(
        &self,
        key: &str,
        incident: itops_core::IncidentId,
        replace: Option<itops_core::IncidentId>,
    ) -> itops_core::Result<itops_core::IncidentId> {
        let now = self.clock.now();
        let until =
            now + chrono::Duration::from_std(CLAIM_HOLD).unwrap_or(chrono::Duration::zero());
        self.claims.claim(key, incident, replace, until, now).await
    }
}
