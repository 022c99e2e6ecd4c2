//! Named scenarios, generated cases and the RCA test suite.
//!
//! A scenario is a recipe (which fault, where it may start, how hard, what else goes on);
//! a [`CaseSpec`] is one fully decided instance of it, and [`generate_case`] runs it: a
//! healthy baseline, the fault, detection by alert rules, a tail after detection. The
//! result ([`GeneratedCase`]) holds the live simulator (actions can still be executed and
//! time advanced), the ground truth and the incident report.
//!
//! | function | what it gives |
//! |---|---|
//! | [`scenarios`] | the catalogue: name, description, fault kind |
//! | [`generate`]`(name, seed)` | one case, decided by the seed |
//! | [`suite`]`(seed)` | the RCA test set: [`SUITE_SIZE`] varied case specs |
//! | [`GeneratedCase::write`]`(dir)` | the bundle + `ground_truth.json` + `incident.json` |

use std::path::Path;

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::faults::{curing_actions, eligible_services, FaultSpec, FaultVariant};
use super::noise::{Distraction, DistractionKind};
use super::reports::{write_report, Detector, IncidentReport};
use super::rng::{mix, SimRng};
use super::signals::MetricNaming;
use super::simulator::{
    InjectedFault, ServiceHealth, SignalSet, SimConfig, SimEnvironment, TelemetryProfile,
};
use super::topology::{ServiceKind, ServiceNaming, Topology};
use itops_core::domain::FaultKind;
use itops_core::error::{Error, Result};
use itops_core::telemetry::TimeRange;

/// How many cases [`suite`] returns.
pub const SUITE_SIZE: usize = 60;

/// The file the ground truth is written to, beside the bundle files.
pub const GROUND_TRUTH_FILE: &str = "ground_truth.json";
/// The file the incident report is written to, beside the bundle files.
pub const INCIDENT_FILE: &str = "incident.json";

/// One entry of the scenario catalogue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioInfo {
    /// The name to ask for.
    pub name: &'static str,
    /// What happens, in a sentence.
    pub description: &'static str,
    /// The kind of the root fault.
    pub fault: FaultKind,
    /// Whether it is one of the five classic incident stories (the rest are one per fault kind).
    pub classic: bool,
}

const SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: "cascade_failure",
        description: "A shared data store (the primary database or the cache) saturates; timeouts, retries and failures climb through every service above it to the storefront.",
        fault: FaultKind::CpuContention,
        classic: true,
    },
    ScenarioInfo {
        name: "gradual_degradation",
        description: "A slow memory leak in a JVM service: heap creeps up, GC pauses lengthen, latency drifts, then OOM kills start.",
        fault: FaultKind::MemoryLeak,
        classic: true,
    },
    ScenarioInfo {
        name: "security_event",
        description: "A credential-stuffing attack floods the auth service with costly login attempts; sign-in and every page behind it slow down.",
        fault: FaultKind::TrafficSpike,
        classic: true,
    },
    ScenarioInfo {
        name: "capacity_issue",
        description: "A flash sale sends more users to the storefront than it was sized for; it saturates and sheds requests.",
        fault: FaultKind::TrafficSpike,
        classic: true,
    },
    ScenarioInfo {
        name: "network_problem",
        description: "Delay and packet loss on one service's network interface; its callers see slow calls, resets and timeouts.",
        fault: FaultKind::NetworkDelay,
        classic: true,
    },
    ScenarioInfo {
        name: "cpu_contention",
        description: "A co-located process takes a service's CPU: its capacity drops, requests queue, callers slow down.",
        fault: FaultKind::CpuContention,
        classic: false,
    },
    ScenarioInfo {
        name: "memory_leak",
        description: "A service leaks memory until the OOM killer restarts its pods, again and again.",
        fault: FaultKind::MemoryLeak,
        classic: false,
    },
    ScenarioInfo {
        name: "exception_burst",
        description: "A code path behind a feature flag starts throwing on part of the requests, in bursts.",
        fault: FaultKind::ExceptionBurst,
        classic: false,
    },
    ScenarioInfo {
        name: "wrong_return_value",
        description: "A service answers quickly and successfully but with wrong data; its callers fail validating it.",
        fault: FaultKind::WrongReturnValue,
        classic: false,
    },
    ScenarioInfo {
        name: "network_delay",
        description: "Added latency on one service's network interface (sometimes with loss).",
        fault: FaultKind::NetworkDelay,
        classic: false,
    },
    ScenarioInfo {
        name: "dependency_down",
        description: "A service becomes unreachable: crash-looping pods (connection refused) or a partition (timeouts).",
        fault: FaultKind::DependencyDown,
        classic: false,
    },
    ScenarioInfo {
        name: "connection_pool_exhaustion",
        description: "A code path leaks database connections; each replica's pool drains and requests time out waiting for one.",
        fault: FaultKind::ConnectionPoolExhaustion,
        classic: false,
    },
    ScenarioInfo {
        name: "disk_full",
        description: "A volume fills up; writes start failing.",
        fault: FaultKind::DiskFull,
        classic: false,
    },
    ScenarioInfo {
        name: "bad_deploy",
        description: "A new version is rolled out that throws on part of its requests and is slower.",
        fault: FaultKind::BadDeploy,
        classic: false,
    },
    ScenarioInfo {
        name: "config_error",
        description: "A configuration change or flag flip breaks a service: a wrong address, a too-low timeout, a tiny worker limit or a failing flagged path.",
        fault: FaultKind::ConfigError,
        classic: false,
    },
    ScenarioInfo {
        name: "traffic_spike",
        description: "A service gets far more requests than usual (a bot, a partner batch, a retry storm).",
        fault: FaultKind::TrafficSpike,
        classic: false,
    },
];

