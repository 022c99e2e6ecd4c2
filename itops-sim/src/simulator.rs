//! [`SimEnvironment`]: the simulated system as an [`Environment`](itops_core::environment::Environment).
//!
//! Time is simulated: [`SimEnvironment::advance`] runs the model tick by tick and writes
//! the telemetry it produces into a [`TelemetryIndex`]; the `TelemetrySource` methods read
//! from that index. Faults and distractions are scheduled with [`SimEnvironment::inject`]
//! and [`SimEnvironment::distract`]; what was injected is only available from
//! [`SimEnvironment::ground_truth`], never through the telemetry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::actions;
use super::faults::{curing_actions, resolve, ActiveFault, FaultSpec, FaultVariant};
use super::logs::{LogContext, LogEmitter};
use super::model::{change, Happening, StartReason, World};
use super::noise::Distraction;
use super::rng::{mix, SimRng};
use super::signals::{MetricNaming, MetricSampler};
use super::topology::Topology;
use super::traces::TraceEmitter;
use itops_core::catalogue::ActionCatalogue;
use itops_core::clock::Clock;
use itops_core::domain::{FaultKind, RemediationAction};
use itops_core::environment::{ActionExecutor, ActionLedger, ActionReport};
use itops_core::error::{Error, Result};
use itops_core::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TelemetryIndex,
    TelemetrySource, TimeRange,
};
use itops_core::word_enum;

/// Longest physics step, in seconds; scrape intervals are split into ticks no longer.
const MAX_TICK_S: f64 = 15.0;
/// How long before an exception burst shows the flag of its code path was turned on.
const FLAG_AGE: chrono::Duration = chrono::Duration::hours(1);

word_enum! {
    /// Which signals an export holds.
    pub enum SignalSet as "signal set" {
        /// Metrics, logs, traces and change events.
        Full = "full",
        /// Metrics, logs and change events; no tracing.
        NoTraces = "no_traces",
        /// Metrics only.
        MetricsOnly = "metrics_only",
    }
}

/// How the simulated system's telemetry is exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryProfile {
    /// Metric scrape interval, 10 to 300 seconds.
    pub sample_interval_s: u64,
    /// Metric names and units.
    pub metric_naming: MetricNaming,
    /// Which signals are exported.
    pub signals: SignalSet,
    /// Share of request-level log lines kept (errors are kept more).
    pub log_sampling: f64,
    /// Sampled traces per minute at the daily peak.
    pub traces_per_minute: f64,
}

impl Default for TelemetryProfile {
    fn default() -> Self {
        Self {
            sample_interval_s: 30,
            metric_naming: MetricNaming::Plain,
            signals: SignalSet::Full,
            log_sampling: 0.01,
            traces_per_minute: 60.0,
        }
    }
}

/// Everything that defines a simulated run besides its faults.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed: the same config and seed give the same telemetry.
    pub seed: u64,
    /// Simulated time at the start.
    pub start: DateTime<Utc>,
    /// The system.
    pub topology: Topology,
    /// How telemetry is exported.
    pub telemetry: TelemetryProfile,
    /// Noise level: 1.0 is normal; 0.5 quiet; 2.0 noisy.
    pub noise: f64,
}

impl SimConfig {
    /// The web shop with default export settings, starting 2024-03-12 10:00 UTC.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            start: Utc
                .with_ymd_and_hms(2024, 3, 12, 10, 0, 0)
                .single()
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            topology: Topology::web_shop(),
            telemetry: TelemetryProfile::default(),
            noise: 1.0,
        }
    }

    /// Sets the start time.
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = start;
        self
    }

    /// Sets the topology.
    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = topology;
        self
    }

    /// Sets the export profile.
    pub fn telemetry(mut self, telemetry: TelemetryProfile) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Sets the scrape interval, in seconds.
    pub fn sample_interval(mut self, seconds: u64) -> Self {
        self.telemetry.sample_interval_s = seconds;
        self
    }

    /// Sets which signals are exported.
    pub fn signals(mut self, signals: SignalSet) -> Self {
        self.telemetry.signals = signals;
        self
    }

    /// Sets the metric naming style.
    pub fn metric_naming(mut self, naming: MetricNaming) -> Self {
        self.telemetry.metric_naming = naming;
        self
    }

    /// Sets the noise level.
    pub fn noise(mut self, noise: f64) -> Self {
        self.noise = noise;
        self
    }
}

