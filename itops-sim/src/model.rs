//! The system model: per-service state and the physics of one tick.
//!
//! A tick runs two passes over the call graph. Top-down (callers first) it works out how
//! many requests each service is offered: the entry's load, fan-out per call edge, retries
//! of calls that failed in the previous tick, and queue consumption. Bottom-up (callees
//! first) it works out what each service does with them: queueing delay from CPU
//! utilisation, downstream latency capped by client timeouts, timeouts and errors (with
//! retries), connection-pool waits, worker (thread) saturation and shedding. Faults only
//! change a service's local state; what callers see emerges from these two passes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::faults::{ActiveFault, BrokenCall, Calibration, DownMode, Effects, FaultVariant};
use super::load::LoadModel;
use super::noise::Distraction;
use super::rng::{normal_cdf, SimRng};
use super::topology::{Runtime, ServiceSpec, Topology};
use itops_core::domain::FaultKind;

/// Z-score of the 99th percentile of a normal distribution.
const Z99: f64 = 2.326;
/// Utilisation above which a queue no longer drains and work is shed.
const SATURATED: f64 = 0.97;

/// How a call failed, as the caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallFailure {
    /// No answer within the client timeout.
    Timeout,
    /// Connection refused.
    Refused,
    /// The name does not resolve (wrong address in configuration).
    Unresolvable,
    /// The callee answered with a server error.
    ServerError,
    /// The callee is overloaded and rejected the request (503 / 429).
    Rejected,
    /// The connection was reset (packet loss).
    Reset,
    /// The answer was successful but invalid.
    BadResponse,
}

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The normal trickle of failures every service has.
    Background,
    /// An exception in the service's own code.
    Code,
    /// A call to another service failed.
    Call(usize, CallFailure),
    /// No pooled connection became free in time.
    PoolTimeout,
    /// A write hit a full disk.
    DiskFull,
    /// Rejected because the service is saturated.
    Overload,
    /// In flight on a replica that was killed.
    Restart,
}

/// One outgoing call edge during a tick.
#[derive(Clone, Debug)]
pub(crate) struct CallStat {
    pub(crate) to: usize,
    /// Failure probability of one attempt.
    pub(crate) attempt_fail: f64,
    /// Failure probability after retries.
    pub(crate) fail: f64,
    /// The dominant way it fails.
    pub(crate) how: CallFailure,
    /// Whether failures are absorbed by a fallback.
    pub(crate) fallback: bool,
}

/// What one service did during one tick.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServiceTick {
    /// Requests/s sent to it (including retries).
    pub(crate) offered: f64,
    /// Requests/s that reached it.
    pub(crate) arrived: f64,
    /// Share of arrived requests failing with a server error.
    pub(crate) err: f64,
    /// Extra failure share for writes (full disk on a data store).
    pub(crate) write_err: f64,
    /// Share of arrived requests failing, writes included (what its metrics show).
    pub(crate) reported_err: f64,
    /// Share of arrived requests rejected as client errors (4xx).
    pub(crate) rejected: f64,
    /// Median latency, server side, in ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, server side, in ms.
    pub(crate) p99_ms: f64,
    /// Own processing time median, in ms.
    pub(crate) own_p50_ms: f64,
    /// Own processing time log-sigma.
    pub(crate) own_sigma: f64,
    /// CPU utilisation of the service's capacity.
    pub(crate) rho: f64,
    /// CPU cores used per running replica.
    pub(crate) cpu: f64,
    /// Resident memory per running replica, MiB.
    pub(crate) memory_mb: f64,
    /// Replicas serving.
    pub(crate) ready: f64,
    /// Replicas desired.
    pub(crate) replicas: u32,
    /// Busy workers / worker limit.
    pub(crate) workers_busy: f64,
    /// Pool connections in use / pool size, for services with a pool.
    pub(crate) pool_util: Option<f64>,
    /// Pool connections in use per replica.
    pub(crate) pool_active: f64,
    /// Requests waiting for a pooled connection per replica.
    pub(crate) pool_pending: f64,
    /// Share of requests failing for lack of a connection.
    pub(crate) pool_fail: f64,
    /// Disk used fraction, for services with a disk.
    pub(crate) disk_used: Option<f64>,
    /// Consumer lag (messages), for queue consumers.
    pub(crate) lag: Option<f64>,
    /// Client connections, for data stores.
    pub(crate) connections: Option<f64>,
    /// Share of time in garbage collection (JVM).
    pub(crate) gc: Option<f64>,
    /// Unreachable, and how.
    pub(crate) down: Option<DownMode>,
    /// Restarting in a loop.
    pub(crate) crash_loop: bool,
    /// Share of responses that are wrong.
    pub(crate) wrong_values: f64,
    /// Network delay on its interface, ms.
    pub(crate) net_delay_ms: f64,
    /// What the failures are made of: (cause, share of arrived requests).
    pub(crate) causes: Vec<(Cause, f64)>,
    /// Outgoing calls.
    pub(crate) calls: Vec<CallStat>,
    /// The fault whose code path fails, if any.
    pub(crate) code_fault: Option<usize>,
    /// Multiplier on normal info-log volume.
    pub(crate) info_log_factor: f64,
    /// Share of requests shed before doing any work.
    pub(crate) early_fail: f64,
    /// Replicas killed this tick.
    pub(crate) killed: u32,
}

