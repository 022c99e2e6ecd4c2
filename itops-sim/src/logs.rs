//! Logs: what each runtime would print, at the volume the model's traffic implies.
//!
//! Every line is built from the tick's numbers: access lines from served requests, error
//! lines by cause in proportion to the failures (a timeout calling `payments` reads like a
//! Java read timeout in `checkout`, like a gRPC deadline in a Go service), warnings from
//! slow requests, retries and fallbacks, plus each service's periodic chatter and the
//! errors that are normal for it. Formats differ per runtime (Spring Boot, logfmt,
//! Python logging, pino JSON, PostgreSQL, Redis, Kafka).

use chrono::{DateTime, Utc};

use super::faults::{ActiveFault, FaultVariant};
use super::model::{CallFailure, Cause, Happening, ServiceState, ServiceTick, StartReason};
use super::rng::SimRng;
use super::topology::{Runtime, ServiceKind, ServiceSpec, Topology};
use itops_core::domain::FaultKind;
use itops_core::telemetry::{LogLevel, LogRecord};

/// Most lines one service writes in one tick (a log shipper's rate limit).
const MAX_LINES_PER_TICK: u64 = 250;

/// Everything a message needs to know about the system.
pub(crate) struct LogContext<'a> {
    pub(crate) topo: &'a Topology,
    pub(crate) state: &'a [ServiceState],
    pub(crate) faults: &'a [ActiveFault],
}

/// One service's tick as its lines are written: when, which service, what it did, how many
/// lines it may still write, and where they go.
struct ServiceLines<'a, 'c> {
    at: DateTime<Utc>,
    dt: f64,
    ctx: &'a LogContext<'c>,
    /// The service's index in the topology.
    s: usize,
    spec: &'a ServiceSpec,
    t: &'a ServiceTick,
    /// Lines it may still write this tick.
    budget: u64,
    out: &'a mut Vec<LogRecord>,
}

impl ServiceLines<'_, '_> {
    /// Up to `n` lines out of the budget: how many it may write.
    fn take(&mut self, n: u64) -> u64 {
        let n = n.min(self.budget);
        self.budget -= n;
        n
    }
}

/// Writes log lines for each tick.
#[derive(Clone, Debug)]
pub(crate) struct LogEmitter {
    rng: SimRng,
    /// Share of request-level lines kept.
    sampling: f64,
    pods: Vec<Vec<String>>,
    periodic: Vec<f64>,
    quirk: Vec<f64>,
}

impl LogEmitter {
    pub(crate) fn new(topo: &Topology, sampling: f64, seed: u64) -> Self {
        let mut rng = SimRng::derive(seed, "logs");
        let pods = pod_names(topo, seed);
        let n = topo.services().len();
        let periodic = (0..n).map(|_| rng.range(0.0, 60.0)).collect();
        let quirk = (0..n).map(|_| rng.range(0.0, 900.0)).collect();
        Self {
            rng,
            sampling,
            pods,
            periodic,
            quirk,
        }
    }

    /// Lines for one tick of `dt` seconds starting at `at`.
    pub(crate) fn tick(
        &mut self,
        at: DateTime<Utc>,
        dt: f64,
        ctx: &LogContext<'_>,
        ticks: &[ServiceTick],
        happenings: &[Happening],
        out: &mut Vec<LogRecord>,
    ) {
        for h in happenings {
            self.happening(at, dt, ctx, h, out);
        }
        for (s, t) in ticks.iter().enumerate() {
            if t.down == Some(super::faults::DownMode::Unreachable) {
                // Its log shipper cannot reach the collector either.
                continue;
            }
            if t.crash_loop {
                continue;
            }
            let mut lines = ServiceLines {
                at,
                dt,
                ctx,
                s,
                spec: &ctx.topo.services()[s],
                t,
                budget: MAX_LINES_PER_TICK,
                out: &mut *out,
            };
            self.requests(&mut lines);
            self.errors(&mut lines);
            self.warnings(&mut lines);
            self.chatter(&mut lines);
        }
    }

    fn when(&mut self, at: DateTime<Utc>, dt: f64) -> DateTime<Utc> {
        at + chrono::Duration::microseconds((self.rng.f64() * dt * 1.0e6) as i64)
    }

    fn pod(&mut self, s: usize, t: &ServiceTick) -> String {
        let n = (t.replicas.max(1) as usize).min(self.pods[s].len());
        let i = self.rng.below(n);
        self.pods[s][i].clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        out: &mut Vec<LogRecord>,
        at: DateTime<Utc>,
        spec: &ServiceSpec,
        level: LogLevel,
        logger: &str,
        msg: &str,
        pod: &str,
    ) {
        let message = format_line(&mut self.rng, spec, level, logger, msg, pod, at);
        out.push(LogRecord {
            at,
            service: spec.name.clone(),
            message,
            level: Some(level),
            trace_id: None,
            span_id: None,
        });
    }

    /// One line of the service at a random moment of the tick from a random pod: `text`
    /// writes its level and message once the moment and the pod are drawn.
    fn line(
        &mut self,
        lines: &mut ServiceLines<'_, '_>,
        logger: &str,
        text: impl FnOnce(&mut SimRng, DateTime<Utc>) -> (LogLevel, String),
    ) {
        let when = self.when(lines.at, lines.dt);
        let pod = self.pod(lines.s, lines.t);
        let (level, msg) = text(&mut self.rng, when);
        self.push(lines.out, when, lines.spec, level, logger, &msg, &pod);
    }

    /// Access / operation lines for served requests.
    fn requests(&mut self, lines: &mut ServiceLines<'_, '_>) {
        let (ctx, s, spec, t) = (lines.ctx, lines.s, lines.spec, lines.t);
        let ok = t.arrived * (1.0 - t.err);
        let mean = ok * lines.dt * spec.log_verbosity * self.sampling * t.info_log_factor;
        let n = lines.take(self.rng.poisson(mean));
        for _ in 0..n {
            self.line(lines, &logger_for(spec, "request"), |rng, _| {
                let latency = rng.lognormal(t.p50_ms.max(0.1), t.own_sigma.max(0.3));
                let msg = success_line(rng, ctx, s, spec, t, latency);
                (LogLevel::Info, msg)
            });
        }
        // Requests rejected as client errors (failed logins during credential stuffing).
        if t.rejected > 0.0 {
            let mean = t.arrived * t.rejected * lines.dt * self.sampling * 2.0;
            let n = lines.take(self.rng.poisson(mean));
            for _ in 0..n {
                self.line(lines, &logger_for(spec, "auth"), |rng, _| {
                    let user = format!("{}{}", USERS[rng.below(USERS.len())], rng.between(1, 9999));
                    let ip = format!(
                        "{}.{}.{}.{}",
                        [185, 45, 193, 103, 91][rng.below(5)],
                        rng.between(1, 254),
                        rng.between(1, 254),
                        rng.between(1, 254)
                    );
                    let msg =
                        format!("login failed: invalid credentials user={user} ip={ip} attempts=1");
                    (LogLevel::Warn, msg)
                });
            }
        }
    }

