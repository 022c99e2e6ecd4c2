//! Traces: sampled requests walked through the call graph, one span per service hop.
//!
//! Each sampled request draws its own outcome from the tick's state of every service it
//! touches: own processing time, pool waits, shedding, code errors, and for every call the
//! callee's own span, network delay, client timeouts (the caller gives up while the callee
//! span runs on), retries (a new child span per attempt), refused connections (no callee
//! span at all) and wrong answers (the callee's span is fine, the caller's fails). Error
//! spans also leave a log line carrying the trace and span ids.

use chrono::{DateTime, Utc};

use super::faults::{BrokenCall, DownMode, Effects};
use super::logs::{error_text, format_line, LogContext};
use super::model::{CallFailure, Cause, ServiceTick};
use super::rng::SimRng;
use super::topology::{Runtime, ServiceKind, ServiceSpec};
use itops_core::telemetry::{LogLevel, LogRecord, Span, SpanStatus};

/// Most sampled requests per tick, whatever the load.
const MAX_TRACES_PER_TICK: u64 = 400;
/// Deepest call chain followed.
const MAX_DEPTH: usize = 8;

/// Writes sampled traces for each tick.
#[derive(Clone, Debug)]
pub(crate) struct TraceEmitter {
    rng: SimRng,
    /// Probability that a request is sampled.
    sample: f64,
    pods: Vec<Vec<String>>,
}

/// What a call looked like from the caller's side.
struct Outcome {
    duration_ms: f64,
    failed: Option<CallFailure>,
}

/// Working state for one tick.
struct Walk<'a> {
    ctx: &'a LogContext<'a>,
    ticks: &'a [ServiceTick],
    effects: &'a [Effects],
    trace_id: String,
    spans: &'a mut Vec<Span>,
    logs: &'a mut Vec<LogRecord>,
}

impl TraceEmitter {
    pub(crate) fn new(topo: &super::topology::Topology, traces_per_minute: f64, seed: u64) -> Self {
        Self {
            rng: SimRng::derive(seed, "traces"),
            sample: (traces_per_minute / 60.0 / topo.peak_rps().max(1.0)).clamp(0.0, 1.0),
            pods: super::logs::pod_names(topo, seed),
        }
    }

