//! Faults: what can be injected, how each changes its service, and which actions cure it.
//!
//! A fault acts only on its own service's local state (capacity, CPU, memory, pool, disk,
//! error paths, reachability). Everything callers see — latency, timeouts, retries, errors,
//! saturation — follows from the model in `model.rs`, not from the fault.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rng::SimRng;
use super::topology::{ServiceKind, ServiceSpec, Topology};
use itops_core::domain::FaultKind;
use itops_core::error::{Error, Result};

/// A fault to inject: what, where, when and how hard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// The kind of fault (`unknown` is not injectable).
    pub kind: FaultKind,
    /// The service it starts in.
    pub service: String,
    /// When it starts.
    pub at: DateTime<Utc>,
    /// How hard, from just above 0 (barely visible) to 1 (severe).
    pub severity: f64,
    /// When it stops by itself, if ever.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// The specific form; chosen from the seed when absent.
    #[serde(default)]
    pub variant: Option<FaultVariant>,
}

impl FaultSpec {
    /// A fault of `kind` on `service` starting `at`, with `severity`.
    pub fn new(
        kind: FaultKind,
        service: impl Into<String>,
        at: DateTime<Utc>,
        severity: f64,
    ) -> Self {
        Self {
            kind,
            service: service.into(),
            at,
            severity,
            until: None,
            variant: None,
        }
    }

    /// Sets the variant.
    pub fn variant(mut self, variant: FaultVariant) -> Self {
        self.variant = Some(variant);
        self
    }

    /// Sets when it stops by itself.
    pub fn until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }
}

/// The specific form of a fault, where a kind has several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum FaultVariant {
    /// `dependency_down`: the process exits on start and Kubernetes keeps restarting it.
    CrashLoop,
    /// `dependency_down`: the pods run but nothing can reach them.
    Partition,
    /// `network_delay`: delay plus some packet loss.
    PacketLoss,
    /// `config_error`: the address of a dependency is wrong.
    WrongEndpoint {
        /// The dependency whose address is wrong.
        dependency: String,
    },
    /// `config_error`: a client timeout to a dependency set far too low.
    TimeoutTooLow {
        /// The dependency whose timeout is wrong.
        dependency: String,
    },
    /// `config_error`: the worker / thread limit set far too small.
    WorkerLimit,
    /// `config_error` or `exception_burst`: a code path behind this flag fails.
    FeatureFlag {
        /// The flag.
        flag: String,
    },
    /// `traffic_spike`: a credential-stuffing attack (costly login attempts, mostly rejected).
    CredentialStuffing,
}

impl FaultVariant {
    fn name(&self) -> &'static str {
        match self {
            FaultVariant::CrashLoop => "crash_loop",
            FaultVariant::Partition => "partition",
            FaultVariant::PacketLoss => "packet_loss",
            FaultVariant::WrongEndpoint { .. } => "wrong_endpoint",
            FaultVariant::TimeoutTooLow { .. } => "timeout_too_low",
            FaultVariant::WorkerLimit => "worker_limit",
            FaultVariant::FeatureFlag { .. } => "feature_flag",
            FaultVariant::CredentialStuffing => "credential_stuffing",
        }
    }
}

/// Which services a fault kind can start in.
pub fn eligible_services(kind: FaultKind, topology: &Topology) -> Vec<&str> {
    topology
        .services()
        .iter()
        .enumerate()
        .filter(|(i, s)| is_eligible(kind, s, !topology.callers[*i].is_empty()))
        .map(|(_, s)| s.name.as_str())
        .collect()
}

/// Peak concurrency per replica above which a tiny worker limit bites.
const BUSY_ENOUGH: f64 = 1.0;

