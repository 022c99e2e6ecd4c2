//! The simulated system: services, what each calls, and their capacities.
//!
//! The standard topology is a web shop of 14 services: a web frontend, mid-tier APIs, a
//! queue with a consumer, and three data stores. Capacities are set so that at the daily
//! peak every service runs at 25–50 % of what it can take, like a system sized by people.

use serde::{Deserialize, Serialize};

use itops_core::error::{Error, Result};
use itops_core::word_enum;

mod web_shop;

use web_shop::web_shop_services;

word_enum! {
    /// What role a service plays.
    pub enum ServiceKind as "service kind" {
        /// Serves users directly.
        Web = "web",
        /// An internal request/response API.
        Api = "api",
        /// Consumes a queue.
        Worker = "worker",
        /// A relational database.
        Database = "database",
        /// An in-memory cache / key-value store.
        Cache = "cache",
        /// A message broker.
        Queue = "queue",
    }
}

word_enum! {
    /// What a service is written in or runs as; shapes its logs and memory behaviour.
    pub enum Runtime as "runtime" {
        /// JVM (Spring Boot style logs, stack traces, GC).
        Java = "java",
        /// Go (logfmt logs, goroutine dumps).
        Go = "go",
        /// Python (gunicorn workers, tracebacks).
        Python = "python",
        /// Node.js (JSON logs).
        Node = "node",
        /// PostgreSQL server.
        Postgres = "postgres",
        /// Redis server.
        Redis = "redis",
        /// Kafka broker.
        Kafka = "kafka",
    }
}

word_enum! {
    /// How service names are spelled in the emitted telemetry (real systems differ).
    pub enum ServiceNaming as "service naming" {
        /// `cart`, `checkout`, `postgres`.
        Short = "short",
        /// `cart-service`, `checkout-service`, `postgres-primary`.
        Suffixed = "suffixed",
        /// `cartservice`, `checkoutservice`, `orders-db` (Online Boutique style).
        Joined = "joined",
    }
}

word_enum! {
    /// What a caller does when a call fails.
    pub enum OnError as "on error" {
        /// The caller's request fails too.
        Fail = "fail",
        /// The caller degrades (default value, cached answer) and succeeds.
        Fallback = "fallback",
    }
}

/// One outgoing call edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    /// The service called.
    pub to: String,
    /// Client timeout per attempt, in milliseconds.
    pub timeout_ms: f64,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// What a failure does to the caller.
    pub on_error: OnError,
    /// Share of the calls that write (they fail first when the callee cannot write).
    pub write_share: f64,
}

/// One operation a service serves, with the calls each request makes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The operation name as spans and access logs show it.
    pub name: String,
    /// Share of the service's requests.
    pub weight: f64,
    /// Calls per request: (service, average count).
    pub calls: Vec<(String, f64)>,
}

/// A connection pool from a service to a data store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// The data store the pool connects to.
    pub datastore: String,
    /// Connections per replica.
    pub size: u32,
    /// How long a request waits for a connection before failing, in milliseconds.
    pub timeout_ms: f64,
}

/// A disk the service writes to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskSpec {
    /// Volume size, in GiB.
    pub capacity_gb: f64,
    /// Fraction used at the start.
    pub used_fraction: f64,
    /// What the disk holds (`data`, `cache`, `spool`, `log segments`).
    pub holds: String,
}