/// A replica (pod) of a service.
#[derive(Clone, Debug)]
pub(crate) struct Replica {
    /// Memory leaked so far, MiB.
    pub(crate) leaked_mb: f64,
    /// Seconds until it is ready again (0 when serving).
    pub(crate) down_s: f64,
    /// Personal leak speed multiplier.
    pub(crate) leak_jitter: f64,
    /// Memory right after start, relative to steady state.
    pub(crate) warmth: f64,
    /// Share of its connection pool leaked (held and never returned).
    pub(crate) leaked_conns: f64,
}

impl Replica {
    /// A replica starting now: cold, not ready for `startup` seconds.
    pub(crate) fn starting(startup: f64, leak_jitter: f64) -> Self {
        Self {
            leaked_mb: 0.0,
            down_s: startup,
            leak_jitter,
            warmth: 0.5,
            leaked_conns: 0.0,
        }
    }

    /// Restarts the process: in-process state (leaked memory, leaked connections) is gone.
    pub(crate) fn restart(&mut self, down_s: f64, warmth: f64) {
        self.down_s = down_s;
        self.leaked_mb = 0.0;
        self.leaked_conns = 0.0;
        self.warmth = warmth;
    }
}

/// A rolling restart in progress.
#[derive(Clone, Debug)]
pub(crate) struct Rolling {
    pub(crate) next: usize,
    pub(crate) current: Option<usize>,
    pub(crate) reason: StartReason,
}

/// Why a replica (re)started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartReason {
    /// A rolling deploy or restart.
    Rollout,
    /// Killed for exceeding its memory limit.
    OomKilled,
    /// The process exited on start and was restarted.
    CrashLoop,
    /// A new replica from scaling out.
    ScaledOut,
}

/// The changing state of one service.
#[derive(Clone, Debug)]
pub(crate) struct ServiceState {
    pub(crate) replicas: Vec<Replica>,
    pub(crate) pool_size: u32,
    pub(crate) disk_used: f64,
    pub(crate) version: String,
    pub(crate) previous_versions: Vec<String>,
    pub(crate) flags: BTreeMap<String, bool>,
    pub(crate) restarts_total: u64,
    pub(crate) rolling: Option<Rolling>,
    /// Messages waiting (queues).
    pub(crate) backlog: f64,
    /// 1 right after a cache clear, decaying to 0.
    pub(crate) cache_cold: f64,
    /// Seconds until the next crash-loop restart, and the current back-off.
    pub(crate) crash_timer: f64,
    pub(crate) crash_backoff: f64,
    /// Seconds of connection resets left after a failover.
    pub(crate) failover_blip: f64,
}

impl ServiceState {
    fn new(spec: &ServiceSpec, rng: &mut SimRng) -> Self {
        let replicas = (0..spec.replicas)
            .map(|_| Replica {
                down_s: 0.0,
                warmth: 1.0,
                ..Replica::starting(0.0, rng.range(0.85, 1.15))
            })
            .collect();
        Self {
            replicas,
            pool_size: spec.pool.as_ref().map_or(0, |p| p.size),
            disk_used: spec.disk.as_ref().map_or(0.0, |d| d.used_fraction),
            version: spec.version.clone(),
            previous_versions: Vec::new(),
            flags: spec.flags.iter().map(|f| (f.clone(), false)).collect(),
            restarts_total: 0,
            rolling: None,
            backlog: 0.0,
            cache_cold: 0.0,
            crash_timer: 0.0,
            crash_backoff: 10.0,
            failover_blip: 0.0,
        }
    }

    pub(crate) fn ready(&self) -> usize {
        self.replicas.iter().filter(|r| r.down_s <= 0.0).count()
    }
}

/// Something that happened during a tick that logs and change events report.
#[derive(Clone, Debug)]
pub(crate) enum Happening {
    /// A replica started (after a restart, rollout, scale-out or crash).
    Started { service: usize, reason: StartReason },
    /// A replica was killed for its memory.
    OomKilled { service: usize, memory_mb: f64 },
    /// The process crashed on start; Kubernetes backs off.
    CrashLoop { service: usize, backoff_s: f64 },
    /// A change event, emitted as is.
    Change(itops_core::telemetry::ChangeEvent),
}

/// The outcome of one tick.
pub(crate) struct Step {
    pub(crate) ticks: Vec<ServiceTick>,
    pub(crate) happenings: Vec<Happening>,
    pub(crate) effects: Vec<Effects>,
}

/// Startup time of a replica, by runtime.
pub(crate) fn startup_seconds(runtime: Runtime) -> f64 {
    match runtime {
        Runtime::Java => 35.0,
        Runtime::Go => 4.0,
        Runtime::Python => 10.0,
        Runtime::Node => 6.0,
        Runtime::Postgres => 20.0,
        Runtime::Redis => 3.0,
        Runtime::Kafka => 30.0,
    }
}

/// The whole simulated system.
#[derive(Clone, Debug)]
pub(crate) struct World {
    pub(crate) topo: Topology,
    pub(crate) state: Vec<ServiceState>,
    pub(crate) faults: Vec<ActiveFault>,
    pub(crate) distractions: Vec<(Distraction, usize, bool)>,
    pub(crate) last: Vec<ServiceTick>,
    pub(crate) load: LoadModel,
    pub(crate) seed: u64,
    rng: SimRng,
}

