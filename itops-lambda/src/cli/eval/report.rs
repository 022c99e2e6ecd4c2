//! The scores of `itops eval --cases`: overall and per mode, each also per fault type and
//! per system, as JSON or a table.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::cases::Run;
use super::scoring::{mean, percentile, share, RankAccuracy};
use super::At;

/// The scores of a group of runs (case × mode).
#[derive(Debug, Default, Serialize)]
pub(super) struct Score {
    /// Runs in the group (per mode: its cases).
    runs: usize,
    /// Runs whose bundle failed to load or whose investigation failed (scored as misses).
    errors: usize,
    /// Runs that gave no candidate (scored as misses).
    no_answer: usize,
    /// AC@1..5, Avg@5, MRR.
    #[serde(flatten)]
    ranking: RankAccuracy,
    /// The share of the kind-scored runs with the root first and its fault kind matched;
    /// `None` when no run's label has a corresponding kind.
    kind_accuracy: Option<f64>,
    /// Runs whose label has a corresponding kind.
    kind_scored: usize,
    /// Triage and root cause per run, in ms.
    investigate_ms_mean: Option<f64>,
    /// Its 95th percentile.
    investigate_ms_p95: Option<f64>,
    /// Loading the bundle and setting up the agents, once per case, in ms.
    load_ms_mean: Option<f64>,
    /// Its 95th percentile.
    load_ms_p95: Option<f64>,
}

impl Score {
    fn of(runs: &[&Run]) -> Self {
        let ranks: Vec<Option<usize>> = runs.iter().map(|r| r.rank).collect();
        let kinds: Vec<bool> = runs.iter().filter_map(|r| r.kind_hit()).collect();
        let investigate: Vec<f64> = runs.iter().filter_map(|r| r.investigate_ms).collect();
        // A bundle is loaded once per case, whatever the number of modes.
        let load: Vec<f64> = runs
            .iter()
            .map(|r| (r.case_id.as_str(), r.load_ms))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        Score {
            runs: runs.len(),
            errors: runs.iter().filter(|r| r.failed()).count(),
            no_answer: runs.iter().filter(|r| r.no_answer()).count(),
            ranking: RankAccuracy::of(&ranks),
            kind_accuracy: (!kinds.is_empty())
                .then(|| share(kinds.iter().filter(|hit| **hit).count(), kinds.len())),
            kind_scored: kinds.len(),
            investigate_ms_mean: mean(&investigate),
            investigate_ms_p95: percentile(&investigate, 95.0),
            load_ms_mean: mean(&load),
            load_ms_p95: percentile(&load, 95.0),
        }
    }
}

/// A group's score, then the same per fault type and per system.
#[derive(Debug, Serialize)]
pub(super) struct Section {
    #[serde(flatten)]
    score: Score,
    by_fault_type: BTreeMap<String, Score>,
    by_system: BTreeMap<String, Score>,
}

impl Section {
    fn of(runs: &[&Run]) -> Self {
        let grouped = |key: fn(&Run) -> &str| -> BTreeMap<String, Score> {
            let mut groups: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
            for run in runs {
                groups.entry(key(run).to_string()).or_default().push(*run);
            }
            groups
                .into_iter()
                .map(|(k, group)| (k, Score::of(&group)))
                .collect()
        };
        Section {
            score: Score::of(runs),
            by_fault_type: grouped(|r| r.fault_type.as_str()),
            by_system: grouped(|r| r.system.as_str()),
        }
    }
}

impl Section {
    /// The groupings, titled: per fault type, per system.
    fn groups(&self) -> [(&'static str, &BTreeMap<String, Score>); 2] {
        [
            ("by fault type", &self.by_fault_type),
            ("by system", &self.by_system),
        ]
    }
}

/// The whole evaluation on a cases file.
#[derive(Debug, Serialize)]
pub(super) struct CasesReport {
    /// The cases file.
    cases_file: String,
    /// Cases evaluated (after `--limit`).
    cases: usize,
    /// The modes each case ran in.
    modes: Vec<At>,
    /// Every run.
    overall: Section,
    /// Per mode (`start`, `end`).
    by_mode: BTreeMap<String, Section>,
}

impl CasesReport {
    /// Scores `runs`, the `cases` cases of `file` in `modes`.
    pub(super) fn of(file: &Path, cases: usize, modes: &[At], runs: &[Run]) -> Self {
        let all: Vec<&Run> = runs.iter().collect();
        let by_mode = modes
            .iter()
            .map(|mode| {
                let group: Vec<&Run> = runs.iter().filter(|r| r.mode == *mode).collect();
                (mode.as_str().to_string(), Section::of(&group))
            })
            .collect();
        CasesReport {
            cases_file: file.display().to_string(),
            cases,
            modes: modes.to_vec(),
            overall: Section::of(&all),
            by_mode,
        }
    }

    /// The report as a table for people.
    pub(super) fn to_text(&self) -> String {
        let modes: Vec<&str> = self.modes.iter().map(|m| m.as_str()).collect();
        let mut out = format!(
            "Root-cause analysis on {}: {} cases, T at {} ({} runs)\n\n{}\n",
            self.cases_file,
            self.cases,
            modes.join(" and "),
            self.overall.score.runs,
            header()
        );
        let all_modes = if modes.len() > 1 { "both" } else { "" };
        out.push_str(&row("overall", all_modes, &self.overall.score));
        if modes.len() > 1 {
            for mode in &modes {
                if let Some(section) = self.by_mode.get(*mode) {
                    out.push_str(&row("overall", mode, &section.score));
                }
            }
        }
        for (i, (title, overall)) in self.overall.groups().into_iter().enumerate() {
            out.push_str(&format!("\n{title}\n"));
            for name in overall.keys() {
                for mode in &modes {
                    let score = self
                        .by_mode
                        .get(*mode)
                        .and_then(|s| s.groups().get(i).and_then(|(_, g)| g.get(name)));
                    if let Some(score) = score {
                        out.push_str(&row(name, mode, score));
                    }
                }
            }
        }
        out.push_str(
            "\nAC@k: the root among the first k (errors and no answer count as misses). kind: the \
             share of runs whose label has a corresponding fault kind with the root first and \
             its kind matched (of n such runs). inv ms: triage and root cause per run; load ms: \
             the bundle, once per case.\n",
        );
        out
    }
}

fn header() -> String {
    format!(
        "{:<28} {:<5} {:>5} {:>4} {:>4} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>12} {:>8} {:>8} {:>8}",
        "group",
        "T",
        "runs",
        "err",
        "none",
        "AC@1",
        "AC@2",
        "AC@3",
        "AC@4",
        "AC@5",
        "Avg@5",
        "MRR",
        "kind (of n)",
        "inv ms",
        "inv p95",
        "load ms"
    )
}

fn row(name: &str, mode: &str, s: &Score) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    let kind = s
        .kind_accuracy
        .map_or("-".to_string(), |k| format!("{k:.2} ({})", s.kind_scored));
    let r = &s.ranking;
    let name: String = name.chars().take(28).collect();
    format!(
        "{:<28} {:<5} {:>5} {:>4} {:>4} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>12} {:>8} {:>8} {:>8}\n",
        name,
        mode,
        s.runs,
        s.errors,
        s.no_answer,
        r.ac1,
        r.ac2,
        r.ac3,
        r.ac4,
        r.ac5,
        r.avg5,
        r.mrr,
        kind,
        ms(s.investigate_ms_mean),
        ms(s.investigate_ms_p95),
        ms(s.load_ms_mean)
    )
}
