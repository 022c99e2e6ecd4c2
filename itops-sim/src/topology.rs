//! The simulated system: services, what each calls, and their capacities.
//!
//! The standard topology is a web shop of 14 services: a web frontend, mid-tier APIs, a
//! queue with a consumer, and three data stores. Capacities are set so that at the daily
//! peak every service runs at 25–50 % of what it can take, like a system sized by people.

use serde::{Deserialize, Serialize};

use itops_core::error::{Error, Result};
use itops_core::word_enum;

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

#[allow(clippy::too_many_arguments)]
fn svc(
    name: &str,
    kind: ServiceKind,
    runtime: Runtime,
    replicas: u32,
    capacity_rps: f64,
    workers: u32,
    latency_ms: f64,
    latency_spread: f64,
    cpu_limit: f64,
    memory_mb: f64,
    memory_limit_mb: f64,
) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        kind,
        runtime,
        replicas,
        capacity_rps,
        workers,
        latency_ms,
        latency_spread,
        cpu_limit,
        cpu_idle: cpu_limit * 0.04,
        memory_mb,
        memory_limit_mb,
        pool: None,
        disk: None,
        log_verbosity: 1.0,
        background_errors: 0.0005,
        flags: Vec::new(),
        version: "1.0.0".to_string(),
        operations: Vec::new(),
        dependencies: Vec::new(),
        consumes: None,
    }
}

fn dep(to: &str, timeout_ms: f64, retries: u32, on_error: OnError, write_share: f64) -> Dependency {
    Dependency {
        to: to.to_string(),
        timeout_ms,
        retries,
        on_error,
        write_share,
    }
}

fn op(name: &str, weight: f64, calls: &[(&str, f64)]) -> Operation {
    Operation {
        name: name.to_string(),
        weight,
        calls: calls.iter().map(|(t, n)| ((*t).to_string(), *n)).collect(),
    }
}

