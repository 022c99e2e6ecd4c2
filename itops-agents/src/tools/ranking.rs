//! `rank_anomalies`: the anomaly ranking as a tool any agent can call.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::{Result, TelemetrySource, Tool};
use serde::Deserialize;

use crate::analysis::ranking::{rank_anomalies, AnomalyRanking, RankingOptions};
use crate::tools::time::TimeArg;

/// Arguments of `rank_anomalies`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RankAnomaliesArgs {
    /// When the incident began or was detected (RFC 3339 or Unix seconds); inferred from the metrics when absent.
    #[serde(default)]
    pub at: Option<TimeArg>,
    /// How many candidates to return (1–10, default 5).
    #[serde(default)]
    pub max_candidates: Option<u32>,
}

/// Ranks services by how likely each is the origin of the incident.
pub struct RankAnomalies {
    source: Arc<dyn TelemetrySource>,
}

impl RankAnomalies {
    /// Over `source`.
    pub fn new(source: Arc<dyn TelemetrySource>) -> Self {
        Self { source }
    }
}

#[async_trait]
impl Tool for RankAnomalies {
    type Args = RankAnomaliesArgs;
    type Output = AnomalyRanking;

    fn name(&self) -> &str {
        "rank_anomalies"
    }

    fn description(&self) -> &str {
        "Compare the incident window with the baseline before it across metrics, logs, traces and \
         change events, and rank services by how likely each is the ORIGIN of the incident (callers \
         that merely suffer a dependency's fault are discounted). Returns each candidate's score, \
         suspected fault kind, onset and evidence. Call this first."
    }

    async fn call(&self, args: RankAnomaliesArgs) -> Result<AnomalyRanking> {
        let options = RankingOptions {
            at: args.at.as_ref().map(|t| t.resolve("at")).transpose()?,
            max_candidates: Some(args.max_candidates.unwrap_or(5).clamp(1, 10) as usize),
        };
        rank_anomalies(self.source.as_ref(), &options).await
    }
}
