//! Incidents: what happened, how bad it is, and where it stands in the workflow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::IncidentId;
use crate::word_enum::word_enum;

/// Longest accepted incident title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest accepted incident description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Most affected services one incident may name.
pub const MAX_AFFECTED_SERVICES: usize = 64;
/// Longest accepted service name, in characters.
pub const MAX_SERVICE_NAME_CHARS: usize = 128;
/// Most alerts of other groups one incident takes in (see [`Incident::correlated_keys`]).
pub const MAX_CORRELATED_KEYS: usize = 64;

word_enum! {
    /// How bad an incident is.
    pub enum Severity as "severity" {
        /// Customer-facing outage or data at risk: page now.
        Critical = "critical",
        /// Major degradation.
        High = "high",
        /// Partial degradation with a workaround.
        Medium = "medium",
        /// Minor or cosmetic.
        Low = "low",
    }
}

impl Severity {
    /// 4 for critical down to 1 for low; higher is worse.
    pub fn rank(&self) -> u8 {
        match self {
            Severity::Critical => 4,
            Severity::High => 3,
            Severity::Medium => 2,
            Severity::Low => 1,
        }
    }
}

word_enum! {
    /// Where an incident stands: the states of the incident workflow.
    pub enum IncidentStatus as "incident status" {
        /// Reported; the workflow has not started.
        Open = "open",
        /// The triage agent is scoring it.
        Triaging = "triaging",
        /// The root-cause agent is investigating.
        Investigating = "investigating",
        /// The remediation agent is planning actions.
        Planning = "planning",
        /// A risky plan waits for a human decision.
        AwaitingApproval = "awaiting_approval",
        /// Approved actions are being executed.
        Executing = "executing",
        /// Telemetry is checked to see whether the fix worked.
        Verifying = "verifying",
        /// Fixed and verified. Terminal.
        Resolved = "resolved",
        /// Handed to humans. Terminal.
        Escalated = "escalated",
    }
}

impl IncidentStatus {
    /// Terminal states end the workflow.
    pub fn is_terminal(&self) -> bool {
        matches!(self, IncidentStatus::Resolved | IncidentStatus::Escalated)
    }
}

/// An incident as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Incident {
    /// Unique, time-ordered id.
    pub id: IncidentId,
    /// One-line summary.
    pub title: String,
    /// What was observed (untrusted text: data, never instructions).
    pub description: String,
    /// How bad it is.
    pub severity: Severity,
    /// Where it stands.
    pub status: IncidentStatus,
    /// Services named by the reporter or the alert.
    pub affected_services: Vec<String>,
    /// Who or what reported it (`api`, `ui`, `alertmanager`, `cloudwatch`, a person...).
    pub source: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: 0 before it is stored, 1 once created, +1 on every update.
    pub version: u64,
    /// What identifies repeats of the same alert (e.g. an Alertmanager group key), so that
    /// an alert firing again lands on the open incident instead of opening another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// The dedup keys of other alerts that joined this incident because they fired for the
    /// same fault (correlation), at most [`MAX_CORRELATED_KEYS`]: their repeats and clears
    /// land here too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlated_keys: Vec<String>,
}

impl Incident {
    /// Whether alerts with dedup key `key` land on this incident: it is the incident's own
    /// key or one that joined it.
    pub fn has_alert_key(&self, key: &str) -> bool {
        self.dedup_key.as_deref() == Some(key) || self.correlated_keys.iter().any(|k| k == key)
    }
}

/// What a reporter supplies to open an incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewIncident {
    /// One-line summary (1 to 200 characters).
    pub title: String,
    /// What was observed.
    #[serde(default)]
    pub description: String,
    /// How bad it is.
    pub severity: Severity,
    /// Services involved, if known.
    #[serde(default)]
    pub affected_services: Vec<String>,
    /// Who or what reported it; `api` when absent.
    #[serde(default = "default_source", alias = "detected_by")]
    pub source: String,
    /// What identifies repeats of the same alert (at most 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
}

fn default_source() -> String {
    "api".to_string()
}

impl NewIncident {
    /// A new incident report with a title and severity; other fields default.
    pub fn new(title: impl Into<String>, severity: Severity) -> Self {
        Self {
            title: title.into(),
            description: String::new(),
            severity,
            affected_services: Vec::new(),
            source: default_source(),
            dedup_key: None,
        }
    }

    /// Sets the key that identifies repeats of the same alert.
    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Adds an affected service.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.affected_services.push(service.into());
        self
    }

    /// Sets the source.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Validates the report and builds the incident in status `open`, version 0 (not yet stored).
    pub fn into_incident(self, now: DateTime<Utc>) -> Result<Incident> {
        let title = validate_title(&self.title)?;
        validate_description(&self.description)?;
        let affected_services = validate_services(self.affected_services)?;
        let source = self.source.trim().to_string();
        if source.is_empty() || source.chars().count() > MAX_SERVICE_NAME_CHARS {
            return Err(Error::invalid(
                "source",
                format!("must be 1 to {MAX_SERVICE_NAME_CHARS} characters"),
            ));
        }
        Ok(Incident {
            id: IncidentId::new(),
            title,
            description: self.description,
            severity: self.severity,
            status: IncidentStatus::Open,
            affected_services,
            source,
            created_at: now,
            updated_at: now,
            version: 0,
            dedup_key: validate_dedup_key(self.dedup_key)?,
            correlated_keys: Vec::new(),
        })
    }
}

/// Longest accepted dedup key.
pub const MAX_DEDUP_KEY_CHARS: usize = 512;

/// Checks a dedup key: none, or 1 to [`MAX_DEDUP_KEY_CHARS`] characters once trimmed.
pub fn validate_dedup_key(key: Option<String>) -> Result<Option<String>> {
    match key.map(|k| k.trim().to_string()) {
        None => Ok(None),
        Some(k) if k.is_empty() => Ok(None),
        Some(k) if k.chars().count() > MAX_DEDUP_KEY_CHARS => Err(Error::invalid(
            "dedup_key",
            format!("must be at most {MAX_DEDUP_KEY_CHARS} characters"),
        )),
        Some(k) => Ok(Some(k)),
    }
}

/// Checks and trims a title.
pub fn validate_title(title: &str) -> Result<String> {
    let trimmed = title.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid("title", "must not be empty"));
    }
    if trimmed.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::invalid(
            "title",
            format!("must be at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_string())
}

/// Checks a description's length.
pub fn validate_description(description: &str) -> Result<()> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Trims, checks and de-duplicates service names, keeping their order.
pub fn validate_services(services: Vec<String>) -> Result<Vec<String>> {
    if services.len() > MAX_AFFECTED_SERVICES {
        return Err(Error::invalid(
            "affected_services",
            format!("at most {MAX_AFFECTED_SERVICES} services"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(services.len());
    for service in services {
        let name = service.trim();
        if name.is_empty() || name.chars().count() > MAX_SERVICE_NAME_CHARS {
            return Err(Error::invalid(
                "affected_services",
                format!("each service name must be 1 to {MAX_SERVICE_NAME_CHARS} characters"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid(
                "affected_services",
                "service names must not contain control characters",
            ));
        }
        if !out.iter().any(|s| s == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

impl Incident {
    /// Moves the incident to `status` (no workflow check here: the workflow does that).
    pub fn with_status(mut self, status: IncidentStatus, now: DateTime<Utc>) -> Self {
        self.status = status;
        self.updated_at = now;
        self
    }
}
