//! Write a typed tool: arguments with a derived JSON schema, validation errors a model can
//! act on, and a run of the bounded ReAct engine in which the model corrects itself after
//! an error. A scripted model stands in for an LLM, so this runs offline:
//!
//! `cargo run -p itops-examples --example custom_tool`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::engine::{
    Observation, ReactEngine, StepHook, StepInfo, ToolAction, ToolDisposition,
};
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{DynTool, Error, Message, ModelResponse, Result, Tool, ToolCall};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

// The arguments' doc comments become the descriptions in the schema the model sees, and
// `Option` fields are optional arguments.

/// Which service's error rate to read, over which window.
#[derive(Deserialize, JsonSchema)]
struct ErrorRateArgs {
    /// The service to look at, e.g. `checkout`.
    service: String,
    /// How many minutes to average over (1 to 60; default 10).
    window_minutes: Option<u32>,
}

/// What the model gets back (serialised to JSON).
#[derive(Serialize)]
struct ErrorRate {
    service: String,
    window_minutes: u32,
    error_rate_percent: f64,
    baseline_percent: f64,
}

/// Error rates from a fixed table; a real tool would query telemetry (see the
/// `TelemetrySource` trait and the standard tools of `itops_agents::tools`).
struct ErrorRateTool {
    /// Current and baseline error rate per service, in percent.
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
        let window_minutes = args.window_minutes.unwrap_or(10);
        if !(1..=60).contains(&window_minutes) {
            // An error says what was wrong and what is accepted: the model reads it as the
            // observation and can fix its next call.
            return Err(Error::invalid(
                "window_minutes",
                format!("{window_minutes} is out of range; use 1 to 60"),
            ));
        }
        let (now, baseline) = self
            .rates
            .get(args.service.as_str())
            .copied()
            .ok_or_else(|| {
                let known: Vec<&str> = self.rates.keys().copied().collect();
                Error::invalid(
                    "service",
                    format!(
                        "unknown service '{}'; known: {}",
                        args.service,
                        known.join(", ")
                    ),
                )
            })?;
        Ok(ErrorRate {
            service: args.service,
            window_minutes,
            error_rate_percent: now,
            baseline_percent: baseline,
        })
    }
}

/// Prints every step; timelines, metrics and policies plug in the same way.
struct PrintSteps;

#[async_trait]
impl StepHook for PrintSteps {
    async fn after_model(&self, info: &StepInfo, response: &ModelResponse) -> Result<()> {
        let thought = response.message.text();
        if !thought.is_empty() {
            println!("  step {} thinks: {thought}", info.step);
        }
        Ok(())
    }

    async fn before_tool(&self, info: &StepInfo, call: &ToolCall) -> Result<ToolAction> {
        println!("  step {} calls {}({})", info.step, call.name, call.input);
        Ok(ToolAction::Run)
    }

    async fn after_tool(&self, info: &StepInfo, _: &ToolCall, seen: &Observation) -> Result<()> {
        println!("  step {} observes: {}", info.step, seen.content);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let tool = ErrorRateTool {
        rates: BTreeMap::from([("checkout", (0.4, 0.3)), ("payments", (23.5, 0.2))]),
    };

    // 1. What a model (or an MCP client) sees: the name, the description and the schema,
    //    derived from the argument type.
    let spec = tool.spec();
    println!("tool {}: {}", spec.name, spec.description);
    println!(
        "input schema: {}\n",
        serde_json::to_string_pretty(&spec.input_schema)?
    );
    assert_eq!(spec.input_schema["required"], json!(["service"]));

    // 2. Calls as the engine makes them: JSON in, JSON out, errors as values.
    let ok = tool.call_json(json!({"service": "payments"})).await?;
    println!("error_rate(payments) = {ok}");
    assert_eq!(ok["error_rate_percent"], json!(23.5));
    for bad in [
        json!({"service": 42}),        // wrong type: rejected before `call`
        json!({"service": "paymnts"}), // unknown service
        json!({"service": "payments", "window_minutes": 0}), // out of range
    ] {
        let error = tool
            .call_json(bad.clone())
            .await
            .err()
            .ok_or("expected an error")?;
        println!("error_rate({bad}) fails: {error}");
    }

    // 3. In the ReAct engine: what an LLM might do, typo included. The failed call becomes
    //    an observation, and the model corrects itself.
    println!("\nReAct run:");
    let model = Arc::new(ScriptedModel::new(vec![
        ScriptedTurn::tool_call("error_rate", json!({"service": "checkout"}))
            .with_thought("Checkout is the reported service; check its error rate first."),
        ScriptedTurn::tool_call("error_rate", json!({"service": "paymnts"}))
            .with_thought("Checkout looks normal; check its dependency, payments."),
        ScriptedTurn::tool_call("error_rate", json!({"service": "payments"}))
            .with_thought("Misspelt; the error lists the known services."),
        ScriptedTurn::text("Root cause: payments (error rate 23.5% against a 0.2% baseline)."),
    ]));
    let engine = ReactEngine::builder(model)
        .system("You investigate incidents. Use tools; cite numbers.")
        .tool(tool)
        .hook(Arc::new(PrintSteps))
        .max_steps(6)
        .tool_timeout(Duration::from_secs(5))
        .build()?;
    let transcript = engine
        .run(vec![Message::user(
            "Checkout requests are failing. Find the root cause.",
        )])
        .await;

    println!("\nstopped: {:?}", transcript.stop_reason);
    println!(
        "answer:  {}",
        transcript.final_answer.as_deref().unwrap_or_default()
    );
    let dispositions: Vec<ToolDisposition> = transcript
        .tool_calls()
        .map(|c| c.observation.disposition)
        .collect();
    assert!(transcript.stop_reason.is_completed());
    assert_eq!(
        dispositions,
        [
            ToolDisposition::Executed,
            ToolDisposition::Failed,
            ToolDisposition::Executed
        ]
    );
    println!(
        "{} steps, {} tool calls ({} failed and corrected), {} tokens",
        transcript.steps.len(),
        dispositions.len(),
        dispositions
            .iter()
            .filter(|d| **d == ToolDisposition::Failed)
            .count(),
        transcript.usage.total()
    );
    Ok(())
}
