//! Investigate an incident with a Bedrock model: the root-cause agent runs the standard
//! telemetry tools over CloudWatch (or a telemetry bundle on disk) in a bounded ReAct loop,
//! with Bedrock Converse as its model behind a circuit breaker and retries.
//!
//! Needs an AWS account with Bedrock model access in the region (without one it says what
//! is missing and exits with status 2; CI only builds it):
//!
//! ```text
//! AWS_REGION=us-east-1 cargo run -p itops-examples --example bedrock              # CloudWatch
//! AWS_REGION=us-east-1 cargo run -p itops-examples --example bedrock -- BUNDLE_DIR  # a bundle
//! ```
//!
//! Environment: `ITOPS_BEDROCK_MODEL` (a Converse model or inference profile id; default
//! `us.anthropic.claude-3-5-haiku-20241022-v1:0`), `ITOPS_INCIDENT` (the incident title),
//! `ITOPS_SERVICE` (an affected service), plus the standard AWS variables (`AWS_REGION`,
//! `AWS_PROFILE`, ...). With CloudWatch, services are Lambda functions: metrics from the
//! `AWS/Lambda` namespace by `FunctionName`, logs from `/aws/lambda/{service}`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::config::ProvideCredentials;
use itops_agents::agents::RootCauseAgent;
use itops_aws::cloudwatch::{CloudWatchSettings, MetricSource, MetricSpec};
use itops_aws::metrics::{breaker_metric, run_metrics, MetricsSink};
use itops_aws::{AwsSettings, BedrockModel, BedrockSettings, CloudWatchTelemetry, EmfSink};
use itops_core::breaker::{BreakerConfig, ConsecutiveFailureBreaker, ResilientModel, RetryPolicy};
use itops_core::engine::{Observation, StepHook, StepInfo, ToolAction};
use itops_core::telemetry::bundle::{load_bundle, LoadOptions};
use itops_core::{
    Agent, IncidentContext, ModelResponse, NewIncident, Result, RunContext, Severity,
    TelemetrySource, ToolCall,
};

/// Prints every step, so the investigation can be followed as it runs.
struct PrintSteps;

#[async_trait]
impl StepHook for PrintSteps {
    async fn after_model(&self, info: &StepInfo, response: &ModelResponse) -> Result<()> {
        let thought = response.message.text();
        if !thought.is_empty() {
            println!("[{}] thinks: {thought}", info.step);
        }
        Ok(())
    }

    async fn before_tool(&self, info: &StepInfo, call: &ToolCall) -> Result<ToolAction> {
        println!("[{}] calls {}({})", info.step, call.name, call.input);
        Ok(ToolAction::Run)
    }

    async fn after_tool(
        &self,
        info: &StepInfo,
        _call: &ToolCall,
        observation: &Observation,
    ) -> Result<()> {
        let mut shown: String = observation.content.chars().take(300).collect();
        if shown.len() < observation.content.len() {
            shown.push_str(" ...");
        }
        println!("[{}] observes: {shown}", info.step);
        Ok(())
    }
}

/// Lambda functions as services: errors, p99 duration and throttles; logs per function.
fn lambda_telemetry(aws: AwsSettings) -> CloudWatchSettings {
    CloudWatchSettings {
        aws,
        metric_sources: vec![MetricSource::new("AWS/Lambda", "FunctionName")
            .metric(MetricSpec::new("Errors", "Sum").named("errors"))
            .metric(MetricSpec::new("Duration", "p99").named("latency_p99_ms"))
            .metric(MetricSpec::new("Throttles", "Sum").named("throttles"))],
        log_group_pattern: Some("/aws/lambda/{service}".to_string()),
        ..CloudWatchSettings::default()
    }
}

#[tokio::main]
async fn main() {
    if let Err(missing) = check_aws(&AwsSettings::new()).await {
        eprintln!(
            "This example needs an AWS account with Bedrock model access: {missing}.\n\
             Set AWS_REGION and credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, or SSO), then run it again."
        );
        std::process::exit(2);
    }
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Whether a region and credentials can be found, before any call to AWS is tried.
async fn check_aws(aws: &AwsSettings) -> std::result::Result<(), String> {
    let config = aws.load().await.map_err(|e| e.to_string())?;
    let provider = config
        .credentials_provider()
        .ok_or("no AWS credentials provider is configured")?;
    match tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("no AWS credentials were found ({e})")),
        Err(_) => Err("looking for AWS credentials timed out".to_string()),
    }
}

async fn run() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let model_id = std::env::var("ITOPS_BEDROCK_MODEL")
        .unwrap_or_else(|_| "us.anthropic.claude-3-5-haiku-20241022-v1:0".to_string());
    let aws = AwsSettings::new();

    let telemetry: Arc<dyn TelemetrySource> = match std::env::args().nth(1) {
        Some(dir) => Arc::new(load_bundle(Path::new(&dir), &LoadOptions::default())?),
        None => Arc::new(CloudWatchTelemetry::connect(lambda_telemetry(aws.clone())).await?),
    };

    // Bedrock behind a breaker, per-attempt timeout and retries of throttling and 5xx.
    let bedrock = BedrockModel::connect(&BedrockSettings::new(&model_id).aws(aws)).await?;
    let breaker = Arc::new(ConsecutiveFailureBreaker::new(
        "bedrock",
        BreakerConfig::default(),
    )?);
    let model = Arc::new(ResilientModel::new(
        bedrock,
        breaker.clone(),
        RetryPolicy::default(),
        Duration::from_secs(60),
    ));

    let mut report = NewIncident::new(
        std::env::var("ITOPS_INCIDENT").unwrap_or_else(|_| "Requests are failing".to_string()),
        Severity::High,
    )
    .description("Reported by the bedrock example.");
    if let Ok(service) = std::env::var("ITOPS_SERVICE") {
        report = report.service(service);
    }
    let context = IncidentContext::new(report.into_incident(chrono::Utc::now())?);

    let agent = RootCauseAgent::new(model, itops_agents::tools::telemetry_tools(telemetry))?;
    println!("investigating with {model_id} ...");
    let run = RunContext::default().with_hooks([Arc::new(PrintSteps) as Arc<dyn StepHook>]);
    let investigation = agent.run(&context, &run).await?;

    println!(
        "\nfinding:\n{}",
        serde_json::to_string_pretty(&investigation.finding)?
    );

    // What a Lambda deployment would emit as metrics (EMF lines on stdout).
    let now = chrono::Utc::now();
    let mut data = run_metrics("root_cause", &investigation.transcript, now);
    data.push(breaker_metric(breaker.as_ref(), now));
    println!("\nmetrics (CloudWatch Embedded Metric Format):");
    EmfSink::stdout("itops").emit(&data).await?;
    Ok(())
}
