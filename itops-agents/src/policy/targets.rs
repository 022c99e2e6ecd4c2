//! Which services remediation may act on: those the telemetry itself implicates, never a
//! name a model wrote.
//!
//! A model reads text anyone can write (log lines, incident descriptions), so the services
//! its finding names are not trusted as targets. The allowed targets are the anomaly
//! ranking's candidates that evidence backs, the services the incident reports as affected,
//! and the services on the call path between the two (from traces).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::{SpanQuery, TimeRange};
use itops_core::{Incident, TelemetrySource};
use serde::{Deserialize, Serialize};

use crate::analysis::ranking::{rank_anomalies, AnomalyRanking, RankingOptions};
use crate::tools::telemetry::call_graph;

/// How many ranked candidates are considered.
const MAX_RANKED: usize = 3;
/// A candidate scoring below this share of the leader's score is not a contender: the
/// victims of an incident (callers, services whose load dropped) score a little.
const RELATIVE_FLOOR: f64 = 0.5;
/// Most spans read to find the call paths.
const SPAN_LIMIT: usize = 500_000;
/// How long after the telemetry's last sample a detection time still counts as covered.
const EDGE_SLACK_MINUTES: i64 = 5;

/// The services an action may target, and why each one may.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTargets {
    /// The anomaly ranking's candidates that evidence backs.
    pub ranked: BTreeSet<String>,
    /// The services the incident reports as affected.
    pub affected: BTreeSet<String>,
    /// Services on a call path between an affected service and a ranked one that show
    /// trouble of their own (the ranking finds an anomaly in them): a healthy service that
    /// merely sits between them is no target.
    pub on_path: BTreeSet<String>,
    /// Targets given explicitly (by a caller that computed them itself).
    pub given: BTreeSet<String>,
    /// Caveats, e.g. why the ranking could not be used.
    pub notes: Vec<String>,
}

