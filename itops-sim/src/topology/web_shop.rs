//! The standard web shop: its 14 services, their sizes, operations and dependencies.

use super::{
    styled, Dependency, DiskSpec, OnError, Operation, PoolSpec, Runtime, ServiceKind,
    ServiceNaming, ServiceSpec,
};

/// How big and fast a service is: what [`svc`] takes besides its name, kind and runtime.
struct Size {
    replicas: u32,
    capacity_rps: f64,
    workers: u32,
    latency_ms: f64,
    latency_spread: f64,
    cpu_limit: f64,
    memory_mb: f64,
    memory_limit_mb: f64,
}

fn svc(name: &str, kind: ServiceKind, runtime: Runtime, size: Size) -> ServiceSpec {
    let Size {
        replicas,
        capacity_rps,
        workers,
        latency_ms,
        latency_spread,
        cpu_limit,
        memory_mb,
        memory_limit_mb,
    } = size;
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
pub(super) fn web_shop_services(naming: ServiceNaming) -> Vec<ServiceSpec> {
    use OnError::{Fail, Fallback};
    use Runtime::*;
    use ServiceKind::*;

    let mut frontend = svc(
        "frontend",
        Web,
        Node,
        Size {
            replicas: 4,
            capacity_rps: 80.0,
            workers: 400,
            latency_ms: 8.0,
            latency_spread: 4.0,
            cpu_limit: 1.0,
            memory_mb: 180.0,
            memory_limit_mb: 512.0,
        },
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

    let mut auth = svc(
        "auth",
        Api,
        Go,
        Size {
            replicas: 2,
            capacity_rps: 300.0,
            workers: 1000,
            latency_ms: 2.0,
            latency_spread: 3.0,
            cpu_limit: 0.5,
            memory_mb: 60.0,
            memory_limit_mb: 256.0,
        },
    );
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
        "catalog",
        Api,
        Java,
        Size {
            replicas: 3,
            capacity_rps: 200.0,
            workers: 200,
            latency_ms: 6.0,
            latency_spread: 4.0,
            cpu_limit: 2.0,
            memory_mb: 900.0,
            memory_limit_mb: 1536.0,
        },
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

    let mut cart = svc(
        "cart",
        Api,
        Go,
        Size {
            replicas: 2,
            capacity_rps: 80.0,
            workers: 1000,
            latency_ms: 3.0,
            latency_spread: 3.0,
            cpu_limit: 0.5,
            memory_mb: 80.0,
            memory_limit_mb: 256.0,
        },
    );
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
        Size {
            replicas: 3,
            capacity_rps: 90.0,
            workers: 16,
            latency_ms: 25.0,
            latency_spread: 3.0,
            cpu_limit: 1.0,
            memory_mb: 420.0,
            memory_limit_mb: 768.0,
        },
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
        "checkout",
        Api,
        Java,
        Size {
            replicas: 2,
            capacity_rps: 10.0,
            workers: 200,
            latency_ms: 35.0,
            latency_spread: 3.0,
            cpu_limit: 2.0,
            memory_mb: 1100.0,
            memory_limit_mb: 2048.0,
        },
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
        "payments",
        Api,
        Java,
        Size {
            replicas: 2,
            capacity_rps: 12.0,
            workers: 200,
            latency_ms: 60.0,
            latency_spread: 3.5,
            cpu_limit: 1.0,
            memory_mb: 700.0,
            memory_limit_mb: 1024.0,
        },
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
        Size {
            replicas: 2,
            capacity_rps: 40.0,
            workers: 1000,
            latency_ms: 5.0,
            latency_spread: 3.0,
            cpu_limit: 0.5,
            memory_mb: 90.0,
            memory_limit_mb: 256.0,
        },
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
        "shipping",
        Api,
        Python,
        Size {
            replicas: 2,
            capacity_rps: 15.0,
            workers: 8,
            latency_ms: 15.0,
            latency_spread: 3.0,
            cpu_limit: 0.5,
            memory_mb: 300.0,
            memory_limit_mb: 512.0,
        },
    );
    shipping.operations = vec![op("ShippingService/GetQuote", 1.0, &[])];
    shipping.log_verbosity = 0.1;
    shipping.flags = vec!["carrier-rates-v2".into()];
    shipping.version = "0.6.2".into();

    let mut notification = svc(
        "notification",
        Api,
        Node,
        Size {
            replicas: 1,
            capacity_rps: 25.0,
            workers: 200,
            latency_ms: 40.0,
            latency_spread: 4.0,
            cpu_limit: 0.5,
            memory_mb: 150.0,
            memory_limit_mb: 384.0,
        },
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
        Size {
            replicas: 2,
            capacity_rps: 10.0,
            workers: 16,
            latency_ms: 20.0,
            latency_spread: 3.0,
            cpu_limit: 1.0,
            memory_mb: 650.0,
            memory_limit_mb: 1024.0,
        },
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
        "postgres",
        Database,
        Postgres,
        Size {
            replicas: 1,
            capacity_rps: 800.0,
            workers: 200,
            latency_ms: 1.5,
            latency_spread: 6.0,
            cpu_limit: 4.0,
            memory_mb: 6000.0,
            memory_limit_mb: 16384.0,
        },
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
        "redis",
        Cache,
        Redis,
        Size {
            replicas: 1,
            capacity_rps: 20_000.0,
            workers: 10_000,
            latency_ms: 0.4,
            latency_spread: 4.0,
            cpu_limit: 1.0,
            memory_mb: 2400.0,
            memory_limit_mb: 4096.0,
        },
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
        "kafka",
        Queue,
        Kafka,
        Size {
            replicas: 3,
            capacity_rps: 2000.0,
            workers: 1000,
            latency_ms: 3.0,
            latency_spread: 4.0,
            cpu_limit: 2.0,
            memory_mb: 3000.0,
            memory_limit_mb: 6144.0,
        },
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