fn is_eligible(kind: FaultKind, s: &ServiceSpec, has_callers: bool) -> bool {
    let app = !s.is_datastore();
    match kind {
        FaultKind::CpuContention => true,
        FaultKind::MemoryLeak | FaultKind::ExceptionBurst | FaultKind::BadDeploy => app,
        FaultKind::WrongReturnValue => app && has_callers,
        FaultKind::NetworkDelay | FaultKind::DependencyDown => has_callers,
        FaultKind::ConnectionPoolExhaustion => s.pool.is_some(),
        FaultKind::DiskFull => s.disk.is_some(),
        FaultKind::ConfigError => app && (!s.dependencies.is_empty() || !s.flags.is_empty()),
        FaultKind::TrafficSpike => matches!(s.kind, ServiceKind::Web | ServiceKind::Api) && app,
        FaultKind::Unknown => false,
    }
}

/// The variants a fault kind can take on service `i`.
fn variants_for(kind: FaultKind, topology: &Topology, i: usize) -> Vec<FaultVariant> {
    let s = &topology.services()[i];
    match kind {
        FaultKind::DependencyDown => vec![FaultVariant::CrashLoop, FaultVariant::Partition],
        FaultKind::NetworkDelay => vec![FaultVariant::PacketLoss],
        FaultKind::ExceptionBurst => s
            .flags
            .iter()
            .map(|f| FaultVariant::FeatureFlag { flag: f.clone() })
            .collect(),
        FaultKind::ConfigError => {
            let mut v: Vec<FaultVariant> = s
                .dependencies
                .iter()
                .filter(|d| d.on_error == super::topology::OnError::Fail)
                .flat_map(|d| {
                    [
                        FaultVariant::WrongEndpoint {
                            dependency: d.to.clone(),
                        },
                        FaultVariant::TimeoutTooLow {
                            dependency: d.to.clone(),
                        },
                    ]
                })
                .collect();
            // A worker limit only hurts a service that has requests in flight to limit.
            if topology.peak_concurrency(i) >= BUSY_ENOUGH {
                v.push(FaultVariant::WorkerLimit);
            }
            v.extend(
                s.flags
                    .iter()
                    .map(|f| FaultVariant::FeatureFlag { flag: f.clone() }),
            );
            v
        }
        FaultKind::TrafficSpike if s.name.contains("auth") => {
            vec![FaultVariant::CredentialStuffing]
        }
        _ => Vec::new(),
    }
}

