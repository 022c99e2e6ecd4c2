//! The incident timeline: the audit trail of everything that happened to an incident.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{IncidentId, TimelineEntryId};
use crate::word_enum::word_enum;

/// Who or what caused a timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// itops itself (the workflow runner, the API).
    System,
    /// An agent, by name.
    Agent(String),
    /// A tool, by name.
    Tool(String),
    /// A person, by user name or token name.
    Human(String),
    /// An external integration (alert source, notifier), by name.
    Integration(String),
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::System => f.write_str("system"),
            Actor::Agent(n) => write!(f, "agent:{n}"),
            Actor::Tool(n) => write!(f, "tool:{n}"),
            Actor::Human(n) => write!(f, "human:{n}"),
            Actor::Integration(n) => write!(f, "integration:{n}"),
        }
    }
}

word_enum! {
    /// What kind of step a timeline entry records.
    pub enum TimelineKind as "timeline kind" {
        /// The incident was created.
        Created = "created",
        /// A field was changed by hand.
        Updated = "updated",
        /// The workflow moved to another state.
        StatusChanged = "status_changed",
        /// An agent's reasoning.
        Thought = "thought",
        /// A tool was called.
        ToolCall = "tool_call",
        /// A tool's result.
        Observation = "observation",
        /// A decision (routing, policy, stop).
        Decision = "decision",
        /// The triage assessment.
        Triage = "triage",
        /// The root-cause finding.
        Finding = "finding",
        /// The remediation plan.
        Plan = "plan",
        /// An approval was requested.
        ApprovalRequested = "approval_requested",
        /// An approval was decided or expired.
        ApprovalDecided = "approval_decided",
        /// An action was executed (or its execution started or failed).
        Action = "action",
        /// The fix was checked against telemetry.
        Verification = "verification",
        /// A notification was sent (or failed).
        Notification = "notification",
        /// A free-form note.
        Note = "note",
        /// Something failed.
        Error = "error",
    }
}

/// One entry of an incident's timeline. Append-only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineEntry {
    /// Unique id.
    pub id: TimelineEntryId,
    /// The incident it belongs to.
    pub incident_id: IncidentId,
    /// Position in the incident's timeline, assigned by the store (1, 2, ...); 0 before append.
    #[serde(default)]
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who or what did it.
    pub actor: Actor,
    /// What kind of step it is.
    pub kind: TimelineKind,
    /// One line a person can read.
    pub summary: String,
    /// Structured details (tool input and output, the finding, ...).
    #[serde(default)]
    pub payload: serde_json::Value,
}

impl TimelineEntry {
    /// A new entry, not yet appended.
    pub fn new(
        incident_id: IncidentId,
        at: DateTime<Utc>,
        actor: Actor,
        kind: TimelineKind,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            id: TimelineEntryId::new(),
            incident_id,
            seq: 0,
            at,
            actor,
            kind,
            summary: summary.into(),
            payload: serde_json::Value::Null,
        }
    }

    /// Attaches structured details.
    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }
}
