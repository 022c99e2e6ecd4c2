//! The standard action catalogue: the typed remediation actions itops knows how to run.
//!
//! Each entry is data: an id, what it does, its default risk, whether it can be undone,
//! its parameters as a Rust type (the JSON schema comes from the type), preconditions in
//! words, the effect to verify afterwards, and the fault kinds it is meant for. A model's
//! proposal is a [`RemediationAction`]; [`ActionCatalogue::validate`] turns its free-form
//! parameters into [`ActionParams`] or says precisely what is wrong.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{ActionPhase, FaultKind, RemediationAction, RiskLevel};
use crate::error::{Error, Result};
use crate::id::ActionId;
use crate::tool::input_schema_for;

fn rolling_default() -> bool {
    true
}

/// Parameters of `restart_service`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartService {
    /// Restart one replica at a time (true, the default) or all at once.
    #[serde(default = "rolling_default")]
    pub rolling: bool,
}

/// Parameters of `rollback_deployment`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RollbackDeployment {
    /// The version to return to; the previous one when absent.
    #[serde(default)]
    pub to_version: Option<String>,
}

/// Parameters of `scale_out`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleOut {
    /// The total number of replicas wanted (more than now, at most 100).
    pub replicas: u32,
}

/// Parameters of `failover_dependency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FailoverDependency {
    /// The standby to route to (replica, zone or region); the configured one when absent.
    #[serde(default)]
    pub standby: Option<String>,
}

/// Parameters of `toggle_feature_flag`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToggleFeatureFlag {
    /// The flag's key.
    pub flag: String,
    /// The state to set.
    pub enabled: bool,
}

/// Parameters of `clear_cache`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ClearCache {
    /// Which cache; every cache of the service when absent.
    #[serde(default)]
    pub cache: Option<String>,
}

/// Parameters of `raise_pool_limit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaisePoolLimit {
    /// The new maximum connections per replica (more than now, at most 2000).
    pub max_connections: u32,
}

/// The parameters of a catalogue action, typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "catalogue_id", rename_all = "snake_case")]
pub enum ActionParams {
    /// `restart_service`.
    RestartService(RestartService),
    /// `rollback_deployment`.
    RollbackDeployment(RollbackDeployment),
    /// `scale_out`.
    ScaleOut(ScaleOut),
    /// `failover_dependency`.
    FailoverDependency(FailoverDependency),
    /// `toggle_feature_flag`.
    ToggleFeatureFlag(ToggleFeatureFlag),
    /// `clear_cache`.
    ClearCache(ClearCache),
    /// `raise_pool_limit`.
    RaisePoolLimit(RaisePoolLimit),
}

impl ActionParams {
    /// The catalogue id these parameters belong to.
    pub fn catalogue_id(&self) -> &'static str {
        match self {
            ActionParams::RestartService(_) => RESTART_SERVICE,
            ActionParams::RollbackDeployment(_) => ROLLBACK_DEPLOYMENT,
            ActionParams::ScaleOut(_) => SCALE_OUT,
            ActionParams::FailoverDependency(_) => FAILOVER_DEPENDENCY,
            ActionParams::ToggleFeatureFlag(_) => TOGGLE_FEATURE_FLAG,
            ActionParams::ClearCache(_) => CLEAR_CACHE,
            ActionParams::RaisePoolLimit(_) => RAISE_POOL_LIMIT,
        }
    }

    /// The parameters as the JSON object a [`RemediationAction`] carries.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let value = match self {
            ActionParams::RestartService(p) => serde_json::to_value(p),
            ActionParams::RollbackDeployment(p) => serde_json::to_value(p),
            ActionParams::ScaleOut(p) => serde_json::to_value(p),
            ActionParams::FailoverDependency(p) => serde_json::to_value(p),
            ActionParams::ToggleFeatureFlag(p) => serde_json::to_value(p),
            ActionParams::ClearCache(p) => serde_json::to_value(p),
            ActionParams::RaisePoolLimit(p) => serde_json::to_value(p),
        };
        match value {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }
}

/// `restart_service`.
pub const RESTART_SERVICE: &str = "restart_service";
/// `rollback_deployment`.
pub const ROLLBACK_DEPLOYMENT: &str = "rollback_deployment";
/// `scale_out`.
pub const SCALE_OUT: &str = "scale_out";
/// `failover_dependency`.
pub const FAILOVER_DEPENDENCY: &str = "failover_dependency";
/// `toggle_feature_flag`.
pub const TOGGLE_FEATURE_FLAG: &str = "toggle_feature_flag";
/// `clear_cache`.
pub const CLEAR_CACHE: &str = "clear_cache";
/// `raise_pool_limit`.
pub const RAISE_POOL_LIMIT: &str = "raise_pool_limit";

