//! `itops eval --seed N`: the offline agents on the simulator's RCA suite — AC@1, AC@3,
//! MRR, per fault kind, fault-kind accuracy, fix rate, triage accuracy, and time per case.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use itops_agents::planner::OfflinePlanner;
use itops_agents::policy::ActionPolicy;
use itops_agents::responders::Responders;
use itops_core::{Agent, FaultKind, IncidentContext, RunContext, Severity};
use itops_sim::{generate_case, suite, CaseSpec};
use serde::Serialize;

use super::scoring::{share, RankAccuracy};
use crate::cli::output::{json, print_out};
use crate::cli::telemetry::Format;
use crate::error::Result;

/// One evaluated case.
#[derive(Debug, Serialize)]
struct CaseResult {
    id: String,
    fault: FaultKind,
    root: String,
    /// 1-based rank of the root service among the candidates; `None` when absent.
    rank: Option<usize>,
    predicted: Vec<String>,
    predicted_fault: Option<FaultKind>,
    true_severity: Severity,
    triaged_severity: Severity,
    generate_ms: u128,
    investigate_ms: u128,
    /// The plan's actions (catalogue id on target).
    actions: Vec<String>,
    /// Whether running the plan cured the injected fault.
    fixed: bool,
    /// Whether a catalogue action can cure it at all (a data store's full volume has to be
    /// grown by a person: the right plan there is to hand it over).
    curable: bool,
}

/// Accuracy over a group of cases.
#[derive(Debug, Default, Serialize)]
struct Score {
    cases: usize,
    ac1: f64,
    ac3: f64,
    avg5: f64,
    mrr: f64,
    fault_accuracy: f64,
    /// Cases a catalogue action can cure.
    curable: usize,
    /// Share of those the plan cured.
    fix_rate: f64,
}

/// The whole evaluation.
#[derive(Debug, Serialize)]
struct EvalReport {
    seed: u64,
    overall: Score,
    by_fault: BTreeMap<String, Score>,
    triage_accuracy: f64,
    triage_within_one: f64,
    mean_investigate_ms: f64,
    max_investigate_ms: u128,
    cases: Vec<CaseResult>,
}

fn score<'a>(results: impl Iterator<Item = &'a CaseResult>) -> Score {
    let results: Vec<&CaseResult> = results.collect();
    let ranks: Vec<Option<usize>> = results.iter().map(|r| r.rank).collect();
    let accuracy = RankAccuracy::of(&ranks);
    let n = results.len();
    let fault = results
        .iter()
        .filter(|r| r.rank == Some(1) && r.predicted_fault == Some(r.fault))
        .count();
    Score {
        cases: n,
        ac1: accuracy.ac1,
        ac3: accuracy.ac3,
        avg5: accuracy.avg5,
        mrr: accuracy.mrr,
        fault_accuracy: share(fault, n),
        curable: results.iter().filter(|r| r.curable).count(),
        fix_rate: share(
            results.iter().filter(|r| r.curable && r.fixed).count(),
            results.iter().filter(|r| r.curable).count(),
        ),
    }
}

async fn evaluate(spec: &CaseSpec) -> Result<CaseResult> {
    let started = Instant::now();
    let case = generate_case(spec)?;
    let generate_ms = started.elapsed().as_millis();
    let incident = case
        .incident
        .to_new_incident()
        .into_incident(case.detected_at())?;
    let environment = Arc::new(case.environment);
    let responders = Responders::new(
        Arc::new(OfflinePlanner::new()),
        environment.clone(),
        Vec::new(),
        ActionPolicy::default(),
    );
    let started = Instant::now();
    let context = IncidentContext::new(incident);
    let triage = responders
        .triage()
        .run(&context, &RunContext::default())
        .await?;
    let at = Some(case.incident.detected_at);
    let investigation = responders
        .root_cause()
        .run(&context, &RunContext::default().with_detected_at(at))
        .await?;
    let investigate_ms = started.elapsed().as_millis();
    // Run the plan in the simulated system (every action, as if approved): did it cure it?
    let mut context = context;
    context.finding = Some(investigation.finding.clone());
    let planning = responders
        .remediation()
        .run(&context, &RunContext::default())
        .await?;
    let mut actions = Vec::new();
    let mut applied = Vec::new();
    for action in &planning.plan.actions {
        actions.push(format!("{} {}", action.catalogue_id, action.target));
        // An action the simulator refuses (e.g. nothing to roll back) simply does not cure.
        if environment.execute_now(action).is_ok_and(|r| r.applied) {
            applied.push((action.catalogue_id.clone(), action.target.clone()));
        }
    }
    // Cured; or, for a traffic spike (absorbed, never cured), the curing action applied
    // to the root.
    let truth = &case.ground_truth;
    let fixed = environment
        .ground_truth()
        .first()
        .is_some_and(|f| f.cured_by.is_some())
        || (truth.fault == FaultKind::TrafficSpike
            && applied.iter().any(|(id, target)| {
                *target == truth.root_service && truth.curing_actions.contains(id)
            }));
    let predicted: Vec<String> = investigation
        .finding
        .candidates
        .iter()
        .map(|c| c.service.clone())
        .collect();
    let root = case.ground_truth.root_service.clone();
    Ok(CaseResult {
        id: spec.id.clone(),
        fault: case.ground_truth.fault,
        rank: predicted.iter().position(|s| *s == root).map(|i| i + 1),
        predicted_fault: investigation.finding.candidates.first().map(|c| c.fault),
        root,
        predicted,
        true_severity: case.incident.severity,
        triaged_severity: triage.assessment.severity,
        generate_ms,
        investigate_ms,
        actions,
        fixed,
        curable: !truth.curing_actions.is_empty(),
    })
}

