//! `itops telemetry`: look into telemetry bundles.

use std::path::PathBuf;

use itops_core::telemetry::bundle::{load_bundle, summarize, LoadOptions};

use crate::cli::output::{json, print_out};
use crate::error::Result;

/// Arguments of `itops telemetry`.
#[derive(Debug, clap::Args)]
pub(crate) struct TelemetryArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TelemetryCommand,
}

/// `itops telemetry` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TelemetryCommand {
    /// Print what a bundle holds: services, metrics, time range, rows, error-log counts.
    Inspect(InspectArgs),
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// For tools.
    Json,
}

/// Arguments of `itops telemetry inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// The bundle directory (metrics.csv, logs.jsonl, traces.jsonl, events.jsonl; any may be absent).
    pub dir: PathBuf,
    /// Skip and count malformed rows instead of stopping at the first one.
    #[arg(long)]
    pub lenient: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `itops telemetry`.
pub(crate) fn run(args: TelemetryArgs) -> Result<()> {
    match args.command {
        TelemetryCommand::Inspect(args) => inspect(args),
    }
}

fn inspect(args: InspectArgs) -> Result<()> {
    let bundle = load_bundle(
        &args.dir,
        &LoadOptions {
            lenient: args.lenient,
        },
    )?;
    let summary = summarize(&bundle);
    match args.format {
        Format::Text => print_out(&summary.to_string()),
        Format::Json => print_out(&json(&summary, "the bundle summary")?),
    }
}
