//! The `itops` command line: one module per subcommand.

use clap::Parser;

use crate::error::Result;

pub(crate) mod deploy;
pub(crate) mod eval;
pub(crate) mod investigate;
pub(crate) mod mcp;
pub(crate) mod output;
pub(crate) mod serve;
pub(crate) mod simulate;
pub(crate) mod sweep;
pub(crate) mod telemetry;
pub(crate) mod workflow;

/// itops: AI-assisted incident response — triage, root cause, remediation with human approval.
#[derive(Debug, Parser)]
#[command(name = "itops", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Generate deployment artefacts (`itops deploy asl`: the Step Functions state machine).
    Deploy(deploy::DeployArgs),
    /// Measure the offline root-cause analysis: on the simulator's RCA suite (`--seed N`), or on labelled incidents (`--cases FILE`: AC@1..5, MRR, per fault type).
    Eval(eval::EvalArgs),
    /// Find the root cause of an incident in a telemetry bundle (offline planner, no LLM needed).
    Investigate(investigate::InvestigateArgs),
    /// Serve itops's tools over MCP (`itops mcp monitoring|incident`, stdio or HTTP).
    Mcp(mcp::McpArgs),
    /// Run the local server: API, workflow, approvals, alert intake, live simulator and web UI.
    Serve(serve::ServeArgs),
    /// Generate telemetry bundles from the simulated web shop (`--list`, `--scenario NAME --out DIR`, `--suite SEED --out DIR`).
    Simulate(simulate::SimulateArgs),
    /// Inject each fault kind on each eligible service in a fresh simulator, run the whole workflow, and report verification's verdicts against the simulator's ground truth.
    Sweep(sweep::SweepArgs),
    /// Look into telemetry bundles (`itops telemetry inspect DIR`).
    Telemetry(telemetry::TelemetryArgs),
    /// Print the workflow definition (states and transitions) as JSON.
    Workflow(workflow::WorkflowArgs),
}

impl Cli {
    /// Runs the chosen subcommand; without one, prints the help.
    pub async fn run(self) -> Result<()> {
        match self.command {
            None => {
                use clap::CommandFactory;
                // No subcommand: show what the binary can do rather than failing silently.
                let _ = Cli::command().print_help();
                Ok(())
            }
            Some(Command::Deploy(args)) => deploy::run(args),
            Some(Command::Eval(args)) => eval::run(args).await,
            Some(Command::Investigate(args)) => investigate::run(args).await,
            Some(Command::Mcp(args)) => mcp::run(args).await,
            Some(Command::Serve(args)) => serve::run(args).await,
            Some(Command::Simulate(args)) => simulate::run(args),
            Some(Command::Sweep(args)) => sweep::run(args).await,
            Some(Command::Telemetry(args)) => telemetry::run(args),
            Some(Command::Workflow(args)) => workflow::run(args),
        }
    }
}
