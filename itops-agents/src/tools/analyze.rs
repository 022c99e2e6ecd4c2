//! `analyze_incident`: runs triage and the root-cause investigation on a stored incident
//! and returns the finding with its evidence; every step lands on the incident's timeline.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::engine::TimelineHook;
use itops_core::{
    Actor, Clock, IncidentContext, Result, RootCauseFinding, RunContext, StateStore, TimelineEntry,
    TimelineKind, Tool, TriageAssessment,
};
use serde::{Deserialize, Serialize};

use crate::responders::Responders;
use crate::tools::TimeArg;

/// Arguments of `analyze_incident`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AnalyzeIncidentArgs {
    /// The incident id.
    pub id: String,
    /// When the incident was detected (RFC 3339 or Unix seconds); default: its creation
    /// time when the telemetry covers it, else inferred from the data.
    #[serde(default)]
    pub at: Option<TimeArg>,
}

/// What the analysis found.
#[derive(Debug, Serialize)]
pub struct Analysis {
    /// The triage assessment.
    pub triage: TriageAssessment,
    /// The root-cause finding: ranked candidates with evidence.
    pub finding: RootCauseFinding,
    /// ReAct steps the investigation took.
    pub steps: usize,
}

/// Triage and root cause of a stored incident, recorded on its timeline.
pub struct AnalyzeIncident {
    responders: Responders,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    actor: Actor,
}

impl AnalyzeIncident {
    /// A tool analysing incidents of `store` with `responders`; `actor` names the caller.
    pub fn new(
        responders: Responders,
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        actor: Actor,
    ) -> Self {
        Self {
            responders,
            store,
            clock,
            actor,
        }
    }

    /// A run whose steps land on the incident's timeline, by `agent`.
    fn run(&self, incident: itops_core::IncidentId, agent: &str) -> RunContext {
        RunContext::new(self.clock.clone()).with_hooks([Arc::new(TimelineHook::new(
            self.store.clone(),
            self.clock.clone(),
            incident,
            Actor::Agent(agent.to_string()),
        ))
            as Arc<dyn itops_core::engine::StepHook>])
    }
}

#[async_trait]
impl Tool for AnalyzeIncident {
    type Args = AnalyzeIncidentArgs;
    type Output = Analysis;

    fn name(&self) -> &str {
        "analyze_incident"
    }

    fn description(&self) -> &str {
        "Run triage and the root-cause investigation on an incident (by id) over the \
         configured telemetry: returns the severity assessment and the ranked root-cause \
         candidates with evidence. Every step is recorded on the incident's timeline. Takes \
         seconds; proposes no action."
    }

    async fn call(&self, args: AnalyzeIncidentArgs) -> Result<Analysis> {
        let id: itops_core::IncidentId = args.id.parse()?;
        let incident = self.store.get_incident(id).await?;
        let at = args.at.map(|t| t.resolve("at")).transpose()?;
        let mut context = IncidentContext::new(incident);
        let triage = self
            .responders
            .triage()
            .run(&context, &self.run(id, "triage"))
            .await?;
        context.triage = Some(triage.assessment.clone());
        let investigation = self
            .responders
            .root_cause()
            .run(&context, &self.run(id, "root_cause").with_detected_at(at))
            .await?;
        let finding = investigation.finding;
        let summary = match finding.top() {
            Some(top) => format!(
                "analysis (requested by {}): most likely {} at '{}' (confidence {:.2})",
                self.actor, top.fault, top.service, top.confidence
            ),
            None => format!("analysis (requested by {}): no candidate", self.actor),
        };
        let payload = serde_json::to_value(&finding)
            .map_err(|e| itops_core::Error::serialization("the finding", e))?;
        self.store
            .append_timeline(
                &TimelineEntry::new(
                    id,
                    self.clock.now(),
                    Actor::Agent("root_cause".into()),
                    TimelineKind::Finding,
                    summary,
                )
                .with_payload(payload),
            )
            .await?;
        Ok(Analysis {
            triage: triage.assessment,
            finding,
            steps: investigation.transcript.steps.len(),
        })
    }
}
