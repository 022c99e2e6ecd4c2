//! The three roles of the incident workflow — triage, root cause, remediation — each held
//! as an [`Agent`] with the role's outcome. [`Responders::new`] fills them with the
//! built-in agents, wired to one model, the telemetry tools and the knowledge base;
//! [`Responders::with_root_cause`] (and its siblings) put your own agent in a role. The
//! workflow steps, the Lambda step functions, `analyze_incident` and `itops investigate`
//! all run whatever agent fills the role.

use std::sync::Arc;

use itops_core::catalogue::ActionCatalogue;
use itops_core::workflow::{default_actor, StepKind};
use itops_core::{
    Actor, Agent, DynTool, IncidentContext, LanguageModel, RemediationAction, Result,
    TelemetrySource,
};

use crate::agents::ReactAgent;
use crate::agents::{Investigation, Planning, RemediationAgent, RootCauseRole, Triage, TriageRole};
use crate::policy::{ActionPolicy, ActionTargets};
use crate::tools::telemetry_tools;

/// The triage role: an agent whose outcome is a [`Triage`].
pub type TriageRoleAgent = Arc<dyn Agent<Outcome = Triage>>;
/// The root-cause role: an agent whose outcome is an [`Investigation`].
pub type RootCauseRoleAgent = Arc<dyn Agent<Outcome = Investigation>>;
/// The remediation role: an agent whose outcome is a [`Planning`].
pub type RemediationRoleAgent = Arc<dyn Agent<Outcome = Planning>>;

/// The agents filling the workflow's three roles, and the action policy.
#[derive(Clone)]
pub struct Responders {
    model: Arc<dyn LanguageModel>,
    source: Arc<dyn TelemetrySource>,
    policy: ActionPolicy,
    triage: TriageRoleAgent,
    root_cause: RootCauseRoleAgent,
    remediation: RemediationRoleAgent,
}

impl std::fmt::Debug for Responders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responders")
            .field("model", &self.model.name())
            .field("triage", &self.triage.name())
            .field("root_cause", &self.root_cause.name())
            .field("remediation", &self.remediation.name())
            .field("policy", &self.policy)
            .finish()
    }
}

impl Responders {
    /// The built-in agents, using `model`, the standard telemetry tools over `telemetry`,
    /// the given knowledge tools (e.g. `search_knowledge`, `similar_incidents`), and
    /// `policy` for plans (whose actions may target the services the telemetry implicates).
    pub fn new(
        model: Arc<dyn LanguageModel>,
        telemetry: Arc<dyn TelemetrySource>,
        knowledge: Vec<Arc<dyn DynTool>>,
        policy: ActionPolicy,
    ) -> Self {
        let mut tools = telemetry_tools(telemetry.clone());
        tools.extend(knowledge);
        let triage = ReactAgent::from_role(TriageRole, model.clone(), tools.clone());
        let root_cause =
            ReactAgent::from_role(RootCauseRole::default(), model.clone(), tools.clone());
        // The knowledge base for what to do, the telemetry to size it (e.g. replicas).
        let remediation = RemediationAgent::new(model.clone(), tools, policy.clone())
            .with_telemetry(telemetry.clone());
        Self {
            model,
            source: telemetry,
            policy,
            triage: Arc::new(triage),
            root_cause: Arc::new(root_cause),
            remediation: Arc::new(remediation),
        }
    }

    /// Puts `agent` in the triage role.
    pub fn with_triage(mut self, agent: impl Agent<Outcome = Triage> + 'static) -> Self {
        self.triage = Arc::new(agent);
        self
    }

    /// Puts `agent` in the root-cause role: the workflow's investigate step (and
    /// `analyze_incident`, `itops investigate`) runs it instead of the built-in agent.
    pub fn with_root_cause(mut self, agent: impl Agent<Outcome = Investigation> + 'static) -> Self {
        self.root_cause = Arc::new(agent);
        self
    }

    /// Puts `agent` in the remediation role. Whatever it plans, the policy still decides
    /// what needs approval, and checks each action again before it runs ([`Self::admit`]).
    pub fn with_remediation(mut self, agent: impl Agent<Outcome = Planning> + 'static) -> Self {
        self.remediation = Arc::new(agent);
        self
    }

    /// The agent in the triage role: scores and routes the incident.
    pub fn triage(&self) -> &TriageRoleAgent {
        &self.triage
    }

    /// The agent in the root-cause role: finds the root cause (when the incident was
    /// detected comes with the run, see [`RunContext::with_detected_at`](itops_core::RunContext::with_detected_at)).
    pub fn root_cause(&self) -> &RootCauseRoleAgent {
        &self.root_cause
    }

    /// The agent in the remediation role: proposes the remediation of `context.finding`.
    pub fn remediation(&self) -> &RemediationRoleAgent {
        &self.remediation
    }

    /// Who the timeline names as the author of a workflow step: the agent in the step's role
    /// (`triage`, `root_cause` and `remediation` for the built-in agents), the workflow's
    /// [`default_actor`] for the other steps.
    pub fn actor(&self, step: StepKind) -> Actor {
        let agent = match step {
            StepKind::Triage => self.triage.name(),
            StepKind::Investigate => self.root_cause.name(),
            StepKind::Plan => self.remediation.name(),
            StepKind::Approval | StepKind::Execute | StepKind::Verify => {
                return default_actor(step)
            }
        };
        Actor::Agent(agent.to_string())
    }

    /// The model's name (the built-in agents' model; a label for metrics).
    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    /// The action policy.
    pub fn policy(&self) -> &ActionPolicy {
        &self.policy
    }

    /// The services the telemetry implicates in the incident: what actions may target.
    pub async fn targets(&self, context: &IncidentContext) -> ActionTargets {
        ActionTargets::from_telemetry(self.source.as_ref(), &context.incident).await
    }

    /// The policy's check right before `action` executes (see [`ActionPolicy::admit`]):
    /// the catalogue, the denied list, a target the telemetry implicates now, and a human
    /// approval (`approved`) when the action may not run unattended.
    pub async fn admit(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
        approved: bool,
    ) -> Result<()> {
        let targets = self.targets(context).await;
        self.policy.admit(
            &ActionCatalogue::standard(),
            action,
            &targets.services(),
            approved,
        )
    }
}