impl World {
    pub(crate) fn new(topo: Topology, seed: u64, noise: f64, start: DateTime<Utc>) -> Self {
        let mut rng = SimRng::derive(seed, "world");
        let state = topo
            .services()
            .iter()
            .map(|s| ServiceState::new(s, &mut rng))
            .collect();
        let load = LoadModel::new(topo.peak_rps(), noise, seed);
        let n = topo.services().len();
        let mut world = Self {
            topo,
            state,
            faults: Vec::new(),
            distractions: Vec::new(),
            last: vec![ServiceTick::default(); n],
            load,
            seed,
            rng,
        };
        // Two silent warm-up ticks give the rate pass its "previous tick" and fill queues.
        for _ in 0..2 {
            let _ = world.step(start - chrono::Duration::seconds(15), 15.0);
        }
        world
    }

    /// Runs one tick of `dt` seconds starting at `at`.
    pub(crate) fn step(&mut self, at: DateTime<Utc>, dt: f64) -> Step {
        let n = self.topo.services().len();
        let mut happenings = Vec::new();
        let effects = self.effects(at, &mut happenings);
        let killed = self.lifecycle(dt, &effects, &mut happenings);
        let (offered, lag) = self.rates(at, dt, &effects);
        let mut ticks: Vec<ServiceTick> = vec![ServiceTick::default(); n];
        let order: Vec<usize> = self.topo.order.iter().rev().copied().collect();
        for s in order {
            let mut tick = self.serve(s, offered[s], &effects, &ticks, killed[s]);
            tick.killed = killed[s];
            tick.lag = lag[s];
            ticks[s] = tick;
        }
        self.connections(&mut ticks);
        self.last = ticks.clone();
        Step {
            ticks,
            happenings,
            effects,
        }
    }

    /// Every fault and distraction's effect on its service at `at`.
    fn effects(&mut self, at: DateTime<Utc>, happenings: &mut Vec<Happening>) -> Vec<Effects> {
        let n = self.topo.services().len();
        let mut effects = vec![Effects::default(); n];
        for i in 0..self.faults.len() {
            if !self.faults[i].is_active(at) {
                continue;
            }
            if self.faults[i].started.is_none() {
                let cal = self.calibrate(i, at, happenings);
                self.faults[i].started = Some(cal);
            }
            let f = &self.faults[i];
            if let Some(cal) = &f.started {
                let spec = &self.topo.services()[f.service];
                f.apply(at, cal, spec, &mut effects[f.service]);
            }
        }
        for (d, s, announced) in &mut self.distractions {
            if at < d.at {
                continue;
            }
            if !*announced {
                *announced = true;
                if let Some(h) =
                    distraction_start(d, *s, &self.topo, &mut self.state, &mut self.rng)
                {
                    happenings.push(h);
                }
            }
            let spec = &self.topo.services()[*s];
            let seed = super::rng::mix(self.seed, &d.service);
            d.apply(at, seed, spec.cpu_limit, &mut effects[*s]);
        }
        effects
    }

    /// Fixes a fault's load-dependent amounts from the state just before it starts, and
    /// makes the changes that come with it (a deploy, a config change, a flag flip).
    fn calibrate(
        &mut self,
        i: usize,
        at: DateTime<Utc>,
        happenings: &mut Vec<Happening>,
    ) -> Calibration {
        let f = self.faults[i].clone();
        let s = f.service;
        let spec = self.topo.services()[s].clone();
        let last = self.last[s].clone();
        let sev = f.spec.severity;
        let mut cal = Calibration::default();
        let mut rng = SimRng::derive(f.seed, "calibrate");
        match f.spec.kind {
            FaultKind::CpuContention => {
                let target = 0.8 + 0.45 * sev;
                cal.amount = (last.rho.max(1e-4) / target).clamp(0.002, 0.9);
            }
            FaultKind::TrafficSpike => {
                let target = 0.9 + 0.5 * sev;
                let capacity = last.ready.max(1.0) * spec.capacity_rps;
                let cost = if f.spec.variant == Some(FaultVariant::CredentialStuffing) {
                    6.0
                } else {
                    1.0
                };
                cal.amount = ((target * capacity - last.offered).max(0.3 * last.offered)) / cost;
            }
            FaultKind::BadDeploy => {
                let st = &mut self.state[s];
                let new_version = bump_version(&st.version, &mut rng);
                let old = std::mem::replace(&mut st.version, new_version.clone());
                st.previous_versions.push(old.clone());
                st.rolling = Some(Rolling {
                    next: 0,
                    current: None,
                    reason: StartReason::Rollout,
                });
                happenings.push(Happening::Change(change(
                    at,
                    &spec.name,
                    "deploy",
                    format!(
                        "Deployed {} {new_version} (was {old}): rolling update",
                        spec.name
                    ),
                    Some(new_version),
                    deploy_actor(&mut rng),
                )));
            }
            FaultKind::ConfigError => {
                match &f.spec.variant {
                    Some(FaultVariant::WrongEndpoint { dependency })
                    | Some(FaultVariant::TimeoutTooLow { dependency }) => {
                        if let Ok(c) = self.topo.index_of(dependency) {
                            cal.callee = Some(c);
                            cal.timeout_ms =
                                (self.last[c].p50_ms * 1.05 + self.last[c].net_delay_ms).max(1.0);
                        }
                    }
                    Some(FaultVariant::WorkerLimit) => {
                        let busy = last.workers_busy.max(1e-4);
                        let one_worker = 1.0 / f64::from(spec.workers.max(1));
                        cal.amount = (busy / (1.4 + sev)).clamp(one_worker, 0.5);
                    }
                    _ => {}
                }
                let (kind, description) =
                    config_change_text(&spec, &f.spec.variant, &cal, &mut rng);
                if let Some(FaultVariant::FeatureFlag { flag }) = &f.spec.variant {
                    self.state[s].flags.insert(flag.clone(), true);
                }
                happenings.push(Happening::Change(change(
                    at,
                    &spec.name,
                    kind,
                    description,
                    None,
                    deploy_actor(&mut rng),
                )));
            }
            _ => {}
        }
        cal
    }

