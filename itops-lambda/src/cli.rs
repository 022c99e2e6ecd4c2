//! The `itops` command line.

use clap::Parser;

/// itops: AI-assisted incident response — triage, root cause, remediation with human approval.
#[derive(Debug, Parser)]
#[command(name = "itops", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the workflow definition (states and transitions) as JSON.
    Workflow,
}