/// One action the catalogue allows.
#[derive(Clone, Debug)]
pub struct CatalogueEntry {
    /// Stable id, e.g. `restart_service`.
    pub id: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Default risk; a proposal may raise it, never lower it.
    pub risk: RiskLevel,
    /// Whether its effect can be undone.
    pub reversible: bool,
    /// What must hold before it runs, in words.
    pub preconditions: &'static [&'static str],
    /// What should change in telemetry if it worked.
    pub expected_effect: &'static str,
    /// The fault kinds it is meant to address.
    pub addresses: &'static [FaultKind],
    schema: fn() -> serde_json::Value,
    parse: fn(&serde_json::Map<String, serde_json::Value>) -> Result<ActionParams>,
}

impl CatalogueEntry {
    /// The JSON schema of the parameters, derived from the params type.
    pub fn parameters_schema(&self) -> serde_json::Value {
        (self.schema)()
    }

    /// Parses and checks parameters for this entry.
    pub fn parse(
        &self,
        parameters: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ActionParams> {
        (self.parse)(parameters)
    }

    /// The entry as JSON: everything a model or a person needs to choose it.
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "description": self.description,
            "risk": self.risk,
            "reversible": self.reversible,
            "preconditions": self.preconditions,
            "expected_effect": self.expected_effect,
            "addresses": self.addresses,
            "parameters": self.parameters_schema(),
        })
    }
}

/// The allow-list of remediation actions.
#[derive(Clone, Debug)]
pub struct ActionCatalogue {
    entries: Vec<CatalogueEntry>,
}

impl Default for ActionCatalogue {
    fn default() -> Self {
        Self::standard()
    }
}