    /// Replica restarts, rollouts, crash loops, memory, disk, caches.
    /// Returns how many replicas of each service were killed during the tick.
    fn lifecycle(
        &mut self,
        dt: f64,
        effects: &[Effects],
        happenings: &mut Vec<Happening>,
    ) -> Vec<u32> {
        let mut killed = vec![0u32; self.state.len()];
        for s in 0..self.state.len() {
            let spec = self.topo.services()[s].clone();
            let e = &effects[s];
            let startup = startup_seconds(spec.runtime);
            let st = &mut self.state[s];
            if e.crash_loop {
                for r in &mut st.replicas {
                    let down = r.down_s.max(dt + 1.0);
                    r.restart(down, 0.3);
                }
                st.crash_timer -= dt;
                if st.crash_timer <= 0.0 {
                    st.restarts_total += st.replicas.len() as u64;
                    happenings.push(Happening::CrashLoop {
                        service: s,
                        backoff_s: st.crash_backoff,
                    });
                    st.crash_timer = st.crash_backoff;
                    st.crash_backoff = (st.crash_backoff * 2.0).min(300.0);
                }
                continue;
            } else if st.crash_backoff > 10.0 {
                // The crash loop is over: every replica starts.
                st.crash_backoff = 10.0;
                st.crash_timer = 0.0;
                for r in &mut st.replicas {
                    r.down_s = startup;
                }
            }
            for r in st.replicas.iter_mut() {
                if r.down_s > 0.0 {
                    r.down_s -= dt;
                    if r.down_s <= 0.0 {
                        r.down_s = 0.0;
                        let reason = st
                            .rolling
                            .as_ref()
                            .map_or(StartReason::OomKilled, |ro| ro.reason);
                        happenings.push(Happening::Started { service: s, reason });
                    }
                }
            }
            // Rolling restart: one replica at a time.
            if let Some(ro) = &mut st.rolling {
                let busy = ro
                    .current
                    .is_some_and(|c| st.replicas.get(c).is_some_and(|r| r.down_s > 0.0));
                if !busy {
                    if ro.next < st.replicas.len() {
                        let idx = ro.next;
                        ro.current = Some(idx);
                        ro.next += 1;
                        if let Some(r) = st.replicas.get_mut(idx) {
                            r.restart(startup, 0.6);
                        }
                    } else {
                        st.rolling = None;
                    }
                }
            }
            // Memory: warm-up after start, leaks, the OOM killer.
            for r in st.replicas.iter_mut() {
                r.warmth += (1.0 - r.warmth) * (dt / 240.0).min(1.0);
                if r.down_s <= 0.0 {
                    r.leaked_mb += e.leak_mb_s * r.leak_jitter * dt;
                    r.leaked_conns = (r.leaked_conns + e.pool_leak_s * r.leak_jitter * dt).min(1.0);
                    let mem = spec.memory_mb * r.warmth + r.leaked_mb;
                    if mem >= spec.memory_limit_mb {
                        happenings.push(Happening::OomKilled {
                            service: s,
                            memory_mb: mem,
                        });
                        r.restart(startup + 5.0, 0.5);
                        st.restarts_total += 1;
                        killed[s] += 1;
                    }
                }
            }
            if let Some(d) = &spec.disk {
                // Slow organic growth plus whatever the fault writes.
                st.disk_used = (st.disk_used
                    + dt * (0.0015 / 3600.0) * (1.0 - d.used_fraction)
                    + e.disk_fill_s * dt)
                    .min(1.0);
            }
            st.cache_cold *= (-dt / 150.0).exp();
            st.failover_blip = (st.failover_blip - dt).max(0.0);
        }
        killed
    }