/// The scenario catalogue: the five classics, then one per fault kind.
pub fn scenarios() -> &'static [ScenarioInfo] {
    SCENARIOS
}

/// A scenario by name; the error lists the valid names.
pub fn scenario(name: &str) -> Result<&'static ScenarioInfo> {
    SCENARIOS
        .iter()
        .find(|s| s.name == name.trim())
        .ok_or_else(|| Error::UnknownVariant {
            what: "scenario",
            value: name.to_string(),
            expected: SCENARIOS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// One fully decided case: everything [`generate_case`] needs, and nothing random left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseSpec {
    /// A stable, readable id (`case-007-memory_leak`).
    pub id: String,
    /// The scenario it instantiates.
    pub scenario: String,
    /// The seed for everything inside the run.
    pub seed: u64,
    /// The root fault's kind.
    pub fault: FaultKind,
    /// The root service (as named in `naming`).
    pub service: String,
    /// Severity, 0 to 1.
    pub severity: f64,
    /// The fault's form, when fixed in advance.
    pub variant: Option<FaultVariant>,
    /// Start of the exported window.
    pub start: DateTime<Utc>,
    /// Healthy minutes before the fault.
    pub baseline_minutes: u32,
    /// Minutes exported after detection.
    pub tail_minutes: u32,
    /// Longest wait for detection, in minutes after the fault (then a customer reports it).
    pub max_detection_minutes: u32,
    /// How services are named.
    pub naming: ServiceNaming,
    /// How telemetry is exported.
    pub telemetry: TelemetryProfile,
    /// Noise level (1.0 normal).
    pub noise: f64,
    /// Unrelated activity during the window.
    pub distractions: Vec<Distraction>,
}

impl CaseSpec {
    /// The case a scenario gives for a seed, with full telemetry, plain names and 30 s
    /// scrapes; the root service, severity, time of day and distractions come from the seed.
    pub fn from_scenario(name: &str, seed: u64) -> Result<Self> {
        let info = scenario(name)?;
        let mut rng = SimRng::derive(seed, &format!("scenario/{name}"));
        let topo = Topology::web_shop();
        let (service, severity, variant) = root_for(info, &topo, &mut rng)?;
        let day = rng.between(0, 27) as i64;
        let hour = rng.between(8, 20) as u32;
        let minute = rng.between(0, 59) as u32;
        let start = Utc
            .with_ymd_and_hms(2024, 3, 4, hour, minute, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
            + ChronoDuration::days(day);
        let baseline_minutes = if info.name == "gradual_degradation" {
            60
        } else {
            45
        };
        let mut spec = CaseSpec {
            id: format!("{name}-{seed}"),
            scenario: name.to_string(),
            seed,
            fault: info.fault,
            service,
            severity,
            variant,
            start,
            baseline_minutes,
            tail_minutes: 15,
            max_detection_minutes: if info.name == "gradual_degradation" {
                45
            } else {
                30
            },
            naming: ServiceNaming::Short,
            telemetry: TelemetryProfile::default(),
            noise: 1.0,
            distractions: Vec::new(),
        };
        spec.distractions = distractions(&spec, &topo, rng.between(0, 2) as usize, &mut rng);
        Ok(spec)
    }

    /// When the fault starts.
    pub fn injected_at(&self) -> DateTime<Utc> {
        self.start + ChronoDuration::minutes(i64::from(self.baseline_minutes))
    }
}

/// Picks the root service, severity and variant for a scenario.
fn root_for(
    info: &ScenarioInfo,
    topo: &Topology,
    rng: &mut SimRng,
) -> Result<(String, f64, Option<FaultVariant>)> {
    let choose = |rng: &mut SimRng, from: &[&str]| -> Result<String> {
        rng.pick(from).map(|s| (*s).to_string()).ok_or_else(|| {
            Error::invalid("scenario", format!("no service can host {}", info.fault))
        })
    };
    let out = match info.name {
        "cascade_failure" => (
            choose(rng, &["postgres", "redis"])?,
            rng.range(0.75, 1.0),
            None,
        ),
        "gradual_degradation" => (
            choose(rng, &["catalog", "checkout", "payments", "order-worker"])?,
            rng.range(0.15, 0.35),
            None,
        ),
        "security_event" => (
            "auth".to_string(),
            rng.range(0.6, 1.0),
            Some(FaultVariant::CredentialStuffing),
        ),
        "capacity_issue" => ("frontend".to_string(), rng.range(0.55, 0.95), None),
        "network_problem" => (
            choose(rng, &["catalog", "cart", "inventory", "payments", "redis"])?,
            rng.range(0.5, 1.0),
            Some(FaultVariant::PacketLoss),
        ),
        _ => {
            let eligible: Vec<&str> = eligible_services(info.fault, topo)
                .into_iter()
                // A consumer with no callers shows its faults only as lag; keep the per-kind
                // scenarios on services something calls, except where only it fits.
                .filter(|s| *s != "order-worker")
                .collect();
            let eligible = if eligible.is_empty() {
                eligible_services(info.fault, topo)
            } else {
                eligible
            };
            (choose(rng, &eligible)?, rng.range(0.45, 1.0), None)
        }
    };
    Ok(out)
}

/// Unrelated activity for a case: on other services, around the incident or all along.
fn distractions(
    spec: &CaseSpec,
    topo: &Topology,
    count: usize,
    rng: &mut SimRng,
) -> Vec<Distraction> {
    let names: Vec<String> = topo
        .names()
        .into_iter()
        .filter(|n| *n != spec.service)
        .map(str::to_string)
        .collect();
    let apps: Vec<String> = topo
        .services()
        .iter()
        .filter(|s| !s.is_datastore() && s.name != spec.service)
        .map(|s| s.name.clone())
        .collect();
    let inject = spec.injected_at();
    let window_start = spec.start;
    let mut out = Vec::new();
    for _ in 0..count {
        let kinds = [
            (DistractionKind::HarmlessDeploy, 0.32),
            (DistractionKind::NoisyNeighbour, 0.18),
            (DistractionKind::TransientErrors, 0.18),
            (DistractionKind::ConfigChange, 0.12),
            (DistractionKind::FlagFlip, 0.08),
            (DistractionKind::ScaleUp, 0.06),
            (DistractionKind::BatchJob, 0.06),
        ];
        let w: Vec<f64> = kinds.iter().map(|(_, w)| *w).collect();
        let kind = kinds[rng.weighted(&w)].0;
        let near = inject + ChronoDuration::seconds(rng.between(0, 1800) as i64 - 1200);
        let anywhere = window_start
            + ChronoDuration::seconds(
                rng.between(0, u64::from(spec.baseline_minutes) * 60 + 600) as i64
            );
        let d = match kind {
            DistractionKind::HarmlessDeploy
            | DistractionKind::ConfigChange
            | DistractionKind::FlagFlip => {
                let Some(svc) = rng.pick(&apps).cloned() else {
                    continue;
                };
                Distraction::new(kind, svc, near)
            }
            DistractionKind::ScaleUp => {
                let Some(svc) = rng.pick(&apps).cloned() else {
                    continue;
                };
                Distraction::new(kind, svc, anywhere)
            }
            DistractionKind::NoisyNeighbour => {
                let Some(svc) = rng.pick(&names).cloned() else {
                    continue;
                };
                Distraction::new(
                    kind,
                    svc,
                    if rng.chance(0.5) {
                        window_start
                    } else {
                        anywhere
                    },
                )
            }
            DistractionKind::TransientErrors => {
                let Some(svc) = rng.pick(&apps).cloned() else {
                    continue;
                };
                Distraction::new(kind, svc, anywhere).lasting(rng.between(60, 150))
            }
            DistractionKind::BatchJob => {
                let db = topo
                    .services()
                    .iter()
                    .find(|s| s.kind == ServiceKind::Database && s.name != spec.service)
                    .map(|s| s.name.clone());
                let Some(db) = db else { continue };
                Distraction::new(kind, db, window_start)
            }
        };
        if !out
            .iter()
            .any(|o: &Distraction| o.service == d.service && o.kind == d.kind)
        {
            out.push(d);
        }
    }
    out
}

/// What was injected, where, when, what was detected and what would cure it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// The case id.
    pub case_id: String,
    /// The scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The service where the fault started: the answer an RCA should give first.
    pub root_service: String,
    /// The kind of the root fault.
    pub fault: FaultKind,
    /// Its form, when it has one.
    pub variant: Option<String>,
    /// Severity, 0 to 1.
    pub severity: f64,
    /// When the fault started.
    pub injected_at: DateTime<Utc>,
    /// When monitoring (or a customer) noticed.
    pub detected_at: DateTime<Utc>,
    /// The exported window.
    pub window: TimeRange,
    /// The catalogue actions that cure the root fault.
    pub curing_actions: Vec<String>,
    /// Every injected fault.
    pub faults: Vec<InjectedFault>,
    /// Unrelated activity in the window (not causes).
    pub distractions: Vec<Distraction>,
    /// Signals exported.
    pub signals: SignalSet,
    /// Metric naming style.
    pub metric_naming: MetricNaming,
    /// Scrape interval, seconds.
    pub sample_interval_s: u64,
}

/// A generated case: the live simulator, its ground truth and its incident report.
#[derive(Debug)]
pub struct GeneratedCase {
    /// The spec it was generated from.
    pub spec: CaseSpec,
    /// The simulator, advanced to the end of the window; it can still execute actions.
    pub environment: SimEnvironment,
    /// What was injected.
    pub ground_truth: GroundTruth,
    /// What was reported.
    pub incident: IncidentReport,
}

impl GeneratedCase {
    /// When the incident was detected (the `--at` of an investigation).
    pub fn detected_at(&self) -> DateTime<Utc> {
        self.incident.detected_at
    }

    /// Writes the bundle (`metrics.csv`, `logs.jsonl`, `traces.jsonl`, `events.jsonl`),
    /// `ground_truth.json` and `incident.json` into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.environment.write_bundle(dir)?;
        write_json(&dir.join(GROUND_TRUTH_FILE), &self.ground_truth)?;
        write_json(&dir.join(INCIDENT_FILE), &self.incident)?;
        Ok(())
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::serialization(path.display().to_string(), e))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Error::storage(format!("could not write {}", path.display()), e))
}