impl ActionTargets {
    /// Exactly these services (for callers that know the evidence themselves, and tests).
    pub fn given<I, S>(services: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            given: services.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Only the services the incident reports as affected (what is known without telemetry).
    pub fn of_incident(incident: &Incident) -> Self {
        Self {
            affected: clean(&incident.affected_services),
            ..Self::default()
        }
    }

    /// The services the telemetry implicates in `incident`: the ranking's evidence-backed
    /// candidates around its detection, its affected services, and the services on the call
    /// path between them. When the telemetry cannot be ranked, only the affected services
    /// (and a note saying why).
    pub async fn from_telemetry(source: &dyn TelemetrySource, incident: &Incident) -> Self {
        let mut targets = Self::of_incident(incident);
        let at = match detection_in_range(source, incident.created_at).await {
            Ok(at) => at,
            Err(error) => {
                targets
                    .notes
                    .push(format!("the telemetry's range is unknown: {error}"));
                return targets;
            }
        };
        // Every service the ranking finds anything in, not just the leaders: a service on
        // a call path counts only when it shows trouble of its own.
        let options = RankingOptions {
            at,
            max_candidates: None,
        };
        let ranking = match rank_anomalies(source, &options).await {
            Ok(ranking) => ranking,
            Err(error) => {
                targets
                    .notes
                    .push(format!("the anomaly ranking failed: {error}"));
                return targets;
            }
        };
        targets.ranked = evidence_backed(&ranking);
        let troubled: BTreeSet<&str> = ranking
            .candidates
            .iter()
            .filter(|c| !c.evidence.is_empty() && c.score > 0.0)
            .map(|c| c.service.as_str())
            .collect();
        match call_paths(source, &ranking, &targets.affected, &targets.ranked).await {
            Ok(on_path) => {
                targets.on_path = on_path
                    .into_iter()
                    .filter(|s| {
                        troubled.contains(s.as_str())
                            && !targets.ranked.contains(s)
                            && !targets.affected.contains(s)
                    })
                    .collect();
            }
            Err(error) => targets
                .notes
                .push(format!("the call paths are unknown: {error}")),
        }
        targets
    }

    /// Every allowed service.
    pub fn services(&self) -> BTreeSet<String> {
        self.ranked
            .iter()
            .chain(&self.affected)
            .chain(&self.on_path)
            .chain(&self.given)
            .cloned()
            .collect()
    }

    /// Whether `service` may be acted on.
    pub fn allows(&self, service: &str) -> bool {
        self.ranked.contains(service)
            || self.affected.contains(service)
            || self.on_path.contains(service)
            || self.given.contains(service)
    }
}

fn clean(services: &[String]) -> BTreeSet<String> {
    services
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The incident's detection time when the telemetry covers it (a live source without fixed
/// bounds always does); `None` lets the ranking infer it from the data.
async fn detection_in_range(
    source: &dyn TelemetrySource,
    at: DateTime<Utc>,
) -> itops_core::Result<Option<DateTime<Utc>>> {
    Ok(match source.time_bounds().await? {
        None => Some(at),
        Some(range) => (range.start <= at
            && at <= range.end + Duration::minutes(EDGE_SLACK_MINUTES))
        .then_some(at),
    })
}

/// The ranked candidates with evidence and a score not lost in the noise beside the leader's.
fn evidence_backed(ranking: &AnomalyRanking) -> BTreeSet<String> {
    let top = ranking
        .candidates
        .iter()
        .map(|c| c.score)
        .fold(0.0_f64, f64::max);
    ranking
        .candidates
        .iter()
        .take(MAX_RANKED)
        .filter(|c| !c.evidence.is_empty() && c.score > 0.0 && c.score >= RELATIVE_FLOOR * top)
        .map(|c| c.service.clone())
        .collect()
}

/// The services on a call path from an affected service to a ranked one (or back), in the
/// traces of the ranking's windows.
async fn call_paths(
    source: &dyn TelemetrySource,
    ranking: &AnomalyRanking,
    affected: &BTreeSet<String>,
    ranked: &BTreeSet<String>,
) -> itops_core::Result<BTreeSet<String>> {
    if affected.is_empty() || ranked.is_empty() {
        return Ok(BTreeSet::new());
    }
    let spans = source
        .spans(&SpanQuery {
            range: TimeRange {
                start: ranking.baseline.start,
                end: ranking.incident.end,
            },
            service: None,
            trace_id: None,
            errors_only: false,
            limit: SPAN_LIMIT,
        })
        .await?;
    let mut callees: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut callers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for edge in call_graph(&spans) {
        callees
            .entry(edge.caller.clone())
            .or_default()
            .insert(edge.callee.clone());
        callers.entry(edge.callee).or_default().insert(edge.caller);
    }
    let below_affected = reachable(affected, &callees);
    let above_ranked = reachable(ranked, &callers);
    let below_ranked = reachable(ranked, &callees);
    let above_affected = reachable(affected, &callers);
    Ok(below_affected
        .intersection(&above_ranked)
        .chain(below_ranked.intersection(&above_affected))
        .cloned()
        .collect())
}

/// Every service reachable from `from` along `edges` (including `from`).
fn reachable(
    from: &BTreeSet<String>,
    edges: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut seen = from.clone();
    let mut stack: Vec<String> = from.iter().cloned().collect();
    while let Some(service) = stack.pop() {
        for next in edges.get(&service).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            map.entry(a.to_string()).or_default().insert(b.to_string());
        }
        map
    }

    #[test]
    fn reachable_follows_edges_transitively() {
        let g = graph(&[("a", "b"), ("b", "c"), ("x", "y")]);
        let from: BTreeSet<String> = ["a".to_string()].into();
        let got: Vec<String> = reachable(&from, &g).into_iter().collect();
        assert_eq!(got, vec!["a", "b", "c"]);
    }

    #[test]
    fn given_targets_are_allowed_and_nothing_else() {
        let t = ActionTargets::given(["payments"]);
        assert!(t.allows("payments"));
        assert!(!t.allows("auth"));
        assert_eq!(t.services().len(), 1);
    }
}