    /// Top-down pass: requests/s offered to every service; consumer lag for workers.
    fn rates(
        &mut self,
        at: DateTime<Utc>,
        dt: f64,
        effects: &[Effects],
    ) -> (Vec<f64>, Vec<Option<f64>>) {
        let n = self.topo.services().len();
        let mut offered = vec![0.0; n];
        let mut lag = vec![None; n];
        offered[self.topo.entry] = self.load.rate(at, dt);
        for &s in &self.topo.order.clone() {
            if let Some(q) = self.topo.consumer_of[s] {
                // Messages the queue accepted, consumed as fast as the workers can.
                let accepted =
                    offered[q] * (1.0 - self.last[q].err - self.last[q].write_err).max(0.0);
                let st = &self.state[s];
                let spec = &self.topo.services()[s];
                let ready = st.ready() as f64;
                let e = &effects[s];
                let cpu_cap = ready * spec.capacity_rps * e.cap_factor;
                let latency_s = (self.last[s].p50_ms / 1000.0).max(0.001);
                let worker_cap = ready * f64::from(spec.workers) * e.worker_factor / latency_s;
                let capacity = cpu_cap.min(worker_cap) * 0.97;
                let backlog = self.state[q].backlog + accepted * dt;
                let consume = capacity.min(backlog / dt).max(0.0);
                let done = consume * (1.0 - self.last[s].err).max(0.0);
                self.state[q].backlog = (backlog - done * dt).max(0.0);
                offered[s] = consume;
                lag[s] = Some(self.state[q].backlog);
            }
            let e = &effects[s];
            offered[s] += e.extra_rps;
            let last = &self.last[s];
            let down = e.down.is_some() || self.state[s].ready() == 0 || e.crash_loop;
            let out = if down {
                0.0
            } else {
                offered[s] * (1.0 - last.early_fail).max(0.0)
            };
            let cold = self.state[s].cache_cold;
            for (k, edge) in self.topo.edges[s].iter().enumerate() {
                if let Some((c, BrokenCall::WrongEndpoint)) = e.broken_call {
                    if c == edge.to {
                        continue;
                    }
                }
                let attempt_fail = last.calls.get(k).map_or(0.0, |c| c.attempt_fail);
                let attempts = 1.0 + f64::from(edge.retries) * attempt_fail;
                let mut per = edge.per_request;
                if cold > 0.0
                    && self.topo.services()[edge.to].kind == super::topology::ServiceKind::Database
                {
                    per *= 1.0 + 4.0 * cold;
                }
                offered[edge.to] += out * per * attempts;
            }
        }
        (offered, lag)
    }

