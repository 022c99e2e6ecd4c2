//! The incident workflow as data: states, the step each one runs, and guarded transitions.
//!
//! [`WorkflowDefinition::standard`] is the one definition of the incident state machine.
//! The local runner executes it, and because it is a plain serialisable value, a Step
//! Functions definition can be generated from it or checked against it.
//!
//! A step runs *in* a state (the incident is `triaging` while the triage step runs); what
//! the step produced, summarised as a [`StepOutcome`], selects the next state through the
//! [`Guard`]s of the transitions leaving that state. Exactly one guard must match.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::approval::ApprovalStatus;
use crate::domain::{IncidentStatus, Route};
use crate::error::{Error, Result};
use crate::word_enum::word_enum;

word_enum! {
    /// The work done in a workflow state.
    pub enum StepKind as "step kind" {
        /// Score severity and urgency, and route (escalate or investigate).
        Triage = "triage",
        /// Find the root cause.
        Investigate = "investigate",
        /// Propose remediation actions.
        Plan = "plan",
        /// Wait for a human decision on a risky plan.
        Approval = "approval",
        /// Run the plan's actions.
        Execute = "execute",
        /// Check the fix against telemetry.
        Verify = "verify",
    }
}

word_enum! {
    /// A condition on a [`StepOutcome`] that selects a transition.
    pub enum Guard as "guard" {
        /// Any outcome except a failure (the only transition of a state whose step has
        /// one successful result, or of a state without a step).
        Always = "always",
        /// Triage routed the incident to humans.
        RouteEscalate = "route_escalate",
        /// Triage routed the incident to investigation.
        RouteInvestigate = "route_investigate",
        /// The plan has no actions.
        PlanEmpty = "plan_empty",
        /// The plan has actions and the policy wants a human decision.
        NeedsApproval = "needs_approval",
        /// The plan has actions and the policy lets them run unattended.
        AutoApproved = "auto_approved",
        /// A human approved the plan.
        Approved = "approved",
        /// A human rejected the plan, or no decision came in time.
        RejectedOrExpired = "rejected_or_expired",
        /// No action failed (an interrupted action is left to verification to judge).
        ActionsSucceeded = "actions_succeeded",
        /// An action failed.
        ActionFailed = "action_failed",
        /// Verification found telemetry back to baseline.
        Resolved = "resolved",
        /// Verification found the problem persists.
        NotResolved = "not_resolved",
        /// The step itself failed (returned an error or produced invalid output).
        StepFailed = "step_failed",
    }
}

impl Guard {
    /// The step whose outcomes this guard reads; `None` for guards that apply to any state
    /// ([`Guard::Always`]) or to any step ([`Guard::StepFailed`]).
    pub fn applies_to(&self) -> Option<StepKind> {
        match self {
            Guard::Always | Guard::StepFailed => None,
            Guard::RouteEscalate | Guard::RouteInvestigate => Some(StepKind::Triage),
            Guard::PlanEmpty | Guard::NeedsApproval | Guard::AutoApproved => Some(StepKind::Plan),
            Guard::Approved | Guard::RejectedOrExpired => Some(StepKind::Approval),
            Guard::ActionsSucceeded | Guard::ActionFailed => Some(StepKind::Execute),
            Guard::Resolved | Guard::NotResolved => Some(StepKind::Verify),
        }
    }