    /// Error lines, by cause, in proportion to the failures.
    fn errors(&mut self, lines: &mut ServiceLines<'_, '_>) {
        let (ctx, s, spec, t) = (lines.ctx, lines.s, lines.spec, lines.t);
        if t.causes.is_empty() || t.arrived <= 0.0 {
            return;
        }
        let keep = (self.sampling * 5.0).min(1.0) * spec.log_verbosity.max(0.3);
        let mean = t.arrived * t.err * lines.dt * keep;
        let n = lines.take(self.rng.poisson(mean));
        let weights: Vec<f64> = t.causes.iter().map(|(_, p)| *p).collect();
        for _ in 0..n {
            let (cause, _) = t.causes[self.rng.weighted(&weights)];
            self.line(lines, &logger_for(spec, "error"), |rng, _| {
                error_text(rng, ctx, s, cause, t)
            });
        }
        // Data stores log failed writes themselves.
        if t.write_err > 0.0 {
            let n = lines.take(self.rng.poisson(t.arrived * 0.5 * lines.dt * 0.05).min(40));
            for _ in 0..n {
                self.line(lines, &logger_for(spec, "storage"), |rng, _| {
                    (LogLevel::Error, disk_full_text(rng, spec))
                });
            }
        }
    }

    /// Slow requests, retries, fallbacks, memory pressure, pool pressure.
    fn warnings(&mut self, lines: &mut ServiceLines<'_, '_>) {
        let (ctx, s, spec, t, dt) = (lines.ctx, lines.s, lines.spec, lines.t, lines.dt);
        let keep = (self.sampling * 3.0).min(1.0) * spec.log_verbosity.max(0.2);
        // Retries and fallbacks on outgoing calls.
        for c in &t.calls {
            if c.attempt_fail < 0.002 {
                continue;
            }
            let edge = ctx.topo.edges[s].iter().find(|e| e.to == c.to);
            let per = edge.map_or(1.0, |e| e.per_request);
            let retries = edge.map_or(0, |e| e.retries);
            let callee = &ctx.topo.services()[c.to];
            if c.fallback {
                let n = lines.take(self.rng.poisson(t.arrived * per * c.fail * dt * keep));
                for _ in 0..n {
                    self.line(lines, &logger_for(spec, "client"), |rng, _| {
                        (LogLevel::Warn, fallback_text(rng, spec, callee, c.how))
                    });
                }
            } else if retries > 0 {
                let mean = t.arrived * per * c.attempt_fail * dt * keep * 0.5;
                let n = lines.take(self.rng.poisson(mean));
                for _ in 0..n {
                    self.line(lines, &logger_for(spec, "client"), |rng, _| {
                        (
                            LogLevel::Warn,
                            retry_text(rng, spec, callee, c.how, retries),
                        )
                    });
                }
            }
        }
        // Slow requests (only services that log per request do this).
        if spec.log_verbosity > 0.0 && t.arrived > 0.0 && t.p99_ms > 0.0 {
            let sigma = ((t.p99_ms / t.p50_ms.max(0.01)).ln() / 2.326).max(0.05);
            let threshold: f64 = 1000.0;
            let z = (threshold.ln() - t.p50_ms.max(0.01).ln()) / sigma;
            let slow = 1.0 - super::rng::normal_cdf(z);
            let n = lines.take(self.rng.poisson(t.arrived * slow * dt * keep));
            for _ in 0..n {
                self.line(lines, &logger_for(spec, "request"), |rng, _| {
                    let ms = threshold * (1.0 + rng.f64() * 3.0);
                    (LogLevel::Warn, slow_text(rng, spec, ms))
                });
            }
        }
        // A JVM close to its heap limit logs long collections.
        if let Some(gc) = t.gc {
            if gc > 0.1 && self.rng.chance((gc * dt / 20.0).min(1.0)) {
                self.line(lines, "gc", |rng, _| {
                    let limit = spec.memory_limit_mb;
                    let before = t.memory_mb.min(limit);
                    let msg = format!(
                        "[gc] GC(4{}) Pause Full (G1 Compaction Pause) {}M->{}M({}M) {:.3}ms",
                        rng.between(100, 999),
                        before.round(),
                        (before * rng.range(0.93, 0.99)).round(),
                        limit.round(),
                        200.0 + 2000.0 * gc * rng.f64()
                    );
                    (LogLevel::Warn, msg)
                });
            }
        }
        // Pools close to their limit.
        if let Some(u) = t.pool_util {
            if u > 0.85 && self.rng.chance((dt / 30.0).min(1.0)) {
                self.line(lines, &logger_for(spec, "pool"), |_, _| {
                    (
                        LogLevel::Warn,
                        pool_stats_text(spec, ctx.state[s].pool_size, t),
                    )
                });
            }
        }
    }

    /// Periodic lines and the errors that are normal for a service.
    fn chatter(&mut self, lines: &mut ServiceLines<'_, '_>) {
        let (ctx, s, spec, t, dt) = (lines.ctx, lines.s, lines.spec, lines.t, lines.dt);
        self.periodic[s] -= dt;
        while self.periodic[s] <= 0.0 {
            self.periodic[s] += self.rng.range(45.0, 120.0);
            self.line(lines, &logger_for(spec, "scheduler"), |rng, when| {
                periodic_text(rng, spec, &ctx.state[s], t, when)
            });
        }
        self.quirk[s] -= dt;
        while self.quirk[s] <= 0.0 {
            self.quirk[s] += self.rng.range(300.0, 1500.0);
            if let Some(text) = quirk_text(&mut self.rng, spec) {
                self.line(lines, &logger_for(spec, "worker"), |_, _| text);
            }
        }
        // PostgreSQL logs statements slower than log_min_duration_statement (500 ms).
        if spec.runtime == Runtime::Postgres && t.arrived > 0.0 && t.p50_ms > 0.0 {
            let sigma = ((t.p99_ms / t.p50_ms).ln() / 2.326).max(0.05);
            let slow = 1.0 - super::rng::normal_cdf((500.0f64.ln() - t.p50_ms.ln()) / sigma);
            let n = self.rng.poisson(t.arrived * slow * dt * 0.2).min(60);
            for _ in 0..n {
                self.line(lines, "postgres", |rng, _| {
                    let ms = 500.0 + rng.f64() * t.p99_ms.max(600.0);
                    let stmt = SQL[rng.below(SQL.len())];
                    (
                        LogLevel::Info,
                        format!("duration: {ms:.3} ms  statement: {stmt}"),
                    )
                });
            }
        }
    }

    /// Lines for restarts, OOM kills and crash loops.
    fn happening(
        &mut self,
        at: DateTime<Utc>,
        dt: f64,
        ctx: &LogContext<'_>,
        h: &Happening,
        out: &mut Vec<LogRecord>,
    ) {
        match h {
            Happening::Started { service, reason } => {
                let spec = &ctx.topo.services()[*service];
                let st = &ctx.state[*service];
                let when = self.when(at, dt);
                let pod = self.pods[*service][self
                    .rng
                    .below(self.pods[*service].len().min(st.replicas.len().max(1)))]
                .clone();
                for (i, (level, msg)) in startup_lines(&mut self.rng, spec, &st.version, *reason)
                    .into_iter()
                    .enumerate()
                {
                    let t = when + chrono::Duration::milliseconds(i as i64 * 120);
                    self.push(out, t, spec, level, &logger_for(spec, "main"), &msg, &pod);
                }
            }
            Happening::OomKilled { service, memory_mb } => {
                let spec = &ctx.topo.services()[*service];
                let when = self.when(at, dt);
                let pod =
                    self.pods[*service][self.rng.below(self.pods[*service].len().min(2))].clone();
                let msg = oom_text(&mut self.rng, spec, *memory_mb);
                self.push(
                    out,
                    when,
                    spec,
                    LogLevel::Error,
                    &logger_for(spec, "main"),
                    &msg,
                    &pod,
                );
            }
            Happening::CrashLoop { service, .. } => {
                let spec = &ctx.topo.services()[*service];
                let st = &ctx.state[*service];
                let when = self.when(at, dt);
                let pod = self.pods[*service][0].clone();
                for (i, (level, msg)) in
                    startup_lines(&mut self.rng, spec, &st.version, StartReason::CrashLoop)
                        .into_iter()
                        .take(2)
                        .enumerate()
                {
                    let t = when + chrono::Duration::milliseconds(i as i64 * 150);
                    self.push(out, t, spec, level, &logger_for(spec, "main"), &msg, &pod);
                }
                let msg = crash_text(&mut self.rng, spec);
                let t = when + chrono::Duration::milliseconds(900);
                self.push(
                    out,
                    t,
                    spec,
                    LogLevel::Fatal,
                    &logger_for(spec, "main"),
                    &msg,
                    &pod,
                );
            }
            Happening::Change(_) => {}
        }
    }
}