    /// Bottom-up pass for one service: what it does with what it was offered.
    fn serve(
        &self,
        s: usize,
        offered: f64,
        effects: &[Effects],
        ticks: &[ServiceTick],
        killed: u32,
    ) -> ServiceTick {
        let spec = &self.topo.services()[s];
        let st = &self.state[s];
        let e = &effects[s];
        let ready = if e.crash_loop { 0.0 } else { st.ready() as f64 };
        let mut t = ServiceTick {
            offered,
            replicas: st.replicas.len() as u32,
            ready,
            net_delay_ms: e.net_delay_ms,
            crash_loop: e.crash_loop,
            info_log_factor: e.info_log_factor,
            code_fault: e.code_fault,
            wrong_values: e.wrong_values,
            disk_used: spec.disk.as_ref().map(|_| st.disk_used),
            gc: (spec.runtime == Runtime::Java).then_some(0.0),
            ..ServiceTick::default()
        };
        let running: Vec<&Replica> = st.replicas.iter().filter(|r| r.down_s <= 0.0).collect();
        t.memory_mb = if running.is_empty() {
            spec.memory_mb * 0.15
        } else {
            running
                .iter()
                .map(|r| spec.memory_mb * r.warmth + r.leaked_mb)
                .sum::<f64>()
                / running.len() as f64
        };
        t.down = if e.crash_loop || ready <= 0.0 {
            Some(DownMode::Refused)
        } else {
            e.down
        };
        if t.down.is_some() {
            t.err = 1.0;
            t.reported_err = 1.0;
            t.early_fail = 1.0;
            t.cpu = spec.cpu_idle * if e.crash_loop { 2.0 } else { 1.0 };
            t.pool_util = spec.pool.as_ref().map(|_| 0.0);
            t.p50_ms = 0.0;
            t.p99_ms = 0.0;
            return t;
        }
        t.arrived = offered;

        // CPU and queueing.
        let capacity = ready * spec.capacity_rps * e.cap_factor;
        let load = offered + e.extra_rps * (e.extra_cost - 1.0);
        let rho = load / capacity.max(1e-9);
        t.rho = rho;
        let rho_c = rho.min(SATURATED);
        let queueing = 1.0 + 0.35 * rho_c / (1.0 - rho_c);
        let shed_cpu = if rho > SATURATED {
            1.0 - SATURATED / rho
        } else {
            0.0
        };
        let mem_frac = t.memory_mb / spec.memory_limit_mb;
        // Close to the memory limit, garbage collection eats CPU and stalls requests; most
        // in a JVM, less in Go, Node and Python.
        let gc_weight = match spec.runtime {
            Runtime::Java => 1.0,
            Runtime::Go => 0.45,
            Runtime::Node | Runtime::Python => 0.3,
            _ => 0.0,
        };
        let gc_pressure = if mem_frac > 0.75 {
            gc_weight * ((mem_frac - 0.75) / 0.25).min(1.0).powi(2)
        } else {
            0.0
        };
        let cold = 1.0 + 0.5 * st.cache_cold;
        let own_p50 =
            spec.latency_ms * queueing * e.latency_factor * (1.0 + 3.0 * gc_pressure) * cold;
        let own_sigma = (spec.latency_spread.ln() / Z99) * (1.0 + 0.4 * rho_c);
        t.own_p50_ms = own_p50;
        t.own_sigma = own_sigma;

        // Outgoing calls.
        let mut calls50 = 0.0;
        let mut tail = 0.0_f64;
        let mut fails: Vec<(Cause, f64)> = Vec::new();
        for edge in &self.topo.edges[s] {
            let c = &ticks[edge.to];
            let ce = &effects[edge.to];
            let mut timeout = edge.timeout_ms;
            let mut wrong_endpoint = false;
            if let Some((callee, how)) = e.broken_call {
                if callee == edge.to {
                    match how {
                        BrokenCall::WrongEndpoint => wrong_endpoint = true,
                        BrokenCall::Timeout(ms) => timeout = ms,
                    }
                }
            }
            let net = 0.3 + e.net_delay_ms + ce.net_delay_ms;
            let loss = e.loss
                + ce.loss
                + if self.state[edge.to].failover_blip > 0.0 {
                    0.05
                } else {
                    0.0
                };
            let retries = f64::from(edge.retries);
            let (attempt_fail, how, lat50, lat99, wrong) = if wrong_endpoint {
                (1.0, CallFailure::Unresolvable, 2.0, 5.0, 0.0)
            } else if c.down == Some(DownMode::Refused) {
                (1.0, CallFailure::Refused, 1.0 + net, 3.0 + net, 0.0)
            } else if c.down == Some(DownMode::Unreachable) {
                (1.0, CallFailure::Timeout, timeout, timeout, 0.0)
            } else {
                let m = (c.p50_ms + net).max(0.05);
                let m99 = (c.p99_ms + net).max(m * 1.01);
                let sig = ((m99 / m).ln() / Z99).max(0.05);
                let p_timeout = 1.0 - normal_cdf((timeout.ln() - m.ln()) / sig);
                let srv = (c.err + c.write_err * edge.write_share).min(1.0);
                let f1 = 1.0 - (1.0 - srv) * (1.0 - p_timeout) * (1.0 - loss.min(1.0));
                let how = if p_timeout >= srv && p_timeout >= loss {
                    CallFailure::Timeout
                } else if loss > srv {
                    CallFailure::Reset
                } else if c
                    .causes
                    .iter()
                    .any(|(k, v)| *k == Cause::Overload && *v > srv * 0.5)
                {
                    CallFailure::Rejected
                } else {
                    CallFailure::ServerError
                };
                let l50 = m.min(timeout);
                let l99 = if p_timeout > 0.01 {
                    timeout
                } else {
                    m99.min(timeout)
                };
                (f1, how, l50, l99, c.wrong_values)
            };
            let after_retries = attempt_fail.powf(1.0 + retries);
            let call_fail = 1.0 - (1.0 - after_retries) * (1.0 - wrong);
            let how = if wrong > after_retries {
                CallFailure::BadResponse
            } else {
                how
            };
            let n = edge.per_request;
            let per_request = |p: f64| {
                if n >= 1.0 {
                    1.0 - (1.0 - p).powf(n)
                } else {
                    n * p
                }
            };
            // A fallback covers failed calls, not answers that look fine and are wrong.
            let per_request_fail = if edge.fallback {
                per_request(wrong)
            } else {
                per_request(call_fail)
            };
            // Retries cost time: each failed attempt waits (up to the timeout) before the next.
            let retry_time = retries
                * attempt_fail
                * lat50.max(if how == CallFailure::Timeout {
                    timeout
                } else {
                    lat50
                });
            calls50 += n * (lat50 + retry_time);
            tail = tail.max(lat99 * (1.0 + retries * attempt_fail) - lat50);
            t.calls.push(CallStat {
                to: edge.to,
                attempt_fail,
                fail: call_fail,
                how,
                fallback: edge.fallback,
            });
            if per_request_fail > 0.0 {
                let how = if edge.fallback {
                    CallFailure::BadResponse
                } else {
                    how
                };
                fails.push((Cause::Call(edge.to, how), per_request_fail));
            }
        }

        // Connection pool: a request holds a connection for the whole request.
        let mut wait50 = 0.0;
        let mut wait99 = 0.0;
        let mut pool_fail = 0.0;
        if let Some(pool) = &spec.pool {
            // Per replica: what its requests need (Little's law) against what is not leaked.
            let hold_s = (own_p50 + calls50) / 1000.0;
            let demand = offered / ready * hold_s;
            let size = f64::from(st.pool_size.max(1));
            let (mut active, mut pending, mut n) = (0.0, 0.0, 0.0);
            for r in st.replicas.iter().filter(|r| r.down_s <= 0.0) {
                let leaked = size * r.leaked_conns;
                let free = (size - leaked).max(1e-3);
                let u = demand / free;
                if u > 1.0 {
                    pool_fail += 1.0 - 1.0 / u;
                    wait50 += pool.timeout_ms * ((u - 1.0) * 1.5).min(1.0);
                    wait99 = pool.timeout_ms;
                } else if u > 0.8 {
                    wait50 += own_p50 * (u - 0.8) * 5.0;
                    wait99 = f64::max(wait99, own_p50 * (u - 0.8) * 25.0);
                }
                active += leaked + demand.min(free);
                pending += (demand - free).max(0.0);
                n += 1.0;
            }
            let n = f64::max(n, 1.0);
            pool_fail /= n;
            wait50 /= n;
            t.pool_active = active / n;
            t.pool_pending = pending / n;
            t.pool_util = Some((t.pool_active / size).min(1.0));
            t.pool_fail = pool_fail;
        }

        // Workers (threads, processes): Little's law.
        let total50 = own_p50 + calls50 + wait50;
        let slots = ready * f64::from(spec.workers) * e.worker_factor;
        let conc = offered * (1.0 - shed_cpu) * total50 / 1000.0 / slots.max(1e-9);
        t.workers_busy = conc.min(1.0);
        let (shed_workers, queue_wait) = if conc > SATURATED {
            (
                1.0 - SATURATED / conc,
                (total50 * (conc - SATURATED)).min(15_000.0),
            )
        } else {
            (0.0, 0.0)
        };

        // Errors, by cause.
        let mut parts: Vec<(Cause, f64)> = Vec::new();
        parts.push((Cause::Background, spec.background_errors));
        if e.code_errors > 0.0 {
            parts.push((Cause::Code, e.code_errors.min(0.95)));
        }
        let overload = 1.0 - (1.0 - shed_cpu) * (1.0 - shed_workers);
        if overload > 0.0 {
            parts.push((Cause::Overload, overload));
        }
        if pool_fail > 0.0 {
            parts.push((Cause::PoolTimeout, pool_fail));
        }
        let disk_full = spec.disk.is_some() && st.disk_used >= 0.995;
        if disk_full {
            if spec.is_datastore() {
                t.write_err = 1.0;
            } else {
                parts.push((Cause::DiskFull, 0.45));
            }
        }
        if killed > 0 || st.failover_blip > 0.0 {
            let share = f64::from(killed) / f64::from(t.replicas.max(1)) * 0.5
                + if st.failover_blip > 0.0 { 0.04 } else { 0.0 };
            parts.push((Cause::Restart, share));
        }
        parts.extend(fails);
        let survive: f64 = parts.iter().map(|(_, p)| 1.0 - p.clamp(0.0, 1.0)).product();
        t.err = (1.0 - survive).clamp(0.0, 1.0);
        // A data store's own error rate counts its failed writes too (callers see the
        // write failures through `write_err`, on their writes only).
        t.reported_err = 1.0 - (1.0 - t.err) * (1.0 - t.write_err * self.topo.write_share_in[s]);
        t.causes = parts.into_iter().filter(|(_, p)| *p > 0.0).collect();
        t.early_fail = 1.0 - (1.0 - overload) * (1.0 - pool_fail);
        t.rejected = if offered > 0.0 {
            e.extra_rps * e.extra_rejected / offered
        } else {
            0.0
        };

        // Latency (server side). Failing fast pulls the median down when most requests fail.
        let own_p99 = own_p50 * (Z99 * own_sigma).exp();
        t.p50_ms = own_p50 + calls50 + wait50 + queue_wait;
        t.p99_ms = (own_p99 + calls50 + tail + wait99 + queue_wait * 2.0).max(t.p50_ms * 1.2);
        if overload > 0.5 {
            t.p50_ms *= 1.0 - 0.5 * (overload - 0.5);
        }

        // CPU per running replica.
        let cpu_per_req = 0.8 * spec.cpu_limit / spec.capacity_rps;
        let work = (offered * (1.0 - shed_cpu) + e.extra_rps * (e.extra_cost - 1.0)) / ready;
        let cpu =
            spec.cpu_idle + work * cpu_per_req + gc_pressure * 0.35 * spec.cpu_limit + e.extra_cpu;
        t.cpu = cpu.min(spec.cpu_limit);
        if let Some(g) = &mut t.gc {
            *g = 0.01 + 0.02 * rho_c + 0.5 * gc_pressure;
        }
        t
    }

