//! `itops investigate`: triage and root cause (and, as they land, the plan) on a telemetry
//! bundle, printed for a person or as JSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use itops_agents::agents::{Investigation, Planning, Triage};
use itops_agents::knowledge::seed_knowledge;
use itops_agents::planner::OfflinePlanner;
use itops_agents::policy::ActionPolicy;
use itops_agents::responders::Responders;
use itops_agents::tools::{incident_tools, TimeArg};
use itops_core::store::MemoryStore;
use itops_core::telemetry::bundle::{load_bundle, LoadOptions};
use itops_core::telemetry::{TelemetryCounts, TelemetryIndex};
use itops_core::{Actor, Agent, DynTool, RunContext, SystemClock};
use itops_core::{Incident, IncidentContext, NewIncident, Severity};
use serde::Serialize;

use crate::cli::output::{json, print_out};
use crate::cli::telemetry::Format;
use crate::error::{Error, Result};
use crate::stack::StackArgs;

/// Arguments of `itops investigate`.
#[derive(Debug, clap::Args)]
pub(crate) struct InvestigateArgs {
    /// The telemetry bundle directory (metrics.csv, logs.jsonl, traces.jsonl, events.jsonl).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present_any = StackArgs::FLAGS,
        conflicts_with_all = StackArgs::FLAGS
    )]
    pub telemetry: Option<PathBuf>,
    /// Or read a live stack instead, around `--at` (which is then required): two hours
    /// before it to an hour after it.
    #[command(flatten)]
    pub stack: StackArgs,
    /// When the incident was detected: RFC 3339 or Unix seconds. Default: the incident file's
    /// `detected_at`, else inferred from the data.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The incident report as JSON (title, description, severity, affected_services, detected_by).
    #[arg(long, value_name = "FILE")]
    pub incident: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Skip and count malformed bundle rows instead of stopping at the first one.
    #[arg(long)]
    pub lenient: bool,
}

/// One ranked candidate of the JSON output.
#[derive(Debug, Serialize)]
struct Candidate<'a> {
    service: &'a str,
    score: f64,
    fault: itops_core::FaultKind,
    evidence: &'a [itops_core::Evidence],
}

/// The JSON output.
#[derive(Debug, Serialize)]
struct Report<'a> {
    candidates: Vec<Candidate<'a>>,
    triage: Option<&'a itops_core::TriageAssessment>,
    finding: &'a itops_core::RootCauseFinding,
    plan: Option<&'a itops_core::RemediationPlan>,
    plan_needs_approval: bool,
    steps: &'a [itops_core::engine::StepRecord],
    stop_reason: &'a itops_core::engine::StopReason,
    model: &'a str,
    elapsed_ms: u128,
}

/// The incident report and, when it carries one, its detection time (`detected_at`).
fn read_incident(path: Option<&PathBuf>, bundle: &Path) -> Result<(NewIncident, Option<String>)> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let invalid = |e: serde_json::Error| {
                Error::Usage(format!(
                    "{}: not a valid incident report: {e}",
                    path.display()
                ))
            };
            let value: serde_json::Value = serde_json::from_str(&text).map_err(invalid)?;
            let detected_at = value.get("detected_at").and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            Ok((serde_json::from_value(value).map_err(invalid)?, detected_at))
        }
        None => Ok((default_incident(bundle), None)),
    }
}

/// The incident report `itops investigate` makes up when none is given.
pub(crate) fn default_incident(bundle: &Path) -> NewIncident {
    NewIncident::new(
        format!("Investigation of {}", bundle.display()),
        Severity::High,
    )
    .source("itops investigate")
}

/// A telemetry bundle made ready for the offline agents: its index behind the telemetry
/// tools, the shipped runbooks as the searchable knowledge base, and the offline planner.
/// `itops investigate` and `itops eval --cases` both go through it, so they run the same thing.
pub(crate) struct OfflineInvestigator {
    responders: Responders,
    counts: TelemetryCounts,
}

/// Triage and root cause of one incident.
pub(crate) struct Investigated {
    /// The incident with the triage and the finding filled in.
    pub context: IncidentContext,
    /// The triage agent's result.
    pub triage: Triage,
    /// The root-cause agent's result.
    pub investigation: Investigation,
}

