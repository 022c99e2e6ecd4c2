//! An agent using an external MCP server's tools: itops's root-cause agent investigates a
//! simulated incident with tools it reaches only over MCP.
//!
//! `cargo run -p itops-examples --example mcp_client [-- SCENARIO [SEED]]`
//!
//! The server is this same program started again as a child process with `--serve`: it
//! serves the standard telemetry tools over a simulated web shop on stdio, as any MCP
//! server would (`itops mcp monitoring`, or someone else's). The client side connects with
//! `McpClient` (every call behind a timeout and a circuit breaker), and the tools it gets
//! are ordinary `DynTool`s: the agent cannot tell them from local ones. Scenarios:
//! `itops simulate --list` (default `memory_leak`, seed 7).

use std::sync::Arc;

use async_trait::async_trait;
use itops_agents::agents::RootCauseAgent;
use itops_agents::planner::OfflinePlanner;
use itops_agents::tools::telemetry_tools;
use itops_core::engine::{Observation, StepHook, StepInfo};
use itops_core::{Agent, IncidentContext, Result, RunContext, ToolCall};
use itops_mcp::{serve_stdio, ClientOptions, McpClient, McpServer, ServerTarget};

/// Prints each tool call as it comes back over MCP.
struct PrintCalls;

#[async_trait]
impl StepHook for PrintCalls {
    async fn after_tool(&self, info: &StepInfo, call: &ToolCall, seen: &Observation) -> Result<()> {
        let mut shown: String = seen.content.chars().take(90).collect();
        if shown.len() < seen.content.len() {
            shown.push('…');
        }
        let (step, name, input) = (info.step, &call.name, &call.input);
        println!("  [{step}] {name}({input}) -> {shown}");
        Ok(())
    }
}

/// The server side: the telemetry tools of one simulated case, on stdin/stdout.
async fn serve(scenario: &str, seed: u64) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let case = itops_sim::generate(scenario, seed)?;
    let server = McpServer::builder("sim-monitoring", env!("CARGO_PKG_VERSION"))
        .instructions("Telemetry of a simulated web shop: metrics, logs, traces, changes.")
        .tools(telemetry_tools(Arc::new(case.environment)))
        .build()?;
    serve_stdio(&server).await?; // stdout carries the protocol: log to stderr only
    Ok(())
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let scenario = args.get(1).map_or("memory_leak", String::as_str);
        let seed = args.get(2).map_or(Ok(7), |s| s.parse())?;
        return serve(scenario, seed).await;
    }
    let scenario = args.first().map_or("memory_leak", String::as_str);
    let seed: u64 = args.get(1).map_or(Ok(7), |s| s.parse())?;

    // Start the server (this program, as a child process) and connect to it over stdio.
    let exe = std::env::current_exe()?;
    let target = ServerTarget::stdio(
        exe.to_string_lossy(),
        [
            "--serve".to_string(),
            scenario.to_string(),
            seed.to_string(),
        ],
    );
    let client = McpClient::connect("monitoring", &target, ClientOptions::default()).await?;
    let info = client
        .server_info()
        .map(|i| format!("{} {}", i.name, i.version));
    let tools = client.tools().await?;
    let names: Vec<String> = tools.iter().map(|t| t.spec().name).collect();
    println!(
        "connected to {}: {}",
        info.unwrap_or_default(),
        names.join(", ")
    );

    // The same case on this side, for the incident report and the ground truth only.
    let case = itops_sim::generate(scenario, seed)?;
    let detected_at = case.incident.detected_at;
    let incident = case.incident.to_new_incident().into_incident(detected_at)?;
    println!("incident: {}\n", incident.title);

    // The standard root-cause agent, the offline planner as its model, MCP tools only.
    let agent = RootCauseAgent::new(Arc::new(OfflinePlanner::new()), tools)?.at(detected_at);
    let hooks: [Arc<dyn StepHook>; 1] = [Arc::new(PrintCalls)];
    let run = RunContext::default().with_hooks(hooks);
    let investigation = agent.run(&IncidentContext::new(incident), &run).await?;
    drop(agent);
    client.close().await?;

    let top = investigation
        .finding
        .top()
        .ok_or("the finding has no candidate")?;
    println!(
        "\nroot cause: {} ({}, confidence {:.2}) after {} tool calls over MCP",
        top.service,
        top.fault,
        top.confidence,
        investigation.transcript.tool_calls().count()
    );
    println!(
        "simulated:  {} ({})",
        case.ground_truth.root_service, case.ground_truth.fault
    );
    assert_eq!(top.service, case.ground_truth.root_service);
    Ok(())
}