/// Pod names per service (`cart-7f9c4d5b8-x2kqp`), the same for logs and traces.
pub(crate) fn pod_names(topo: &Topology, seed: u64) -> Vec<Vec<String>> {
    let mut rng = SimRng::derive(seed, "pods");
    topo.services()
        .iter()
        .map(|s| {
            let rs = rng.hex(5);
            (0..12)
                .map(|_| format!("{}-{rs}-{}", s.name, rng.code(5).to_ascii_lowercase()))
                .collect()
        })
        .collect()
}

const USERS: &[&str] = &[
    "jsmith", "admin", "test", "maria.g", "info", "support", "k.tanaka", "user",
];

const SQL: &[&str] = &[
    "SELECT o.id, o.status, o.total FROM orders o WHERE o.customer_id = $1 ORDER BY o.created_at DESC LIMIT 20",
    "UPDATE inventory SET reserved = reserved + $1 WHERE sku = $2 AND available >= $1",
    "INSERT INTO payments (order_id, amount, currency, status) VALUES ($1, $2, $3, $4) RETURNING id",
    "SELECT p.* FROM products p JOIN categories c ON c.id = p.category_id WHERE c.slug = $1",
    "INSERT INTO orders (customer_id, total, currency, status) VALUES ($1, $2, $3, 'PENDING') RETURNING id",
    "SELECT id, password_hash, mfa_enabled FROM users WHERE email = $1",
];

/// The logger / component name a line is attributed to.
fn logger_for(spec: &ServiceSpec, what: &str) -> String {
    let base = spec.name.replace(['-', '_'], "");
    match spec.runtime {
        Runtime::Java => {
            let class = match what {
                "request" => "web.RequestLoggingFilter",
                "client" => "client.DownstreamClient",
                "pool" => "zaxxer.hikari.pool.HikariPool",
                "error" => "web.GlobalExceptionHandler",
                "scheduler" => "jobs.MaintenanceScheduler",
                "main" => "Application",
                _ => "service.Worker",
            };
            if what == "pool" {
                format!("c.{class}")
            } else {
                format!("c.s.{}.{class}", &base[..base.len().min(12)])
            }
        }
        Runtime::Python => format!("{base}.{what}"),
        _ => what.to_string(),
    }
}

/// Wraps a message the way the service's runtime prints it.
pub(crate) fn format_line(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    level: LogLevel,
    logger: &str,
    msg: &str,
    pod: &str,
    at: DateTime<Utc>,
) -> String {
    match spec.runtime {
        Runtime::Java => {
            let lvl = match level {
                LogLevel::Debug => "DEBUG",
                LogLevel::Info => " INFO",
                LogLevel::Warn => " WARN",
                LogLevel::Error | LogLevel::Fatal => "ERROR",
            };
            let thread = if logger == "gc" {
                return msg.to_string();
            } else if spec.kind == ServiceKind::Worker {
                format!("ntainer#0-{}-C-1", rng.below(4))
            } else {
                format!("nio-8080-exec-{}", rng.between(1, 200))
            };
            format!("{lvl} 1 --- [{thread:>15}] {logger:<40} : {msg}")
        }
        Runtime::Go => {
            let lvl = match level {
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
                LogLevel::Fatal => "fatal",
            };
            if msg.contains("msg=") || msg.starts_with("panic") || msg.starts_with("fatal error") {
                format!("level={lvl} {msg}")
            } else {
                format!("level={lvl} component={logger} msg={msg:?}")
            }
        }
        Runtime::Python => {
            let lvl = match level {
                LogLevel::Debug => "DEBUG",
                LogLevel::Info => "INFO",
                LogLevel::Warn => "WARNING",
                LogLevel::Error => "ERROR",
                LogLevel::Fatal => "CRITICAL",
            };
            format!("{lvl}:{logger}:{msg}")
        }
        Runtime::Node => {
            let lvl = match level {
                LogLevel::Debug => 20,
                LogLevel::Info => 30,
                LogLevel::Warn => 40,
                LogLevel::Error => 50,
                LogLevel::Fatal => 60,
            };
            let (first, stack) = match msg.split_once('\n') {
                Some((a, b)) => (a, Some(b)),
                None => (msg, None),
            };
            let mut obj = serde_json::json!({
                "level": lvl,
                "time": at.timestamp_millis(),
                "pid": 1,
                "hostname": pod,
                "msg": first,
            });
            if let (Some(stack), Some(map)) = (stack, obj.as_object_mut()) {
                map.insert(
                    "stack".into(),
                    serde_json::Value::String(format!("{first}\n{stack}")),
                );
            }
            obj.to_string()
        }
        Runtime::Postgres => {
            let lvl = match level {
                LogLevel::Debug | LogLevel::Info => "LOG",
                LogLevel::Warn => "WARNING",
                LogLevel::Error => "ERROR",
                LogLevel::Fatal => "FATAL",
            };
            format!("{lvl}:  {msg}")
        }
        Runtime::Redis => {
            let sym = match level {
                LogLevel::Debug => '.',
                LogLevel::Info => '*',
                LogLevel::Warn | LogLevel::Error | LogLevel::Fatal => '#',
            };
            format!("1:M {} {sym} {msg}", at.format("%d %b %Y %H:%M:%S%.3f"))
        }
        Runtime::Kafka => {
            let lvl = match level {
                LogLevel::Debug => "DEBUG",
                LogLevel::Info => "INFO",
                LogLevel::Warn => "WARN",
                LogLevel::Error | LogLevel::Fatal => "ERROR",
            };
            format!("[{}] {lvl} {msg}", at.format("%Y-%m-%d %H:%M:%S,%3f"))
        }
    }
}

fn op_name(rng: &mut SimRng, spec: &ServiceSpec) -> String {
    let weights: Vec<f64> = spec.operations.iter().map(|o| o.weight).collect();
    spec.operations
        .get(rng.weighted(&weights))
        .map_or_else(|| "request".to_string(), |o| o.name.clone())
}

/// An HTTP path for an operation name (`GET /product/{id}` → `GET /product/OLJCESPC7Z`).
fn concrete(rng: &mut SimRng, op: &str) -> String {
    if op.contains("{id}") {
        op.replace("{id}", &rng.code(10))
    } else {
        op.to_string()
    }
}

