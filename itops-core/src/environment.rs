//! Environments: telemetry to read plus an executor for remediation actions.
//!
//! An [`Environment`] is what the remediation and verification steps work against: the
//! simulator of the `itops-sim` crate (`itops_sim::SimEnvironment`), or an adapter over a real
//! system.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::RemediationAction;
use crate::error::Result;
use crate::id::ActionId;
use crate::telemetry::TelemetrySource;

/// What executing an action did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionReport {
    /// The action's id (its idempotency key).
    pub action_id: ActionId,
    /// The catalogue entry run.
    pub catalogue_id: String,
    /// The service acted on.
    pub target: String,
    /// Whether the action was carried out (not whether it fixed anything: that is for
    /// verification against telemetry to tell).
    pub applied: bool,
    /// When it was carried out.
    pub at: DateTime<Utc>,
    /// What was done, or why nothing was.
    pub detail: String,
}

impl ActionReport {
    /// The executor's detail when the action was applied; otherwise a step error (for
    /// `incident`) saying why it was not, so the workflow records the action as failed.
    pub fn into_applied(self, incident: crate::id::IncidentId) -> Result<String> {
        if self.applied {
            Ok(self.detail)
        } else {
            Err(crate::error::Error::Step {
                step: "execute".into(),
                incident: incident.to_string(),
                message: format!("not applied: {}", self.detail),
            })
        }
    }
}

/// Runs remediation actions.
///
/// Implementations are idempotent by [`RemediationAction::id`]: executing the same id a
/// second time returns the first report and changes nothing.
#[async_trait]
pub trait ActionExecutor: Send + Sync {
    /// Runs the action once; repeats of the same action id return the first report.
    async fn execute(&self, action: &RemediationAction) -> Result<ActionReport>;
}

#[async_trait]
impl<T: ActionExecutor + ?Sized> ActionExecutor for Arc<T> {
    async fn execute(&self, action: &RemediationAction) -> Result<ActionReport> {
        (**self).execute(action).await
    }
}

/// Telemetry and an action executor over the same system.
pub trait Environment: TelemetrySource + ActionExecutor {}

impl<T: TelemetrySource + ActionExecutor + ?Sized> Environment for T {}

/// Reports by action id: the idempotency memory an executor keeps.
#[derive(Debug, Default)]
pub struct ActionLedger {
    reports: Mutex<HashMap<ActionId, ActionReport>>,
}

impl ActionLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The report of an action already executed.
    pub fn get(&self, id: &ActionId) -> Option<ActionReport> {
        self.lock().get(id).cloned()
    }

    /// Records a report unless one exists for its action id; returns the one kept.
    pub fn record(&self, report: ActionReport) -> ActionReport {
        self.lock()
            .entry(report.action_id)
            .or_insert(report)
            .clone()
    }

    /// Every report, oldest first.
    pub fn reports(&self) -> Vec<ActionReport> {
        let mut all: Vec<ActionReport> = self.lock().values().cloned().collect();
        all.sort_by_key(|r| (r.at, r.action_id));
        all
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ActionId, ActionReport>> {
        // A poisoned map still holds valid reports.
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_keeps_the_first_report() {
        let ledger = ActionLedger::new();
        let id = ActionId::new();
        let first = ActionReport {
            action_id: id,
            catalogue_id: "restart_service".into(),
            target: "cart".into(),
            applied: true,
            at: DateTime::<Utc>::UNIX_EPOCH,
            detail: "first".into(),
        };
        let mut second = first.clone();
        second.detail = "second".into();
        assert_eq!(ledger.record(first.clone()), first);
        assert_eq!(ledger.record(second), first);
        assert_eq!(ledger.get(&id), Some(first));
        assert_eq!(ledger.reports().len(), 1);
    }

    fn _object_safe(_: &dyn Environment) {}
}