    /// Whether the guard holds for `outcome`.
    pub fn matches(&self, outcome: &StepOutcome) -> bool {
        match (self, outcome) {
            (Guard::StepFailed, StepOutcome::Failed { .. }) => true,
            (_, StepOutcome::Failed { .. }) => false,
            (Guard::Always, _) => true,
            (Guard::RouteEscalate, StepOutcome::Triaged { route }) => *route == Route::Escalate,
            (Guard::RouteInvestigate, StepOutcome::Triaged { route }) => {
                *route == Route::Investigate
            }
            (Guard::PlanEmpty, StepOutcome::Planned { actions, .. }) => *actions == 0,
            (
                Guard::NeedsApproval,
                StepOutcome::Planned {
                    actions,
                    needs_approval,
                },
            ) => *actions > 0 && *needs_approval,
            (
                Guard::AutoApproved,
                StepOutcome::Planned {
                    actions,
                    needs_approval,
                },
            ) => *actions > 0 && !*needs_approval,
            (Guard::Approved, StepOutcome::Decided { status }) => {
                *status == ApprovalStatus::Approved
            }
            (Guard::RejectedOrExpired, StepOutcome::Decided { status }) => {
                matches!(status, ApprovalStatus::Rejected | ApprovalStatus::Expired)
            }
            (Guard::ActionsSucceeded, StepOutcome::Executed { failed, .. }) => *failed == 0,
            (Guard::ActionFailed, StepOutcome::Executed { failed, .. }) => *failed > 0,
            (Guard::Resolved, StepOutcome::Verified { resolved }) => *resolved,
            (Guard::NotResolved, StepOutcome::Verified { resolved }) => !*resolved,
            _ => false,
        }
    }
}

/// What a step produced, reduced to what the guards read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    /// A state without a step was passed through (e.g. `open` when the workflow starts).
    Pass,
    /// Triage chose a route.
    Triaged {
        /// Where triage sends the incident.
        route: Route,
    },
    /// The investigation produced a finding.
    Investigated,
    /// Planning produced a plan.
    Planned {
        /// How many actions the plan has.
        actions: usize,
        /// Whether the policy wants a human decision.
        needs_approval: bool,
    },
    /// The approval was decided or expired.
    Decided {
        /// The approval's status (a pending one matches no guard).
        status: ApprovalStatus,
    },
    /// The plan's actions were executed (as far as they went).
    Executed {
        /// Actions that succeeded.
        succeeded: usize,
        /// Actions that failed.
        failed: usize,
        /// Actions whose execution was interrupted (never re-run).
        interrupted: usize,
    },
    /// Verification checked the fix.
    Verified {
        /// Whether telemetry is back to baseline.
        resolved: bool,
    },
    /// The step failed.
    Failed {
        /// The step.
        step: StepKind,
        /// What went wrong.
        message: String,
    },
}

impl StepOutcome {
    /// The step that produces this outcome; `None` for [`StepOutcome::Pass`].
    pub fn step(&self) -> Option<StepKind> {
        match self {
            StepOutcome::Pass => None,
            StepOutcome::Triaged { .. } => Some(StepKind::Triage),
            StepOutcome::Investigated => Some(StepKind::Investigate),
            StepOutcome::Planned { .. } => Some(StepKind::Plan),
            StepOutcome::Decided { .. } => Some(StepKind::Approval),
            StepOutcome::Executed { .. } => Some(StepKind::Execute),
            StepOutcome::Verified { .. } => Some(StepKind::Verify),
            StepOutcome::Failed { step, .. } => Some(*step),
        }
    }

    /// One outcome of each shape `step` can finally produce (a pending approval is not
    /// final), used by [`WorkflowDefinition::validate`] to check that the guards of a
    /// state are exhaustive and mutually exclusive.
    pub fn representatives(step: Option<StepKind>) -> Vec<StepOutcome> {
        let Some(step) = step else {
            return vec![StepOutcome::Pass];
        };
        let mut outcomes = match step {
            StepKind::Triage => vec![
                StepOutcome::Triaged {
                    route: Route::Escalate,
                },
                StepOutcome::Triaged {
                    route: Route::Investigate,
                },
            ],
            StepKind::Investigate => vec![StepOutcome::Investigated],
            StepKind::Plan => [0, 1, 3]
                .into_iter()
                .flat_map(|actions| {
                    [false, true].map(|needs_approval| StepOutcome::Planned {
                        actions,
                        needs_approval,
                    })
                })
                .collect(),
            StepKind::Approval => [
                ApprovalStatus::Approved,
                ApprovalStatus::Rejected,
                ApprovalStatus::Expired,
            ]
            .into_iter()
            .map(|status| StepOutcome::Decided { status })
            .collect(),
            StepKind::Execute => [
                (1, 0, 0),
                (0, 1, 0),
                (0, 0, 1),
                (1, 1, 0),
                (1, 0, 1),
                (0, 1, 1),
            ]
            .into_iter()
            .map(|(succeeded, failed, interrupted)| StepOutcome::Executed {
                succeeded,
                failed,
                interrupted,
            })
            .collect(),
            StepKind::Verify => vec![
                StepOutcome::Verified { resolved: true },
                StepOutcome::Verified { resolved: false },
            ],
        };
        outcomes.push(StepOutcome::Failed {
            step,
            message: "example failure".to_string(),
        });
        outcomes
    }
}