fn success_line(
    rng: &mut SimRng,
    ctx: &LogContext<'_>,
    s: usize,
    spec: &ServiceSpec,
    t: &ServiceTick,
    latency: f64,
) -> String {
    let op = op_name(rng, spec);
    let rid = rng.uuid();
    match (spec.runtime, spec.name.as_str()) {
        (Runtime::Node, _) if spec.kind == ServiceKind::Web => {
            let path = concrete(rng, &op);
            let bytes = rng.between(800, 48_000);
            format!("{path} 200 {latency:.0}ms {bytes}b reqId={rid}")
        }
        (Runtime::Node, _) => {
            let order = rng.code(8);
            format!("order confirmation sent order={order} provider=ses messageId={} took={latency:.0}ms", rng.hex(12))
        }
        (Runtime::Go, _) => {
            let short = op.rsplit('/').next().unwrap_or(&op).to_string();
            format!(
                "msg=\"finished call\" grpc.method={short} grpc.code=OK grpc.time_ms={latency:.3} request_id={rid} peer.address=10.{}.{}.{}:{}",
                rng.between(0, 3),
                rng.between(0, 255),
                rng.between(2, 254),
                rng.between(30000, 60000)
            )
        }
        (Runtime::Python, _) => {
            let short = op.rsplit('/').next().unwrap_or(&op).to_string();
            if spec.name.contains("ship") {
                format!(
                    "quote computed zip={} items={} cost={:.2} carrier={} in {latency:.1}ms",
                    rng.between(10000, 99999),
                    rng.between(1, 6),
                    rng.range(3.0, 40.0),
                    ["ups", "dhl", "usps"][rng.below(3)]
                )
            } else {
                format!(
                    "{short} served {} items for session {} in {latency:.1}ms (model={})",
                    rng.between(4, 10),
                    rng.hex(8),
                    if ctx.state[s]
                        .flags
                        .get("recs-model-b")
                        .copied()
                        .unwrap_or(false)
                    {
                        "b"
                    } else {
                        "a"
                    }
                )
            }
        }
        (Runtime::Java, _) if spec.kind == ServiceKind::Worker => {
            let order = rng.between(1_000_000, 9_999_999);
            format!(
                "Processed order {order} (partition={}, offset={}) in {latency:.0} ms",
                rng.below(6),
                rng.between(10_000_000, 99_999_999)
            )
        }
        (Runtime::Java, name) if name.contains("pay") => {
            let amount = rng.range(5.0, 400.0);
            format!(
                "Charge {} authorized amount={amount:.2} currency=USD card=****{:04} provider=stripe latency={latency:.0}ms",
                rng.code(12),
                rng.between(0, 9999)
            )
        }
        (Runtime::Java, name) if name.contains("checkout") => {
            let order = rng.between(1_000_000, 9_999_999);
            let items = rng.between(1, 5);
            format!(
                "Order {order} placed: {items} items, total={:.2} USD, took {latency:.0} ms",
                rng.range(10.0, 500.0)
            )
        }
        (Runtime::Java, _) => {
            let _ = t;
            format!(
                "{} completed status=200 duration={latency:.0}ms requestId={rid}",
                concrete(rng, &op)
            )
        }
        _ => format!("{op} ok {latency:.1}ms"),
    }
}

/// A host:port for a service, as clients see it.
fn address(rng: &mut SimRng, spec: &ServiceSpec) -> String {
    let port = match spec.runtime {
        Runtime::Postgres => 5432,
        Runtime::Redis => 6379,
        Runtime::Kafka => 9092,
        Runtime::Go => 50051,
        Runtime::Python => 8000,
        Runtime::Node => 3000,
        Runtime::Java => 8080,
    };
    format!(
        "10.{}.{}.{}:{port}",
        rng.between(0, 3),
        rng.between(0, 255),
        rng.between(2, 254)
    )
}

/// The text of one failed request at service `s` for `cause` (also used by traces).
pub(crate) fn error_text(
    rng: &mut SimRng,
    ctx: &LogContext<'_>,
    s: usize,
    cause: Cause,
    t: &ServiceTick,
) -> (LogLevel, String) {
    let spec = &ctx.topo.services()[s];
    let op = op_name(rng, spec);
    match cause {
        Cause::Background => background_error(rng, spec, &op),
        Cause::Code => (LogLevel::Error, code_error(rng, ctx, spec, t.code_fault, &op)),
        Cause::Call(to, how) => {
            let callee = &ctx.topo.services()[to];
            let timeout = ctx.topo.edges[s].iter().find(|e| e.to == to).map_or(1000.0, |e| e.timeout_ms);
            let disk_full = ctx.state[to].disk_used >= 0.995 && callee.disk.is_some();
            (LogLevel::Error, call_error(rng, spec, callee, how, timeout, disk_full, &op))
        }
        Cause::PoolTimeout => {
            let pool = spec.pool.as_ref();
            let timeout = pool.map_or(5000.0, |p| p.timeout_ms);
            let size = ctx.state[s].pool_size;
            (LogLevel::Error, pool_timeout_text(rng, spec, timeout, size, t))
        }
        Cause::DiskFull => (LogLevel::Error, disk_full_text(rng, spec)),
        Cause::Overload => (LogLevel::Error, overload_text(rng, spec, t)),
        Cause::Restart => (
            LogLevel::Error,
            match spec.runtime {
                Runtime::Java => "Servlet.service() for servlet [dispatcherServlet] threw exception: org.apache.catalina.connector.ClientAbortException: java.io.IOException: Broken pipe".to_string(),
                Runtime::Go => "msg=\"request aborted\" err=\"http: server closed idle connection\"".to_string(),
                Runtime::Python => "Exception in worker process: BrokenPipeError: [Errno 32] Broken pipe".to_string(),
                _ => "request aborted: socket hang up".to_string(),
            },
        ),
    }
}

fn background_error(rng: &mut SimRng, spec: &ServiceSpec, op: &str) -> (LogLevel, String) {
    let name = spec.name.as_str();
    let rid = rng.uuid();
    match spec.runtime {
        Runtime::Node if spec.kind == ServiceKind::Web => (
            LogLevel::Error,
            format!("request aborted by client before response was sent path={} reqId={rid}", concrete(rng, op)),
        ),
        Runtime::Node => (
            LogLevel::Error,
            format!("SMTP send failed: 421 4.7.0 Temporary System Problem. Try again later (order={}) - will retry", rng.code(8)),
        ),
        Runtime::Java if name.contains("pay") => (
            LogLevel::Error,
            format!("Provider call failed for charge {}: 502 Bad Gateway from api.stripe.com (attempt 1/1)", rng.code(12)),
        ),
        Runtime::Java if spec.kind == ServiceKind::Worker => (
            LogLevel::Error,
            format!(
                "Error processing order {}: jakarta.persistence.OptimisticLockException: Row was updated or deleted by another transaction - message will be redelivered",
                rng.between(1_000_000, 9_999_999)
            ),
        ),
        Runtime::Java => (
            LogLevel::Error,
            format!(
                "Request processing failed: org.springframework.web.HttpMediaTypeNotAcceptableException: No acceptable representation [requestId={rid}]"
            ),
        ),
        Runtime::Go => (
            LogLevel::Error,
            format!("msg=\"request failed\" grpc.code=Canceled err=\"context canceled\" request_id={rid}"),
        ),
        Runtime::Python => (
            LogLevel::Error,
            format!("failed to score candidate {}: feature vector missing 'embedding' - skipped", rng.code(10)),
        ),
        Runtime::Postgres => (
            LogLevel::Error,
            if rng.chance(0.7) {
                format!("duplicate key value violates unique constraint \"orders_idempotency_key_key\"\nDETAIL:  Key (idempotency_key)=({}) already exists.", rng.hex(16))
            } else {
                "deadlock detected\nDETAIL:  Process 4211 waits for ShareLock on transaction 99312; blocked by process 4188.".to_string()
            },
        ),
        _ => (LogLevel::Error, format!("{op} failed")),
    }
}

