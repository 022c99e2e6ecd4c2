//! `itops workflow`: print the incident workflow definition.

use itops_core::workflow::WorkflowDefinition;

use crate::cli::output::{json, print_out};
use crate::error::Result;

/// Arguments of `itops workflow`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkflowArgs {}

/// Prints the standard workflow definition as pretty JSON.
pub(crate) fn run(_args: WorkflowArgs) -> Result<()> {
    print_out(&json(
        &WorkflowDefinition::standard(),
        "the workflow definition",
    )?)
}