/// A fault as it was injected: the ground truth of a simulated incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InjectedFault {
    /// Position in the order of injection.
    pub id: usize,
    /// The kind.
    pub kind: FaultKind,
    /// The root service.
    pub service: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it stopped (by itself or cured), if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// Severity, 0 to 1.
    pub severity: f64,
    /// The specific form (`crash_loop`, `wrong_endpoint(...)`, ...), when it has one.
    pub variant: Option<String>,
    /// In words.
    pub description: String,
    /// The catalogue actions that cure it.
    pub curing_actions: Vec<String>,
    /// The action that cured it, if one did.
    pub cured_by: Option<String>,
}

/// The model's current view of one service (for tests and scenario building; agents see
/// telemetry instead).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceHealth {
    /// Requests/s reaching it.
    pub request_rate: f64,
    /// Share of requests failing.
    pub error_rate: f64,
    /// Median latency, ms (as callers see it).
    pub latency_p50_ms: f64,
    /// 99th percentile latency, ms (as callers see it).
    pub latency_p99_ms: f64,
    /// CPU cores per replica.
    pub cpu: f64,
    /// Memory per replica, MiB.
    pub memory_mb: f64,
    /// Replicas wanted.
    pub replicas: u32,
    /// Replicas serving.
    pub ready: f64,
    /// Pool connections in use / pool size.
    pub pool_utilization: Option<f64>,
    /// Disk used fraction.
    pub disk_used: Option<f64>,
    /// Whether callers can reach it.
    pub reachable: bool,
    /// Consumer lag, messages (queue consumers).
    pub consumer_lag: Option<f64>,
    /// Container restarts so far (OOM kills, crash loops).
    pub restarts: u64,
}

struct Inner {
    config: SimConfig,
    world: World,
    index: TelemetryIndex,
    sampler: MetricSampler,
    logs: LogEmitter,
    traces: TraceEmitter,
    tick_s: f64,
    ticks_per_sample: u32,
    ticks_in_sample: u32,
    /// Start of the next tick.
    tick_at: DateTime<Utc>,
    /// Simulated time advanced but not yet run (less than a tick).
    carry_s: f64,
    actions_rng: SimRng,
    events: bool,
}

/// A simulated microservice system: telemetry source and action executor.
pub struct SimEnvironment {
    inner: Mutex<Inner>,
    ledger: ActionLedger,
    catalogue: ActionCatalogue,
}

impl std::fmt::Debug for SimEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimEnvironment")
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

