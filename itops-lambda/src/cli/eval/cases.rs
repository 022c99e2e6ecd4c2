//! `itops eval --cases FILE`: the root-cause ranking scored on labelled incidents.
//!
//! Each case's bundle is loaded once and investigated once per mode, exactly as
//! `itops investigate --telemetry DIR --at T` does (through [`OfflineInvestigator`]). A case
//! that fails to load or to investigate is recorded as an error and the run goes on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use itops_agents::tools::TimeArg;
use itops_core::FaultKind;
use serde::{Deserialize, Serialize};

use super::report::CasesReport;
use super::{labels, At};
use crate::cli::investigate::{default_incident, OfflineInvestigator};
use crate::cli::output::{json, print_out};
use crate::cli::telemetry::Format;
use crate::error::{Error, Result};

/// What `itops eval --cases` was asked to do.
#[derive(Debug)]
pub(super) struct Options {
    /// The cases.json.
    pub(super) file: PathBuf,
    /// The modes to run each case in.
    pub(super) modes: Vec<At>,
    /// Only the first N cases.
    pub(super) limit: Option<usize>,
    /// Output format (text also prints progress on stderr).
    pub(super) format: Format,
    /// Where to write one JSON line per case and mode.
    pub(super) results: Option<PathBuf>,
}

/// One labelled case of a cases.json (other fields are ignored).
#[derive(Debug, Deserialize)]
struct LabelledCase {
    case_id: String,
    bundle_dir: PathBuf,
    system: String,
    fault_type: String,
    root_service: String,
    window_start_unix: serde_json::Number,
    window_end_unix: serde_json::Number,
}

/// A ranked candidate as recorded in the results.
#[derive(Debug, Serialize)]
pub(super) struct RankedCandidate {
    pub(super) service: String,
    pub(super) score: f64,
    pub(super) fault: FaultKind,
}

/// One case investigated in one mode: a line of `--results`.
#[derive(Debug, Serialize)]
pub(super) struct Run {
    pub(super) case_id: String,
    pub(super) mode: At,
    /// The incident time used, Unix seconds as in the cases file.
    #[serde(rename = "T")]
    pub(super) t: serde_json::Number,
    pub(super) system: String,
    pub(super) fault_type: String,
    pub(super) root_service: String,
    /// 1-based rank of the root among the candidates; `None` when absent.
    pub(super) rank: Option<usize>,
    /// The ranking, best first.
    pub(super) candidates: Vec<RankedCandidate>,
    /// The top candidate's fault kind.
    pub(super) predicted_fault: Option<FaultKind>,
    /// The kind the case's label corresponds to; `None` when it has none (not scored).
    pub(super) expected_fault: Option<FaultKind>,
    /// Whether the top candidate's kind is the expected one; `None` when not scored.
    pub(super) kind_matched: Option<bool>,
    /// Loading and indexing the bundle and setting up the agents (once per case).
    pub(super) load_ms: f64,
    /// Triage and root cause; `None` when the run failed before.
    pub(super) investigate_ms: Option<f64>,
    /// Why the case could not be scored.
    pub(super) error: Option<String>,
}

impl Run {
    fn new(case: &LabelledCase, mode: At, load_ms: f64) -> Self {
        let t = match mode {
            At::End => case.window_end_unix.clone(),
            At::Start | At::Both => case.window_start_unix.clone(),
        };
        Run {
            case_id: case.case_id.clone(),
            mode,
            t,
            system: case.system.clone(),
            fault_type: case.fault_type.clone(),
            root_service: case.root_service.clone(),
            rank: None,
            candidates: Vec::new(),
            predicted_fault: None,
            expected_fault: labels::kind_of(&case.fault_type),
            kind_matched: None,
            load_ms,
            investigate_ms: None,
            error: None,
        }
    }

    /// Whether the run failed.
    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Whether the run gave no candidate at all (and did not fail).
    pub(super) fn no_answer(&self) -> bool {
        !self.failed() && self.candidates.is_empty()
    }

    /// Whether the top candidate is the root and of the expected kind; `None` when the
    /// label has no corresponding kind.
    pub(super) fn kind_hit(&self) -> Option<bool> {
        self.expected_fault
            .map(|_| self.rank == Some(1) && self.kind_matched == Some(true))
    }
}

