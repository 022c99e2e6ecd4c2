//! The sweep's confusion table: (cured by the executed actions?) × (how the incident
//! ended), and the shares the targets are stated in.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Outcome, SweepCase};

/// The whole sweep, as printed.
#[derive(Serialize)]
pub(super) struct SweepReport<'a> {
    pub(super) seed: u64,
    pub(super) summary: SweepSummary,
    pub(super) cases: &'a [SweepCase],
}

/// The confusion table and the targets' figures.
#[derive(Debug, Serialize)]
pub(crate) struct SweepSummary {
    /// Cases run.
    pub cases: usize,
    /// Cases the executed actions cured.
    pub cured: usize,
    /// (cured?, outcome) counts.
    pub table: BTreeMap<String, BTreeMap<String, usize>>,
    /// Share of cured faults whose incident closed (resolved or mitigated).
    pub cured_closed: f64,
    /// Share of cured faults resolved outright.
    pub cured_resolved: f64,
    /// Share of cured faults escalated (at verification or before).
    pub cured_escalated: f64,
    /// Faults not cured that verification called resolved or mitigated.
    pub uncured_closed: usize,
}

/// Sums the cases up.
pub(crate) fn summarise(cases: &[SweepCase]) -> SweepSummary {
    let mut table: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for c in cases {
        let row = if c.cured { "cured" } else { "not cured" };
        *table
            .entry(row.to_string())
            .or_default()
            .entry(c.outcome.label().to_string())
            .or_default() += 1;
    }
    let cured: Vec<&SweepCase> = cases.iter().filter(|c| c.cured).collect();
    let share = |f: &dyn Fn(&SweepCase) -> bool| {
        if cured.is_empty() {
            0.0
        } else {
            cured.iter().filter(|c| f(c)).count() as f64 / cured.len() as f64
        }
    };
    SweepSummary {
        cases: cases.len(),
        cured: cured.len(),
        cured_closed: share(&|c| matches!(c.outcome, Outcome::Resolved | Outcome::Mitigated)),
        cured_resolved: share(&|c| c.outcome == Outcome::Resolved),
        cured_escalated: share(&|c| c.outcome.escalated()),
        uncured_closed: cases
            .iter()
            .filter(|c| !c.cured && matches!(c.outcome, Outcome::Resolved | Outcome::Mitigated))
            .count(),
        table,
    }
}

/// The report for people.
pub(super) fn text_of(r: &SweepReport<'_>) -> String {
    let s = &r.summary;
    let mut out = format!(
        "Verification sweep (seed {}): {} faults, {} cured by the executed actions\n\n  {:<10}",
        r.seed, s.cases, s.cured, ""
    );
    for o in Outcome::ALL {
        out.push_str(&format!(" {:>20}", o.label()));
    }
    out.push('\n');
    for row in ["cured", "not cured"] {
        out.push_str(&format!("  {row:<10}"));
        for o in Outcome::ALL {
            let n = s
                .table
                .get(row)
                .and_then(|r| r.get(o.label()))
                .copied()
                .unwrap_or(0);
            out.push_str(&format!(" {n:>20}"));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\n  cured and closed (resolved or mitigated) {:.3}, resolved outright {:.3}, escalated {:.3}\n  not cured but closed: {}\n",
        s.cured_closed, s.cured_resolved, s.cured_escalated, s.uncured_closed
    ));
    let odd: Vec<&SweepCase> = r
        .cases
        .iter()
        .filter(|c| (c.cured && c.outcome.escalated()) || (!c.cured && !c.outcome.escalated()))
        .collect();
    if !odd.is_empty() {
        out.push_str("\n  cured but escalated, or not cured but not escalated:\n");
        for c in odd {
            out.push_str(&format!(
                "  - {} on {} ({}): {}\n",
                c.kind,
                c.service,
                c.outcome.label(),
                c.summary.chars().take(300).collect::<String>()
            ));
        }
    }
    out
}