impl OfflineInvestigator {
    /// Loads the bundle in `dir` (skipping and counting malformed rows when `lenient`),
    /// indexes it and seeds the knowledge base.
    pub(crate) async fn load(dir: &Path, lenient: bool) -> Result<Self> {
        let bundle = load_bundle(dir, &LoadOptions { lenient })?;
        Self::from_index(bundle.into_index()).await
    }

    /// The same over telemetry already indexed (a snapshot of a live source).
    pub(crate) async fn from_index(index: TelemetryIndex) -> Result<Self> {
        let counts = index.counts();
        // The knowledge base: the shipped runbooks, searchable by the agents.
        let store = Arc::new(MemoryStore::default());
        seed_knowledge(store.as_ref(), chrono::Utc::now()).await?;
        let knowledge: Vec<Arc<dyn DynTool>> = incident_tools(
            store.clone(),
            store,
            Arc::new(SystemClock),
            Actor::Agent("investigate".into()),
        )
        .into_iter()
        .filter(|t| t.spec().name == "search_knowledge")
        .collect();
        let responders = Responders::new(
            Arc::new(OfflinePlanner::new()),
            Arc::new(index),
            knowledge,
            ActionPolicy::default(),
        );
        Ok(Self { responders, counts })
    }

    /// How much the bundle holds.
    pub(crate) fn counts(&self) -> TelemetryCounts {
        self.counts
    }

    /// The agents over this bundle (e.g. to plan after [`Self::investigate`]).
    pub(crate) fn responders(&self) -> &Responders {
        &self.responders
    }

    /// Triages `incident`, then looks for its root cause with `at` as the detection time
    /// (inferred from the data when `None`).
    pub(crate) async fn investigate(
        &self,
        incident: Incident,
        at: Option<DateTime<Utc>>,
    ) -> Result<Investigated> {
        let mut context = IncidentContext::new(incident);
        let run = RunContext::default();
        let triage = self.responders.triage().run(&context, &run).await?;
        context.triage = Some(triage.assessment.clone());
        let run = run.with_detected_at(at);
        let investigation = self.responders.root_cause().run(&context, &run).await?;
        context.finding = Some(investigation.finding.clone());
        Ok(Investigated {
            context,
            triage,
            investigation,
        })
    }
}

/// Runs `itops investigate`.
pub(crate) async fn run(args: InvestigateArgs) -> Result<()> {
    let started = Instant::now();
    let what = match &args.telemetry {
        Some(dir) => dir.display().to_string(),
        None if !args.stack.is_empty() => args
            .stack
            .specs()
            .iter()
            .map(|s| format!("{} {}", s.kind.name(), s.url))
            .collect::<Vec<_>>()
            .join(", "),
        None => {
            return Err(Error::Usage(
                "give the telemetry: --telemetry DIR, or --prometheus, --loki, --tempo or \
                 --jaeger URL"
                    .into(),
            ))
        }
    };
    let (report, detected_at) = read_incident(args.incident.as_ref(), Path::new(&what))?;
    // --at wins over the report's own detection time; without either, it is inferred.
    let at = match (&args.at, &detected_at) {
        (Some(t), _) => Some(TimeArg::Text(t.clone()).resolve("at")?),
        (None, Some(t)) => Some(TimeArg::Text(t.clone()).resolve("incident detected_at")?),
        (None, None) => None,
    };
    let incident = report.into_incident(chrono::Utc::now())?;
    if args.format == Format::Text {
        eprintln!("loading {what} ...");
    }
    let investigator = match (&args.telemetry, at) {
        (Some(dir), _) => OfflineInvestigator::load(dir, args.lenient).await?,
        (None, Some(at)) => {
            let stack = crate::stack::build(&args.stack.specs())?;
            let index = crate::stack::snapshot(stack.source.as_ref(), at).await?;
            OfflineInvestigator::from_index(index).await?
        }
        (None, None) => {
            return Err(Error::Usage(
                "reading a live stack needs the detection time: give --at (or an incident \
                 file with detected_at)"
                    .into(),
            ))
        }
    };
    if args.format == Format::Text {
        let counts = investigator.counts();
        eprintln!(
            "loaded {} services, {} metric points, {} logs, {} spans, {} changes in {:.1}s; investigating ...",
            counts.services,
            counts.metric_points,
            counts.logs,
            counts.spans,
            counts.changes,
            started.elapsed().as_secs_f64()
        );
    }
    let Investigated {
        context,
        triage,
        investigation,
    } = investigator.investigate(incident, at).await?;
    let planning = investigator
        .responders()
        .remediation()
        .run(&context, &RunContext::default())
        .await?;
    let elapsed_ms = started.elapsed().as_millis();
    let outcome = Outcome {
        triage: &triage,
        investigation: &investigation,
        planning: &planning,
    };
    match args.format {
        Format::Json => print_out(&json(
            &report_of(&outcome, elapsed_ms),
            "the investigation",
        )?),
        Format::Text => print_out(&text_of(&outcome, elapsed_ms)),
    }
}