/// Runs the suite of `seed` (its first `limit` cases); `live` stops each case's telemetry
/// at detection.
pub(super) async fn run(seed: u64, limit: Option<usize>, live: bool, format: Format) -> Result<()> {
    let mut specs = suite(seed);
    if let Some(n) = limit {
        specs.truncate(n);
    }
    if live {
        for spec in &mut specs {
            spec.tail_minutes = 0;
        }
    }
    let mut results = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let result = evaluate(spec).await?;
        if format == Format::Text {
            eprintln!(
                "[{:>2}/{}] {:<40} root {:<16} rank {:<4} predicted {}",
                i + 1,
                specs.len(),
                result.id,
                result.root,
                result.rank.map_or("-".to_string(), |r| r.to_string()),
                result
                    .predicted
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        results.push(result);
    }
    let mut by_fault: BTreeMap<String, Score> = BTreeMap::new();
    for kind in FaultKind::ALL {
        let group: Vec<&CaseResult> = results.iter().filter(|r| r.fault == *kind).collect();
        if !group.is_empty() {
            by_fault.insert(kind.to_string(), score(group.into_iter()));
        }
    }
    let n = results.len().max(1) as f64;
    let triage_hits = results
        .iter()
        .filter(|r| r.triaged_severity == r.true_severity)
        .count() as f64;
    let triage_near = results
        .iter()
        .filter(|r| {
            (i16::from(r.triaged_severity.rank()) - i16::from(r.true_severity.rank())).abs() <= 1
        })
        .count() as f64;
    let report = EvalReport {
        seed,
        overall: score(results.iter()),
        by_fault,
        triage_accuracy: triage_hits / n,
        triage_within_one: triage_near / n,
        mean_investigate_ms: results.iter().map(|r| r.investigate_ms as f64).sum::<f64>() / n,
        max_investigate_ms: results.iter().map(|r| r.investigate_ms).max().unwrap_or(0),
        cases: results,
    };
    match format {
        Format::Json => print_out(&json(&report, "the evaluation")?),
        Format::Text => print_out(&text_of(&report)),
    }
}

fn text_of(r: &EvalReport) -> String {
    let mut out = format!(
        "RCA suite (seed {}): {} cases\n  AC@1 {:.3}   AC@3 {:.3}   MRR {:.3}   fault kind (when AC@1) {:.3}   fixed by the plan {:.3} (of the {} a catalogue action cures)\n  triage severity exact {:.3}, within one level {:.3}\n  investigation time per case: mean {:.0} ms, max {} ms\n\n  {:<28} {:>5} {:>6} {:>6} {:>6} {:>6}\n",
        r.seed,
        r.overall.cases,
        r.overall.ac1,
        r.overall.ac3,
        r.overall.mrr,
        r.overall.fault_accuracy,
        r.overall.fix_rate,
        r.overall.curable,
        r.triage_accuracy,
        r.triage_within_one,
        r.mean_investigate_ms,
        r.max_investigate_ms,
        "fault kind",
        "cases",
        "AC@1",
        "AC@3",
        "kind",
        "fixed"
    );
    for (kind, s) in &r.by_fault {
        let fixed = if s.curable == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", s.fix_rate)
        };
        out.push_str(&format!(
            "  {:<28} {:>5} {:>6.2} {:>6.2} {:>6.2} {:>6}\n",
            kind, s.cases, s.ac1, s.ac3, s.fault_accuracy, fixed
        ));
    }
    out
}