impl SimEnvironment {
    /// A system at `config.start`, healthy, with no telemetry yet.
    pub fn new(config: SimConfig) -> Result<Self> {
        let interval = config.telemetry.sample_interval_s;
        if !(10..=300).contains(&interval) {
            return Err(Error::invalid(
                "sample_interval_s",
                format!("must be 10 to 300 seconds, got {interval}"),
            ));
        }
        if !(config.noise >= 0.0 && config.noise <= 5.0) {
            return Err(Error::invalid(
                "noise",
                format!("must be 0 to 5, got {}", config.noise),
            ));
        }
        if !(0.0..=1.0).contains(&config.telemetry.log_sampling) {
            return Err(Error::invalid("log_sampling", "must be 0 to 1"));
        }
        let interval = interval as f64;
        let ticks_per_sample = (interval / MAX_TICK_S).ceil().max(1.0) as u32;
        let tick_s = interval / f64::from(ticks_per_sample);
        let seed = config.seed;
        let world = World::new(config.topology.clone(), seed, config.noise, config.start);
        let sampler = MetricSampler::new(
            config.topology.services(),
            config.telemetry.metric_naming,
            interval,
            config.noise,
            seed,
        );
        let logs = LogEmitter::new(&config.topology, config.telemetry.log_sampling, seed);
        let traces = TraceEmitter::new(&config.topology, config.telemetry.traces_per_minute, seed);
        let events = config.telemetry.signals != SignalSet::MetricsOnly;
        Ok(Self {
            inner: Mutex::new(Inner {
                tick_at: config.start,
                config,
                world,
                index: TelemetryIndex::new(),
                sampler,
                logs,
                traces,
                tick_s,
                ticks_per_sample,
                ticks_in_sample: 0,
                carry_s: 0.0,
                actions_rng: SimRng::derive(seed, "actions"),
                events,
            }),
            ledger: ActionLedger::new(),
            catalogue: ActionCatalogue::standard(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned simulator is still a consistent simulator: every tick completes or not.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        let inner = self.lock();
        inner.tick_at + chrono::Duration::milliseconds((inner.carry_s * 1000.0) as i64)
    }

    /// The length of one physics tick, in seconds.
    pub fn tick_seconds(&self) -> f64 {
        self.lock().tick_s
    }

    /// The system's topology.
    pub fn topology(&self) -> Topology {
        self.lock().config.topology.clone()
    }

    /// The configuration it was built with.
    pub fn config(&self) -> SimConfig {
        self.lock().config.clone()
    }

    /// Runs the simulation forward by `by`, generating telemetry.
    pub fn advance(&self, by: Duration) {
        let mut inner = self.lock();
        inner.carry_s += by.as_secs_f64();
        while inner.carry_s + 1e-9 >= inner.tick_s {
            inner.carry_s -= inner.tick_s;
            inner.run_tick();
        }
    }

    /// Runs the simulation until `at` (nothing when `at` is not in the future).
    pub fn advance_to(&self, at: DateTime<Utc>) {
        let now = self.now();
        if at > now {
            self.advance(itops_core::clock::elapsed_between(now, at));
        }
    }

    /// Schedules a fault; returns its id. A fault in the past starts at the next tick.
    pub fn inject(&self, fault: FaultSpec) -> Result<usize> {
        let mut inner = self.lock();
        let seed = inner.config.seed;
        let (service, spec) = resolve(&fault, &inner.world.topo, seed)?;
        let id = inner.world.faults.len();
        let fault_seed = mix(seed, &format!("fault/{id}/{}/{}", spec.kind, spec.service));
        if let (FaultKind::ExceptionBurst, Some(FaultVariant::FeatureFlag { flag })) =
            (spec.kind, &spec.variant)
        {
            // The failing path is behind a flag that has been on for a while: enabled
            // `FLAG_AGE` before the fault shows, on the change record where whoever looks
            // for the service's flags finds it.
            inner.world.state[service].flags.insert(flag.clone(), true);
            if inner.events {
                let name = inner.world.topo.services()[service].name.clone();
                inner.index.add_change(change(
                    spec.at - FLAG_AGE,
                    &name,
                    "flag",
                    format!("Feature flag '{flag}' enabled for 100% of traffic on {name}"),
                    None,
                    "launchdarkly".to_string(),
                ));
            }
        }
        inner.world.faults.push(ActiveFault {
            id,
            spec,
            service,
            started: None,
            cured: None,
            seed: fault_seed,
        });
        Ok(id)
    }

    /// Schedules unrelated activity (a harmless deploy, a noisy neighbour, ...).
    pub fn distract(&self, distraction: Distraction) -> Result<()> {
        let mut inner = self.lock();
        let s = inner.world.topo.index_of(&distraction.service)?;
        inner.world.distractions.push((distraction, s, false));
        Ok(())
    }

    /// What was injected, when, where, and whether something cured it.
    pub fn ground_truth(&self) -> Vec<InjectedFault> {
        let inner = self.lock();
        inner
            .world
            .faults
            .iter()
            .map(|f| {
                let spec = &inner.world.topo.services()[f.service];
                InjectedFault {
                    id: f.id,
                    kind: f.spec.kind,
                    service: f.spec.service.clone(),
                    started_at: f.spec.at,
                    ended_at: f.ended(),
                    severity: f.spec.severity,
                    variant: f.spec.variant.as_ref().map(variant_text),
                    description: describe(f),
                    curing_actions: curing_actions(f.spec.kind, f.spec.variant.as_ref(), spec)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                    cured_by: f.cured.as_ref().map(|(_, a)| a.clone()),
                }
            })
            .collect()
    }

    /// How many injected faults have started and not ended as of now.
    pub fn active_faults(&self) -> usize {
        let inner = self.lock();
        let now = inner.tick_at;
        inner
            .world
            .faults
            .iter()
            .filter(|f| f.spec.at <= now && f.ended().is_none_or(|end| end > now))
            .count()
    }

    /// The scheduled distractions.
    pub fn distractions(&self) -> Vec<Distraction> {
        self.lock()
            .world
            .distractions
            .iter()
            .map(|(d, _, _)| d.clone())
            .collect()
    }

    /// A service's feature flags and their states.
    pub fn feature_flags(&self, service: &str) -> Result<BTreeMap<String, bool>> {
        let inner = self.lock();
        let s = inner.world.topo.index_of(service)?;
        Ok(inner.world.state[s].flags.clone())
    }

    /// The deployed version of a service.
    pub fn version(&self, service: &str) -> Result<String> {
        let inner = self.lock();
        let s = inner.world.topo.index_of(service)?;
        Ok(inner.world.state[s].version.clone())
    }

    /// The model's current view of a service (from the last tick).
    pub fn health(&self, service: &str) -> Result<ServiceHealth> {
        let inner = self.lock();
        let s = inner.world.topo.index_of(service)?;
        let t = &inner.world.last[s];
        Ok(ServiceHealth {
            request_rate: t.arrived,
            error_rate: t.reported_err,
            latency_p50_ms: t.p50_ms + t.net_delay_ms,
            latency_p99_ms: t.p99_ms + t.net_delay_ms,
            cpu: t.cpu,
            memory_mb: t.memory_mb,
            replicas: t.replicas,
            ready: t.ready,
            pool_utilization: t.pool_util,
            disk_used: t.disk_used,
            reachable: t.down.is_none(),
            consumer_lag: t.lag,
            restarts: inner.world.state[s].restarts_total,
        })
    }

    /// Runs `f` on the telemetry produced so far. `f` runs under the simulator's lock: it
    /// must not call back into the simulator.
    pub fn with_index<R>(&self, f: impl FnOnce(&TelemetryIndex) -> R) -> R {
        f(&self.lock().index)
    }

    /// Lets `prune` drop telemetry from the index in place (a live system's retention
    /// window drops what is older than anyone reads, with [`TelemetryIndex::retain_since`]).
    /// `prune` runs under the simulator's lock: it must not call back into the simulator.
    pub fn retain_telemetry<R>(&self, prune: impl FnOnce(&mut TelemetryIndex) -> R) -> R {
        prune(&mut self.lock().index)
    }

    /// A copy of the telemetry produced so far.
    pub fn snapshot(&self) -> TelemetryIndex {
        self.lock().index.clone()
    }

    /// Writes the telemetry produced so far as a bundle directory.
    pub fn write_bundle(&self, dir: &Path) -> Result<()> {
        itops_core::telemetry::bundle::write_bundle(dir, &self.lock().index)
    }

    /// Executes an action now (the synchronous form of [`ActionExecutor::execute`]).
    pub fn execute_now(&self, action: &RemediationAction) -> Result<ActionReport> {
        // The simulator lock is held from the ledger check to the record, so two
        // concurrent executions of one action id apply it once.
        let mut inner = self.lock();
        if let Some(report) = self.ledger.get(&action.id) {
            return Ok(report);
        }
        let params = self.catalogue.validate(action)?;
        let inner = &mut *inner;
        let now = inner.tick_at + chrono::Duration::milliseconds((inner.carry_s * 1000.0) as i64);
        let applied = actions::apply(
            &mut inner.world,
            now,
            &action.target,
            &params,
            &mut inner.actions_rng,
        )?;
        if inner.events {
            for c in applied.changes {
                inner.index.add_change(c);
            }
        }
        let report = ActionReport {
            action_id: action.id,
            catalogue_id: action.catalogue_id.clone(),
            target: action.target.clone(),
            applied: applied.applied,
            at: now,
            detail: applied.detail,
        };
        Ok(self.ledger.record(report))
    }

    /// Every action executed so far.
    pub fn executed(&self) -> Vec<ActionReport> {
        self.ledger.reports()
    }
}

impl Inner {
    fn run_tick(&mut self) {
        let at = self.tick_at;
        let dt = self.tick_s;
        let step = self.world.step(at, dt);
        let n = step.ticks.len();
        let mut resets = vec![0u32; n];
        for h in &step.happenings {
            match h {
                Happening::Started { service, reason } if *reason != StartReason::ScaledOut => {
                    resets[*service] += 1
                }
                _ => {}
            }
        }
        for (s, t) in step.ticks.iter().enumerate() {
            self.sampler.add(s, t, dt, resets[s]);
        }
        self.ticks_in_sample += 1;
        let end = at + chrono::Duration::milliseconds((dt * 1000.0) as i64);
        if self.ticks_in_sample >= self.ticks_per_sample {
            self.ticks_in_sample = 0;
            let extra: Vec<(u64, f64, u32)> = self
                .world
                .topo
                .services()
                .iter()
                .zip(&self.world.state)
                .map(|(spec, st)| {
                    (
                        st.restarts_total,
                        spec.disk.as_ref().map_or(0.0, |d| d.capacity_gb),
                        st.pool_size,
                    )
                })
                .collect();
            self.sampler
                .emit(end, self.world.topo.services(), &extra, &mut self.index);
        }
        let signals = self.config.telemetry.signals;
        let ctx = LogContext {
            topo: &self.world.topo,
            state: &self.world.state,
            faults: &self.world.faults,
        };
        let mut logs: Vec<LogRecord> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        if signals != SignalSet::MetricsOnly {
            self.logs
                .tick(at, dt, &ctx, &step.ticks, &step.happenings, &mut logs);
        }
        if signals == SignalSet::Full {
            self.traces.tick(
                at,
                dt,
                &ctx,
                &step.ticks,
                &step.effects,
                &mut spans,
                &mut logs,
            );
        }
        logs.sort_by_key(|l| l.at);
        for l in logs {
            self.index.add_log(l);
        }
        spans.sort_by_key(|s| s.start);
        for s in spans {
            self.index.add_span(s);
        }
        if self.events {
            let mut changes = cluster_events(&self.world, at, &step.happenings);
            changes.sort_by_key(|c| c.at);
            for c in changes {
                self.index.add_change(c);
            }
        }
        self.tick_at = end;
    }
}

/// Change events for what happened in a tick: the changes themselves, plus what the
/// cluster reports (OOM kills, crash loops).
fn cluster_events(world: &World, at: DateTime<Utc>, happenings: &[Happening]) -> Vec<ChangeEvent> {
    let mut out = Vec::new();
    for h in happenings {
        match h {
            Happening::Change(c) => out.push(c.clone()),
            Happening::OomKilled { service, memory_mb } => {
                let spec = &world.topo.services()[*service];
                out.push(change(
                    at,
                    &spec.name,
                    "restart",
                    format!(
                        "Container {} OOMKilled (exit code 137, memory {:.0}Mi of {:.0}Mi limit); restarting",
                        spec.name, memory_mb, spec.memory_limit_mb
                    ),
                    None,
                    "kubelet".into(),
                ));
            }
            Happening::CrashLoop { service, backoff_s } => {
                let spec = &world.topo.services()[*service];
                out.push(change(
                    at,
                    &spec.name,
                    "restart",
                    format!(
                        "Back-off restarting failed container {} (CrashLoopBackOff, next attempt in {backoff_s:.0}s)",
                        spec.name
                    ),
                    None,
                    "kubelet".into(),
                ));
            }
            Happening::Started { .. } => {}
        }
    }
    out
}

fn variant_text(v: &FaultVariant) -> String {
    match v {
        FaultVariant::CrashLoop => "crash_loop".into(),
        FaultVariant::Partition => "partition".into(),
        FaultVariant::PacketLoss => "packet_loss".into(),
        FaultVariant::WrongEndpoint { dependency } => format!("wrong_endpoint({dependency})"),
        FaultVariant::TimeoutTooLow { dependency } => format!("timeout_too_low({dependency})"),
        FaultVariant::WorkerLimit => "worker_limit".into(),
        FaultVariant::FeatureFlag { flag } => format!("feature_flag({flag})"),
        FaultVariant::CredentialStuffing => "credential_stuffing".into(),
    }
}

fn describe(f: &ActiveFault) -> String {
    let s = &f.spec.service;
    let sev = f.spec.severity;
    match (f.spec.kind, &f.spec.variant) {
        (FaultKind::CpuContention, _) => format!("CPU contention on {s}: a co-located process takes CPU; capacity drops and requests queue"),
        (FaultKind::MemoryLeak, _) => format!("memory leak in {s}: every replica grows until the OOM killer restarts it (~{:.0} min to the limit)", 25.0 - 18.0 * sev),
        (FaultKind::ExceptionBurst, Some(FaultVariant::FeatureFlag { flag })) => format!("bursts of exceptions in {s} from the code path behind flag '{flag}'"),
        (FaultKind::ExceptionBurst, _) => format!("bursts of exceptions in {s}"),
        (FaultKind::WrongReturnValue, _) => format!("{s} returns wrong values (served from a poisoned cache); its callers fail validating them"),
        (FaultKind::NetworkDelay, Some(FaultVariant::PacketLoss)) => format!("network delay (~{:.0} ms) and packet loss on {s}'s interface", 30.0 + 270.0 * sev),
        (FaultKind::NetworkDelay, _) => format!("network delay (~{:.0} ms) on {s}'s interface", 30.0 + 270.0 * sev),
        (FaultKind::DependencyDown, Some(FaultVariant::Partition)) => format!("{s} is unreachable (network partition): callers time out"),
        (FaultKind::DependencyDown, _) => format!("{s} is down: its process exits on start (CrashLoopBackOff); callers get connection refused"),
        (FaultKind::ConnectionPoolExhaustion, _) => format!("{s} leaks database connections (a code path never returns them); each replica's pool drains and requests time out waiting"),
        (FaultKind::DiskFull, _) => format!("{s}'s disk fills up; writes fail once it is full"),
        (FaultKind::BadDeploy, _) => format!("a new version of {s} throws on part of its requests and is slower"),
        (FaultKind::ConfigError, Some(FaultVariant::WrongEndpoint { dependency })) => format!("a configuration change on {s} points its {dependency} client at a wrong address"),
        (FaultKind::ConfigError, Some(FaultVariant::TimeoutTooLow { dependency })) => format!("a configuration change on {s} sets its {dependency} client timeout far too low"),
        (FaultKind::ConfigError, Some(FaultVariant::WorkerLimit)) => format!("a configuration change on {s} sets its worker/thread limit far too low"),
        (FaultKind::ConfigError, Some(FaultVariant::FeatureFlag { flag })) => format!("flag '{flag}' enabled on {s} turns on a failing code path"),
        (FaultKind::ConfigError, _) => format!("a bad configuration change on {s}"),
        (FaultKind::TrafficSpike, Some(FaultVariant::CredentialStuffing)) => format!("credential-stuffing attack on {s}: a flood of costly login attempts"),
        (FaultKind::TrafficSpike, _) => format!("traffic spike on {s}: more requests than it has capacity for"),
        (FaultKind::Unknown, _) => format!("unknown fault on {s}"),
    }
}

#[async_trait]
impl TelemetrySource for SimEnvironment {
    async fn services(&self) -> Result<Vec<String>> {
        Ok(self.lock().index.services())
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Ok(self.lock().index.time_bounds())
    }

    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        Ok(self.lock().index.metrics(query))
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(self.lock().index.logs(query))
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        Ok(self.lock().index.spans(query))
    }

    async fn changes(&self, range: TimeRange, service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(self.lock().index.changes(range, service))
    }
}

#[async_trait]
impl ActionExecutor for SimEnvironment {
    async fn execute(&self, action: &RemediationAction) -> Result<ActionReport> {
        self.execute_now(action)
    }
}

impl Clock for SimEnvironment {
    fn now(&self) -> DateTime<Utc> {
        SimEnvironment::now(self)
    }
}
