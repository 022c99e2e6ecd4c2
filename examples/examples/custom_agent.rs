//! Write a custom tool and a custom agent, and run them offline on a simulated incident.
//!
//! `cargo run -p itops-examples --example custom_agent`
//!
//! The tool (`recent_deploys`) answers "what was deployed just before it broke?"; the agent
//! (`DeployBlameAgent`) is an `itops_core::Agent` with its own typed outcome: it calls the
//! standard `rank_anomalies` tool and its own tool, and blames a deploy only when the
//! deployed service is also among the anomalous ones.

use std::sync::Arc;

use async_trait::async_trait;
use itops_agents::tools::telemetry_tools;
use itops_core::telemetry::{TelemetrySource, TimeRange};
use itops_core::{Agent, DynTool, IncidentContext, Result, Tool};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Arguments of `recent_deploys`; the doc comments become the schema a model would see.
#[derive(Deserialize, schemars::JsonSchema)]
struct RecentDeploysArgs {
    /// Minutes to look back from the end of the data.
    minutes: u32,
}

/// One deploy.
#[derive(Serialize, Deserialize, Debug)]
struct Deploy {
    service: String,
    at: String,
    description: String,
}

/// A custom tool over any telemetry source.
struct RecentDeploys {
    source: Arc<dyn TelemetrySource>,
}

#[async_trait]
impl Tool for RecentDeploys {
    type Args = RecentDeploysArgs;
    type Output = Vec<Deploy>;

    fn name(&self) -> &str {
        "recent_deploys"
    }

    fn description(&self) -> &str {
        "Deploys in the last N minutes of the data, oldest first."
    }

    async fn call(&self, args: RecentDeploysArgs) -> Result<Vec<Deploy>> {
        let Some(bounds) = self.source.time_bounds().await? else {
            return Ok(Vec::new());
        };
        let start = bounds.end - chrono::Duration::minutes(i64::from(args.minutes.max(1)));
        let changes = self
            .source
            .changes(TimeRange::new(start.max(bounds.start), bounds.end)?, None)
            .await?;
        Ok(changes
            .into_iter()
            .filter(|c| c.kind == "deploy")
            .map(|c| Deploy {
                service: c.service,
                at: c.at.to_rfc3339(),
                description: c.description,
            })
            .collect())
    }
}

/// The custom agent's typed outcome.
#[derive(Serialize, Deserialize, Debug)]
struct DeployVerdict {
    /// The deploy to roll back, when one is to blame.
    blamed: Option<Deploy>,
    /// Why.
    reasoning: String,
}

/// A custom agent: no model needed; it decides from two tools' results.
struct DeployBlameAgent {
    rank: Arc<dyn DynTool>,
    deploys: Arc<dyn DynTool>,
}

#[async_trait]
impl Agent for DeployBlameAgent {
    type Outcome = DeployVerdict;

    fn name(&self) -> &str {
        "deploy_blame"
    }

    async fn run(&self, _context: &IncidentContext) -> Result<DeployVerdict> {
        let ranking = self.rank.call_json(json!({"max_candidates": 3})).await?;
        let anomalous: Vec<String> = ranking["candidates"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["service"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let deploys: Vec<Deploy> =
            serde_json::from_value(self.deploys.call_json(json!({"minutes": 60})).await?)
                .map_err(|e| itops_core::Error::serialization("recent_deploys output", e))?;
        let blamed = deploys
            .into_iter()
            .rev()
            .find(|d| anomalous.contains(&d.service));
        let reasoning = match &blamed {
            Some(d) => format!(
                "{} was deployed at {} and is among the most anomalous services ({anomalous:?})",
                d.service, d.at
            ),
            None => format!("no recent deploy touches the anomalous services {anomalous:?}"),
        };
        Ok(DeployVerdict { blamed, reasoning })
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    // A simulated bad deploy: the ground truth stays with the simulator.
    let case = itops_core::sim::generate("bad_deploy", 11)?;
    println!(
        "simulated: {} (the agent does not see this)",
        case.ground_truth.root_service
    );
    let source: Arc<dyn TelemetrySource> = Arc::new(case.environment);
    let rank = telemetry_tools(source.clone())
        .into_iter()
        .find(|t| t.spec().name == "rank_anomalies")
        .ok_or("the rank_anomalies tool is missing")?;
    let agent = DeployBlameAgent {
        rank,
        deploys: Arc::new(RecentDeploys { source }),
    };
    let incident = case
        .incident
        .to_new_incident()
        .into_incident(case.incident.detected_at)?;
    let verdict = agent.run(&IncidentContext::new(incident)).await?;
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    Ok(())
}
