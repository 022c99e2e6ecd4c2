//! What catalogue actions do to the simulated system.
//!
//! Every action has its real side effects whether or not it helps (a restart drops a
//! replica for a while and resets its memory; a rollback redeploys; scaling adds pods that
//! take time to start; a failover resets connections; a cache clear makes the backing store
//! work harder). An action cures a fault only where [`curing_actions`] says it does, after
//! the time it takes to roll out; a traffic spike is never "cured": scaling out gives the
//! service the capacity to absorb it.

use chrono::{DateTime, Utc};

use super::faults::{curing_actions, FaultVariant};
use super::model::{change, startup_seconds, Replica, Rolling, StartReason, World};
use super::rng::SimRng;
use itops_core::catalogue::ActionParams;
use itops_core::domain::FaultKind;
use itops_core::error::{Error, Result};
use itops_core::telemetry::ChangeEvent;

/// What applying an action did.
pub(crate) struct Applied {
    pub(crate) applied: bool,
    pub(crate) detail: String,
    pub(crate) changes: Vec<ChangeEvent>,
}

/// Applies an action to service `target` at `now`.
pub(crate) fn apply(
    world: &mut World,
    now: DateTime<Utc>,
    target: &str,
    params: &ActionParams,
    rng: &mut SimRng,
) -> Result<Applied> {
    let s = world.topo.index_of(target)?;
    let spec = world.topo.services()[s].clone();
    let startup = startup_seconds(spec.runtime);
    let replicas = world.state[s].replicas.len();
    let rollout_s = startup * replicas as f64;
    let mut changes = Vec::new();
    let id = params.catalogue_id();
    let (applied, detail, cure_after) = match params {
        ActionParams::RestartService(p) => {
            let st = &mut world.state[s];
            if p.rolling {
                st.rolling = Some(Rolling {
                    next: 0,
                    current: None,
                    reason: StartReason::Rollout,
                });
            } else {
                for r in &mut st.replicas {
                    r.restart(startup, 0.6);
                }
            }
            changes.push(change(
                now,
                &spec.name,
                "restart",
                format!(
                    "{} restart of {} ({replicas} replicas)",
                    if p.rolling { "Rolling" } else { "Full" },
                    spec.name
                ),
                None,
                "itops".into(),
            ));
            (
                true,
                format!(
                    "{} restart of {replicas} replicas started",
                    if p.rolling { "rolling" } else { "full" }
                ),
                Some(0.0),
            )
        }
        ActionParams::RollbackDeployment(p) => {
            let st = &mut world.state[s];
            let target_version = match &p.to_version {
                Some(v) if st.previous_versions.contains(v) => v.clone(),
                Some(v) => {
                    return Err(Error::invalid(
                        "rollback_deployment.to_version",
                        format!(
                            "'{v}' was never deployed on {}; known earlier versions: {}",
                            spec.name,
                            if st.previous_versions.is_empty() {
                                "none recorded (omit to_version to use the previous release)"
                                    .to_string()
                            } else {
                                st.previous_versions.join(", ")
                            }
                        ),
                    ))
                }
                None => st
                    .previous_versions
                    .last()
                    .cloned()
                    .unwrap_or_else(|| previous_release(&st.version)),
            };
            let from = std::mem::replace(&mut st.version, target_version.clone());
            if let Some(pos) = st
                .previous_versions
                .iter()
                .position(|v| *v == target_version)
            {
                st.previous_versions.truncate(pos);
            }
            st.rolling = Some(Rolling {
                next: 0,
                current: None,
                reason: StartReason::Rollout,
            });
            changes.push(change(
                now,
                &spec.name,
                "deploy",
                format!(
                    "Rollback of {} from {from} to {target_version} (configuration restored)",
                    spec.name
                ),
                Some(target_version.clone()),
                "itops".into(),
            ));
            (
                true,
                format!("rolling back from {from} to {target_version}"),
                Some(rollout_s * 0.6),
            )
        }
        ActionParams::ScaleOut(p) => {
            if spec.is_datastore() {
                (
                    false,
                    format!(
                        "{} is a stateful {} and cannot be scaled out by adding replicas",
                        spec.name, spec.kind
                    ),
                    None,
                )
            } else if (p.replicas as usize) <= replicas {
                (
                    false,
                    format!(
                        "{} already runs {replicas} replicas; ask for more than that",
                        spec.name
                    ),
                    None,
                )
            } else {
                let st = &mut world.state[s];
                for _ in replicas..p.replicas as usize {
                    st.replicas
                        .push(Replica::starting(startup, rng.range(0.85, 1.15)));
                }
                changes.push(change(
                    now,
                    &spec.name,
                    "scale",
                    format!(
                        "Scaled {} from {replicas} to {} replicas",
                        spec.name, p.replicas
                    ),
                    None,
                    "itops".into(),
                ));
                (
                    true,
                    format!("scaling from {replicas} to {} replicas", p.replicas),
                    Some(startup),
                )
            }
        }
        ActionParams::FailoverDependency(p) => {
            let standby = p
                .standby
                .clone()
                .unwrap_or_else(|| format!("{}-standby", spec.name));
            world.state[s].failover_blip = 30.0;
            changes.push(change(
                now,
                &spec.name,
                "infra",
                format!("Failover: traffic for {} switched to {standby}", spec.name),
                None,
                "itops".into(),
            ));
            (
                true,
                format!("traffic for {} now goes to {standby}", spec.name),
                Some(20.0),
            )
        }
        ActionParams::ToggleFeatureFlag(p) => {
            let st = &mut world.state[s];
            if !st.flags.contains_key(&p.flag) {
                return Err(Error::UnknownVariant {
                    what: "feature flag",
                    value: format!("{} on {}", p.flag, spec.name),
                    expected: st.flags.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            }
            let was = st.flags.insert(p.flag.clone(), p.enabled);
            changes.push(change(
                now,
                &spec.name,
                "flag",
                format!(
                    "Feature flag '{}' {} on {}",
                    p.flag,
                    if p.enabled { "enabled" } else { "disabled" },
                    spec.name
                ),
                None,
                "itops".into(),
            ));
            let detail = if was == Some(p.enabled) {
                format!("flag '{}' was already {}", p.flag, on_off(p.enabled))
            } else {
                format!("flag '{}' set {}", p.flag, on_off(p.enabled))
            };
            (true, detail, Some(10.0))
        }
        ActionParams::ClearCache(p) => {
            let st = &mut world.state[s];
            st.cache_cold = 1.0;
            let mut freed = String::new();
            if let (Some(d), false) = (&spec.disk, spec.is_datastore()) {
                let before = st.disk_used;
                st.disk_used = d.used_fraction;
                freed = format!(
                    "; {} freed {:.0}% of the disk",
                    d.holds,
                    (before - d.used_fraction).max(0.0) * 100.0
                );
            }
            let which = p.cache.clone().unwrap_or_else(|| "all caches".to_string());
            changes.push(change(
                now,
                &spec.name,
                "cache",
                format!("Cache flush on {}: {which}", spec.name),
                None,
                "itops".into(),
            ));
            (true, format!("flushed {which}{freed}"), Some(5.0))
        }
        ActionParams::RaisePoolLimit(p) => {
            let Some(pool) = &spec.pool else {
                let with: Vec<&str> = world
                    .topo
                    .services()
                    .iter()
                    .filter(|x| x.pool.is_some())
                    .map(|x| x.name.as_str())
                    .collect();
                return Err(Error::invalid(
                    "target",
                    format!(
                        "{} has no connection pool; services with one: {}",
                        spec.name,
                        with.join(", ")
                    ),
                ));
            };
            let st = &mut world.state[s];
            if p.max_connections <= st.pool_size {
                (
                    false,
                    format!(
                        "{} pool is already {} connections per replica; ask for more",
                        spec.name, st.pool_size
                    ),
                    None,
                )
            } else {
                let from = std::mem::replace(&mut st.pool_size, p.max_connections);
                st.rolling = Some(Rolling {
                    next: 0,
                    current: None,
                    reason: StartReason::Rollout,
                });
                changes.push(change(
                    now,
                    &spec.name,
                    "config",
                    format!(
                        "{}: connection pool to {} raised from {from} to {} per replica (rolling restart)",
                        spec.name, pool.datastore, p.max_connections
                    ),
                    None,
                    "itops".into(),
                ));
                (
                    true,
                    format!(
                        "pool raised from {from} to {} connections per replica",
                        p.max_connections
                    ),
                    Some(startup),
                )
            }
        }
    };

    if let Some(delay) = cure_after {
        let at = now + chrono::Duration::milliseconds((delay * 1000.0) as i64);
        for f in world.faults.iter_mut() {
            if f.service != s || f.cured.is_some() || f.spec.at > now {
                continue;
            }
            if f.spec.until.is_some_and(|u| u <= now) {
                continue;
            }
            // A spike is absorbed by capacity, not removed.
            if f.spec.kind == FaultKind::TrafficSpike {
                continue;
            }
            if !curing_actions(f.spec.kind, f.spec.variant.as_ref(), &spec).contains(&id) {
                continue;
            }
            if !condition_holds(f.spec.kind, f.spec.variant.as_ref(), params) {
                continue;
            }
            f.cured = Some((at, id.to_string()));
        }
    }
    Ok(Applied {
        applied,
        detail,
        changes,
    })
}

/// Parameter conditions on a cure: the right flag, switched the right way.
fn condition_holds(kind: FaultKind, variant: Option<&FaultVariant>, params: &ActionParams) -> bool {
    match (kind, variant, params) {
        (
            FaultKind::ExceptionBurst | FaultKind::ConfigError,
            Some(FaultVariant::FeatureFlag { flag }),
            ActionParams::ToggleFeatureFlag(p),
        ) => p.flag == *flag && !p.enabled,
        (_, _, ActionParams::ToggleFeatureFlag(_)) => false,
        _ => true,
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// The release before `v` when none was recorded (a patch down, or the previous minor).
fn previous_release(v: &str) -> String {
    let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    while parts.len() < 3 {
        parts.push(0);
    }
    if parts[2] > 0 {
        parts[2] -= 1;
    } else if parts[1] > 0 {
        parts[1] -= 1;
        parts[2] = 4;
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}
