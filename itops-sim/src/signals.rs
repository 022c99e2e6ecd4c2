//! Metrics: per-tick model values averaged over the scrape interval, named and scaled the
//! way a real exporter would, with measurement noise, scrape offsets and missed scrapes.
//!
//! Three naming styles exist because real exports differ: plain gauges
//! (`latency_p99_ms`), Prometheus (`http_server_requests_total` counters that reset when a
//! pod restarts, seconds and bytes), and OpenTelemetry (`http.server.request.duration.p99`
//! in seconds, errors per second rather than a ratio).

use chrono::{DateTime, Utc};

use super::faults::DownMode;
use super::model::ServiceTick;
use super::rng::SimRng;
use super::topology::{Runtime, ServiceKind, ServiceSpec};
use itops_core::telemetry::TelemetryIndex;
use itops_core::word_enum;

word_enum! {
    /// How metric names and units are spelled in the emitted telemetry.
    pub enum MetricNaming as "metric naming" {
        /// `cpu_usage` (cores), `latency_p99_ms`, `error_rate` (ratio), `memory_usage_mb`.
        Plain = "plain",
        /// `container_cpu_usage_seconds_total` and `http_server_requests_total` counters,
        /// `..._seconds_p99`, `container_memory_working_set_bytes`, `node_filesystem_avail_bytes`.
        Prometheus = "prometheus",
        /// `container.cpu.utilization` (of the limit), `http.server.request.duration.p99` (s),
        /// `http.server.error.rate` (errors/s), `system.filesystem.utilization`.
        OpenTelemetry = "opentelemetry",
    }
}

/// What is measured, before naming and units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Cpu,
    Memory,
    LatencyP50,
    LatencyP99,
    RequestRate,
    ErrorRate,
    Saturation,
    PoolUsage,
    PoolPending,
    DiskUsage,
    Restarts,
    Replicas,
    ConsumerLag,
    Connections,
    GcTime,
}

/// Time-weighted sums over one scrape interval for one service.
#[derive(Clone, Debug, Default)]
struct Sums {
    time: f64,
    visible: f64,
    serving: f64,
    arrived: f64,
    errors: f64,
    p50: f64,
    p99: f64,
    cpu: f64,
    memory: f64,
    busy: f64,
    pool_active: f64,
    pool_pending: f64,
    pool_util: f64,
    disk: f64,
    lag: f64,
    connections: f64,
    gc: f64,
    ready: f64,
}

/// Cumulative counters, as a Prometheus exporter sums them over pods.
#[derive(Clone, Debug, Default)]
struct Counters {
    requests: f64,
    errors: f64,
    cpu_seconds: f64,
    gc_seconds: f64,
}

/// Averages ticks into samples and writes them to the index.
#[derive(Clone, Debug)]
pub(crate) struct MetricSampler {
    naming: MetricNaming,
    noise: f64,
    sums: Vec<Sums>,
    counters: Vec<Counters>,
    offsets_ms: Vec<i64>,
    rng: SimRng,
}

impl MetricSampler {
    pub(crate) fn new(
        services: &[ServiceSpec],
        naming: MetricNaming,
        interval_s: f64,
        noise: f64,
        seed: u64,
    ) -> Self {
        let mut rng = SimRng::derive(seed, "metrics");
        let max_offset = (interval_s * 1000.0 * 0.8).min(20_000.0) as u64;
        let offsets_ms = services
            .iter()
            .map(|_| rng.between(0, max_offset) as i64)
            .collect();
        let counters = services
            .iter()
            .map(|_| {
                // Processes have been up for hours or days before the window starts.
                let uptime = rng.range(3.0e4, 6.0e5);
                Counters {
                    requests: uptime * rng.range(5.0, 100.0),
                    errors: uptime * rng.range(0.001, 0.05),
                    cpu_seconds: uptime * rng.range(0.1, 1.0),
                    gc_seconds: uptime * rng.range(0.001, 0.01),
                }
            })
            .collect();
        Self {
            naming,
            noise,
            sums: vec![Sums::default(); services.len()],
            counters,
            offsets_ms,
            rng,
        }
    }

