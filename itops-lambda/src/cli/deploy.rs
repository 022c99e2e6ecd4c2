//! `itops deploy asl`: the Step Functions state machine generated from the core workflow.

use std::path::PathBuf;

use crate::cli::output::print_out;
use crate::error::{Error, Result};

/// Arguments of `itops deploy`.
#[derive(Debug, clap::Args)]
pub(crate) struct DeployArgs {
    /// What to generate.
    #[command(subcommand)]
    pub what: DeployWhat,
}

/// Deployment artefacts.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DeployWhat {
    /// The Amazon States Language definition of the incident workflow (to stdout, or `--out FILE`).
    Asl {
        /// Write it here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Runs `itops deploy`.
pub(crate) fn run(args: DeployArgs) -> Result<()> {
    match args.what {
        DeployWhat::Asl { out } => {
            let text = crate::state_machine::standard_asl();
            match out {
                Some(path) => {
                    std::fs::write(&path, text).map_err(|source| Error::Io { path, source })
                }
                None => print_out(&text),
            }
        }
    }
}
