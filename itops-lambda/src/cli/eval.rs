//! `itops eval`: measure the offline agents' root-cause analysis — on the simulator's RCA
//! suite (`--seed N`), or on any labelled set of real incidents (`--cases FILE`).
//!
//! Layout: `suite` runs the simulator's suite, `cases` runs a cases.json, `report` groups
//! and prints the cases' scores, `labels` maps dataset fault labels to itops's fault kinds,
//! and `scoring` holds the arithmetic both paths share (AC@k, Avg@5, MRR, percentiles).

use std::path::PathBuf;

use serde::Serialize;

use crate::cli::telemetry::Format;
use crate::error::{Error, Result};

mod cases;
mod labels;
mod report;
mod scoring;
mod suite;

/// Arguments of `itops eval`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --cases, runs the simulator's RCA suite for --seed.

With --cases FILE, scores the root-cause ranking on labelled incidents. FILE is a JSON list;
per case: case_id, bundle_dir (a telemetry bundle, relative to FILE's directory), system,
fault_type, root_service, window_start_unix, window_end_unix (other fields are ignored).
Each case is investigated as `itops investigate --telemetry DIR --at T` would, with
T = window_start_unix (--at start), window_end_unix (--at end) or both, and scored:
AC@1..5, Avg@5, MRR, errors, cases without an answer, fault-kind accuracy and time per case,
overall, per mode, per fault type and per system.")]
pub(crate) struct EvalArgs {
    /// The simulator suite's seed (the same seed gives the same cases).
    #[arg(long, default_value_t = 1, conflicts_with = "cases")]
    pub seed: u64,
    /// Score on the labelled incidents of this cases.json instead of the simulator's suite.
    #[arg(long, value_name = "FILE")]
    pub cases: Option<PathBuf>,
    /// Run only the first N cases (of the suite, or of --cases FILE).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// With --cases: the incident time T of each case [default: both].
    #[arg(long, value_enum, requires = "cases")]
    pub at: Option<At>,
    /// With --cases: write one JSON line per case and mode to FILE.
    #[arg(long, value_name = "FILE", requires = "cases")]
    pub results: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Stop each simulated case's telemetry at detection, as a live system sees it
    /// (default: a few minutes after, as an export taken later would hold).
    #[arg(long, conflicts_with = "cases")]
    pub live: bool,
}

/// When the incident is taken to have been detected, for `--cases FILE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum At {
    /// T = window_start_unix: the alert fired as the fault began; the data after T is the
    /// incident unfolding.
    Start,
    /// T = window_end_unix: the incident was detected late.
    End,
    /// Each case twice, once at its start and once at its end.
    Both,
}

impl At {
    /// The modes this choice runs, in order.
    fn modes(self) -> Vec<At> {
        match self {
            At::Both => vec![At::Start, At::End],
            single => vec![single],
        }
    }

    /// The word used in output.
    fn as_str(self) -> &'static str {
        match self {
            At::Start => "start",
            At::End => "end",
            At::Both => "both",
        }
    }
}

/// Runs `itops eval`.
pub(crate) async fn run(args: EvalArgs) -> Result<()> {
    if args.limit == Some(0) {
        return Err(Error::Usage("--limit must be at least 1".into()));
    }
    match &args.cases {
        Some(file) => {
            let options = cases::Options {
                file: file.clone(),
                modes: args.at.unwrap_or(At::Both).modes(),
                limit: args.limit,
                format: args.format,
                results: args.results.clone(),
            };
            cases::run(&options).await
        }
        None => suite::run(args.seed, args.limit, args.live, args.format).await,
    }
}