/// One service and its static properties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// Name as emitted in telemetry.
    pub name: String,
    /// Role.
    pub kind: ServiceKind,
    /// Runtime.
    pub runtime: Runtime,
    /// Replicas at the start.
    pub replicas: u32,
    /// Requests per second one replica serves at full CPU.
    pub capacity_rps: f64,
    /// Concurrent requests one replica can hold (threads, workers).
    pub workers: u32,
    /// Own processing time, median, in milliseconds (without downstream calls).
    pub latency_ms: f64,
    /// Own processing time p99 / p50.
    pub latency_spread: f64,
    /// CPU limit per replica, in cores.
    pub cpu_limit: f64,
    /// CPU used per replica when idle, in cores.
    pub cpu_idle: f64,
    /// Resident memory per replica at steady state, in MiB.
    pub memory_mb: f64,
    /// Memory limit per replica, in MiB (the OOM killer acts above it).
    pub memory_limit_mb: f64,
    /// Connection pool, when it has one.
    pub pool: Option<PoolSpec>,
    /// Disk, when it writes to one that matters.
    pub disk: Option<DiskSpec>,
    /// How chatty its logs are, relative to an access log line per request.
    pub log_verbosity: f64,
    /// Fraction of requests that fail in normal operation.
    pub background_errors: f64,
    /// Feature flags it evaluates.
    pub flags: Vec<String>,
    /// The version deployed at the start.
    pub version: String,
    /// Operations it serves.
    pub operations: Vec<Operation>,
    /// Services it calls.
    pub dependencies: Vec<Dependency>,
    /// The queue it consumes, for workers.
    pub consumes: Option<String>,
}

impl ServiceSpec {
    /// Whether this is a data store or broker rather than application code.
    pub fn is_datastore(&self) -> bool {
        matches!(
            self.kind,
            ServiceKind::Database | ServiceKind::Cache | ServiceKind::Queue
        )
    }
}

/// A resolved call edge (indices instead of names).
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub(crate) to: usize,
    /// Average calls per request of the caller.
    pub(crate) per_request: f64,
    pub(crate) timeout_ms: f64,
    pub(crate) retries: u32,
    pub(crate) fallback: bool,
    pub(crate) write_share: f64,
}

/// The system: services and the call graph between them.
#[derive(Clone, Debug)]
pub struct Topology {
    services: Vec<ServiceSpec>,
    /// Callers before callees.
    pub(crate) order: Vec<usize>,
    pub(crate) edges: Vec<Vec<Edge>>,
    pub(crate) callers: Vec<Vec<usize>>,
    pub(crate) entry: usize,
    pub(crate) consumer_of: Vec<Option<usize>>,
    /// Requests per second at the entry at the daily peak.
    pub(crate) peak_rps: f64,
    /// Per service: the average write share of the calls it receives.
    pub(crate) write_share_in: Vec<f64>,
    /// Per service: requests/s at the daily peak, without retries.
    pub(crate) peak_rate: Vec<f64>,
}

impl Topology {
    /// The standard web shop with short service names.
    pub fn web_shop() -> Self {
        Self::web_shop_named(ServiceNaming::Short)
    }

    /// The standard web shop, service names spelled in the given style.
    pub fn web_shop_named(naming: ServiceNaming) -> Self {
        let services = web_shop_services(naming);
        match Self::from_services(services, 150.0) {
            Ok(t) => t,
            // The built-in topology is checked by a unit test; fall back to its short form.
            Err(_) => Self::empty(),
        }
    }

    fn empty() -> Self {
        Self {
            services: Vec::new(),
            order: Vec::new(),
            edges: Vec::new(),
            callers: Vec::new(),
            entry: 0,
            consumer_of: Vec::new(),
            peak_rps: 0.0,
            write_share_in: Vec::new(),
            peak_rate: Vec::new(),
        }
    }