/// What the three agents produced.
struct Outcome<'a> {
    triage: &'a Triage,
    investigation: &'a Investigation,
    planning: &'a Planning,
}

fn report_of<'a>(outcome: &Outcome<'a>, elapsed_ms: u128) -> Report<'a> {
    let inv = outcome.investigation;
    Report {
        candidates: inv
            .finding
            .candidates
            .iter()
            .map(|c| Candidate {
                service: &c.service,
                score: c.confidence,
                fault: c.fault,
                evidence: &c.evidence,
            })
            .collect(),
        triage: Some(&outcome.triage.assessment),
        finding: &inv.finding,
        plan: Some(&outcome.planning.plan),
        plan_needs_approval: outcome.planning.needs_approval,
        steps: &inv.transcript.steps,
        stop_reason: &inv.transcript.stop_reason,
        model: "offline-planner",
        elapsed_ms,
    }
}

fn text_of(outcome: &Outcome<'_>, elapsed_ms: u128) -> String {
    let inv = outcome.investigation;
    let triage = &outcome.triage.assessment;
    let mut out = format!(
        "Triage: {} (urgency {}/10) → {}\n  {}\n\n",
        triage.severity, triage.urgency, triage.route, triage.reasoning
    );
    out.push_str(&format!(
        "Root cause ({} steps, {} tool calls, {:.2}s)\n\n",
        inv.transcript.steps.len(),
        inv.transcript.tool_calls().count(),
        elapsed_ms as f64 / 1000.0
    ));
    if inv.finding.candidates.is_empty() {
        out.push_str("  no candidate\n");
    }
    for (i, c) in inv.finding.candidates.iter().enumerate() {
        out.push_str(&format!(
            "  {}. {:<24} {:<28} confidence {:.2}\n",
            i + 1,
            c.service,
            c.fault.to_string(),
            c.confidence
        ));
        if i < 3 {
            for e in c.evidence.iter().take(4) {
                out.push_str(&format!("       - {}\n", e.summary()));
            }
        }
    }
    out.push_str(&format!("\n{}\n", inv.finding.summary));
    if !inv.finding.contributing_factors.is_empty() {
        out.push_str("\nContributing factors:\n");
        for f in &inv.finding.contributing_factors {
            out.push_str(&format!("  - {f}\n"));
        }
    }
    let plan = &outcome.planning.plan;
    out.push_str(&format!(
        "\nPlan ({}; not executed):\n",
        if outcome.planning.needs_approval {
            "needs human approval"
        } else {
            "may run unattended"
        }
    ));
    if plan.actions.is_empty() {
        out.push_str("  no action\n");
    }
    for a in &plan.actions {
        out.push_str(&format!(
            "  - {} on {} ({} risk, {})\n",
            a.catalogue_id,
            a.target,
            a.risk,
            if a.reversible {
                "reversible"
            } else {
                "not reversible"
            }
        ));
    }
    out.push_str(&format!("  {}\n", plan.rationale));
    out.push_str("\nSteps:\n");
    for step in &inv.transcript.steps {
        let thought = step.thought.lines().next().unwrap_or_default();
        let thought: String = thought.chars().take(140).collect();
        if step.tool_calls.is_empty() {
            out.push_str(&format!("  {:>2}. answer\n", step.index));
        } else {
            let calls: Vec<String> = step
                .tool_calls
                .iter()
                .map(|c| c.call.name.clone())
                .collect();
            out.push_str(&format!(
                "  {:>2}. {} → {}\n",
                step.index,
                thought,
                calls.join(", ")
            ));
        }
    }
    out
}
