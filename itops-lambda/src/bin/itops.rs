//! The `itops` binary.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use itops_lambda::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => {
            // No subcommand: show what the binary can do rather than failing silently.
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
        Some(Command::Workflow) => {
            match serde_json::to_string_pretty(&itops_core::workflow::WorkflowDefinition::standard())
            {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: could not render the workflow definition: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