/// Generates scenario `name` with `seed`. Unknown names give an error listing the valid ones.
pub fn generate(name: &str, seed: u64) -> Result<GeneratedCase> {
    generate_case(&CaseSpec::from_scenario(name, seed)?)
}

/// Runs a case: baseline, fault, detection, tail.
pub fn generate_case(spec: &CaseSpec) -> Result<GeneratedCase> {
    let topology = Topology::web_shop_named(spec.naming);
    let root = topology.service(&spec.service)?.name.clone();
    let config = SimConfig {
        seed: spec.seed,
        start: spec.start,
        topology: topology.clone(),
        telemetry: spec.telemetry.clone(),
        noise: spec.noise,
    };
    let env = SimEnvironment::new(config)?;
    for d in &spec.distractions {
        env.distract(d.clone())?;
    }
    let inject_at = spec.injected_at();
    let mut fault = FaultSpec::new(spec.fault, root.clone(), inject_at, spec.severity);
    fault.variant = spec.variant.clone();
    env.inject(fault)?;

    let names: Vec<String> = topology.names().into_iter().map(str::to_string).collect();
    let tick = std::time::Duration::from_secs_f64(env.tick_seconds());
    let mut detector = Detector::new(&topology);
    let healths = |env: &SimEnvironment| -> Result<Vec<ServiceHealth>> {
        names.iter().map(|n| env.health(n)).collect()
    };
    // Baseline: learn what normal looks like over the last 20 minutes before the fault.
    let learn_from = inject_at - ChronoDuration::minutes(20);
    while env.now() + ChronoDuration::milliseconds(1) < inject_at {
        env.advance(tick);
        if env.now() >= learn_from {
            detector.learn(&healths(&env)?);
        }
    }
    let entry_before = env.health(&names[topology.entry])?;

    // Until an alert fires (then two more minutes of alerts), or a customer reports it.
    let deadline = inject_at + ChronoDuration::minutes(i64::from(spec.max_detection_minutes));
    let mut first: Option<DateTime<Utc>> = None;
    loop {
        env.advance(tick);
        let now = env.now();
        let fired = detector.observe(now, &healths(&env)?);
        if first.is_none() && !fired.is_empty() {
            first = Some(now);
        }
        if let Some(f) = first {
            if now >= f + ChronoDuration::minutes(2) {
                break;
            }
        }
        if now >= deadline {
            break;
        }
    }
    let mut rng = SimRng::derive(spec.seed, "report");
    let notify = ChronoDuration::seconds(rng.between(20, 150) as i64);
    let detected_at = match first {
        Some(f) => f + notify,
        None => deadline + notify,
    };
    env.advance_to(detected_at);
    let entry_now = env.health(&names[topology.entry])?;
    let recent_change = recent_change(&env, detected_at);
    let incident = write_report(
        &topology,
        &detector.fired,
        detected_at,
        &entry_now,
        &entry_before,
        recent_change,
        spec.variant == Some(FaultVariant::CredentialStuffing),
        &mut rng,
    );

    // The tail: the window extends a little past detection, and always holds a few
    // scrapes after the fault even at 5-minute intervals.
    let min_after = ChronoDuration::seconds(spec.telemetry.sample_interval_s as i64 * 5);
    let end = (detected_at + ChronoDuration::minutes(i64::from(spec.tail_minutes)))
        .max(inject_at + min_after);
    env.advance_to(end);

    let faults = env.ground_truth();
    let root_fault = faults.first().cloned();
    let spec_root = topology.service(&root)?;
    let ground_truth = GroundTruth {
        case_id: spec.id.clone(),
        scenario: spec.scenario.clone(),
        seed: spec.seed,
        root_service: root.clone(),
        fault: spec.fault,
        variant: root_fault.as_ref().and_then(|f| f.variant.clone()),
        severity: spec.severity,
        injected_at: inject_at,
        detected_at,
        window: TimeRange::new(spec.start, env.now())?,
        curing_actions: root_fault.as_ref().map_or_else(
            || {
                curing_actions(spec.fault, spec.variant.as_ref(), spec_root)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            },
            |f| f.curing_actions.clone(),
        ),
        faults,
        distractions: spec.distractions.clone(),
        signals: spec.telemetry.signals,
        metric_naming: spec.telemetry.metric_naming,
        sample_interval_s: spec.telemetry.sample_interval_s,
    };
    Ok(GeneratedCase {
        spec: spec.clone(),
        environment: env,
        ground_truth,
        incident,
    })
}