/// Names a fault's failing code path: a class/module and a method, stable per fault.
fn code_path(
    ctx: &LogContext<'_>,
    spec: &ServiceSpec,
    fault: Option<usize>,
) -> (String, String, u64) {
    let f = fault.and_then(|id| ctx.faults.iter().find(|f| f.id == id));
    let seed = f.map_or(7, |f| f.seed);
    let flag = f.and_then(|f| match &f.spec.variant {
        Some(FaultVariant::FeatureFlag { flag }) => Some(flag.clone()),
        _ => None,
    });
    let component = match flag {
        // Feature code lives in a class named after the feature.
        Some(flag) => flag
            .split(['-', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next().map_or(String::new(), |f| {
                    f.to_uppercase().collect::<String>() + c.as_str()
                })
            })
            .collect::<String>(),
        None => {
            const PARTS: &[&str] = &[
                "PriceCalculator",
                "PromotionEngine",
                "CurrencyConverter",
                "TaxResolver",
                "AddressValidator",
                "ItemMapper",
                "QuoteBuilder",
                "SessionDecoder",
                "StockAllocator",
                "RankingPipeline",
            ];
            PARTS[(seed % PARTS.len() as u64) as usize].to_string()
        }
    };
    const METHODS: &[&str] = &[
        "apply", "compute", "resolve", "map", "build", "handle", "convert",
    ];
    let method = METHODS[((seed >> 8) % METHODS.len() as u64) as usize].to_string();
    let _ = spec;
    (component, method, seed)
}

