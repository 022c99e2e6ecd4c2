//! Knowledge-base documents: runbooks and resolved incidents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::word_enum::word_enum;

word_enum! {
    /// What a document is.
    pub enum DocumentKind as "document kind" {
        /// Symptoms, checks and actions for a class of problem.
        Runbook = "runbook",
        /// A resolved incident, kept to learn from.
        PastIncident = "past_incident",
        /// Anything else worth knowing.
        Note = "note",
    }
}

/// One knowledge-base document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KnowledgeDocument {
    /// Stable id (`runbook/memory-leak`, `incident/<uuid>`).
    pub id: String,
    /// What it is.
    pub kind: DocumentKind,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// Free-form tags (fault kinds, symptoms).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Services it is about.
    #[serde(default)]
    pub services: Vec<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version: 0 before it is stored.
    #[serde(default)]
    pub version: u64,
}

impl KnowledgeDocument {
    /// Checks id and title.
    pub fn validate(&self) -> Result<()> {
        if self.id.trim().is_empty() || self.id.len() > 256 {
            return Err(Error::invalid("id", "must be 1 to 256 bytes"));
        }
        if self.title.trim().is_empty() {
            return Err(Error::invalid("title", "must not be empty"));
        }
        Ok(())
    }
}