/// Checks a fault against the topology and fills in a variant from the seed when needed.
pub(crate) fn resolve(
    spec: &FaultSpec,
    topology: &Topology,
    seed: u64,
) -> Result<(usize, FaultSpec)> {
    if spec.kind == FaultKind::Unknown {
        return Err(Error::invalid(
            "fault kind",
            format!(
                "'unknown' cannot be injected; use one of: {}",
                injectable_kinds()
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let idx = topology.index_of(&spec.service)?;
    let s = &topology.services()[idx];
    if !(spec.severity > 0.0 && spec.severity <= 1.0) {
        return Err(Error::invalid(
            "severity",
            format!("must be in (0, 1], got {}", spec.severity),
        ));
    }
    if !is_eligible(spec.kind, s, !topology.callers[idx].is_empty()) {
        return Err(Error::invalid(
            "fault service",
            format!(
                "{} cannot start in '{}'; services where it can: {}",
                spec.kind,
                s.name,
                eligible_services(spec.kind, topology).join(", ")
            ),
        ));
    }
    if let Some(until) = spec.until {
        if until <= spec.at {
            return Err(Error::invalid("until", "must be after the fault starts"));
        }
    }
    let allowed = variants_for(spec.kind, topology, idx);
    let mut out = spec.clone();
    match &spec.variant {
        Some(v) => {
            // Packet loss is optional for network delay; every other listed variant must match.
            if !allowed.contains(v) {
                let listed: Vec<String> = allowed.iter().map(variant_label).collect();
                return Err(Error::invalid(
                    "fault variant",
                    format!(
                        "'{}' does not fit {} on '{}'; possible: {}",
                        variant_label(v),
                        spec.kind,
                        s.name,
                        if listed.is_empty() {
                            "none".to_string()
                        } else {
                            listed.join(", ")
                        }
                    ),
                ));
            }
        }
        None => {
            let mut rng = SimRng::derive(seed, &format!("variant/{}/{}", spec.kind, s.name));
            out.variant = match spec.kind {
                // Plain delay is the common case; loss comes with it a third of the time.
                FaultKind::NetworkDelay => rng.chance(0.33).then_some(FaultVariant::PacketLoss),
                _ => rng.pick(&allowed).cloned(),
            };
        }
    }
    Ok((idx, out))
}

fn variant_label(v: &FaultVariant) -> String {
    match v {
        FaultVariant::WrongEndpoint { dependency } | FaultVariant::TimeoutTooLow { dependency } => {
            format!("{}({dependency})", v.name())
        }
        FaultVariant::FeatureFlag { flag } => format!("{}({flag})", v.name()),
        _ => v.name().to_string(),
    }
}

/// Every fault kind that can be injected.
pub fn injectable_kinds() -> Vec<FaultKind> {
    FaultKind::ALL
        .iter()
        .copied()
        .filter(|k| *k != FaultKind::Unknown)
        .collect()
}

/// The catalogue actions that cure a fault of `kind` (in `variant`) on service `s`.
///
/// This table is the simulator's definition of a correct remediation; the tests check
/// that exactly these actions bring the service back and the others do not.
pub fn curing_actions(
    kind: FaultKind,
    variant: Option<&FaultVariant>,
    s: &ServiceSpec,
) -> Vec<&'static str> {
    match kind {
        // A data store cannot be scaled out by adding replicas (the action refuses): its
        // starved cpu needs a bigger machine, which a person provides.
        FaultKind::CpuContention if s.is_datastore() => Vec::new(),
        FaultKind::CpuContention | FaultKind::TrafficSpike => vec!["scale_out"],
        // A rollback restarts every pod too, so it also clears leaked memory.
        FaultKind::MemoryLeak => vec!["restart_service", "rollback_deployment"],
        FaultKind::ExceptionBurst => vec!["toggle_feature_flag"],
        FaultKind::WrongReturnValue => vec!["clear_cache"],
        FaultKind::NetworkDelay | FaultKind::DependencyDown => vec!["failover_dependency"],
        FaultKind::ConnectionPoolExhaustion => vec!["raise_pool_limit"],
        // Only an application's own cache and temp files can be cleared; a data store's
        // volume has to be grown by a person.
        FaultKind::DiskFull if !s.is_datastore() => vec!["clear_cache"],
        FaultKind::DiskFull => Vec::new(),
        FaultKind::BadDeploy => vec!["rollback_deployment"],
        FaultKind::ConfigError => match variant {
            Some(FaultVariant::FeatureFlag { .. }) => vec!["toggle_feature_flag"],
            _ => vec!["rollback_deployment"],
        },
        FaultKind::Unknown => Vec::new(),
    }
}

/// How a service cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DownMode {
    /// Connection refused: fast failures.
    Refused,
    /// Packets dropped: callers wait for their timeout.
    Unreachable,
}

/// How one outgoing call of a service is broken by its own configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BrokenCall {
    /// The address does not resolve / refuses.
    WrongEndpoint,
    /// The timeout is this many milliseconds.
    Timeout(f64),
}

/// A fault's effect on its service's local state during one tick.
#[derive(Clone, Debug)]
pub(crate) struct Effects {
    /// Multiplies CPU capacity (requests/s a replica can serve).
    pub(crate) cap_factor: f64,
    /// Multiplies own processing time.
    pub(crate) latency_factor: f64,
    /// CPU burnt by something other than requests, cores per replica.
    pub(crate) extra_cpu: f64,
    /// Extra arriving requests per second (spikes).
    pub(crate) extra_rps: f64,
    /// Cost of one extra request relative to a normal one.
    pub(crate) extra_cost: f64,
    /// Share of extra requests rejected as 4xx (not server errors).
    pub(crate) extra_rejected: f64,
    /// Delay added to every packet in and out, in milliseconds.
    pub(crate) net_delay_ms: f64,
    /// Share of calls to or from the service lost to the network.
    pub(crate) loss: f64,
    /// Share of requests failing in the service's own code.
    pub(crate) code_errors: f64,
    /// Which fault's code path fails (shapes log text), when any.
    pub(crate) code_fault: Option<usize>,
    /// Memory leaked per second per replica, MiB.
    pub(crate) leak_mb_s: f64,
    /// Share of each replica's connection pool leaked per second (never returned).
    pub(crate) pool_leak_s: f64,
    /// Disk filled per second, as a fraction of the volume.
    pub(crate) disk_fill_s: f64,
    /// The service cannot be reached.
    pub(crate) down: Option<DownMode>,
    /// The process keeps crashing on start.
    pub(crate) crash_loop: bool,
    /// Share of responses that are wrong but look successful.
    pub(crate) wrong_values: f64,
    /// One outgoing call broken by configuration: (callee index, how).
    pub(crate) broken_call: Option<(usize, BrokenCall)>,
    /// Multiplies the worker / thread limit.
    pub(crate) worker_factor: f64,
    /// Multiplies the normal info-log volume (a path that stops logging).
    pub(crate) info_log_factor: f64,
}

impl Default for Effects {
    fn default() -> Self {
        Self {
            cap_factor: 1.0,
            latency_factor: 1.0,
            extra_cpu: 0.0,
            extra_rps: 0.0,
            extra_cost: 1.0,
            extra_rejected: 0.0,
            net_delay_ms: 0.0,
            loss: 0.0,
            code_errors: 0.0,
            code_fault: None,
            leak_mb_s: 0.0,
            pool_leak_s: 0.0,
            disk_fill_s: 0.0,
            down: None,
            crash_loop: false,
            wrong_values: 0.0,
            broken_call: None,
            worker_factor: 1.0,
            info_log_factor: 1.0,
        }
    }
}

/// A fault that has been scheduled in the simulator.
#[derive(Clone, Debug)]
pub(crate) struct ActiveFault {
    pub(crate) id: usize,
    pub(crate) spec: FaultSpec,
    pub(crate) service: usize,
    /// Set when the fault first acts; holds values calibrated to the load at that time.
    pub(crate) started: Option<Calibration>,
    /// When an action cured it, and which.
    pub(crate) cured: Option<(DateTime<Utc>, String)>,
    /// Seed for the fault's own randomness (burst shape, log text).
    pub(crate) seed: u64,
}

/// Values a fault fixes when it starts, from the state at that moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Calibration {
    /// Capacity factor (contention) or extra requests/s (spike).
    pub(crate) amount: f64,
    /// The callee index for config errors on a call.
    pub(crate) callee: Option<usize>,
    /// A timeout value for `TimeoutTooLow`.
    pub(crate) timeout_ms: f64,
}