/// Reads and parses the cases file.
fn read_cases(file: &Path) -> Result<Vec<LabelledCase>> {
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        path: file.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{}: not a cases file (a JSON list of cases with case_id, bundle_dir, system, \
             fault_type, root_service, window_start_unix, window_end_unix): {e}",
            file.display()
        ))
    })
}

/// Investigates `case` at its time for `mode` on the loaded bundle and ranks its root.
async fn investigate(
    investigator: &OfflineInvestigator,
    dir: &Path,
    case: &LabelledCase,
    mut run: Run,
) -> Run {
    let outcome = async {
        let seconds = run
            .t
            .as_f64()
            .ok_or_else(|| Error::Usage(format!("{}: not a Unix time", run.t)))?;
        let at = TimeArg::Seconds(seconds).resolve(match run.mode {
            At::End => "window_end_unix",
            At::Start | At::Both => "window_start_unix",
        })?;
        let incident = default_incident(dir).into_incident(chrono::Utc::now())?;
        let started = Instant::now();
        let investigated = investigator.investigate(incident, Some(at)).await?;
        Ok::<_, Error>((investigated, started.elapsed().as_secs_f64() * 1000.0))
    }
    .await;
    match outcome {
        Ok((investigated, ms)) => {
            run.investigate_ms = Some(ms);
            run.candidates = investigated
                .investigation
                .finding
                .candidates
                .iter()
                .map(|c| RankedCandidate {
                    service: c.service.clone(),
                    score: c.confidence,
                    fault: c.fault,
                })
                .collect();
            run.rank = run
                .candidates
                .iter()
                .position(|c| c.service == case.root_service)
                .map(|i| i + 1);
            run.predicted_fault = run.candidates.first().map(|c| c.fault);
            run.kind_matched = run
                .expected_fault
                .map(|expected| run.predicted_fault == Some(expected));
        }
        Err(e) => run.error = Some(format!("investigating: {e}")),
    }
    run
}

/// The progress line of one run.
fn progress(i: usize, total: usize, run: &Run) -> String {
    let outcome = match &run.error {
        Some(e) => format!("error: {e}"),
        None => format!(
            "rank {:<4} top {}",
            run.rank.map_or("-".to_string(), |r| r.to_string()),
            if run.candidates.is_empty() {
                "(no answer)".to_string()
            } else {
                run.candidates
                    .iter()
                    .take(3)
                    .map(|c| c.service.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    };
    format!(
        "[{:>3}/{}] {:<28} {:<5} root {:<20} {}",
        i + 1,
        total,
        run.case_id,
        run.mode.as_str(),
        run.root_service,
        outcome
    )
}

/// Writes one JSON line per run.
struct ResultsFile {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl ResultsFile {
    fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
        })
    }

    fn write(&mut self, run: &Run) -> Result<()> {
        let line = serde_json::to_string(run).map_err(|source| Error::Render {
            what: "a result line",
            source,
        })?;
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// Runs `itops eval --cases FILE`.
pub(super) async fn run(options: &Options) -> Result<()> {
    let mut cases = read_cases(&options.file)?;
    if let Some(n) = options.limit {
        cases.truncate(n);
    }
    let base = options
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut results = options
        .results
        .as_deref()
        .map(ResultsFile::create)
        .transpose()?;
    let total = cases.len() * options.modes.len();
    let mut runs = Vec::with_capacity(total);
    for case in &cases {
        let dir = base.join(&case.bundle_dir);
        let started = Instant::now();
        let loaded = OfflineInvestigator::load(&dir, false).await;
        let load_ms = started.elapsed().as_secs_f64() * 1000.0;
        for mode in &options.modes {
            let run = Run::new(case, *mode, load_ms);
            let run = match &loaded {
                Ok(investigator) => investigate(investigator, &dir, case, run).await,
                Err(e) => Run {
                    error: Some(format!("loading the bundle: {e}")),
                    ..run
                },
            };
            if options.format == Format::Text {
                eprintln!("{}", progress(runs.len(), total, &run));
            }
            if let Some(results) = results.as_mut() {
                results.write(&run)?;
            }
            runs.push(run);
        }
    }
    let report = CasesReport::of(&options.file, cases.len(), &options.modes, &runs);
    match options.format {
        Format::Json => print_out(&json(&report, "the evaluation")?),
        Format::Text => print_out(&report.to_text()),
    }
}