    /// Client connections held on each data store, from the callers' pools and replicas.
    fn connections(&self, ticks: &mut [ServiceTick]) {
        let n = ticks.len();
        let mut conns = vec![0.0; n];
        for (s, tick) in ticks.iter().enumerate() {
            let spec = &self.topo.services()[s];
            for edge in &self.topo.edges[s] {
                let to = &self.topo.services()[edge.to];
                if !to.is_datastore() {
                    continue;
                }
                let pooled = spec.pool.as_ref().is_some_and(|p| p.datastore == to.name);
                let per_replica = if pooled {
                    // Pools keep their idle minimum open.
                    tick.pool_active
                        .max(f64::from(self.state[s].pool_size) * 0.25)
                } else {
                    4.0
                };
                conns[edge.to] += per_replica * tick.ready;
            }
        }
        for (s, t) in ticks.iter_mut().enumerate() {
            if self.topo.services()[s].is_datastore() && t.down.is_none() {
                t.connections = Some(conns[s] + 3.0);
            }
        }
    }
}

/// A change event.
pub(crate) fn change(
    at: DateTime<Utc>,
    service: &str,
    kind: &str,
    description: String,
    version: Option<String>,
    actor: String,
) -> itops_core::telemetry::ChangeEvent {
    itops_core::telemetry::ChangeEvent {
        at,
        service: service.to_string(),
        kind: kind.to_string(),
        description,
        version,
        actor: Some(actor),
    }
}