impl ActiveFault {
    /// Whether the fault acts at `at`.
    pub(crate) fn is_active(&self, at: DateTime<Utc>) -> bool {
        at >= self.spec.at
            && self.spec.until.is_none_or(|u| at < u)
            && self.cured.as_ref().is_none_or(|(c, _)| at < *c)
    }

    /// When the fault stopped acting, if it has.
    pub(crate) fn ended(&self) -> Option<DateTime<Utc>> {
        match (self.spec.until, &self.cured) {
            (Some(u), Some((c, _))) => Some(u.min(*c)),
            (Some(u), None) => Some(u),
            (None, Some((c, _))) => Some(*c),
            (None, None) => None,
        }
    }

    /// Adds this fault's effect at `at` to `e`. `cal` is its calibration.
    pub(crate) fn apply(
        &self,
        at: DateTime<Utc>,
        cal: &Calibration,
        s: &ServiceSpec,
        e: &mut Effects,
    ) {
        let sev = self.spec.severity;
        let since = (at - self.spec.at).num_milliseconds() as f64 / 1000.0;
        // Most faults build up over a minute or two rather than switching on.
        let ramp = (since / 90.0).clamp(0.0, 1.0);
        match self.spec.kind {
            FaultKind::CpuContention => {
                let full = cal.amount.clamp(0.001, 1.0);
                e.cap_factor *= 1.0 - (1.0 - full) * ramp;
                e.latency_factor *= 1.0 + 0.35 * sev * ramp;
                e.extra_cpu += s.cpu_limit * (0.35 + 0.5 * sev) * ramp;
            }
            FaultKind::MemoryLeak => {
                // Time to reach the limit from steady state: ~25 min when mild, ~7 when severe.
                let minutes = 25.0 - 18.0 * sev;
                e.leak_mb_s += (s.memory_limit_mb - s.memory_mb) / (minutes * 60.0);
            }
            FaultKind::ExceptionBurst => {
                // Bursty: intensity swings over a few minutes but never quite stops.
                let period = 180.0 + (self.seed % 180) as f64;
                let wave = 0.6 + 0.4 * (std::f64::consts::TAU * since / period).sin();
                e.code_errors += (0.06 + 0.45 * sev) * wave * ramp.max(0.3);
                e.code_fault = Some(self.id);
            }
            FaultKind::WrongReturnValue => {
                e.wrong_values += (0.15 + 0.6 * sev) * ramp.max(0.5);
                // The broken path returns early: faster responses, and its log lines stop.
                e.latency_factor *= 1.0 - 0.35 * sev;
                e.info_log_factor *= 0.35;
                e.code_fault = Some(self.id);
            }
            FaultKind::NetworkDelay => {
                let jitter = 1.0 + 0.25 * ((since / 7.0).sin() * (since / 3.1).cos());
                e.net_delay_ms += (30.0 + 270.0 * sev) * jitter * ramp.max(0.5);
                if self.spec.variant == Some(FaultVariant::PacketLoss) {
                    e.loss += 0.02 + 0.1 * sev;
                }
            }
            FaultKind::DependencyDown => match self.spec.variant {
                Some(FaultVariant::Partition) => e.down = Some(DownMode::Unreachable),
                _ => {
                    e.down = Some(DownMode::Refused);
                    e.crash_loop = true;
                }
            },
            FaultKind::ConnectionPoolExhaustion => {
                // A code path that never returns its connection: each replica's pool drains
                // in ~5 minutes when mild, ~1.5 when severe, whatever the load.
                e.pool_leak_s += 1.0 / ((5.0 - 3.5 * sev) * 60.0);
            }
            FaultKind::DiskFull => {
                let minutes = 6.0 - 4.0 * sev;
                e.disk_fill_s += 1.0 / (minutes * 60.0);
            }
            FaultKind::BadDeploy => {
                // The new version needs its rollout to finish before it hurts everywhere.
                e.code_errors += (0.04 + 0.35 * sev) * ramp;
                e.latency_factor *= 1.0 + 0.6 * sev * ramp;
                e.code_fault = Some(self.id);
            }
            FaultKind::ConfigError => match &self.spec.variant {
                Some(FaultVariant::WrongEndpoint { .. }) => {
                    if let Some(c) = cal.callee {
                        e.broken_call = Some((c, BrokenCall::WrongEndpoint));
                    }
                }
                Some(FaultVariant::TimeoutTooLow { .. }) => {
                    if let Some(c) = cal.callee {
                        e.broken_call = Some((c, BrokenCall::Timeout(cal.timeout_ms)));
                    }
                }
                Some(FaultVariant::WorkerLimit) => {
                    e.worker_factor *= cal.amount.clamp(0.0001, 1.0);
                }
                _ => {
                    e.code_errors += 0.05 + 0.4 * sev;
                    e.code_fault = Some(self.id);
                }
            },
            FaultKind::TrafficSpike => {
                let wobble = 1.0 + 0.08 * (since / 37.0).sin() + 0.05 * (since / 11.0).cos();
                e.extra_rps += cal.amount * ramp * wobble;
                if self.spec.variant == Some(FaultVariant::CredentialStuffing) {
                    e.extra_cost = e.extra_cost.max(6.0);
                    e.extra_rejected = e.extra_rejected.max(0.97);
                }
            }
            FaultKind::Unknown => {}
        }
    }
}