    /// Adds one tick of `dt` seconds for service `s`; `pod_resets` pods restarted in it.
    pub(crate) fn add(&mut self, s: usize, t: &ServiceTick, dt: f64, pod_resets: u32) {
        let sum = &mut self.sums[s];
        sum.time += dt;
        if t.down != Some(DownMode::Unreachable) {
            sum.visible += dt;
        }
        let served = t.arrived;
        if served > 0.0 {
            sum.serving += dt;
            sum.p50 += t.p50_ms * served * dt;
            sum.p99 += t.p99_ms * served * dt;
        }
        sum.arrived += served * dt;
        sum.errors += served * t.reported_err * dt;
        sum.cpu += t.cpu * dt;
        sum.memory += t.memory_mb * dt;
        sum.busy += t.workers_busy * dt;
        sum.pool_active += t.pool_active * dt;
        sum.pool_pending += t.pool_pending * dt;
        sum.pool_util += t.pool_util.unwrap_or(0.0) * dt;
        sum.disk += t.disk_used.unwrap_or(0.0) * dt;
        sum.lag += t.lag.unwrap_or(0.0) * dt;
        sum.connections += t.connections.unwrap_or(0.0) * dt;
        sum.gc += t.gc.unwrap_or(0.0) * dt;
        sum.ready += t.ready * dt;
        let c = &mut self.counters[s];
        if pod_resets > 0 && t.replicas > 0 {
            let keep = 1.0 - f64::from(pod_resets.min(t.replicas)) / f64::from(t.replicas);
            c.requests *= keep;
            c.errors *= keep;
            c.cpu_seconds *= keep;
            c.gc_seconds *= keep;
        }
        c.requests += served * dt;
        c.errors += served * t.reported_err * dt;
        c.cpu_seconds += t.cpu * t.ready.max(0.0) * dt;
        c.gc_seconds += t.gc.unwrap_or(0.0) * t.ready * dt;
    }