/// The next version after `v`: a patch bump most of the time, a minor bump otherwise.
pub(crate) fn bump_version(v: &str, rng: &mut SimRng) -> String {
    let mut parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    while parts.len() < 3 {
        parts.push(0);
    }
    if rng.chance(0.7) {
        parts[2] += 1;
    } else {
        parts[1] += 1;
        parts[2] = 0;
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn deploy_actor(rng: &mut SimRng) -> String {
    const ACTORS: &[&str] = &[
        "argocd",
        "github-actions",
        "spinnaker",
        "jenkins",
        "alice@shop.example",
        "dev-bot",
        "m.okafor@shop.example",
    ];
    rng.pick(ACTORS).copied().unwrap_or("argocd").to_string()
}

fn config_change_text(
    spec: &ServiceSpec,
    variant: &Option<FaultVariant>,
    cal: &Calibration,
    rng: &mut SimRng,
) -> (&'static str, String) {
    let name = &spec.name;
    match variant {
        Some(FaultVariant::WrongEndpoint { dependency }) => {
            let key = format!("{}_HOST", dependency.to_ascii_uppercase().replace('-', "_"));
            let bad = format!(
                "{dependency}.{}.svc.cluster.local",
                if rng.chance(0.5) {
                    "shop-stg"
                } else {
                    "default"
                }
            );
            (
                "config",
                format!("ConfigMap {name}-config updated: {key}={bad}"),
            )
        }
        Some(FaultVariant::TimeoutTooLow { dependency }) => (
            "config",
            format!(
                "ConfigMap {name}-config updated: {}.client.timeout={}ms",
                dependency,
                cal.timeout_ms.round().max(1.0)
            ),
        ),
        Some(FaultVariant::WorkerLimit) => {
            let limit = (f64::from(spec.workers) * cal.amount).round().max(1.0);
            let key = match spec.runtime {
                Runtime::Java => "server.tomcat.threads.max",
                Runtime::Python => "GUNICORN_WORKERS",
                Runtime::Go => "MAX_CONCURRENT_REQUESTS",
                _ => "MAX_SOCKETS",
            };
            (
                "config",
                format!("ConfigMap {name}-config updated: {key}={limit}"),
            )
        }
        Some(FaultVariant::FeatureFlag { flag }) => (
            "flag",
            format!("Feature flag '{flag}' enabled for 100% of traffic on {name}"),
        ),
        _ => ("config", format!("ConfigMap {name}-config updated")),
    }
}

/// What a distraction does when it starts: change events and state changes.
fn distraction_start(
    d: &Distraction,
    s: usize,
    topo: &Topology,
    state: &mut [ServiceState],
    rng: &mut SimRng,
) -> Option<Happening> {
    use super::noise::DistractionKind as K;
    let spec = &topo.services()[s];
    let st = &mut state[s];
    match d.kind {
        K::HarmlessDeploy => {
            let v = bump_version(&st.version, rng);
            let old = std::mem::replace(&mut st.version, v.clone());
            st.previous_versions.push(old.clone());
            st.rolling = Some(Rolling {
                next: 0,
                current: None,
                reason: StartReason::Rollout,
            });
            Some(Happening::Change(change(
                d.at,
                &spec.name,
                "deploy",
                format!("Deployed {} {v} (was {old}): rolling update", spec.name),
                Some(v),
                deploy_actor(rng),
            )))
        }
        K::ConfigChange => {
            const KEYS: &[&str] = &[
                "LOG_LEVEL=debug",
                "LOG_LEVEL=info",
                "cache.ttl.seconds=600",
                "metrics.histogram.buckets=extended",
                "http.keepalive.timeout=75s",
                "tracing.sample.rate=0.05",
            ];
            let key = rng.pick(KEYS).copied().unwrap_or("LOG_LEVEL=info");
            Some(Happening::Change(change(
                d.at,
                &spec.name,
                "config",
                format!("ConfigMap {}-config updated: {key}", spec.name),
                None,
                deploy_actor(rng),
            )))
        }
        K::FlagFlip => {
            let flag = rng
                .pick(&spec.flags)
                .cloned()
                .unwrap_or_else(|| "dark-mode".to_string());
            let pct = [5, 10, 25, 50][rng.below(4)];
            Some(Happening::Change(change(
                d.at,
                &spec.name,
                "flag",
                format!(
                    "Feature flag '{flag}' rollout set to {pct}% on {}",
                    spec.name
                ),
                None,
                "launchdarkly".to_string(),
            )))
        }
        K::ScaleUp => {
            let from = st.replicas.len();
            st.replicas.push(Replica::starting(
                startup_seconds(spec.runtime),
                rng.range(0.85, 1.15),
            ));
            Some(Happening::Change(change(
                d.at,
                &spec.name,
                "scale",
                format!(
                    "HorizontalPodAutoscaler {}: scaled from {from} to {} replicas (cpu utilization above target)",
                    spec.name,
                    from + 1
                ),
                None,
                "horizontal-pod-autoscaler".to_string(),
            )))
        }
        K::NoisyNeighbour | K::TransientErrors | K::BatchJob => None,
    }
}