    /// Builds a topology from service specs; the first service is the entry. The call graph
    /// must be acyclic and every call must name a listed service.
    pub fn from_services(services: Vec<ServiceSpec>, peak_rps: f64) -> Result<Self> {
        if services.is_empty() {
            return Err(Error::invalid("topology", "needs at least one service"));
        }
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        let find = |name: &str| -> Result<usize> {
            names.iter().position(|n| *n == name).ok_or_else(|| {
                Error::invalid(
                    "topology",
                    format!(
                        "call to unknown service '{name}'; known: {}",
                        names.join(", ")
                    ),
                )
            })
        };
        let mut edges = Vec::with_capacity(services.len());
        for s in &services {
            let total_weight: f64 = s.operations.iter().map(|o| o.weight).sum();
            let mut out = Vec::new();
            for d in &s.dependencies {
                let to = find(&d.to)?;
                let calls: f64 = s
                    .operations
                    .iter()
                    .map(|o| {
                        o.weight
                            * o.calls
                                .iter()
                                .filter(|(t, _)| *t == d.to)
                                .map(|(_, n)| n)
                                .sum::<f64>()
                    })
                    .sum();
                let per_request = if total_weight > 0.0 {
                    calls / total_weight
                } else {
                    0.0
                };
                out.push(Edge {
                    to,
                    per_request,
                    timeout_ms: d.timeout_ms,
                    retries: d.retries,
                    fallback: d.on_error == OnError::Fallback,
                    write_share: d.write_share,
                });
            }
            for op in &s.operations {
                for (t, _) in &op.calls {
                    if !s.dependencies.iter().any(|d| &d.to == t) {
                        return Err(Error::invalid(
                            "topology",
                            format!(
                                "operation '{}' of '{}' calls '{t}', which is not among its dependencies",
                                op.name, s.name
                            ),
                        ));
                    }
                }
            }
            edges.push(out);
        }
        let mut callers = vec![Vec::new(); services.len()];
        for (i, out) in edges.iter().enumerate() {
            for e in out {
                callers[e.to].push(i);
            }
        }
        let mut consumer_of = vec![None; services.len()];
        for (i, s) in services.iter().enumerate() {
            if let Some(q) = &s.consumes {
                consumer_of[i] = Some(find(q)?);
            }
        }
        // Kahn's algorithm; consumers come after the queue they read.
        let n = services.len();
        let mut indegree = vec![0usize; n];
        for (i, out) in edges.iter().enumerate() {
            for e in out {
                indegree[e.to] += 1;
            }
            if consumer_of[i].is_some() {
                indegree[i] += 1;
            }
        }
        let mut ready: Vec<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
        ready.reverse();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop() {
            order.push(i);
            let mut next: Vec<usize> = edges[i].iter().map(|e| e.to).collect();
            next.extend((0..n).filter(|c| consumer_of[*c] == Some(i)));
            for t in next {
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.insert(0, t);
                }
            }
        }
        if order.len() != n {
            return Err(Error::invalid("topology", "the call graph has a cycle"));
        }
        let mut write_share_in = vec![0.0; n];
        let mut calls_in = vec![0.0; n];
        for out in &edges {
            for e in out {
                write_share_in[e.to] += e.write_share * e.per_request;
                calls_in[e.to] += e.per_request;
            }
        }
        for (w, c) in write_share_in.iter_mut().zip(&calls_in) {
            *w = if *c > 0.0 { *w / c } else { 0.0 };
        }
        let mut peak_rate = vec![0.0; n];
        peak_rate[0] = peak_rps;
        for &i in &order {
            if let Some(q) = consumer_of[i] {
                peak_rate[i] = peak_rate[q];
            }
            for e in &edges[i] {
                peak_rate[e.to] += peak_rate[i] * e.per_request;
            }
        }
        Ok(Self {
            services,
            order,
            edges,
            callers,
            entry: 0,
            consumer_of,
            peak_rps,
            write_share_in,
            peak_rate,
        })
    }

    /// Every service, entry first.
    pub fn services(&self) -> &[ServiceSpec] {
        &self.services
    }

    /// Service names, entry first.
    pub fn names(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.name.as_str()).collect()
    }

    /// The service users call.
    pub fn entry(&self) -> &ServiceSpec {
        &self.services[self.entry]
    }

    /// A service by name; the error lists the valid names.
    pub fn service(&self, name: &str) -> Result<&ServiceSpec> {
        self.index_of(name).map(|i| &self.services[i])
    }

    /// The services that call `name` synchronously.
    pub fn callers_of(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.index_of(name)?;
        Ok(self.callers[i]
            .iter()
            .map(|c| self.services[*c].name.as_str())
            .collect())
    }

    /// The services `name` calls, in declaration order.
    pub fn callees_of(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.index_of(name)?;
        Ok(self.edges[i]
            .iter()
            .map(|e| self.services[e.to].name.as_str())
            .collect())
    }

    /// Every (caller, callee) pair.
    pub fn call_edges(&self) -> Vec<(&str, &str)> {
        let mut out = Vec::new();
        for (i, es) in self.edges.iter().enumerate() {
            for e in es {
                out.push((
                    self.services[i].name.as_str(),
                    self.services[e.to].name.as_str(),
                ));
            }
        }
        out
    }

    /// Requests per second at the entry at the daily peak.
    pub fn peak_rps(&self) -> f64 {
        self.peak_rps
    }

    /// Concurrent requests per replica of service `i` at the daily peak, roughly.
    pub(crate) fn peak_concurrency(&self, i: usize) -> f64 {
        let s = &self.services[i];
        // Own time alone underestimates a request's life; callees roughly triple it.
        self.peak_rate[i] / f64::from(s.replicas.max(1)) * s.latency_ms * 3.0 / 1000.0
    }

    /// The index of a service; the error lists the valid names.
    pub(crate) fn index_of(&self, name: &str) -> Result<usize> {
        self.services
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| unknown_service(name, &self.names()))
    }

    /// Services with callers, nearest to the entry first (breadth first).
    pub(crate) fn depth(&self) -> Vec<usize> {
        let n = self.services.len();
        let mut depth = vec![usize::MAX; n];
        depth[self.entry] = 0;
        for &i in &self.order {
            if depth[i] == usize::MAX {
                // Consumers and other roots start their own tree.
                depth[i] = 1;
            }
            for e in &self.edges[i] {
                depth[e.to] = depth[e.to].min(depth[i] + 1);
            }
        }
        depth
    }
}