    /// Spans (and the error lines that go with them) for one tick.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tick(
        &mut self,
        at: DateTime<Utc>,
        dt: f64,
        ctx: &LogContext<'_>,
        ticks: &[ServiceTick],
        effects: &[Effects],
        spans: &mut Vec<Span>,
        logs: &mut Vec<LogRecord>,
    ) {
        let topo = ctx.topo;
        let mut roots: Vec<(usize, f64)> = Vec::new();
        let entry = topo.entry;
        roots.push((entry, ticks[entry].offered - effects[entry].extra_rps));
        for (s, t) in ticks.iter().enumerate() {
            if effects[s].extra_rps > 0.0 {
                // Spike traffic arriving from outside: its traces start at this service.
                roots.push((s, effects[s].extra_rps));
            }
            if topo.consumer_of[s].is_some() {
                // Consumers are quieter; sample their work more so it shows at all.
                roots.push((s, t.offered * 5.0));
            }
        }
        let mut budget = MAX_TRACES_PER_TICK;
        for (root, rate) in roots {
            let n = self
                .rng
                .poisson(rate.max(0.0) * dt * self.sample)
                .min(budget);
            budget -= n;
            for _ in 0..n {
                let start =
                    at + chrono::Duration::microseconds((self.rng.f64() * dt * 1.0e6) as i64);
                let mut walk = Walk {
                    ctx,
                    ticks,
                    effects,
                    trace_id: self.rng.hex(16),
                    spans,
                    logs,
                };
                let external = root != entry && topo.consumer_of[root].is_none();
                self.visit(&mut walk, root, None, start, 0, None, external);
            }
        }
    }

    /// Runs one request at service `s`; returns the span's duration and failure, or `None`
    /// when the service could not be reached (no span).
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        w: &mut Walk<'_>,
        s: usize,
        parent: Option<&str>,
        start: DateTime<Utc>,
        depth: usize,
        write: Option<bool>,
        external: bool,
    ) -> Option<Outcome> {
        // Copy the shared slices out so that recursing (which borrows `w`) keeps them.
        let (ticks, effects, ctx) = (w.ticks, w.effects, w.ctx);
        let t = &ticks[s];
        if t.down.is_some() {
            return None;
        }
        let topo = ctx.topo;
        let spec = &topo.services()[s];
        let e = &effects[s];
        let span_id = self.rng.hex(8);
        let op_idx = {
            let weights: Vec<f64> = spec.operations.iter().map(|o| o.weight).collect();
            if external && spec.operations.len() > 1 && e.extra_cost > 1.0 {
                // Credential stuffing hits the costly login path.
                spec.operations
                    .iter()
                    .position(|o| o.name.contains("Login"))
                    .unwrap_or(0)
            } else {
                self.rng.weighted(&weights)
            }
        };
        let op = operation_name(spec, op_idx, write, &mut self.rng);
        let mut cursor = self
            .rng
            .lognormal(t.own_p50_ms.max(0.02), t.own_sigma.max(0.05))
            * 0.3;
        let mut failed: Option<Cause> = None;

        // Failures before any work: shedding, no pooled connection, a killed replica.
        for (cause, p) in &t.causes {
            if matches!(cause, Cause::Overload | Cause::PoolTimeout | Cause::Restart)
                && self.rng.chance(*p)
            {
                failed = Some(*cause);
                if *cause == Cause::PoolTimeout {
                    cursor += spec.pool.as_ref().map_or(1000.0, |p| p.timeout_ms);
                }
                break;
            }
        }
        if failed.is_none() {
            if let Some(u) = t.pool_util {
                if u > 0.8 {
                    cursor += self.rng.f64() * t.own_p50_ms * (u - 0.8) * 10.0;
                }
            }
        }

        // Calls, in order; a failed required call ends the request.
        if failed.is_none() && depth < MAX_DEPTH {
            let calls = spec
                .operations
                .get(op_idx)
                .map(|o| o.calls.clone())
                .unwrap_or_default();
            'calls: for (to_name, count) in calls {
                let Ok(to) = topo.index_of(&to_name) else {
                    continue;
                };
                let Some(edge) = topo.edges[s].iter().find(|x| x.to == to) else {
                    continue;
                };
                let whole = count.floor() as usize;
                let k = whole + usize::from(self.rng.chance(count - whole as f64));
                for _ in 0..k {
                    let is_write = self.rng.chance(edge.write_share);
                    let mut timeout = edge.timeout_ms;
                    let mut wrong_endpoint = false;
                    if let Some((callee, how)) = e.broken_call {
                        if callee == to {
                            match how {
                                BrokenCall::WrongEndpoint => wrong_endpoint = true,
                                BrokenCall::Timeout(ms) => timeout = ms,
                            }
                        }
                    }
                    let mut last_failure = None;
                    for _attempt in 0..=edge.retries {
                        let net = 0.3 + e.net_delay_ms + effects[to].net_delay_ms;
                        let loss = e.loss + effects[to].loss;
                        let call_start = start + ms(cursor + net / 2.0);
                        let (spent, failure) = if wrong_endpoint {
                            (2.0, Some(CallFailure::Unresolvable))
                        } else if ticks[to].down == Some(DownMode::Unreachable) {
                            (timeout, Some(CallFailure::Timeout))
                        } else if ticks[to].down.is_some() {
                            (1.0 + net, Some(CallFailure::Refused))
                        } else if self.rng.chance(loss) {
                            (
                                net + self.rng.f64() * timeout.min(3000.0),
                                Some(CallFailure::Reset),
                            )
                        } else {
                            let sid = span_id.clone();
                            match self.visit(
                                w,
                                to,
                                Some(&sid),
                                call_start,
                                depth + 1,
                                Some(is_write),
                                false,
                            ) {
                                None => (1.0 + net, Some(CallFailure::Refused)),
                                Some(out) => {
                                    let seen = out.duration_ms + net;
                                    if seen > timeout {
                                        (timeout, Some(CallFailure::Timeout))
                                    } else if let Some(f) = out.failed {
                                        (seen, Some(f))
                                    } else if self.rng.chance(ticks[to].wrong_values) {
                                        (seen, Some(CallFailure::BadResponse))
                                    } else {
                                        (seen, None)
                                    }
                                }
                            }
                        };
                        cursor += spent;
                        last_failure = failure;
                        if matches!(failure, None | Some(CallFailure::BadResponse)) {
                            break;
                        }
                    }
                    if let Some(how) = last_failure {
                        // A fallback covers failed calls, not wrong answers.
                        if !edge.fallback || how == CallFailure::BadResponse {
                            failed = Some(Cause::Call(to, how));
                            break 'calls;
                        }
                    }
                }
            }
        }

        // Own work after the calls, and failures in the service's own code.
        cursor += self
            .rng
            .lognormal(t.own_p50_ms.max(0.02), t.own_sigma.max(0.05))
            * 0.7;
        if failed.is_none() {
            for (cause, p) in &t.causes {
                if matches!(cause, Cause::Code | Cause::Background | Cause::DiskFull)
                    && self.rng.chance(*p)
                {
                    failed = Some(*cause);
                    break;
                }
            }
        }
        if failed.is_none() && write == Some(true) && self.rng.chance(t.write_err) {
            failed = Some(Cause::DiskFull);
        }

        let status = if failed.is_some() {
            SpanStatus::Error
        } else if spec.runtime == Runtime::Python {
            SpanStatus::Ok
        } else {
            SpanStatus::Unset
        };
        w.spans.push(Span {
            trace_id: w.trace_id.clone(),
            span_id: span_id.clone(),
            parent_span_id: parent.map(str::to_string),
            service: spec.name.clone(),
            operation: op,
            start,
            duration_ns: (cursor * 1.0e6).max(1000.0) as u64,
            status,
        });
        if let Some(cause) = failed {
            // Services that log little still log most errors; data stores rarely per request.
            let keep = if spec.is_datastore() { 0.05 } else { 0.6 };
            if self.rng.chance(keep) {
                let (level, msg) = error_text(&mut self.rng, ctx, s, cause, t);
                let when = start + ms(cursor);
                let replicas = (t.replicas.max(1) as usize).min(self.pods[s].len());
                let pod = self.pods[s][self.rng.below(replicas)].clone();
                let message = format_line(&mut self.rng, spec, level, "request", &msg, &pod, when);
                w.logs.push(LogRecord {
                    at: when,
                    service: spec.name.clone(),
                    message,
                    level: Some(if level == LogLevel::Warn {
                        LogLevel::Warn
                    } else {
                        LogLevel::Error
                    }),
                    trace_id: Some(w.trace_id.clone()),
                    span_id: Some(span_id),
                });
            }
        }
        let failure = failed.map(|c| match c {
            Cause::Overload => CallFailure::Rejected,
            _ => CallFailure::ServerError,
        });
        Some(Outcome {
            duration_ms: cursor,
            failed: failure,
        })
    }
}

fn ms(v: f64) -> chrono::Duration {
    chrono::Duration::microseconds((v * 1000.0) as i64)
}

/// The span name for an operation; data stores name the statement or command.
fn operation_name(
    spec: &ServiceSpec,
    op_idx: usize,
    write: Option<bool>,
    rng: &mut SimRng,
) -> String {
    let write = write.unwrap_or(false);
    match spec.kind {
        ServiceKind::Database => {
            let table = ["orders", "payments", "inventory", "products", "users"][rng.below(5)];
            if write {
                format!(
                    "{} shop.{table}",
                    if rng.chance(0.5) { "INSERT" } else { "UPDATE" }
                )
            } else {
                format!("SELECT shop.{table}")
            }
        }
        ServiceKind::Cache => {
            if write {
                ["SET", "HSET", "EXPIRE"][rng.below(3)].to_string()
            } else {
                ["GET", "HGETALL", "MGET"][rng.below(3)].to_string()
            }
        }
        ServiceKind::Queue => "orders publish".to_string(),
        _ => spec
            .operations
            .get(op_idx)
            .map_or_else(|| "request".to_string(), |o| o.name.clone()),
    }
}