/// The 14 services of the web shop, in the canonical short names, then renamed.
fn web_shop_services(naming: ServiceNaming) -> Vec<ServiceSpec> {
    use OnError::{Fail, Fallback};
    use Runtime::*;
    use ServiceKind::*;

    let mut frontend = svc(
        "frontend", Web, Node, 4, 80.0, 400, 8.0, 4.0, 1.0, 180.0, 512.0,
    );
    frontend.operations = vec![
        op(
            "GET /",
            0.25,
            &[("auth", 1.0), ("catalog", 1.0), ("recommendation", 1.0)],
        ),
        op(
            "GET /product/{id}",
            0.40,
            &[("auth", 1.0), ("catalog", 1.0), ("recommendation", 1.0)],
        ),
        op(
            "GET /cart",
            0.15,
            &[("auth", 1.0), ("cart", 1.0), ("catalog", 1.0)],
        ),
        op("POST /cart", 0.12, &[("auth", 1.0), ("cart", 1.0)]),
        op("POST /checkout", 0.05, &[("auth", 1.0), ("checkout", 1.0)]),
        op("POST /login", 0.03, &[("auth", 1.0)]),
    ];
    frontend.dependencies = vec![
        dep("auth", 1000.0, 1, Fail, 0.0),
        dep("catalog", 2000.0, 1, Fail, 0.0),
        dep("recommendation", 500.0, 0, Fallback, 0.0),
        dep("cart", 2000.0, 1, Fail, 0.3),
        dep("checkout", 10_000.0, 0, Fail, 1.0),
    ];
    frontend.flags = vec!["new-homepage".into(), "search-suggestions".into()];
    frontend.background_errors = 0.001;
    frontend.version = "3.14.2".into();

    let mut auth = svc("auth", Api, Go, 2, 300.0, 1000, 2.0, 3.0, 0.5, 60.0, 256.0);
    auth.operations = vec![
        op("AuthService/VerifySession", 0.97, &[("redis", 1.0)]),
        op(
            "AuthService/Login",
            0.03,
            &[("redis", 1.0), ("postgres", 1.0)],
        ),
    ];
    auth.dependencies = vec![
        dep("redis", 200.0, 1, Fail, 0.1),
        dep("postgres", 1000.0, 0, Fail, 0.0),
    ];
    auth.log_verbosity = 0.2;
    auth.flags = vec!["mfa-enforcement".into()];
    auth.version = "2.3.0".into();

    let mut catalog = svc(
        "catalog", Api, Java, 3, 200.0, 200, 6.0, 4.0, 2.0, 900.0, 1536.0,
    );
    catalog.operations = vec![
        op(
            "ProductCatalog/ListProducts",
            0.4,
            &[("redis", 1.0), ("postgres", 0.15)],
        ),
        op(
            "ProductCatalog/GetProduct",
            0.6,
            &[("redis", 1.0), ("postgres", 0.1)],
        ),
    ];
    catalog.dependencies = vec![
        dep("redis", 200.0, 1, Fallback, 0.0),
        dep("postgres", 2000.0, 0, Fail, 0.0),
    ];
    catalog.pool = Some(PoolSpec {
        datastore: "postgres".into(),
        size: 8,
        timeout_ms: 3000.0,
    });
    catalog.disk = Some(DiskSpec {
        capacity_gb: 20.0,
        used_fraction: 0.46,
        holds: "image cache".into(),
    });
    catalog.log_verbosity = 0.5;
    catalog.flags = vec!["catalog-search-v2".into(), "price-rounding".into()];
    catalog.version = "5.2.1".into();

    let mut cart = svc("cart", Api, Go, 2, 80.0, 1000, 3.0, 3.0, 0.5, 80.0, 256.0);
    cart.operations = vec![
        op("CartService/GetCart", 0.6, &[("redis", 1.0)]),
        op("CartService/AddItem", 0.4, &[("redis", 2.0)]),
    ];
    cart.dependencies = vec![dep("redis", 300.0, 1, Fail, 0.6)];
    cart.log_verbosity = 0.3;
    cart.flags = vec!["cart-recalc-v2".into()];
    cart.version = "1.12.4".into();

    let mut recommendation = svc(
        "recommendation",
        Api,
        Python,
        3,
        90.0,
        16,
        25.0,
        3.0,
        1.0,
        420.0,
        768.0,
    );
    recommendation.operations = vec![op(
        "RecommendationService/ListRecommendations",
        1.0,
        &[("catalog", 1.0)],
    )];
    recommendation.dependencies = vec![dep("catalog", 300.0, 0, Fail, 0.0)];
    recommendation.log_verbosity = 0.5;
    recommendation.background_errors = 0.003;
    recommendation.flags = vec!["recs-model-b".into()];
    recommendation.version = "0.9.7".into();

    let mut checkout = svc(
        "checkout", Api, Java, 2, 10.0, 200, 35.0, 3.0, 2.0, 1100.0, 2048.0,
    );
    checkout.operations = vec![op(
        "CheckoutService/PlaceOrder",
        1.0,
        &[
            ("cart", 1.0),
            ("inventory", 2.0),
            ("payments", 1.0),
            ("shipping", 1.0),
            ("postgres", 1.0),
            ("kafka", 1.0),
        ],
    )];
    checkout.dependencies = vec![
        dep("cart", 1000.0, 1, Fail, 0.0),
        dep("inventory", 1000.0, 1, Fail, 0.7),
        dep("payments", 5000.0, 0, Fail, 1.0),
        dep("shipping", 1000.0, 1, Fallback, 0.0),
        dep("postgres", 2000.0, 0, Fail, 1.0),
        dep("kafka", 1000.0, 2, Fail, 1.0),
    ];
    checkout.pool = Some(PoolSpec {
        datastore: "postgres".into(),
        size: 10,
        timeout_ms: 5000.0,
    });
    checkout.log_verbosity = 3.0;
    checkout.flags = vec!["express-checkout".into(), "gift-wrap".into()];
    checkout.version = "4.0.3".into();

    let mut payments = svc(
        "payments", Api, Java, 2, 12.0, 200, 60.0, 3.5, 1.0, 700.0, 1024.0,
    );
    payments.operations = vec![op("PaymentService/Charge", 1.0, &[("postgres", 2.0)])];
    payments.dependencies = vec![dep("postgres", 2000.0, 0, Fail, 1.0)];
    payments.pool = Some(PoolSpec {
        datastore: "postgres".into(),
        size: 8,
        timeout_ms: 5000.0,
    });
    payments.log_verbosity = 2.0;
    payments.background_errors = 0.002;
    payments.flags = vec!["3ds-v2".into()];
    payments.version = "2.8.0".into();

    let mut inventory = svc(
        "inventory",
        Api,
        Go,
        2,
        40.0,
        1000,
        5.0,
        3.0,
        0.5,
        90.0,
        256.0,
    );
    inventory.operations = vec![
        op("InventoryService/Reserve", 0.7, &[("postgres", 1.0)]),
        op("InventoryService/Check", 0.3, &[("postgres", 1.0)]),
    ];
    inventory.dependencies = vec![dep("postgres", 1000.0, 0, Fail, 0.7)];
    inventory.pool = Some(PoolSpec {
        datastore: "postgres".into(),
        size: 15,
        timeout_ms: 1000.0,
    });
    inventory.flags = vec!["reservation-ttl".into()];
    inventory.version = "1.4.9".into();

    let mut shipping = svc(
        "shipping", Api, Python, 2, 15.0, 8, 15.0, 3.0, 0.5, 300.0, 512.0,
    );
    shipping.operations = vec![op("ShippingService/GetQuote", 1.0, &[])];
    shipping.log_verbosity = 0.1;
    shipping.flags = vec!["carrier-rates-v2".into()];
    shipping.version = "0.6.2".into();

    let mut notification = svc(
        "notification",
        Api,
        Node,
        1,
        25.0,
        200,
        40.0,
        4.0,
        0.5,
        150.0,
        384.0,
    );
    notification.operations = vec![op("NotificationService/SendOrderConfirmation", 1.0, &[])];
    notification.log_verbosity = 1.0;
    notification.background_errors = 0.004;
    notification.flags = vec!["html-emails".into()];
    notification.version = "1.1.0".into();

    let mut worker = svc(
        "order-worker",
        Worker,
        Java,
        2,
        10.0,
        16,
        20.0,
        3.0,
        1.0,
        650.0,
        1024.0,
    );
    worker.operations = vec![op(
        "orders process",
        1.0,
        &[("postgres", 2.0), ("notification", 1.0)],
    )];
    worker.dependencies = vec![
        dep("postgres", 2000.0, 1, Fail, 1.0),
        dep("notification", 3000.0, 2, Fallback, 0.0),
    ];
    worker.pool = Some(PoolSpec {
        datastore: "postgres".into(),
        size: 10,
        timeout_ms: 5000.0,
    });
    worker.disk = Some(DiskSpec {
        capacity_gb: 10.0,
        used_fraction: 0.22,
        holds: "spool".into(),
    });
    worker.consumes = Some("kafka".into());
    worker.log_verbosity = 2.0;
    worker.flags = vec!["batch-commits".into()];
    worker.version = "2.0.1".into();

    let mut postgres = svc(
        "postgres", Database, Postgres, 1, 800.0, 200, 1.5, 6.0, 4.0, 6000.0, 16384.0,
    );
    postgres.disk = Some(DiskSpec {
        capacity_gb: 500.0,
        used_fraction: 0.62,
        holds: "data".into(),
    });
    postgres.log_verbosity = 0.0;
    postgres.background_errors = 0.0002;
    postgres.version = "15.6".into();

    let mut redis = svc(
        "redis", Cache, Redis, 1, 20_000.0, 10_000, 0.4, 4.0, 1.0, 2400.0, 4096.0,
    );
    redis.disk = Some(DiskSpec {
        capacity_gb: 50.0,
        used_fraction: 0.31,
        holds: "snapshots".into(),
    });
    redis.log_verbosity = 0.0;
    redis.background_errors = 0.0;
    redis.version = "7.2.4".into();

    let mut kafka = svc(
        "kafka", Queue, Kafka, 3, 2000.0, 1000, 3.0, 4.0, 2.0, 3000.0, 6144.0,
    );
    kafka.disk = Some(DiskSpec {
        capacity_gb: 1000.0,
        used_fraction: 0.41,
        holds: "log segments".into(),
    });
    kafka.log_verbosity = 0.0;
    kafka.background_errors = 0.0;
    kafka.version = "3.6.1".into();

    let mut all = vec![
        frontend,
        auth,
        catalog,
        cart,
        recommendation,
        checkout,
        payments,
        inventory,
        shipping,
        notification,
        worker,
        postgres,
        redis,
        kafka,
    ];
    if naming != ServiceNaming::Short {
        for s in &mut all {
            s.name = styled(&s.name, naming);
            for d in &mut s.dependencies {
                d.to = styled(&d.to, naming);
            }
            for o in &mut s.operations {
                for c in &mut o.calls {
                    c.0 = styled(&c.0, naming);
                }
            }
            if let Some(p) = &mut s.pool {
                p.datastore = styled(&p.datastore, naming);
            }
            if let Some(q) = &mut s.consumes {
                *q = styled(q, naming);
            }
        }
    }
    all
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