impl ActionCatalogue {
    /// The seven standard actions.
    pub fn standard() -> Self {
        Self {
            entries: vec![
                CatalogueEntry {
                    id: RESTART_SERVICE,
                    description: "Restart the service's replicas (rolling by default). Clears in-process state: leaked memory, stuck threads, poisoned in-memory caches.",
                    risk: RiskLevel::Medium,
                    reversible: false,
                    preconditions: &[
                        "the service runs more than one replica, or a short outage is acceptable",
                        "no deploy is in progress on the service",
                    ],
                    expected_effect: "memory back to its normal level, no further OOM restarts; latency and errors back to baseline within a few minutes",
                    addresses: &[FaultKind::MemoryLeak],
                    schema: input_schema_for::<RestartService>,
                    parse: |m| parse_as(RESTART_SERVICE, m).map(ActionParams::RestartService),
                },
                CatalogueEntry {
                    id: ROLLBACK_DEPLOYMENT,
                    description: "Roll the service back to its previous version and configuration (rolling).",
                    risk: RiskLevel::Medium,
                    reversible: true,
                    preconditions: &[
                        "a deploy or configuration change on the service preceded the incident",
                        "the previous version is compatible with the current data schema",
                    ],
                    expected_effect: "error rate and latency back to their level before the change; the new error signatures stop",
                    addresses: &[FaultKind::BadDeploy, FaultKind::ConfigError, FaultKind::MemoryLeak],
                    schema: input_schema_for::<RollbackDeployment>,
                    parse: |m| parse_as(ROLLBACK_DEPLOYMENT, m).map(ActionParams::RollbackDeployment),
                },
                CatalogueEntry {
                    id: SCALE_OUT,
                    description: "Add replicas to the service. New replicas are scheduled away from contended nodes.",
                    risk: RiskLevel::Low,
                    reversible: true,
                    preconditions: &[
                        "the service is stateless or supports more replicas",
                        "the cluster has room for the new replicas",
                        "its dependencies can take the extra connections",
                    ],
                    expected_effect: "CPU per replica, saturation and latency back to baseline; shed or throttled requests stop",
                    addresses: &[FaultKind::CpuContention, FaultKind::TrafficSpike],
                    schema: input_schema_for::<ScaleOut>,
                    parse: |m| {
                        let p: ScaleOut = parse_as(SCALE_OUT, m)?;
                        if p.replicas == 0 || p.replicas > 100 {
                            return Err(Error::invalid("scale_out.replicas", format!("must be 1 to 100, got {}", p.replicas)));
                        }
                        Ok(ActionParams::ScaleOut(p))
                    },
                },
                CatalogueEntry {
                    id: FAILOVER_DEPENDENCY,
                    description: "Route the target's traffic to its standby (replica, zone or region). The target is the dependency that is failing.",
                    risk: RiskLevel::High,
                    reversible: true,
                    preconditions: &[
                        "a healthy standby exists and is in sync",
                        "the target is unreachable, or slow or lossy on the network",
                    ],
                    expected_effect: "callers' connection errors and timeouts to the target stop; latency to it back to baseline",
                    addresses: &[FaultKind::DependencyDown, FaultKind::NetworkDelay],
                    schema: input_schema_for::<FailoverDependency>,
                    parse: |m| parse_as(FAILOVER_DEPENDENCY, m).map(ActionParams::FailoverDependency),
                },
                CatalogueEntry {
                    id: TOGGLE_FEATURE_FLAG,
                    description: "Set a feature flag of the service on or off (usually off, to disable a failing code path).",
                    risk: RiskLevel::Low,
                    reversible: true,
                    preconditions: &[
                        "the flag exists on the service",
                        "the failing code path is behind the flag",
                    ],
                    expected_effect: "the exceptions from the flagged code path stop; error rate back to baseline",
                    addresses: &[FaultKind::ExceptionBurst, FaultKind::ConfigError],
                    schema: input_schema_for::<ToggleFeatureFlag>,
                    parse: |m| {
                        let p: ToggleFeatureFlag = parse_as(TOGGLE_FEATURE_FLAG, m)?;
                        if p.flag.trim().is_empty() {
                            return Err(Error::invalid("toggle_feature_flag.flag", "must not be empty"));
                        }
                        Ok(ActionParams::ToggleFeatureFlag(p))
                    },
                },
                CatalogueEntry {
                    id: CLEAR_CACHE,
                    description: "Evict the service's caches and delete its cache and temporary files on disk.",
                    risk: RiskLevel::Medium,
                    reversible: false,
                    preconditions: &[
                        "the backing store can take the extra load of a cold cache",
                    ],
                    expected_effect: "wrong or stale answers stop (callers' validation errors end); disk usage drops; a short rise in backing-store load",
                    addresses: &[FaultKind::WrongReturnValue, FaultKind::DiskFull],
                    schema: input_schema_for::<ClearCache>,
                    parse: |m| parse_as(CLEAR_CACHE, m).map(ActionParams::ClearCache),
                },
                CatalogueEntry {
                    id: RAISE_POOL_LIMIT,
                    description: "Raise the service's maximum connections per replica to its data store (applied with a rolling restart).",
                    risk: RiskLevel::Medium,
                    reversible: true,
                    preconditions: &[
                        "the data store has connection slots to spare for every replica",
                        "the pool, not the data store, is the bottleneck",
                    ],
                    expected_effect: "pool waits and connection-timeout errors stop; pool utilisation below its limit",
                    addresses: &[FaultKind::ConnectionPoolExhaustion],
                    schema: input_schema_for::<RaisePoolLimit>,
                    parse: |m| {
                        let p: RaisePoolLimit = parse_as(RAISE_POOL_LIMIT, m)?;
                        if p.max_connections == 0 || p.max_connections > 2000 {
                            return Err(Error::invalid(
                                "raise_pool_limit.max_connections",
                                format!("must be 1 to 2000, got {}", p.max_connections),
                            ));
                        }
                        Ok(ActionParams::RaisePoolLimit(p))
                    },
                },
            ],
        }
    }

    /// Every entry.
    pub fn entries(&self) -> &[CatalogueEntry] {
        &self.entries
    }