/// The error for a service name that is not in the system.
pub(crate) fn unknown_service(name: &str, valid: &[&str]) -> Error {
    Error::UnknownVariant {
        what: "service",
        value: name.to_string(),
        expected: valid.join(", "),
    }
}

/// The canonical short name → the name in a naming style.
fn styled(short: &str, naming: ServiceNaming) -> String {
    const TABLE: &[(&str, &str, &str)] = &[
        ("frontend", "frontend", "frontend"),
        ("auth", "auth-service", "authservice"),
        ("catalog", "catalog-service", "productcatalogservice"),
        ("cart", "cart-service", "cartservice"),
        (
            "recommendation",
            "recommendation-service",
            "recommendationservice",
        ),
        ("checkout", "checkout-service", "checkoutservice"),
        ("payments", "payment-service", "paymentservice"),
        ("inventory", "inventory-service", "inventoryservice"),
        ("shipping", "shipping-service", "shippingservice"),
        ("notification", "notification-service", "emailservice"),
        ("order-worker", "order-worker", "orderprocessor"),
        ("postgres", "postgres-primary", "orders-db"),
        ("redis", "redis-cache", "redis-cart"),
        ("kafka", "kafka-broker", "kafka"),
    ];
    let row = TABLE.iter().find(|(s, _, _)| *s == short);
    match (row, naming) {
        (Some((s, _, _)), ServiceNaming::Short) => (*s).to_string(),
        (Some((_, s, _)), ServiceNaming::Suffixed) => (*s).to_string(),
        (Some((_, _, s)), ServiceNaming::Joined) => (*s).to_string(),
        (None, _) => short.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_shop_is_a_valid_dag_in_every_naming() {
        for naming in ServiceNaming::ALL {
            let services = web_shop_services(*naming);
            let t = Topology::from_services(services, 150.0).unwrap();
            assert_eq!(t.services().len(), 14);
            assert_eq!(t.order.len(), 14);
            assert_eq!(t.order[0], 0, "the entry comes first");
        }
    }

    #[test]
    fn unknown_service_lists_the_valid_ones() {
        let t = Topology::web_shop();
        let e = t.service("nope").unwrap_err().to_string();
        assert!(e.contains("frontend") && e.contains("postgres"), "{e}");
    }
}