/// One state of the workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StateDefinition {
    /// The incident status this state corresponds to.
    pub status: IncidentStatus,
    /// The step that runs in this state; `None` for terminal states and pass-through states.
    pub step: Option<StepKind>,
    /// Whether the workflow ends here.
    pub terminal: bool,
    /// What happens in this state, for people.
    #[serde(default)]
    pub description: String,
}

/// A guarded edge between two states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Transition {
    /// The state left.
    pub from: IncidentStatus,
    /// The state entered.
    pub to: IncidentStatus,
    /// When this edge is taken.
    pub guard: Guard,
}

impl Transition {
    /// A transition.
    pub fn new(from: IncidentStatus, to: IncidentStatus, guard: Guard) -> Self {
        Self { from, to, guard }
    }
}

/// The incident state machine, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkflowDefinition {
    /// Where every workflow starts.
    pub initial: IncidentStatus,
    /// The states.
    pub states: Vec<StateDefinition>,
    /// The guarded transitions between them.
    pub transitions: Vec<Transition>,
}

/// The state every non-terminal state may be moved to by hand.
pub const MANUAL_ESCALATION_TARGET: IncidentStatus = IncidentStatus::Escalated;

impl WorkflowDefinition {
    /// The standard incident workflow:
    ///
    /// ```text
    /// open → triaging → escalated | investigating
    /// investigating → planning
    /// planning → escalated (empty plan) | awaiting_approval | executing (auto-approved)
    /// awaiting_approval → executing (approved) | escalated (rejected or expired)
    /// executing → verifying | escalated (an action failed)
    /// verifying → resolved | escalated
    /// ```
    ///
    /// and every step escalates when it fails.
    pub fn standard() -> Self {
        use IncidentStatus as S;

        fn state(
            status: IncidentStatus,
            step: Option<StepKind>,
            description: &str,
        ) -> StateDefinition {
            StateDefinition {
                status,
                step,
                terminal: status.is_terminal(),
                description: description.to_string(),
            }
        }

        let states = vec![
            state(S::Open, None, "Reported; the workflow starts by triaging it."),
            state(
                S::Triaging,
                Some(StepKind::Triage),
                "The triage agent scores severity and urgency and routes the incident.",
            ),
            state(
                S::Investigating,
                Some(StepKind::Investigate),
                "The root-cause agent investigates with tools.",
            ),
            state(
                S::Planning,
                Some(StepKind::Plan),
                "The remediation agent proposes typed actions; policy decides whether a human must approve them.",
            ),
            state(
                S::AwaitingApproval,
                Some(StepKind::Approval),
                "A risky plan waits for a human decision (or its expiry).",
            ),
            state(
                S::Executing,
                Some(StepKind::Execute),
                "The plan's actions run in order, each at most once.",
            ),
            state(
                S::Verifying,
                Some(StepKind::Verify),
                "Telemetry is checked to see whether the fix worked.",
            ),
            state(S::Resolved, None, "Fixed and verified."),
            state(S::Escalated, None, "Handed to humans."),
        ];

        let t = Transition::new;
        let transitions = vec![
            t(S::Open, S::Triaging, Guard::Always),
            t(S::Triaging, S::Escalated, Guard::RouteEscalate),
            t(S::Triaging, S::Investigating, Guard::RouteInvestigate),
            t(S::Triaging, S::Escalated, Guard::StepFailed),
            t(S::Investigating, S::Planning, Guard::Always),
            t(S::Investigating, S::Escalated, Guard::StepFailed),
            t(S::Planning, S::Escalated, Guard::PlanEmpty),
            t(S::Planning, S::AwaitingApproval, Guard::NeedsApproval),
            t(S::Planning, S::Executing, Guard::AutoApproved),
            t(S::Planning, S::Escalated, Guard::StepFailed),
            t(S::AwaitingApproval, S::Executing, Guard::Approved),
            t(S::AwaitingApproval, S::Escalated, Guard::RejectedOrExpired),
            t(S::AwaitingApproval, S::Escalated, Guard::StepFailed),
            t(S::Executing, S::Verifying, Guard::ActionsSucceeded),
            t(S::Executing, S::Escalated, Guard::ActionFailed),
            t(S::Executing, S::Escalated, Guard::StepFailed),
            t(S::Verifying, S::Resolved, Guard::Resolved),
            t(S::Verifying, S::Escalated, Guard::NotResolved),
            t(S::Verifying, S::Escalated, Guard::StepFailed),
        ];

        Self {
            initial: S::Open,
            states,
            transitions,
        }
    }

