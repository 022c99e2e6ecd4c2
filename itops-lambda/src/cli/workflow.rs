//! `itops workflow`: print the incident workflow definition.

use itops_core::workflow::WorkflowDefinition;

use crate::error::{Error, Result};

/// Arguments of `itops workflow`.
#[derive(Debug, clap::Args)]
pub struct WorkflowArgs {}

/// Prints the standard workflow definition as pretty JSON.
pub fn run(_args: WorkflowArgs) -> Result<()> {
    let json = serde_json::to_string_pretty(&WorkflowDefinition::standard()).map_err(|source| {
        Error::Render {
            what: "the workflow definition",
            source,
        }
    })?;
    println!("{json}");
    Ok(())
}