fn code_error(
    rng: &mut SimRng,
    ctx: &LogContext<'_>,
    spec: &ServiceSpec,
    fault: Option<usize>,
    op: &str,
) -> String {
    let (component, method, seed) = code_path(ctx, spec, fault);
    let kind = ctx
        .faults
        .iter()
        .find(|f| Some(f.id) == fault)
        .map(|f| f.spec.kind);
    let pkg = spec.name.replace(['-', '_'], "");
    let line = 40 + seed % 300;
    let rid = rng.uuid();
    if kind == Some(FaultKind::WrongReturnValue) {
        // The broken path does not fail: it degrades silently, with a hint of it in the log.
        return format!(
            "{component}.{method}: empty result for {}, returning defaults (requestId={rid})",
            rng.code(10)
        );
    }
    match spec.runtime {
        Runtime::Java => {
            const EXC: &[(&str, &str)] = &[
                ("java.lang.NullPointerException", "Cannot invoke \"java.math.BigDecimal.multiply(java.math.BigDecimal)\" because \"rate\" is null"),
                ("java.lang.IllegalStateException", "Expected BEGIN_OBJECT but was STRING at line 1 column 1 path $"),
                ("java.lang.ArithmeticException", "Non-terminating decimal expansion; no exact representable decimal result."),
                ("java.lang.IndexOutOfBoundsException", "Index 0 out of bounds for length 0"),
                ("java.lang.ClassCastException", "class java.lang.String cannot be cast to class java.lang.Long"),
                ("java.util.ConcurrentModificationException", "null"),
            ];
            let (exc, text) = EXC[(seed % EXC.len() as u64) as usize];
            format!(
                "Request processing failed for {} [requestId={rid}]\n{exc}: {text}\n\tat com.shop.{pkg}.core.{component}.{method}({component}.java:{line})\n\tat com.shop.{pkg}.service.OrderFlow.execute(OrderFlow.java:{})\n\tat com.shop.{pkg}.web.ApiController.handle(ApiController.java:{})\n\tat jdk.internal.reflect.GeneratedMethodAccessor212.invoke(Unknown Source)\n\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)\n\t... 48 common frames omitted",
                concrete(rng, op),
                100 + seed % 90,
                60 + seed % 40
            )
        }
        Runtime::Go => {
            const PANICS: &[&str] = &[
                "runtime error: invalid memory address or nil pointer dereference",
                "runtime error: index out of range [1] with length 1",
                "assignment to entry in nil map",
            ];
            let p = PANICS[(seed % PANICS.len() as u64) as usize];
            let lower = component.to_ascii_lowercase();
            format!(
                "msg=\"panic recovered\" panic=\"{p}\" request_id={rid} stack=\"goroutine {} [running]:\\ngithub.com/shop/{pkg}/internal/{lower}.(*{component}).{}(0xc000{})\\n\\t/src/internal/{lower}/{lower}.go:{line} +0x1d4\\ngithub.com/shop/{pkg}/internal/server.(*Server).handle(...)\\n\\t/src/internal/server/handler.go:88 +0x2a1\"",
                rng.between(1000, 99999),
                capitalize(&method),
                rng.hex(5)
            )
        }
        Runtime::Python => {
            const EXC: &[(&str, &str)] = &[
                ("KeyError", "'category_id'"),
                (
                    "TypeError",
                    "unsupported operand type(s) for *: 'NoneType' and 'float'",
                ),
                ("ValueError", "could not convert string to float: ''"),
                (
                    "AttributeError",
                    "'NoneType' object has no attribute 'items'",
                ),
            ];
            let (exc, text) = EXC[(seed % EXC.len() as u64) as usize];
            let module = snake(&component);
            format!(
                "Exception on {} [request_id={rid}]\nTraceback (most recent call last):\n  File \"/app/{pkg}/server.py\", line 61, in handle\n    return self.pipeline.run(request)\n  File \"/app/{pkg}/{module}.py\", line {line}, in {method}\n    result = self._{method}(item)\n{exc}: {text}",
                concrete(rng, op)
            )
        }
        _ => {
            const EXC: &[(&str, &str)] = &[
                (
                    "TypeError",
                    "Cannot read properties of undefined (reading 'price')",
                ),
                ("RangeError", "Invalid time value"),
                ("TypeError", "items.map is not a function"),
            ];
            let (exc, text) = EXC[(seed % EXC.len() as u64) as usize];
            let file = snake(&component);
            format!(
                "unhandled error in {} reqId={rid}\n{exc}: {text}\n    at {component}.{method} (/app/src/{file}.js:{line}:{})\n    at async Router.handle (/app/node_modules/express/lib/router/index.js:284:7)",
                concrete(rng, op),
                rng.between(5, 40)
            )
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(ch.to_lowercase());
    }
    out
}

fn call_error(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    callee: &ServiceSpec,
    how: CallFailure,
    timeout_ms: f64,
    disk_full: bool,
    op: &str,
) -> String {
    let to = callee.name.as_str();
    let addr = address(rng, callee);
    let rid = rng.uuid();
    let ip = addr.split(':').next().unwrap_or("10.0.0.1").to_string();
    match callee.runtime {
        Runtime::Postgres => {
            return postgres_client_error(rng, spec, callee, how, timeout_ms, disk_full, &addr)
        }
        Runtime::Redis => return redis_client_error(spec, to, how, timeout_ms, disk_full, &addr),
        Runtime::Kafka => return kafka_client_error(rng, to, how, disk_full, &addr),
        _ => {}
    }
    match (spec.runtime, how) {
        (Runtime::Java, CallFailure::Timeout) => format!(
            "Call to {to} failed for {} [requestId={rid}]: org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://{to}:8080/api\": Read timed out",
            concrete(rng, op)
        ),
        (Runtime::Java, CallFailure::Refused) => format!(
            "Call to {to} failed [requestId={rid}]: org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://{to}:8080/api\": Connect to {to}:8080 [{to}/{ip}] failed: Connection refused"
        ),
        (Runtime::Java, CallFailure::Unresolvable) => format!(
            "Call to {to} failed [requestId={rid}]: java.net.UnknownHostException: {to}.{}.svc.cluster.local: Name or service not known",
            if rng.chance(0.5) { "shop-stg" } else { "default" }
        ),
        (Runtime::Java, CallFailure::Reset) => format!(
            "Call to {to} failed [requestId={rid}]: java.net.SocketException: Connection reset"
        ),
        (Runtime::Java, CallFailure::Rejected) => format!(
            "Call to {to} failed [requestId={rid}]: org.springframework.web.client.HttpServerErrorException$ServiceUnavailable: 503 Service Unavailable"
        ),
        (Runtime::Java, CallFailure::ServerError) => format!(
            "Call to {to} failed [requestId={rid}]: org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal Server Error: \"{{\"error\":\"internal\"}}\""
        ),
        (Runtime::Java, CallFailure::BadResponse) => {
            if rng.chance(0.5) {
                format!(
                    "Order validation failed [requestId={rid}]: java.lang.IllegalStateException: total mismatch: computed 0.00, expected {:.2}",
                    rng.range(10.0, 300.0)
                )
            } else {
                format!(
                    "Invalid response from {to} [requestId={rid}]: com.fasterxml.jackson.databind.exc.MismatchedInputException: Cannot deserialize value of type `java.math.BigDecimal` from String \"\""
                )
            }
        }
        (Runtime::Go, how) => {
            let code = match how {
                CallFailure::Timeout => "DeadlineExceeded",
                CallFailure::Refused | CallFailure::Unresolvable | CallFailure::Reset | CallFailure::Rejected => "Unavailable",
                CallFailure::ServerError => "Internal",
                CallFailure::BadResponse => "InvalidArgument",
            };
            let desc = match how {
                CallFailure::Timeout => "context deadline exceeded".to_string(),
                CallFailure::Refused => format!("connection error: desc = \\\"transport: Error while dialing: dial tcp {addr}: connect: connection refused\\\""),
                CallFailure::Unresolvable => format!("name resolver error: produced zero addresses for {to}"),
                CallFailure::Reset => "error reading from server: read tcp: connection reset by peer".to_string(),
                CallFailure::Rejected => "server overloaded".to_string(),
                CallFailure::ServerError => "internal error".to_string(),
                CallFailure::BadResponse => "invalid quantity in response".to_string(),
            };
            format!("msg=\"call failed\" upstream={to} err=\"rpc error: code = {code} desc = {desc}\" request_id={rid}")
        }
        (Runtime::Python, how) => {
            let secs = timeout_ms / 1000.0;
            let err = match how {
                CallFailure::Timeout => format!("ReadTimeout: HTTPConnectionPool(host='{to}', port=8080): Read timed out. (read timeout={secs})"),
                CallFailure::Refused => format!("ConnectionError: HTTPConnectionPool(host='{to}', port=8080): Max retries exceeded with url: /api (Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))"),
                CallFailure::Unresolvable => format!("ConnectionError: HTTPConnectionPool(host='{to}', port=8080): Max retries exceeded (Caused by NameResolutionError(\"Failed to resolve '{to}' ([Errno -2] Name or service not known)\"))"),
                CallFailure::Reset => "ConnectionError: ('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))".to_string(),
                CallFailure::Rejected => format!("HTTPError: 503 Server Error: Service Unavailable for url: http://{to}:8080/api"),
                CallFailure::ServerError => format!("HTTPError: 500 Server Error: Internal Server Error for url: http://{to}:8080/api"),
                CallFailure::BadResponse => "ValueError: price must be positive, got -1.0".to_string(),
            };
            format!("request {rid} failed calling {to}: {err}")
        }
        (_, how) => {
            let err = match how {
                CallFailure::Timeout => format!("Timeout awaiting 'response' for {timeout_ms:.0}ms"),
                CallFailure::Refused => format!("connect ECONNREFUSED {addr}"),
                CallFailure::Unresolvable => format!("getaddrinfo ENOTFOUND {to}"),
                CallFailure::Reset => "socket hang up".to_string(),
                CallFailure::Rejected => "Response code 503 (Service Unavailable)".to_string(),
                CallFailure::ServerError => "Response code 500 (Internal Server Error)".to_string(),
                CallFailure::BadResponse => "Cannot read properties of null (reading 'units')".to_string(),
            };
            format!("upstream {to} failed for {}: {err} reqId={rid}", concrete(rng, op))
        }
    }
}

fn postgres_client_error(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    callee: &ServiceSpec,
    how: CallFailure,
    timeout_ms: f64,
    disk_full: bool,
    addr: &str,
) -> String {
    let host = callee.name.as_str();
    let text = match how {
        CallFailure::Timeout => match spec.runtime {
            Runtime::Java => format!("org.springframework.dao.QueryTimeoutException: PreparedStatementCallback; SQL [{}]; ERROR: canceling statement due to statement timeout", SQL[rng.below(SQL.len())]),
            Runtime::Go => "failed to query: timeout: context deadline exceeded".to_string(),
            _ => format!("Knex: Timeout after {timeout_ms:.0}ms"),
        },
        CallFailure::Refused | CallFailure::Unresolvable => match spec.runtime {
            Runtime::Java => format!("org.postgresql.util.PSQLException: Connection to {host}:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections."),
            Runtime::Go => format!("failed to connect to `host={host} user=app database=shop`: dial error (dial tcp {addr}: connect: connection refused)"),
            _ => format!("connect ECONNREFUSED {addr}"),
        },
        CallFailure::Reset => "org.postgresql.util.PSQLException: An I/O error occurred while sending to the backend.".to_string(),
        _ if disk_full => format!(
            "ERROR: could not extend file \"base/16384/{}\": No space left on device",
            rng.between(16000, 17000)
        ),
        CallFailure::Rejected => "FATAL: sorry, too many clients already".to_string(),
        _ => [
            "ERROR: deadlock detected",
            "ERROR: canceling statement due to lock timeout",
            "ERROR: could not serialize access due to concurrent update",
        ][rng.below(3)]
            .to_string(),
    };
    match spec.runtime {
        Runtime::Go => format!("msg=\"db error\" err=\"{}\"", text.replace('"', "'")),
        _ => format!("Database access failed: {text}"),
    }
}

fn redis_client_error(
    spec: &ServiceSpec,
    to: &str,
    how: CallFailure,
    timeout_ms: f64,
    disk_full: bool,
    addr: &str,
) -> String {
    let text = match how {
        CallFailure::Timeout => match spec.runtime {
            Runtime::Java => format!("io.lettuce.core.RedisCommandTimeoutException: Command timed out after {timeout_ms:.0} millisecond(s)"),
            _ => format!("redis: i/o timeout (read tcp {addr})"),
        },
        CallFailure::Refused | CallFailure::Unresolvable => match spec.runtime {
            Runtime::Java => format!("io.lettuce.core.RedisConnectionException: Unable to connect to {to}/{addr}"),
            _ => format!("dial tcp {addr}: connect: connection refused"),
        },
        CallFailure::Reset => "read: connection reset by peer".to_string(),
        _ if disk_full => "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled".to_string(),
        CallFailure::Rejected => "ERR max number of clients reached".to_string(),
        _ => "LOADING Redis is loading the dataset in memory".to_string(),
    };
    match spec.runtime {
        Runtime::Go => format!("msg=\"cache error\" err=\"{}\"", text.replace('"', "'")),
        _ => format!("Cache access failed: {text}"),
    }
}

fn kafka_client_error(
    rng: &mut SimRng,
    to: &str,
    how: CallFailure,
    disk_full: bool,
    addr: &str,
) -> String {
    match how {
        CallFailure::Timeout => format!(
            "Failed to publish order event: org.apache.kafka.common.errors.TimeoutException: Expiring {} record(s) for orders-{}:120000 ms has passed since batch creation",
            rng.between(1, 20),
            rng.below(6)
        ),
        CallFailure::Refused | CallFailure::Unresolvable | CallFailure::Reset => format!(
            "Failed to publish order event: Connection to node 1 ({to}/{addr}) could not be established. Broker may not be available."
        ),
        _ if disk_full => "Failed to publish order event: org.apache.kafka.common.errors.KafkaStorageException: Disk error when trying to access log file on the disk.".to_string(),
        _ => "Failed to publish order event: org.apache.kafka.common.errors.NotLeaderOrFollowerException: For requests intended only for the leader, this error indicates that the broker is not the current leader.".to_string(),
    }
}

fn pool_timeout_text(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    timeout_ms: f64,
    size: u32,
    t: &ServiceTick,
) -> String {
    let rid = rng.uuid();
    match spec.runtime {
        Runtime::Java => format!(
            "Request failed [requestId={rid}]: org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection; nested exception is java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after {timeout_ms:.0}ms (total={size}, active={size}, idle=0, waiting={})",
            t.pool_pending.round()
        ),
        Runtime::Go => format!(
            "msg=\"request failed\" err=\"failed to acquire connection: context deadline exceeded\" pool.max_conns={size} request_id={rid}"
        ),
        Runtime::Python => format!(
            "request {rid} failed: sqlalchemy.exc.TimeoutError: QueuePool limit of size {size} overflow 0 reached, connection timed out, timeout {:.2}",
            timeout_ms / 1000.0
        ),
        _ => "KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?".to_string(),
    }
}

fn pool_stats_text(spec: &ServiceSpec, size: u32, t: &ServiceTick) -> String {
    let active = t.pool_active.round().min(f64::from(size));
    match spec.runtime {
        Runtime::Java => format!(
            "HikariPool-1 - Pool stats (total={size}, active={active}, idle={}, waiting={})",
            (f64::from(size) - active).max(0.0),
            t.pool_pending.round()
        ),
        _ => format!(
            "msg=\"db pool nearly exhausted\" in_use={active} max={size} waiting={}",
            t.pool_pending.round()
        ),
    }
}

fn disk_full_text(rng: &mut SimRng, spec: &ServiceSpec) -> String {
    match spec.runtime {
        Runtime::Postgres => format!("could not extend file \"base/16384/{}\": No space left on device\nHINT:  Check free disk space.", rng.between(16000, 17000)),
        Runtime::Redis => "Write error saving DB on disk: No space left on device".to_string(),
        Runtime::Kafka => format!(
            "Error while appending records to orders-{} in dir /var/lib/kafka/data (kafka.server.LogDirFailureChannel)\njava.io.IOException: No space left on device",
            rng.below(6)
        ),
        Runtime::Java => {
            let holds = spec.disk.as_ref().map_or("cache", |d| d.holds.as_str());
            format!(
                "Failed to write {holds} entry /var/lib/{}/{}/{}.tmp: java.io.IOException: No space left on device\n\tat java.base/java.io.FileOutputStream.writeBytes(Native Method)\n\tat java.base/java.io.FileOutputStream.write(FileOutputStream.java:349)",
                spec.name,
                holds.replace(' ', "-"),
                rng.hex(8)
            )
        }
        Runtime::Go => format!("msg=\"write failed\" err=\"write /var/lib/{}/{}: no space left on device\"", spec.name, rng.hex(8)),
        Runtime::Python => "OSError: [Errno 28] No space left on device".to_string(),
        Runtime::Node => "ENOSPC: no space left on device, write".to_string(),
    }
}

fn overload_text(rng: &mut SimRng, spec: &ServiceSpec, t: &ServiceTick) -> String {
    let workers = spec.workers;
    match spec.runtime {
        Runtime::Java => format!(
            "Request rejected: java.util.concurrent.RejectedExecutionException: Task rejected from java.util.concurrent.ThreadPoolExecutor@{}[Running, pool size = {workers}, active threads = {workers}, queued tasks = 1000, completed tasks = {}]",
            rng.hex(4),
            rng.between(1_000_000, 90_000_000)
        ),
        Runtime::Go => format!("msg=\"request rejected\" reason=\"too many concurrent requests\" inflight={} limit={workers}", (t.workers_busy * f64::from(workers)).round()),
        Runtime::Python => format!("[CRITICAL] WORKER TIMEOUT (pid:{})", rng.between(8, 400)),
        Runtime::Node => format!("server busy, shedding request: event loop delay {}ms", rng.between(300, 2500)),
        Runtime::Postgres => "sorry, too many clients already".to_string(),
        Runtime::Redis => "Client id=4412 addr=10.0.1.17:51244 closed for overcoming of output buffer limits.".to_string(),
        Runtime::Kafka => "Request queue is full, throttling produce requests (kafka.network.RequestChannel)".to_string(),
    }
}

fn fallback_text(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    callee: &ServiceSpec,
    how: CallFailure,
) -> String {
    let to = callee.name.as_str();
    let why = match how {
        CallFailure::Timeout => "timeout",
        CallFailure::Refused | CallFailure::Unresolvable => "connection refused",
        CallFailure::Reset => "connection reset",
        CallFailure::Rejected => "503",
        CallFailure::ServerError => "500",
        CallFailure::BadResponse => "invalid response",
    };
    match spec.runtime {
        Runtime::Java => format!("{to} unavailable ({why}), serving fallback response"),
        Runtime::Go => format!("msg=\"using fallback\" upstream={to} reason=\"{why}\""),
        Runtime::Node => format!(
            "{to} call failed ({why}); rendering without it reqId={}",
            rng.uuid()
        ),
        _ => format!("{to} failed ({why}), using default"),
    }
}

fn retry_text(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    callee: &ServiceSpec,
    how: CallFailure,
    retries: u32,
) -> String {
    let to = callee.name.as_str();
    let why = match how {
        CallFailure::Timeout => "timeout",
        CallFailure::Refused | CallFailure::Unresolvable => "connection refused",
        CallFailure::Reset => "connection reset",
        CallFailure::Rejected => "503 Service Unavailable",
        CallFailure::ServerError => "500 Internal Server Error",
        CallFailure::BadResponse => "invalid response",
    };
    match spec.runtime {
        Runtime::Java => format!(
            "Retrying call to {to} (attempt 2 of {}) after {why}",
            retries + 1
        ),
        Runtime::Go => format!(
            "msg=\"retrying\" upstream={to} attempt=2 max_attempts={} err=\"{why}\"",
            retries + 1
        ),
        _ => format!(
            "retrying {to} after {why} (attempt 2/{}) id={}",
            retries + 1,
            rng.hex(6)
        ),
    }
}

fn slow_text(rng: &mut SimRng, spec: &ServiceSpec, ms: f64) -> String {
    let op = op_name(rng, spec);
    match spec.runtime {
        Runtime::Go => format!(
            "msg=\"slow request\" method={} duration={:.3}s",
            op.rsplit('/').next().unwrap_or(&op),
            ms / 1000.0
        ),
        Runtime::Node => format!("slow response {} took {ms:.0}ms", concrete(rng, &op)),
        _ => format!("Slow request: {} took {ms:.0} ms", concrete(rng, &op)),
    }
}

fn periodic_text(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    st: &ServiceState,
    t: &ServiceTick,
    at: DateTime<Utc>,
) -> (LogLevel, String) {
    match spec.runtime {
        Runtime::Postgres => {
            if rng.chance(0.5) {
                (
                    LogLevel::Info,
                    format!(
                        "checkpoint complete: wrote {} buffers ({:.1}%); 0 WAL file(s) added, 0 removed, {} recycled; write={:.3} s, sync={:.3} s, total={:.3} s",
                        rng.between(200, 9000),
                        rng.range(0.1, 4.0),
                        rng.between(0, 6),
                        rng.range(20.0, 270.0),
                        rng.range(0.001, 0.2),
                        rng.range(20.0, 270.0)
                    ),
                )
            } else {
                (
                    LogLevel::Info,
                    format!(
                        "automatic vacuum of table \"shop.public.{}\": index scans: 1\n\tpages: 0 removed, {} remain",
                        ["orders", "payments", "inventory", "sessions"][rng.below(4)],
                        rng.between(1000, 90000)
                    ),
                )
            }
        }
        Runtime::Redis => {
            if st.disk_used >= 0.995 {
                (LogLevel::Warn, "Background saving error".to_string())
            } else if rng.chance(0.5) {
                (LogLevel::Info, format!("{} changes in 60 seconds. Saving...", rng.between(1000, 60000)))
            } else {
                (LogLevel::Info, format!("Background saving started by pid {}", rng.between(100, 9999)))
            }
        }
        Runtime::Kafka => (
            LogLevel::Info,
            format!(
                "[LocalLog partition=orders-{}, dir=/var/lib/kafka/data] Rolled new log segment at offset {} in {} ms. (kafka.log.LocalLog)",
                rng.below(6),
                rng.between(10_000_000, 99_999_999),
                rng.between(1, 9)
            ),
        ),
        Runtime::Java => {
            if let (Some(pool), true) = (&spec.pool, rng.chance(0.5)) {
                let _ = pool;
                (LogLevel::Info, pool_stats_text(spec, st.pool_size, t).replace("WARN", "INFO"))
            } else {
                (
                    LogLevel::Info,
                    format!("Refreshed configuration cache: {} entries in {} ms", rng.between(100, 2000), rng.between(2, 40)),
                )
            }
        }
        Runtime::Go => (
            LogLevel::Info,
            format!(
                "msg=\"cache stats\" hits={} misses={} evictions={} goroutines={}",
                rng.between(10_000, 900_000),
                rng.between(100, 20_000),
                rng.between(0, 500),
                rng.between(40, 400)
            ),
        ),
        Runtime::Python => (
            LogLevel::Info,
            format!("heartbeat ok workers={} uptime={}s", spec.workers, at.timestamp() % 100_000),
        ),
        Runtime::Node => (
            LogLevel::Info,
            format!("health: eventLoopDelay={}ms heapUsed={}MB", rng.between(1, 12), (t.memory_mb * 0.6).round()),
        ),
    }
}

/// The errors and warnings that are normal for some services, now and then.
fn quirk_text(rng: &mut SimRng, spec: &ServiceSpec) -> Option<(LogLevel, String)> {
    let name = spec.name.as_str();
    match spec.runtime {
        Runtime::Python if !name.contains("ship") => Some((
            LogLevel::Error,
            "model refresh failed: s3 GetObject recs/model-latest.pkl: RequestTimeout; keeping previous model".to_string(),
        )),
        Runtime::Java if name.contains("pay") => Some((
            LogLevel::Warn,
            format!("Card declined for charge {}: insufficient_funds", rng.code(12)),
        )),
        Runtime::Java if name.contains("catalog") || name.contains("product") => Some((
            LogLevel::Warn,
            format!("Product not found: {} (stale link?)", rng.code(10)),
        )),
        Runtime::Go if name.contains("auth") => Some((
            LogLevel::Warn,
            "msg=\"token verification failed\" reason=\"token expired\"".to_string(),
        )),
        Runtime::Postgres => Some((
            LogLevel::Error,
            "canceling statement due to user request".to_string(),
        )),
        _ => None,
    }
}

fn startup_lines(
    rng: &mut SimRng,
    spec: &ServiceSpec,
    version: &str,
    reason: StartReason,
) -> Vec<(LogLevel, String)> {
    let _ = reason;
    let app = capitalize(&spec.name.replace(['-', '_'], ""));
    match spec.runtime {
        Runtime::Java => vec![
            (
                LogLevel::Info,
                format!("Starting {app}Application v{version} using Java 17.0.10 with PID 1"),
            ),
            (
                LogLevel::Info,
                "Tomcat initialized with port 8080 (http)".to_string(),
            ),
            (
                LogLevel::Info,
                format!(
                    "Started {app}Application in {:.3} seconds (process running for {:.3})",
                    rng.range(9.0, 30.0),
                    rng.range(10.0, 32.0)
                ),
            ),
        ],
        Runtime::Go => vec![(
            LogLevel::Info,
            format!("msg=\"starting server\" addr=:50051 version={version}"),
        )],
        Runtime::Python => vec![
            (LogLevel::Info, "Starting gunicorn 21.2.0".to_string()),
            (
                LogLevel::Info,
                format!("Booting worker with pid: {}", rng.between(7, 40)),
            ),
        ],
        Runtime::Node => vec![(
            LogLevel::Info,
            format!("{} v{version} listening on port 3000", spec.name),
        )],
        Runtime::Postgres => vec![
            (
                LogLevel::Info,
                format!("starting PostgreSQL {version} on x86_64-pc-linux-gnu"),
            ),
            (
                LogLevel::Info,
                "database system is ready to accept connections".to_string(),
            ),
        ],
        Runtime::Redis => vec![(
            LogLevel::Info,
            "Ready to accept connections tcp".to_string(),
        )],
        Runtime::Kafka => vec![(
            LogLevel::Info,
            "[KafkaServer id=1] started (kafka.server.KafkaServer)".to_string(),
        )],
    }
}

fn oom_text(rng: &mut SimRng, spec: &ServiceSpec, memory_mb: f64) -> String {
    match spec.runtime {
        Runtime::Java => format!(
            "Exception in thread \"nio-8080-exec-{}\" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n\tat java.base/java.util.ArrayList.grow(ArrayList.java:237)",
            rng.between(1, 200)
        ),
        Runtime::Go => format!("fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({{0x1a2b3c4, 0x16}})\n\t/usr/local/go/src/runtime/panic.go:1077 +0x5c heap={memory_mb:.0}MB"),
        Runtime::Python => "Worker (pid:17) was sent SIGKILL! Perhaps out of memory?".to_string(),
        Runtime::Node => "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory".to_string(),
        _ => format!("out of memory: killed process ({memory_mb:.0} MB)"),
    }
}

fn crash_text(rng: &mut SimRng, spec: &ServiceSpec) -> String {
    match spec.runtime {
        Runtime::Java => format!(
            "Application run failed\norg.springframework.beans.factory.BeanCreationException: Error creating bean with name 'entityManagerFactory': {}",
            ["Unable to determine Dialect without JDBC metadata", "Failed to initialize pool: Connection refused"][rng.below(2)]
        ),
        Runtime::Go => "panic: failed to load config: open /etc/app/config.yaml: no such file or directory\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/cmd/server/main.go:42 +0x3b8".to_string(),
        Runtime::Python => "Exception in worker process\nTraceback (most recent call last):\n  File \"/app/wsgi.py\", line 12, in <module>\n    app = create_app()\nImportError: libgomp.so.1: cannot open shared object file: No such file or directory".to_string(),
        Runtime::Node => "Error: Cannot find module '/app/dist/server.js'\n    at Module._resolveFilename (node:internal/modules/cjs/loader:1145:15)".to_string(),
        Runtime::Postgres => "could not locate a valid checkpoint record".to_string(),
        Runtime::Redis => "Fatal error loading the DB: Invalid argument. Exiting.".to_string(),
        Runtime::Kafka => "[KafkaServer id=1] Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)".to_string(),
    }
}
