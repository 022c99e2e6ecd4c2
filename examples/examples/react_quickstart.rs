//! Write a typed tool, run the bounded ReAct engine over it, and watch every step.
//!
//! A scripted model stands in for an LLM, so this runs offline:
//! `cargo run -p itops-examples --example react_quickstart`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::engine::{Observation, ReactEngine, StepHook, StepInfo, ToolAction};
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{Message, ModelResponse, Result, Tool, ToolCall};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Arguments of the error-rate tool; the doc comments become the schema the model sees.
#[derive(Deserialize, schemars::JsonSchema)]
struct ErrorRateArgs {
    /// The service to look at.
    service: String,
}

#[derive(Serialize)]
struct ErrorRate {
    service: String,
    error_rate_percent: f64,
    baseline_percent: f64,
}

/// A tool over a fixed table of error rates (a real one would query telemetry).
struct ErrorRateTool {
    rates: BTreeMap<&'static str, (f64, f64)>,
}

#[async_trait]
impl Tool for ErrorRateTool {
    type Args = ErrorRateArgs;
    type Output = ErrorRate;

    fn name(&self) -> &str {
        "error_rate"
    }

    fn description(&self) -> &str {
        "Current and baseline error rate (percent of requests) of one service."
    }

    async fn call(&self, args: ErrorRateArgs) -> Result<ErrorRate> {
        let (now, baseline) = self
            .rates
            .get(args.service.as_str())
            .copied()
            .ok_or_else(|| {
                itops_core::Error::invalid(
                    "service",
                    format!(
                        "unknown service '{}'; known: {:?}",
                        args.service,
                        self.rates.keys()
                    ),
                )
            })?;
        Ok(ErrorRate {
            service: args.service,
            error_rate_percent: now,
            baseline_percent: baseline,
        })
    }
}

/// A hook that prints every step; timelines, metrics and policies plug in the same way.
struct PrintSteps;

#[async_trait]
impl StepHook for PrintSteps {
    async fn after_model(&self, info: &StepInfo, response: &ModelResponse) -> Result<()> {
        let thought = response.message.text();
        if !thought.is_empty() {
            println!("step {} thought: {thought}", info.step);
        }
        Ok(())
    }

    async fn before_tool(&self, info: &StepInfo, call: &ToolCall) -> Result<ToolAction> {
        println!("step {} calls {}({})", info.step, call.name, call.input);
        Ok(ToolAction::Run)
    }

    async fn after_tool(
        &self,
        info: &StepInfo,
        _call: &ToolCall,
        observation: &Observation,
    ) -> Result<()> {
        println!("step {} observes: {}", info.step, observation.content);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let tool = ErrorRateTool {
        rates: BTreeMap::from([("checkout", (0.4, 0.3)), ("payments", (23.5, 0.2))]),
    };
    // What an LLM might do: check two services, then answer.
    let model = Arc::new(ScriptedModel::new(vec![
        ScriptedTurn::tool_call("error_rate", json!({"service": "checkout"}))
            .with_thought("Checkout is the reported service; check its error rate first."),
        ScriptedTurn::tool_call("error_rate", json!({"service": "payments"}))
            .with_thought("Checkout looks normal; check its dependency, payments."),
        ScriptedTurn::text("Root cause: payments (error rate 23.5% vs 0.2% baseline)."),
    ]));

    let engine = ReactEngine::builder(model)
        .system("You investigate incidents. Use tools; cite numbers.")
        .tool(tool)
        .hook(Arc::new(PrintSteps))
        .max_steps(5)
        .tool_timeout(Duration::from_secs(5))
        .build()?;

    let transcript = engine
        .run(vec![Message::user(
            "Checkout requests are failing. Find the root cause.",
        )])
        .await;

    println!("\nstopped: {:?}", transcript.stop_reason);
    println!("answer:  {}", transcript.final_answer.unwrap_or_default());
    println!(
        "steps: {}, tokens: {}, elapsed: {:?}",
        transcript.steps.len(),
        transcript.usage.total(),
        transcript.elapsed
    );
    Ok(())
}