/// The last deploy, config change or flag flip in the 30 minutes before `at`, as
/// (service, "a deploy (description)"), for the incident report.
pub(crate) fn recent_change(env: &SimEnvironment, at: DateTime<Utc>) -> Option<(String, String)> {
    env.with_index(|ix| {
        let range = TimeRange::new(at - ChronoDuration::minutes(30), at).ok()?;
        ix.changes(range, None)
            .into_iter()
            .rev()
            .find(|c| c.kind == "deploy" || c.kind == "config" || c.kind == "flag")
    })
    .map(|c| {
        (
            c.service.clone(),
            format!("a {} ({})", c.kind, c.description),
        )
    })
}

/// The RCA test set: [`SUITE_SIZE`] case specs, every fault kind five times on different
/// services plus each classic once, with varied severities, export formats, scrape
/// intervals, noise and unrelated activity. The same seed gives the same suite.
pub fn suite(seed: u64) -> Vec<CaseSpec> {
    let mut out = Vec::with_capacity(SUITE_SIZE);
    let per_kind: Vec<&ScenarioInfo> = SCENARIOS.iter().filter(|s| !s.classic).collect();
    let classics: Vec<&ScenarioInfo> = SCENARIOS.iter().filter(|s| s.classic).collect();
    let mut order: Vec<&ScenarioInfo> = Vec::new();
    for _ in 0..5 {
        order.extend(per_kind.iter().copied());
    }
    order.extend(classics.iter().copied());
    let mut root_rng = SimRng::derive(seed, "suite/roots");
    // Per kind, cycle through its eligible services in a shuffled order.
    let topo = Topology::web_shop();
    let mut cursors: Vec<(FaultKind, Vec<String>, usize)> = Vec::new();
    for (i, info) in order.iter().enumerate() {
        let case_seed = mix(seed, &format!("suite/{i}"));
        let Ok(mut spec) = CaseSpec::from_scenario(info.name, case_seed) else {
            continue;
        };
        let mut rng = SimRng::derive(case_seed, "suite/export");
        if !info.classic {
            let entry = match cursors.iter().position(|(k, _, _)| *k == info.fault) {
                Some(p) => p,
                None => {
                    let mut eligible: Vec<String> = eligible_services(info.fault, &topo)
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    root_rng.shuffle(&mut eligible);
                    cursors.push((info.fault, eligible, 0));
                    cursors.len() - 1
                }
            };
            let (_, eligible, cursor) = &mut cursors[entry];
            if let Some(s) = eligible.get(*cursor % eligible.len().max(1)) {
                spec.service = s.clone();
            }
            *cursor += 1;
            spec.severity = rng.range(0.4, 1.0);
            spec.variant = None;
            if info.fault == FaultKind::TrafficSpike && spec.service == "auth" && rng.chance(0.5) {
                spec.variant = Some(FaultVariant::CredentialStuffing);
            }
        }
        // Export variation, as real bundles differ.
        let intervals = [10, 15, 15, 30, 30, 30, 60, 60, 120, 300];
        spec.telemetry.sample_interval_s = intervals[rng.below(intervals.len())];
        spec.telemetry.signals = match rng.below(20) {
            0..=13 => SignalSet::Full,
            14..=16 => SignalSet::NoTraces,
            _ => SignalSet::MetricsOnly,
        };
        spec.telemetry.metric_naming = match rng.below(10) {
            0..=3 => MetricNaming::Plain,
            4..=6 => MetricNaming::Prometheus,
            _ => MetricNaming::OpenTelemetry,
        };
        spec.telemetry.log_sampling = [0.003, 0.01, 0.01, 0.03][rng.below(4)];
        spec.telemetry.traces_per_minute = [20.0, 60.0, 60.0, 120.0][rng.below(4)];
        spec.noise = rng.range(0.6, 1.8);
        spec.baseline_minutes = if spec.telemetry.sample_interval_s >= 120 {
            90
        } else {
            rng.between(30, 60) as u32
        };
        spec.tail_minutes = rng.between(8, 20) as u32;
        let count = rng.between(0, 3) as usize;
        spec.distractions = distractions(&spec, &topo, count, &mut rng);
        // Rename last, so that every choice above is made on canonical names.
        let naming = ServiceNaming::ALL[rng.below(ServiceNaming::ALL.len())];
        if naming != ServiceNaming::Short {
            rename(&mut spec, &topo, naming);
        }
        spec.id = format!("case-{:03}-{}", i + 1, info.name);
        out.push(spec);
    }
    out
}

/// Re-spells every service name of a spec in another naming style.
fn rename(spec: &mut CaseSpec, short: &Topology, naming: ServiceNaming) {
    let styled = Topology::web_shop_named(naming);
    let map = |name: &str| -> String {
        short
            .index_of(name)
            .ok()
            .map_or_else(|| name.to_string(), |i| styled.services()[i].name.clone())
    };
    spec.naming = naming;
    spec.service = map(&spec.service);
    for d in &mut spec.distractions {
        d.service = map(&d.service);
    }
    spec.variant = match spec.variant.take() {
        Some(FaultVariant::WrongEndpoint { dependency }) => Some(FaultVariant::WrongEndpoint {
            dependency: map(&dependency),
        }),
        Some(FaultVariant::TimeoutTooLow { dependency }) => Some(FaultVariant::TimeoutTooLow {
            dependency: map(&dependency),
        }),
        other => other,
    };
}
