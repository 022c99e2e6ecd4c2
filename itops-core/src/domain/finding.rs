//! The root-cause agent's outcome.

use serde::{Deserialize, Serialize};

use crate::domain::evidence::Evidence;
use crate::error::{Error, Result};
use crate::word_enum::word_enum;

word_enum! {
    /// The kind of fault suspected at a service.
    pub enum FaultKind as "fault kind" {
        /// CPU starved by a noisy neighbour or hot loop.
        CpuContention = "cpu_contention",
        /// Memory grows until the process is killed.
        MemoryLeak = "memory_leak",
        /// A burst of exceptions.
        ExceptionBurst = "exception_burst",
        /// Wrong results; errors surface downstream.
        WrongReturnValue = "wrong_return_value",
        /// Slow network to or from the service.
        NetworkDelay = "network_delay",
        /// A dependency is unreachable.
        DependencyDown = "dependency_down",
        /// The connection pool is exhausted.
        ConnectionPoolExhaustion = "connection_pool_exhaustion",
        /// The disk is full.
        DiskFull = "disk_full",
        /// A new version misbehaves.
        BadDeploy = "bad_deploy",
        /// A configuration change misbehaves.
        ConfigError = "config_error",
        /// More load than capacity.
        TrafficSpike = "traffic_spike",
        /// Something is wrong, but what is not clear.
        Unknown = "unknown",
    }
}

/// One suspected origin of the incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RootCauseCandidate {
    /// The service suspected to be the origin.
    pub service: String,
    /// The kind of fault suspected.
    pub fault: FaultKind,
    /// 0.0 to 1.0.
    pub confidence: f64,
    /// What backs it.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// Ranked candidates (best first), contributing factors and a summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RootCauseFinding {
    /// Candidates, best first.
    pub candidates: Vec<RootCauseCandidate>,
    /// Things that made it worse or more likely.
    #[serde(default)]
    pub contributing_factors: Vec<String>,
    /// A few sentences a person can read.
    pub summary: String,
}

impl RootCauseFinding {
    /// The best candidate, if any.
    pub fn top(&self) -> Option<&RootCauseCandidate> {
        self.candidates.first()
    }

    /// Checks the bounds a model's output may break.
    pub fn validate(&self) -> Result<()> {
        for (i, c) in self.candidates.iter().enumerate() {
            if c.service.trim().is_empty() {
                return Err(Error::invalid(
                    format!("candidates[{i}].service"),
                    "must not be empty",
                ));
            }
            if !(0.0..=1.0).contains(&c.confidence) || c.confidence.is_nan() {
                return Err(Error::invalid(
                    format!("candidates[{i}].confidence"),
                    format!("must be between 0 and 1, got {}", c.confidence),
                ));
            }
        }
        if self.summary.trim().is_empty() {
            return Err(Error::invalid("summary", "must not be empty"));
        }
        Ok(())
    }
}