    /// Emits one sample per series for the interval ending at `end` and starts a new one.
    pub(crate) fn emit(
        &mut self,
        end: DateTime<Utc>,
        services: &[ServiceSpec],
        state: &[(u64, f64, u32)],
        index: &mut TelemetryIndex,
    ) {
        for (s, spec) in services.iter().enumerate() {
            let sum = std::mem::take(&mut self.sums[s]);
            if sum.time <= 0.0 || sum.visible < sum.time * 0.5 {
                // Nothing could scrape it (partitioned): the series just has a gap.
                continue;
            }
            let jitter = (self.rng.normal() * 150.0) as i64;
            let at = end + chrono::Duration::milliseconds(self.offsets_ms[s] + jitter);
            let (restarts, disk_total_gb, pool_size) = state[s];
            for signal in signals_for(spec) {
                if self.rng.chance(0.002) {
                    continue; // a missed scrape
                }
                if let Some((name, value)) =
                    self.measure(s, spec, signal, &sum, restarts, disk_total_gb, pool_size)
                {
                    if value.is_finite() {
                        index.add_metric(&spec.name, &name, at, round(value));
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn measure(
        &mut self,
        s: usize,
        spec: &ServiceSpec,
        signal: Signal,
        sum: &Sums,
        restarts: u64,
        disk_total_gb: f64,
        pool_size: u32,
    ) -> Option<(String, f64)> {
        let time = sum.time;
        let n = self.rng.poisson(sum.arrived) as f64;
        let rate = n / time;
        let err_count = if sum.arrived > 0.0 {
            self.rng.poisson(sum.errors) as f64
        } else {
            0.0
        };
        let noise = self.noise;
        let rel = |rng: &mut SimRng, sigma: f64| (1.0 + noise * sigma * rng.normal()).max(0.05);
        let p50 = (sum.serving > 0.0 && sum.arrived > 0.0).then(|| sum.p50 / sum.arrived);
        let p99 = (sum.serving > 0.0 && sum.arrived > 0.0).then(|| sum.p99 / sum.arrived);
        let sample_noise = 1.0 / n.max(1.0).sqrt();
        let java = spec.runtime == Runtime::Java;
        let c = self.counters[s].clone();
        let style = self.naming;
        use MetricNaming::{OpenTelemetry as O, Plain as P, Prometheus as R};
        if spec.is_datastore() && style != P {
            // Data stores are watched by their own exporters / receivers: counters of
            // operations and failures, no latency percentiles (those come from callers).
            let name = match (signal, style, spec.runtime) {
                (Signal::LatencyP50 | Signal::LatencyP99, _, _) => return None,
                (Signal::RequestRate, R, Runtime::Postgres) => "pg_stat_database_xact_commit_total",
                (Signal::RequestRate, R, Runtime::Redis) => "redis_commands_processed_total",
                (Signal::RequestRate, R, _) => "kafka_server_brokertopicmetrics_messagesin_total",
                (Signal::RequestRate, _, Runtime::Postgres) => "postgresql.commits",
                (Signal::RequestRate, _, Runtime::Redis) => "redis.commands.processed",
                (Signal::RequestRate, _, _) => "kafka.messages.in",
                (Signal::ErrorRate, R, Runtime::Postgres) => "pg_stat_database_xact_rollback_total",
                (Signal::ErrorRate, R, Runtime::Redis) => "redis_commands_failed_calls_total",
                (Signal::ErrorRate, R, _) => {
                    "kafka_server_brokertopicmetrics_failedproducerequests_total"
                }
                (Signal::ErrorRate, _, Runtime::Postgres) => "postgresql.rollbacks",
                (Signal::ErrorRate, _, Runtime::Redis) => "redis.commands.failed",
                (Signal::ErrorRate, _, _) => "kafka.requests.failed",
                (Signal::Replicas, R, _) => "kube_statefulset_status_replicas_ready",
                (Signal::Replicas, _, _) => "k8s.statefulset.ready_pods",
                _ => "",
            };
            match signal {
                Signal::RequestRate => return Some((name.to_string(), c.requests.round())),
                Signal::ErrorRate => return Some((name.to_string(), c.errors.round())),
                Signal::Replicas => return Some((name.to_string(), (sum.ready / time).floor())),
                _ => {}
            }
        }
        let out = match (signal, style) {
            (Signal::Cpu, P) => ("cpu_usage", sum.cpu / time * rel(&mut self.rng, 0.04)),
            (Signal::Cpu, R) => ("container_cpu_usage_seconds_total", c.cpu_seconds),
            (Signal::Cpu, O) => (
                "container.cpu.utilization",
                (sum.cpu / time / spec.cpu_limit * rel(&mut self.rng, 0.04)).min(1.0),
            ),
            (Signal::Memory, P) => (
                "memory_usage_mb",
                sum.memory / time * rel(&mut self.rng, 0.01),
            ),
            (Signal::Memory, R) => (
                "container_memory_working_set_bytes",
                (sum.memory / time * rel(&mut self.rng, 0.01) * 1_048_576.0).round(),
            ),
            (Signal::Memory, O) => (
                "container.memory.usage",
                (sum.memory / time * rel(&mut self.rng, 0.01) * 1_048_576.0).round(),
            ),
            (Signal::LatencyP50, st) => {
                let v = p50? * rel(&mut self.rng, 0.03 + 0.5 * sample_noise);
                match st {
                    P => ("latency_p50_ms", v),
                    R => ("http_server_request_duration_seconds_p50", v / 1000.0),
                    O => ("http.server.request.duration.p50", v / 1000.0),
                }
            }
            (Signal::LatencyP99, st) => {
                let v = p99? * rel(&mut self.rng, 0.06 + 1.5 * sample_noise);
                match st {
                    P => ("latency_p99_ms", v),
                    R => ("http_server_request_duration_seconds_p99", v / 1000.0),
                    O => ("http.server.request.duration.p99", v / 1000.0),
                }
            }
            (Signal::RequestRate, P) => ("request_rate", rate),
            (Signal::RequestRate, R) => ("http_server_requests_total", c.requests.round()),
            (Signal::RequestRate, O) => ("http.server.request.rate", rate),
            (Signal::ErrorRate, P) => (
                "error_rate",
                if n > 0.0 {
                    (err_count / n).min(1.0)
                } else {
                    0.0
                },
            ),
            (Signal::ErrorRate, R) => ("http_server_requests_errors_total", c.errors.round()),
            (Signal::ErrorRate, O) => ("http.server.error.rate", err_count / time),
            (Signal::Saturation, P) => (
                "worker_utilization",
                (sum.busy / time * rel(&mut self.rng, 0.05)).min(1.0),
            ),
            (Signal::Saturation, R) => {
                let busy = sum.busy / time * f64::from(spec.workers) * rel(&mut self.rng, 0.05);
                if java {
                    ("tomcat_threads_busy_threads", busy.round())
                } else {
                    ("http_server_active_requests", busy.round())
                }
            }
            (Signal::Saturation, O) => (
                "http.server.active_requests",
                (sum.busy / time * f64::from(spec.workers) * rel(&mut self.rng, 0.05)).round(),
            ),
            (Signal::PoolUsage, P) => ("db_pool_utilization", (sum.pool_util / time).min(1.0)),
            (Signal::PoolUsage, R) => {
                let active = (sum.pool_active / time).min(f64::from(pool_size)).round();
                if java {
                    ("hikaricp_connections_active", active)
                } else {
                    ("db_pool_in_use_connections", active)
                }
            }
            (Signal::PoolUsage, O) => (
                "db.client.connection.count",
                (sum.pool_active / time).min(f64::from(pool_size)).round(),
            ),
            (Signal::PoolPending, R) => {
                let pending = (sum.pool_pending / time).round();
                if java {
                    ("hikaricp_connections_pending", pending)
                } else {
                    ("db_pool_wait_count", pending)
                }
            }
            (Signal::PoolPending, O) => (
                "db.client.connection.pending_requests",
                (sum.pool_pending / time).round(),
            ),
            (Signal::PoolPending, P) => return None,
            (Signal::DiskUsage, P) => ("disk_usage_percent", sum.disk / time * 100.0),
            (Signal::DiskUsage, R) => (
                "node_filesystem_avail_bytes",
                ((1.0 - sum.disk / time).max(0.0) * disk_total_gb * 1_073_741_824.0).round(),
            ),
            (Signal::DiskUsage, O) => ("system.filesystem.utilization", sum.disk / time),
            (Signal::Restarts, P) => ("restart_count", restarts as f64),
            (Signal::Restarts, R) => ("kube_pod_container_status_restarts_total", restarts as f64),
            (Signal::Restarts, O) => ("k8s.container.restarts", restarts as f64),
            (Signal::Replicas, P) => ("replicas_ready", (sum.ready / time).floor()),
            (Signal::Replicas, R) => (
                "kube_deployment_status_replicas_available",
                (sum.ready / time).floor(),
            ),
            (Signal::Replicas, O) => ("k8s.deployment.available", (sum.ready / time).floor()),
            (Signal::ConsumerLag, P) => ("consumer_lag", (sum.lag / time).round()),
            (Signal::ConsumerLag, R) => ("kafka_consumergroup_lag", (sum.lag / time).round()),
            (Signal::ConsumerLag, O) => ("messaging.kafka.consumer.lag", (sum.lag / time).round()),
            (Signal::Connections, st) => {
                let v = (sum.connections / time * rel(&mut self.rng, 0.03)).round();
                let name = match (st, spec.runtime) {
                    (P, _) => "active_connections",
                    (R, Runtime::Postgres) => "pg_stat_activity_count",
                    (R, Runtime::Redis) => "redis_connected_clients",
                    (R, _) => "kafka_server_socket_server_connection_count",
                    (O, _) => "db.server.connections",
                };
                (name, v)
            }
            (Signal::GcTime, P) => ("gc_time_ratio", sum.gc / time * rel(&mut self.rng, 0.1)),
            (Signal::GcTime, R) => ("jvm_gc_pause_seconds_total", c.gc_seconds),
            (Signal::GcTime, O) => (
                "jvm.gc.duration.ratio",
                sum.gc / time * rel(&mut self.rng, 0.1),
            ),
        };
        Some((out.0.to_string(), out.1))
    }
}

/// Which signals a service exports.
fn signals_for(spec: &ServiceSpec) -> Vec<Signal> {
    let mut v = vec![
        Signal::Cpu,
        Signal::Memory,
        Signal::LatencyP50,
        Signal::LatencyP99,
        Signal::RequestRate,
        Signal::ErrorRate,
        Signal::Restarts,
        Signal::Replicas,
    ];
    if !spec.is_datastore() {
        v.push(Signal::Saturation);
    } else {
        v.push(Signal::Connections);
    }
    if spec.pool.is_some() {
        v.push(Signal::PoolUsage);
        v.push(Signal::PoolPending);
    }
    if spec.disk.is_some() {
        v.push(Signal::DiskUsage);
    }
    if spec.kind == ServiceKind::Worker {
        v.push(Signal::ConsumerLag);
    }
    if spec.runtime == Runtime::Java {
        v.push(Signal::GcTime);
    }
    v
}

/// Six significant digits (what exporters print, and keeps bundles small); large values
/// such as counters keep three decimals so that their differences stay exact enough.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    if v.abs() >= 1.0e5 {
        return (v * 1000.0).round() / 1000.0;
    }
    let magnitude = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(5 - magnitude);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_six_significant_digits() {
        assert_eq!(round(123.456789), 123.457);
        assert_eq!(round(0.000123456789), 0.000123457);
        assert_eq!(round(0.0), 0.0);
    }
}