    /// The definition of `status`, if the workflow has that state.
    pub fn state(&self, status: IncidentStatus) -> Option<&StateDefinition> {
        self.states.iter().find(|s| s.status == status)
    }

    /// The step that runs in `status`; `None` for terminal, pass-through or unknown states.
    pub fn step_for(&self, status: IncidentStatus) -> Option<StepKind> {
        self.state(status).and_then(|s| s.step)
    }

    /// Whether `status` ends the workflow (unknown states count as not terminal).
    pub fn is_terminal(&self, status: IncidentStatus) -> bool {
        self.state(status).is_some_and(|s| s.terminal)
    }

    /// The transitions leaving `status`, in definition order.
    pub fn transitions_from(&self, status: IncidentStatus) -> impl Iterator<Item = &Transition> {
        self.transitions.iter().filter(move |t| t.from == status)
    }

    /// The state that follows `from` given what its step produced. Exactly one guard of
    /// the transitions leaving `from` must match; otherwise, or when `outcome` was not
    /// produced by the step of `from`, the error is [`Error::InvalidTransition`].
    pub fn next(&self, from: IncidentStatus, outcome: &StepOutcome) -> Result<IncidentStatus> {
        let refuse = |to: String, reason: String| Error::InvalidTransition {
            from: from.to_string(),
            to,
            reason: Some(reason),
        };
        let Some(state) = self.state(from) else {
            return Err(refuse(
                "any state".to_string(),
                format!("'{from}' is not a state of this workflow"),
            ));
        };
        if state.terminal {
            return Err(refuse(
                "any state".to_string(),
                format!("'{from}' is terminal"),
            ));
        }
        if outcome.step() != state.step {
            return Err(refuse(
                "any state".to_string(),
                format!(
                    "the outcome comes from step '{}' but state '{from}' runs {}",
                    outcome.step().map_or("no step", |s| s.as_str()),
                    state
                        .step
                        .map_or("no step".to_string(), |s| format!("step '{s}'")),
                ),
            ));
        }
        let matching: Vec<&Transition> = self
            .transitions_from(from)
            .filter(|t| t.guard.matches(outcome))
            .collect();
        match matching.as_slice() {
            [only] => Ok(only.to),
            [] => {
                let targets: BTreeSet<&str> =
                    self.transitions_from(from).map(|t| t.to.as_str()).collect();
                Err(refuse(
                    targets.into_iter().collect::<Vec<_>>().join(" or "),
                    format!("no guard matches the outcome {}", describe(outcome)),
                ))
            }
            many => Err(refuse(
                many.iter()
                    .map(|t| t.to.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                format!(
                    "the outcome {} matches several guards ({}); exactly one must match",
                    describe(outcome),
                    many.iter()
                        .map(|t| t.guard.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// Checks a transition asked for by hand (e.g. through the API): allowed when the
    /// workflow has such a transition, when it escalates a non-terminal incident
    /// ([`MANUAL_ESCALATION_TARGET`]), or when the status does not change.
    pub fn check_transition(&self, from: IncidentStatus, to: IncidentStatus) -> Result<()> {
        if from == to {
            return Ok(());
        }
        let refuse = |reason: String| Error::InvalidTransition {
            from: from.to_string(),
            to: to.to_string(),
            reason: Some(reason),
        };
        let Some(state) = self.state(from) else {
            return Err(refuse(format!("'{from}' is not a state of this workflow")));
        };
        if self.state(to).is_none() {
            return Err(refuse(format!("'{to}' is not a state of this workflow")));
        }
        if state.terminal {
            return Err(refuse(format!("'{from}' is terminal")));
        }
        if to == MANUAL_ESCALATION_TARGET || self.transitions_from(from).any(|t| t.to == to) {
            return Ok(());
        }
        let mut allowed: BTreeSet<&str> =
            self.transitions_from(from).map(|t| t.to.as_str()).collect();
        allowed.insert(MANUAL_ESCALATION_TARGET.as_str());
        Err(refuse(format!(
            "from '{from}' the workflow goes to {}",
            allowed
                .into_iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    /// Checks that the definition is well-formed: states are unique and their `terminal`
    /// flags agree with [`IncidentStatus::is_terminal`]; the initial state exists and is not
    /// terminal; transitions name known states; terminal states have no step and no
    /// outgoing transitions; every non-terminal state has outgoing transitions, and a step
    /// unless it is a pass-through state (a single [`Guard::Always`] transition); guards
    /// read only their own step's outcomes; for every outcome a state's step can produce
    /// exactly one guard matches (so every step also has a failure path); every state is
    /// reachable from the initial state; and a terminal state is reachable from every state.
    ///
    /// Every problem found is reported in one [`Error::Invalid`].
    pub fn validate(&self) -> Result<()> {
        let mut problems: Vec<String> = Vec::new();

        let mut seen = BTreeSet::new();
        for s in &self.states {
            if !seen.insert(s.status) {
                problems.push(format!("state '{}' is defined more than once", s.status));
            }
            if s.terminal != s.status.is_terminal() {
                problems.push(format!(
                    "state '{}' must {}be terminal",
                    s.status,
                    if s.status.is_terminal() { "" } else { "not " }
                ));
            }
        }

        match self.state(self.initial) {
            None => problems.push(format!(
                "the initial state '{}' is not defined",
                self.initial
            )),
            Some(s) if s.terminal => {
                problems.push(format!("the initial state '{}' is terminal", self.initial))
            }
            Some(_) => {}
        }

        for t in &self.transitions {
            for end in [t.from, t.to] {
                if self.state(end).is_none() {
                    problems.push(format!(
                        "transition {} → {} ({}) names undefined state '{end}'",
                        t.from, t.to, t.guard
                    ));
                }
            }
        }

        for s in &self.states {
            let outgoing: Vec<&Transition> = self.transitions_from(s.status).collect();
            if s.terminal {
                if s.step.is_some() {
                    problems.push(format!(
                        "terminal state '{}' must not have a step",
                        s.status
                    ));
                }
                if !outgoing.is_empty() {
                    problems.push(format!(
                        "terminal state '{}' must not have outgoing transitions",
                        s.status
                    ));
                }
                continue;
            }
            if outgoing.is_empty() {
                problems.push(format!("state '{}' has no outgoing transitions", s.status));
                continue;
            }
            if s.step.is_none()
                && !(outgoing.len() == 1 && outgoing.iter().all(|t| t.guard == Guard::Always))
            {
                problems.push(format!(
                    "state '{}' has no step, so it must have exactly one transition, guarded by 'always'",
                    s.status
                ));
            }
            for t in &outgoing {
                let misplaced = match (t.guard.applies_to(), s.step) {
                    (Some(wanted), step) => step != Some(wanted),
                    (None, None) => t.guard == Guard::StepFailed,
                    (None, Some(_)) => false,
                };
                if misplaced {
                    problems.push(format!(
                        "guard '{}' on {} → {} does not apply to state '{}' ({})",
                        t.guard,
                        t.from,
                        t.to,
                        s.status,
                        s.step
                            .map_or("no step".to_string(), |k| format!("step '{k}'"))
                    ));
                }
            }
            for outcome in StepOutcome::representatives(s.step) {
                let n = outgoing
                    .iter()
                    .filter(|t| t.guard.matches(&outcome))
                    .count();
                if n != 1 {
                    problems.push(format!(
                        "in state '{}', {} guards match the outcome {} (exactly one must)",
                        s.status,
                        n,
                        describe(&outcome)
                    ));
                }
            }
        }

        let reachable = self.reachable_from(self.initial);
        for s in &self.states {
            if !reachable.contains(&s.status) {
                problems.push(format!(
                    "state '{}' is not reachable from the initial state '{}'",
                    s.status, self.initial
                ));
            }
            if !s.terminal {
                let ends = self.reachable_from(s.status);
                if !ends.iter().any(|e| self.is_terminal(*e)) {
                    problems.push(format!(
                        "no terminal state is reachable from '{}'",
                        s.status
                    ));
                }
            }
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid("workflow definition", problems.join("; ")))
        }
    }

    fn reachable_from(&self, start: IncidentStatus) -> BTreeSet<IncidentStatus> {
        let mut seen = BTreeSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(s) = queue.pop_front() {
            for t in self.transitions_from(s) {
                if seen.insert(t.to) {
                    queue.push_back(t.to);
                }
            }
        }
        seen
    }
}

fn describe(outcome: &StepOutcome) -> String {
    serde_json::to_string(outcome).unwrap_or_else(|_| format!("{outcome:?}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use IncidentStatus as S;

    fn def() -> WorkflowDefinition {
        WorkflowDefinition::standard()
    }

    fn planned(actions: usize, needs_approval: bool) -> StepOutcome {
        StepOutcome::Planned {
            actions,
            needs_approval,
        }
    }

    fn executed(succeeded: usize, failed: usize, interrupted: usize) -> StepOutcome {
        StepOutcome::Executed {
            succeeded,
            failed,
            interrupted,
        }
    }

    fn failed(step: StepKind) -> StepOutcome {
        StepOutcome::Failed {
            step,
            message: "boom".into(),
        }
    }

    #[test]
    fn standard_is_valid() {
        def().validate().unwrap();
    }

    #[test]
    fn standard_covers_every_status() {
        let d = def();
        for status in IncidentStatus::ALL {
            assert!(d.state(*status).is_some(), "{status} missing");
        }
        assert_eq!(d.initial, S::Open);
    }

    #[test]
    fn step_for_each_state() {
        let d = def();
        assert_eq!(d.step_for(S::Open), None);
        assert_eq!(d.step_for(S::Triaging), Some(StepKind::Triage));
        assert_eq!(d.step_for(S::Investigating), Some(StepKind::Investigate));
        assert_eq!(d.step_for(S::Planning), Some(StepKind::Plan));
        assert_eq!(d.step_for(S::AwaitingApproval), Some(StepKind::Approval));
        assert_eq!(d.step_for(S::Executing), Some(StepKind::Execute));
        assert_eq!(d.step_for(S::Verifying), Some(StepKind::Verify));
        assert_eq!(d.step_for(S::Resolved), None);
        assert_eq!(d.step_for(S::Escalated), None);
    }

    #[test]
    fn next_follows_the_standard_paths() {
        let d = def();
        let cases = [
            (S::Open, StepOutcome::Pass, S::Triaging),
            (
                S::Triaging,
                StepOutcome::Triaged {
                    route: Route::Escalate,
                },
                S::Escalated,
            ),
            (
                S::Triaging,
                StepOutcome::Triaged {
                    route: Route::Investigate,
                },
                S::Investigating,
            ),
            (S::Investigating, StepOutcome::Investigated, S::Planning),
            (S::Planning, planned(0, false), S::Escalated),
            (S::Planning, planned(0, true), S::Escalated),
            (S::Planning, planned(2, true), S::AwaitingApproval),
            (S::Planning, planned(2, false), S::Executing),
            (
                S::AwaitingApproval,
                StepOutcome::Decided {
                    status: ApprovalStatus::Approved,
                },
                S::Executing,
            ),
            (
                S::AwaitingApproval,
                StepOutcome::Decided {
                    status: ApprovalStatus::Rejected,
                },
                S::Escalated,
            ),
            (
                S::AwaitingApproval,
                StepOutcome::Decided {
                    status: ApprovalStatus::Expired,
                },
                S::Escalated,
            ),
            (S::Executing, executed(2, 0, 0), S::Verifying),
            (S::Executing, executed(1, 0, 1), S::Verifying),
            (S::Executing, executed(1, 1, 0), S::Escalated),
            (
                S::Verifying,
                StepOutcome::Verified { resolved: true },
                S::Resolved,
            ),
            (
                S::Verifying,
                StepOutcome::Verified { resolved: false },
                S::Escalated,
            ),
        ];
        for (from, outcome, to) in cases {
            assert_eq!(
                d.next(from, &outcome).unwrap(),
                to,
                "{from} with {outcome:?}"
            );
        }
    }

    #[test]
    fn every_step_escalates_on_failure() {
        let d = def();
        for state in d.states.iter().filter(|s| s.step.is_some()) {
            let step = state.step.unwrap();
            assert_eq!(d.next(state.status, &failed(step)).unwrap(), S::Escalated);
        }
    }

    #[test]
    fn next_refuses_pending_approval() {
        let err = def()
            .next(
                S::AwaitingApproval,
                &StepOutcome::Decided {
                    status: ApprovalStatus::Pending,
                },
            )
            .unwrap_err();
        assert!(matches!(err, Error::InvalidTransition { .. }), "{err}");
        assert!(err.to_string().contains("no guard matches"), "{err}");
    }

    #[test]
    fn next_refuses_terminal_and_foreign_outcomes() {
        let d = def();
        let err = d.next(S::Resolved, &StepOutcome::Pass).unwrap_err();
        assert!(err.to_string().contains("terminal"), "{err}");
        let err = d
            .next(S::Triaging, &StepOutcome::Verified { resolved: true })
            .unwrap_err();
        assert!(err.to_string().contains("step 'verify'"), "{err}");
        let err = d.next(S::Open, &StepOutcome::Investigated).unwrap_err();
        assert!(matches!(err, Error::InvalidTransition { .. }), "{err}");
    }

    #[test]
    fn next_refuses_ambiguous_guards() {
        let mut d = def();
        d.transitions.push(Transition::new(
            S::Investigating,
            S::Escalated,
            Guard::Always,
        ));
        let err = d
            .next(S::Investigating, &StepOutcome::Investigated)
            .unwrap_err();
        assert!(err.to_string().contains("several guards"), "{err}");
    }

    #[test]
    fn check_transition_allows_defined_and_manual_escalation() {
        let d = def();
        d.check_transition(S::Open, S::Triaging).unwrap();
        d.check_transition(S::Verifying, S::Resolved).unwrap();
        d.check_transition(S::Planning, S::AwaitingApproval)
            .unwrap();
        for status in IncidentStatus::ALL.iter().filter(|s| !s.is_terminal()) {
            d.check_transition(*status, S::Escalated).unwrap();
        }
        d.check_transition(S::Resolved, S::Resolved).unwrap();
    }

    #[test]
    fn check_transition_refuses_the_rest() {
        let d = def();
        for (from, to) in [
            (S::Open, S::Resolved),
            (S::Triaging, S::Executing),
            (S::Planning, S::Resolved),
            (S::Resolved, S::Open),
            (S::Escalated, S::Triaging),
            (S::Resolved, S::Escalated),
            (S::AwaitingApproval, S::Verifying),
        ] {
            let err = d.check_transition(from, to).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidTransition { from: f, to: t, reason: Some(_) } if *f == from.as_str() && *t == to.as_str()),
                "{from} → {to}: {err}"
            );
        }
        let err = d.check_transition(S::Triaging, S::Resolved).unwrap_err();
        assert!(err.to_string().contains("'investigating'"), "{err}");
    }

    #[test]
    fn validate_reports_missing_step_and_transitions() {
        let mut d = def();
        d.transitions.retain(|t| t.from != S::Verifying);
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("'verifying' has no outgoing transitions"),
            "{err}"
        );
        assert!(err.contains("'resolved' is not reachable"), "{err}");

        let mut d = def();
        for s in &mut d.states {
            if s.status == S::Planning {
                s.step = None;
            }
        }
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("'planning' has no step"), "{err}");
    }

    #[test]
    fn validate_reports_terminal_with_transitions() {
        let mut d = def();
        d.transitions
            .push(Transition::new(S::Resolved, S::Triaging, Guard::Always));
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("terminal state 'resolved' must not have outgoing"),
            "{err}"
        );

        let mut d = def();
        for s in &mut d.states {
            if s.status == S::Escalated {
                s.step = Some(StepKind::Verify);
            }
        }
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("terminal state 'escalated' must not have a step"),
            "{err}"
        );
    }

    #[test]
    fn validate_reports_unreachable_and_unknown_states() {
        let mut d = def();
        d.transitions
            .retain(|t| !(t.from == S::Planning && t.to == S::AwaitingApproval));
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("'awaiting_approval' is not reachable"),
            "{err}"
        );
        assert!(err.contains("0 guards match"), "{err}");

        let mut d = def();
        d.states.retain(|s| s.status != S::Open);
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("initial state 'open' is not defined"), "{err}");
        assert!(err.contains("undefined state 'open'"), "{err}");
    }

    #[test]
    fn validate_reports_guard_problems() {
        let mut d = def();
        d.transitions
            .retain(|t| !(t.from == S::Executing && t.guard == Guard::StepFailed));
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("in state 'executing', 0 guards match"),
            "{err}"
        );

        let mut d = def();
        d.transitions
            .push(Transition::new(S::Triaging, S::Planning, Guard::Resolved));
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("guard 'resolved' on triaging → planning does not apply"),
            "{err}"
        );

        let mut d = def();
        d.transitions
            .push(Transition::new(S::Executing, S::Verifying, Guard::Always));
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("2 guards match"), "{err}");
    }

    #[test]
    fn validate_reports_wrong_terminal_flags() {
        let mut d = def();
        for s in &mut d.states {
            if s.status == S::Resolved {
                s.terminal = false;
            }
        }
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("state 'resolved' must be terminal"), "{err}");
    }

    #[test]
    fn definition_round_trips_through_json() {
        let d = def();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["initial"], "open");
        assert_eq!(json["states"][1]["step"], "triage");
        assert_eq!(json["transitions"][1]["guard"], "route_escalate");
        let back: WorkflowDefinition = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn outcomes_serialise_with_a_tag() {
        let json = serde_json::to_value(planned(2, true)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"outcome": "planned", "actions": 2, "needs_approval": true})
        );
        let back: StepOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, planned(2, true));
    }
}
