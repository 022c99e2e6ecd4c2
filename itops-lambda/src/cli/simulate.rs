//! `itops simulate`: generate telemetry bundles from the simulated web shop — one scenario,
//! or the whole RCA suite — with the ground truth beside each bundle.

use std::path::PathBuf;

use itops_sim::{generate, generate_case, scenarios, suite, GROUND_TRUTH_FILE, INCIDENT_FILE};

use crate::cli::output::print_out;
use crate::error::{Error, Result};

/// Arguments of `itops simulate`.
#[derive(Debug, clap::Args)]
pub(crate) struct SimulateArgs {
    /// List the scenarios and exit.
    #[arg(long, conflicts_with_all = ["scenario", "suite"])]
    pub list: bool,
    /// The scenario to run (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "suite")]
    pub scenario: Option<String>,
    /// Write every case of the RCA suite generated from this seed, one directory per case.
    #[arg(long, value_name = "SEED")]
    pub suite: Option<u64>,
    /// The scenario's seed: the same seed gives the same bundle.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write: the bundle directory (with --scenario) or the parent of the case directories (with --suite).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `itops simulate`.
pub(crate) fn run(args: SimulateArgs) -> Result<()> {
    if args.list {
        let mut text = String::new();
        for s in scenarios() {
            text.push_str(&format!(
                "{:<28} {:<28} {}{}\n",
                s.name,
                s.fault.to_string(),
                if s.classic { "[classic] " } else { "" },
                s.description
            ));
        }
        return print_out(&text);
    }
    let out = args.out.ok_or_else(|| {
        Error::Usage("--out DIR is required to write a bundle (or use --list)".into())
    })?;
    if let Some(seed) = args.suite {
        let specs = suite(seed);
        for (i, spec) in specs.iter().enumerate() {
            let case = generate_case(spec)?;
            let dir = out.join(&spec.id);
            case.write(&dir)?;
            eprintln!(
                "[{:>2}/{}] {} → {}",
                i + 1,
                specs.len(),
                spec.id,
                dir.display()
            );
        }
        return print_out(&format!(
            "wrote {} cases under {}\n",
            specs.len(),
            out.display()
        ));
    }
    let Some(name) = args.scenario else {
        return Err(Error::Usage(
            "give --scenario NAME (see --list) or --suite SEED".into(),
        ));
    };
    let case = generate(&name, args.seed)?;
    case.write(&out)?;
    let truth = &case.ground_truth;
    print_out(&format!(
        "wrote {} (scenario {}, seed {})\n  bundle: metrics.csv, logs.jsonl, traces.jsonl, events.jsonl\n  ground truth: {} — {} at {} from {}\n  incident report: {} — detected at {}\n  investigate with: itops investigate --telemetry {} --at {}\n",
        out.display(),
        name,
        args.seed,
        GROUND_TRUTH_FILE,
        truth.fault,
        truth.root_service,
        truth.injected_at.to_rfc3339(),
        INCIDENT_FILE,
        truth.detected_at.to_rfc3339(),
        out.display(),
        truth.detected_at.to_rfc3339(),
    ))
}