    /// Every id, in catalogue order.
    pub fn ids(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.id).collect()
    }

    /// The entry for `id`; the error lists the valid ids.
    pub fn get(&self, id: &str) -> Result<&CatalogueEntry> {
        self.entries
            .iter()
            .find(|e| e.id == id.trim())
            .ok_or_else(|| Error::UnknownVariant {
                what: "catalogue action",
                value: id.to_string(),
                expected: self.ids().join(", "),
            })
    }

    /// The entries meant for a fault kind.
    pub fn for_fault(&self, kind: FaultKind) -> Vec<&CatalogueEntry> {
        self.entries
            .iter()
            .filter(|e| e.addresses.contains(&kind))
            .collect()
    }

    /// Checks a proposed action against its entry and returns its typed parameters: the
    /// id must exist, the parameters must match the schema, and the action may not claim
    /// less risk, or more reversibility, than the catalogue gives it.
    pub fn validate(&self, action: &RemediationAction) -> Result<ActionParams> {
        let entry = self.get(&action.catalogue_id)?;
        if action.target.trim().is_empty() {
            return Err(Error::invalid("target", "must name the service to act on"));
        }
        if action.risk < entry.risk {
            return Err(Error::invalid(
                "risk",
                format!(
                    "'{}' is at least {} risk; the action says {}",
                    entry.id, entry.risk, action.risk
                ),
            ));
        }
        if action.reversible && !entry.reversible {
            return Err(Error::invalid(
                "reversible",
                format!("'{}' cannot be undone; the action claims it can", entry.id),
            ));
        }
        entry.parse(&action.parameters)
    }

    /// Builds an action from an entry's defaults: its risk, reversibility and expected effect.
    pub fn action(
        &self,
        params: ActionParams,
        target: impl Into<String>,
    ) -> Result<RemediationAction> {
        let entry = self.get(params.catalogue_id())?;
        Ok(RemediationAction {
            id: ActionId::new(),
            catalogue_id: entry.id.to_string(),
            target: target.into(),
            parameters: params.to_map(),
            risk: entry.risk,
            reversible: entry.reversible,
            expected_effect: entry.expected_effect.to_string(),
            phase: ActionPhase::Immediate,
        })
    }
}

fn parse_as<T: DeserializeOwned + JsonSchema>(
    id: &str,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<T> {
    serde_json::from_value(serde_json::Value::Object(map.clone())).map_err(|e| {
        Error::invalid(
            format!("{id}.parameters"),
            format!(
                "{e}; expected parameters matching {}",
                input_schema_for::<T>()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn has_the_seven_standard_actions_with_schemas() {
        let c = ActionCatalogue::standard();
        assert_eq!(
            c.ids(),
            [
                "restart_service",
                "rollback_deployment",
                "scale_out",
                "failover_dependency",
                "toggle_feature_flag",
                "clear_cache",
                "raise_pool_limit"
            ]
        );
        let schema = c.get("scale_out").unwrap().parameters_schema();
        assert_eq!(schema["properties"]["replicas"]["type"], "integer");
        let schema = c.get("toggle_feature_flag").unwrap().parameters_schema();
        assert!(schema["required"].as_array().unwrap().len() == 2);
    }

    #[test]
    fn unknown_id_lists_the_valid_ones() {
        let e = ActionCatalogue::standard()
            .get("drop_database")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("drop_database")
                && e.contains("restart_service")
                && e.contains("raise_pool_limit"),
            "{e}"
        );
    }

    #[test]
    fn parameters_are_typed_and_checked() {
        let c = ActionCatalogue::standard();
        let p = c
            .get("scale_out")
            .unwrap()
            .parse(&map(json!({"replicas": 6})))
            .unwrap();
        assert_eq!(p, ActionParams::ScaleOut(ScaleOut { replicas: 6 }));
        assert!(c
            .get("scale_out")
            .unwrap()
            .parse(&map(json!({"replicas": 0})))
            .is_err());
        assert!(c
            .get("scale_out")
            .unwrap()
            .parse(&map(json!({"replica": 3})))
            .is_err());
        let e = c
            .get("toggle_feature_flag")
            .unwrap()
            .parse(&map(json!({"flag": "x"})))
            .unwrap_err();
        assert!(e.to_string().contains("enabled"), "{e}");
        let p = c
            .get("restart_service")
            .unwrap()
            .parse(&map(json!({})))
            .unwrap();
        assert_eq!(
            p,
            ActionParams::RestartService(RestartService { rolling: true })
        );
    }

    #[test]
    fn validate_refuses_understated_risk() {
        let c = ActionCatalogue::standard();
        let mut a = c
            .action(
                ActionParams::FailoverDependency(FailoverDependency::default()),
                "postgres",
            )
            .unwrap();
        assert!(c.validate(&a).is_ok());
        a.risk = RiskLevel::Low;
        assert!(c.validate(&a).unwrap_err().to_string().contains("high"));
        let mut b = c
            .action(ActionParams::ClearCache(ClearCache::default()), "catalog")
            .unwrap();
        b.reversible = true;
        assert!(c.validate(&b).is_err());
    }

    #[test]
    fn every_fault_kind_but_unknown_has_an_entry() {
        let c = ActionCatalogue::standard();
        for kind in FaultKind::ALL {
            if *kind != FaultKind::Unknown {
                assert!(!c.for_fault(*kind).is_empty(), "{kind}");
            }
        }
    }
}
