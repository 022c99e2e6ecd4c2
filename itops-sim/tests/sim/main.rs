//! The simulated environment: faults are visible and propagate, actions cure exactly what
//! they should, runs are deterministic, bad names are clear errors, bundles round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::catalogue::{
    ActionCatalogue, ActionParams, ClearCache, FailoverDependency, RaisePoolLimit, RestartService,
    RollbackDeployment, ScaleOut, ToggleFeatureFlag,
};
use itops_core::environment::ActionExecutor;
use itops_core::telemetry::bundle::{load_bundle, LoadOptions};
use itops_core::telemetry::{LogQuery, MetricQuery, SpanQuery, SpanStatus, TimeRange};
use itops_core::{FaultKind, TelemetrySource};
use itops_sim::{
    self as sim, CaseSpec, FaultSpec, FaultVariant, MetricNaming, ServiceNaming, SignalSet,
    SimConfig, SimEnvironment,
};

const MIN: Duration = Duration::from_secs(60);

/// The seed of the fault tests; `SIM_SEED=n` reruns them on another one.
fn seed() -> u64 {
    std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11)
}

fn sim(seed: u64, signals: SignalSet) -> SimEnvironment {
    let config = SimConfig::new(seed)
        .sample_interval(30)
        .signals(signals)
        .noise(0.5);
    let mut config = config;
    config.telemetry.log_sampling = 0.003;
    config.telemetry.traces_per_minute = 20.0;
    SimEnvironment::new(config).unwrap()
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> TimeRange {
    TimeRange::new(from, to).unwrap()
}

/// Mean of a plain-named metric of a service over a range; `None` when there are no samples.
fn mean(env: &SimEnvironment, service: &str, metric: &str, r: TimeRange) -> Option<f64> {
    let series = env.with_index(|ix| {
        ix.metrics(&MetricQuery {
            range: r,
            service: Some(service.to_string()),
            metric: Some(metric.to_string()),
        })
    });
    let points: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.value))
        .collect();
    if points.is_empty() {
        None
    } else {
        Some(points.iter().sum::<f64>() / points.len() as f64)
    }
}

fn last(env: &SimEnvironment, service: &str, metric: &str, r: TimeRange) -> Option<f64> {
    env.with_index(|ix| {
        ix.metrics(&MetricQuery {
            range: r,
            service: Some(service.to_string()),
            metric: Some(metric.to_string()),
        })
    })
    .first()
    .and_then(|s| s.points.last().map(|p| p.value))
}

/// Baseline 10 minutes, then the fault; returns (env, fault start).
fn with_fault(
    kind: FaultKind,
    root: &str,
    variant: Option<FaultVariant>,
    signals: SignalSet,
) -> (SimEnvironment, DateTime<Utc>) {
    let env = sim(seed(), signals);
    env.advance(10 * MIN);
    let at = env.now();
    let mut f = FaultSpec::new(kind, root, at, 0.8);
    f.variant = variant;
    env.inject(f).unwrap();
    (env, at)
}

// ---------------------------------------------------------------------------------------
// Each fault kind is visible at its root and reaches its callers.
// ---------------------------------------------------------------------------------------

struct Visibility {
    kind: FaultKind,
    root: &'static str,
    variant: Option<FaultVariant>,
    /// (metric at the root, ratio after/before that must be exceeded; below 1 means "drops to").
    root_signal: (&'static str, f64),
    /// (caller, metric) that must rise by 50 % and by an absolute margin.
    caller_signal: (&'static str, &'static str),
}

fn visibility_table() -> Vec<Visibility> {
    use FaultKind::*;
    vec![
        Visibility {
            kind: CpuContention,
            root: "catalog",
            variant: None,
            root_signal: ("cpu_usage", 2.0),
            caller_signal: ("recommendation", "latency_p99_ms"),
        },
        Visibility {
            kind: MemoryLeak,
            root: "catalog",
            variant: None,
            root_signal: ("memory_usage_mb", 1.25),
            caller_signal: ("recommendation", "error_rate"),
        },
        Visibility {
            kind: ExceptionBurst,
            root: "payments",
            variant: None,
            root_signal: ("error_rate", 10.0),
            caller_signal: ("checkout", "error_rate"),
        },
        Visibility {
            kind: WrongReturnValue,
            root: "shipping",
            variant: None,
            root_signal: ("latency_p50_ms", 0.85),
            caller_signal: ("checkout", "error_rate"),
        },
        Visibility {
            kind: NetworkDelay,
            root: "inventory",
            variant: None,
            root_signal: ("latency_p50_ms", 5.0),
            caller_signal: ("checkout", "latency_p50_ms"),
        },
        Visibility {
            kind: DependencyDown,
            root: "inventory",
            variant: Some(FaultVariant::CrashLoop),
            root_signal: ("request_rate", 0.05),
            caller_signal: ("checkout", "error_rate"),
        },
        Visibility {
            kind: ConnectionPoolExhaustion,
            root: "inventory",
            variant: None,
            root_signal: ("db_pool_utilization", 5.0),
            caller_signal: ("checkout", "error_rate"),
        },
        Visibility {
            kind: DiskFull,
            root: "postgres",
            variant: None,
            root_signal: ("disk_usage_percent", 1.4),
            caller_signal: ("payments", "error_rate"),
        },
        Visibility {
            kind: BadDeploy,
            root: "cart",
            variant: None,
            root_signal: ("error_rate", 10.0),
            caller_signal: ("frontend", "error_rate"),
        },
        Visibility {
            kind: ConfigError,
            root: "checkout",
            variant: Some(FaultVariant::WrongEndpoint {
                dependency: "inventory".into(),
            }),
            root_signal: ("error_rate", 10.0),
            caller_signal: ("frontend", "error_rate"),
        },
        Visibility {
            kind: TrafficSpike,
            root: "catalog",
            variant: None,
            root_signal: ("request_rate", 2.0),
            caller_signal: ("recommendation", "latency_p99_ms"),
        },
    ]
}

#[test]
fn every_fault_kind_shows_at_its_root_and_reaches_its_callers() {
    let table = visibility_table();
    assert_eq!(
        table.len(),
        sim::injectable_kinds().len(),
        "one row per injectable kind"
    );
    for row in table {
        let (env, at) = with_fault(
            row.kind,
            row.root,
            row.variant.clone(),
            SignalSet::MetricsOnly,
        );
        env.advance(12 * MIN);
        let before = range(at - 8 * MIN, at);
        let after = range(at + 6 * MIN, at + 12 * MIN);
        let (metric, ratio) = row.root_signal;
        let b = mean(&env, row.root, metric, before).unwrap();
        let a = mean(&env, row.root, metric, after).unwrap_or(0.0);
        if ratio >= 1.0 {
            assert!(
                a > b * ratio && a > b + 1e-3,
                "{}: {}/{metric} {b} -> {a}",
                row.kind,
                row.root
            );
        } else {
            assert!(
                a < b * ratio,
                "{}: {}/{metric} {b} -> {a}, expected a drop",
                row.kind,
                row.root
            );
        }
        let (caller, cmetric) = row.caller_signal;
        assert!(
            env.topology()
                .callers_of(row.root)
                .unwrap()
                .contains(&caller)
                || row.kind == FaultKind::BadDeploy
                || row.kind == FaultKind::ConfigError,
            "{caller} calls {}",
            row.root
        );
        let cb = mean(&env, caller, cmetric, before).unwrap();
        let ca = mean(&env, caller, cmetric, after).unwrap();
        let margin = if cmetric == "error_rate" { 0.005 } else { 5.0 };
        assert!(
            ca > cb * 1.5 && ca > cb + margin,
            "{} on {}: caller {caller}/{cmetric} {cb} -> {ca}",
            row.kind,
            row.root
        );
    }
}

#[test]
fn wrong_values_fail_the_caller_not_the_root() {
    let (env, at) = with_fault(
        FaultKind::WrongReturnValue,
        "shipping",
        None,
        SignalSet::Full,
    );
    env.advance(10 * MIN);
    let after = range(at + 4 * MIN, at + 10 * MIN);
    // The root's own error rate stays at its normal trickle; its spans stay fine.
    assert!(mean(&env, "shipping", "error_rate", after).unwrap() < 0.01);
    let spans = env.with_index(|ix| {
        ix.spans(&SpanQuery {
            range: after,
            service: None,
            trace_id: None,
            errors_only: true,
            limit: 10_000,
        })
    });
    assert!(spans.iter().any(|s| s.service == "checkout"));
    assert!(
        spans.iter().all(|s| s.service != "shipping"),
        "shipping spans do not fail"
    );
}

#[test]
fn a_partitioned_service_goes_silent_while_its_callers_time_out() {
    let mut config = SimConfig::new(seed()).sample_interval(30);
    config.telemetry.traces_per_minute = 240.0;
    let env = SimEnvironment::new(config).unwrap();
    env.advance(10 * MIN);
    let at = env.now();
    env.inject(
        FaultSpec::new(FaultKind::DependencyDown, "inventory", at, 0.8)
            .variant(FaultVariant::Partition),
    )
    .unwrap();
    env.advance(8 * MIN);
    let after = range(at + 2 * MIN, at + 8 * MIN);
    // Nothing can scrape it, its logs cannot be shipped, no spans reach it.
    assert_eq!(mean(&env, "inventory", "request_rate", after), None);
    let q = |service: &str| LogQuery {
        range: after,
        service: Some(service.into()),
        contains: None,
        min_level: None,
        limit: 100_000,
    };
    assert!(env.with_index(|ix| ix.logs(&q("inventory"))).is_empty());
    let spans = env.with_index(|ix| {
        ix.spans(&SpanQuery {
            range: after,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: 100_000,
        })
    });
    assert!(spans.iter().all(|s| s.service != "inventory"));
    // Checkout's failing spans come with error logs carrying their trace ids.
    let failing: Vec<_> = spans
        .iter()
        .filter(|s| s.service == "checkout" && s.status == SpanStatus::Error)
        .collect();
    assert!(!failing.is_empty());
    let logs = env.with_index(|ix| ix.logs(&q("checkout")));
    assert!(logs.iter().any(|l| l
        .trace_id
        .as_ref()
        .is_some_and(|t| failing.iter().any(|s| &s.trace_id == t))));
    assert!(
        logs.iter().any(|l| l.message.contains("inventory")),
        "the caller's errors name what it called"
    );
}

#[test]
fn changes_come_with_their_faults_and_distractions() {
    let (env, at) = with_fault(FaultKind::BadDeploy, "cart", None, SignalSet::NoTraces);
    env.distract(sim::Distraction::new(
        sim::DistractionKind::HarmlessDeploy,
        "shipping",
        at + MIN,
    ))
    .unwrap();
    env.advance(6 * MIN);
    let changes = env.with_index(|ix| ix.changes(range(at - MIN, at + 6 * MIN), None));
    let deploys: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == "deploy")
        .map(|c| c.service.as_str())
        .collect();
    assert_eq!(deploys, ["cart", "shipping"]);
    assert!(changes[0].version.is_some() && changes[0].actor.is_some());
    // The harmless deploy does not become a fault.
    let truth = env.ground_truth();
    assert_eq!(truth.len(), 1);
    assert_eq!(truth[0].service, "cart");
}

#[test]
fn an_exception_burst_flag_is_on_the_change_record_from_well_before_the_burst() {
    let flag = FaultVariant::FeatureFlag {
        flag: "3ds-v2".into(),
    };
    let (env, at) = with_fault(
        FaultKind::ExceptionBurst,
        "payments",
        Some(flag),
        SignalSet::NoTraces,
    );
    env.advance(5 * MIN);
    let changes = env.with_index(|ix| {
        ix.changes(
            range(at - chrono::Duration::days(1), at + 5 * MIN),
            Some("payments"),
        )
    });
    let flags: Vec<_> = changes.iter().filter(|c| c.kind == "flag").collect();
    assert_eq!(flags.len(), 1, "{changes:?}");
    assert!(
        flags[0].description.contains("'3ds-v2' enabled"),
        "{flags:?}"
    );
    // Long enough before the burst that it is not the change that started it.
    assert!(at - flags[0].at >= chrono::Duration::hours(1), "{flags:?}");
}

// ---------------------------------------------------------------------------------------
// Each action cures exactly the faults it should.
// ---------------------------------------------------------------------------------------

struct CureCase {
    kind: FaultKind,
    root: &'static str,
    variant: Option<FaultVariant>,
    /// (service, metric) that must return near baseline.
    keys: &'static [(&'static str, &'static str)],
}

fn cure_cases() -> Vec<CureCase> {
    use FaultKind::*;
    vec![
        CureCase {
            kind: CpuContention,
            root: "catalog",
            variant: None,
            keys: &[("catalog", "latency_p99_ms"), ("catalog", "error_rate")],
        },
        CureCase {
            kind: CpuContention,
            root: "postgres",
            variant: None,
            keys: &[("postgres", "latency_p99_ms"), ("payments", "error_rate")],
        },
        CureCase {
            kind: MemoryLeak,
            root: "catalog",
            variant: None,
            keys: &[("catalog", "memory_usage_mb"), ("catalog", "restarts")],
        },
        CureCase {
            kind: ExceptionBurst,
            root: "payments",
            variant: Some(FaultVariant::FeatureFlag {
                flag: "3ds-v2".into(),
            }),
            keys: &[("payments", "error_rate")],
        },
        CureCase {
            kind: WrongReturnValue,
            root: "shipping",
            variant: None,
            keys: &[("checkout", "error_rate")],
        },
        CureCase {
            kind: NetworkDelay,
            root: "inventory",
            variant: None,
            keys: &[("inventory", "latency_p50_ms")],
        },
        CureCase {
            kind: DependencyDown,
            root: "inventory",
            variant: Some(FaultVariant::Partition),
            keys: &[("inventory", "request_rate"), ("checkout", "error_rate")],
        },
        CureCase {
            kind: ConnectionPoolExhaustion,
            root: "inventory",
            variant: None,
            keys: &[("inventory", "error_rate"), ("inventory", "latency_p99_ms")],
        },
        CureCase {
            kind: DiskFull,
            root: "catalog",
            variant: None,
            keys: &[("catalog", "disk_usage_percent"), ("catalog", "error_rate")],
        },
        CureCase {
            kind: BadDeploy,
            root: "cart",
            variant: None,
            keys: &[("cart", "error_rate")],
        },
        CureCase {
            kind: ConfigError,
            root: "checkout",
            variant: Some(FaultVariant::WrongEndpoint {
                dependency: "inventory".into(),
            }),
            keys: &[("checkout", "error_rate")],
        },
        CureCase {
            kind: TrafficSpike,
            root: "catalog",
            variant: None,
            keys: &[("catalog", "latency_p99_ms"), ("catalog", "error_rate")],
        },
    ]
}

/// The action to try, with parameters that make sense for the target.
fn params_for(
    action: &str,
    env: &SimEnvironment,
    root: &str,
    variant: &Option<FaultVariant>,
) -> ActionParams {
    let replicas = env.health(root).unwrap().replicas;
    match action {
        "restart_service" => ActionParams::RestartService(RestartService { rolling: true }),
        "rollback_deployment" => ActionParams::RollbackDeployment(RollbackDeployment::default()),
        "scale_out" => ActionParams::ScaleOut(ScaleOut {
            replicas: replicas * 4,
        }),
        "failover_dependency" => ActionParams::FailoverDependency(FailoverDependency::default()),
        "toggle_feature_flag" => {
            let flag = match variant {
                Some(FaultVariant::FeatureFlag { flag }) => flag.clone(),
                // A service without flags refuses the toggle, which is what is tested.
                _ => env
                    .feature_flags(root)
                    .unwrap()
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "no-such-flag".into()),
            };
            ActionParams::ToggleFeatureFlag(ToggleFeatureFlag {
                flag,
                enabled: false,
            })
        }
        "clear_cache" => ActionParams::ClearCache(ClearCache::default()),
        "raise_pool_limit" => ActionParams::RaisePoolLimit(RaisePoolLimit {
            max_connections: 64,
        }),
        other => panic!("no params for {other}"),
    }
}

/// Whether every key signal is back near its baseline at the end of the run.
fn recovered(
    env: &SimEnvironment,
    keys: &[(&str, &str)],
    before: TimeRange,
    end: TimeRange,
) -> Result<(), String> {
    for (service, metric) in keys {
        if *metric == "restarts" {
            let a = mean(
                env,
                service,
                "restart_count",
                range(end.start, end.start + MIN),
            )
            .unwrap_or(0.0);
            let b = last(env, service, "restart_count", end).unwrap_or(f64::MAX);
            if b > a {
                return Err(format!("{service} still restarting ({a} -> {b})"));
            }
            continue;
        }
        let base = mean(env, service, metric, before).unwrap();
        let Some(now) = mean(env, service, metric, end) else {
            return Err(format!("{service}/{metric}: no samples"));
        };
        let floor = match *metric {
            "error_rate" => 0.01,
            "cpu_usage" => 0.1,
            "memory_usage_mb" => 60.0,
            "disk_usage_percent" => 3.0,
            "request_rate" => 1.0,
            _ => 8.0,
        };
        if (now - base).abs() > (0.35 * base).max(floor) {
            return Err(format!(
                "{service}/{metric}: baseline {base:.3}, now {now:.3}"
            ));
        }
    }
    Ok(())
}

#[test]
fn each_action_cures_exactly_the_faults_it_should() {
    let catalogue = ActionCatalogue::standard();
    // The simulator's definition of a correct remediation, spelled out.
    let expected: &[(FaultKind, &[&str])] = &[
        (FaultKind::CpuContention, &["scale_out"]),
        (
            FaultKind::MemoryLeak,
            &["restart_service", "rollback_deployment"],
        ),
        (FaultKind::ExceptionBurst, &["toggle_feature_flag"]),
        (FaultKind::WrongReturnValue, &["clear_cache"]),
        (FaultKind::NetworkDelay, &["failover_dependency"]),
        (FaultKind::DependencyDown, &["failover_dependency"]),
        (FaultKind::ConnectionPoolExhaustion, &["raise_pool_limit"]),
        (FaultKind::DiskFull, &["clear_cache"]),
        (FaultKind::BadDeploy, &["rollback_deployment"]),
        (FaultKind::ConfigError, &["rollback_deployment"]),
        (FaultKind::TrafficSpike, &["scale_out"]),
    ];
    // A data store cannot be scaled out: its starved cpu is a person's to resize.
    let on_a_data_store: &[(FaultKind, &[&str])] = &[(FaultKind::CpuContention, &[])];
    let mut failures = Vec::new();
    for case in cure_cases() {
        let topo = sim::SimEnvironment::new(SimConfig::new(1))
            .unwrap()
            .topology();
        let spec = topo.service(case.root).unwrap();
        let table = if spec.is_datastore() {
            on_a_data_store
        } else {
            expected
        };
        let cures = table.iter().find(|(k, _)| *k == case.kind).unwrap().1;
        assert_eq!(
            sim::curing_actions(case.kind, case.variant.as_ref(), spec),
            cures,
            "{}",
            case.kind
        );
        for action in catalogue.ids() {
            let (env, at) = with_fault(
                case.kind,
                case.root,
                case.variant.clone(),
                SignalSet::MetricsOnly,
            );
            env.advance(8 * MIN);
            let params = params_for(action, &env, case.root, &case.variant);
            let action_obj = catalogue.action(params, case.root).unwrap();
            let executed = env.execute_now(&action_obj);
            env.advance(14 * MIN);
            let before = range(at - 8 * MIN, at);
            let end = range(env.now() - 5 * MIN, env.now());
            let outcome = match executed {
                Err(e) => Err(format!("not executed: {e}")),
                Ok(_) => recovered(&env, case.keys, before, end),
            };
            let should = cures.contains(&action);
            match (should, outcome) {
                (true, Err(why)) => failures.push(format!(
                    "{action} should cure {} on {}: {why}",
                    case.kind, case.root
                )),
                (false, Ok(())) => failures.push(format!(
                    "{action} should not cure {} on {}",
                    case.kind, case.root
                )),
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_flag_variant_of_config_error_is_cured_by_the_flag_not_by_rollback() {
    let catalogue = ActionCatalogue::standard();
    let variant = Some(FaultVariant::FeatureFlag {
        flag: "cart-recalc-v2".into(),
    });
    for (params, cures) in [
        (
            ActionParams::ToggleFeatureFlag(ToggleFeatureFlag {
                flag: "cart-recalc-v2".into(),
                enabled: false,
            }),
            true,
        ),
        (
            ActionParams::ToggleFeatureFlag(ToggleFeatureFlag {
                flag: "cart-recalc-v2".into(),
                enabled: true,
            }),
            false,
        ),
        (
            ActionParams::RollbackDeployment(RollbackDeployment::default()),
            false,
        ),
    ] {
        let (env, at) = with_fault(
            FaultKind::ConfigError,
            "cart",
            variant.clone(),
            SignalSet::NoTraces,
        );
        env.advance(5 * MIN);
        env.execute_now(&catalogue.action(params.clone(), "cart").unwrap())
            .unwrap();
        env.advance(8 * MIN);
        let ok = recovered(
            &env,
            &[("cart", "error_rate")],
            range(at - 8 * MIN, at),
            range(env.now() - 4 * MIN, env.now()),
        );
        assert_eq!(ok.is_ok(), cures, "{params:?}: {ok:?}");
        if cures {
            assert_eq!(
                env.ground_truth()[0].cured_by.as_deref(),
                Some("toggle_feature_flag")
            );
        }
    }
    // The flag flip that caused it is a change event of kind `flag`.
    let (env, at) = with_fault(FaultKind::ConfigError, "cart", variant, SignalSet::NoTraces);
    env.advance(MIN);
    let now = env.now();
    let changes = env.with_index(|ix| ix.changes(range(at, now), Some("cart")));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, "flag");
}

#[tokio::test]
async fn execution_is_idempotent_by_action_id() {
    let env = sim(3, SignalSet::MetricsOnly);
    env.advance(2 * MIN);
    let catalogue = ActionCatalogue::standard();
    let action = catalogue
        .action(ActionParams::ScaleOut(ScaleOut { replicas: 5 }), "catalog")
        .unwrap();
    let first = env.execute(&action).await.unwrap();
    assert!(first.applied);
    env.advance(2 * MIN);
    let second = env.execute(&action).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(env.health("catalog").unwrap().replicas, 5, "applied once");
    // A new id with the same content is a new execution: asking for 5 again changes nothing.
    let again = catalogue
        .action(ActionParams::ScaleOut(ScaleOut { replicas: 5 }), "catalog")
        .unwrap();
    let third = env.execute(&again).await.unwrap();
    assert!(!third.applied, "{}", third.detail);
    assert_eq!(env.executed().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Determinism, bad input, bundles.
// ---------------------------------------------------------------------------------------

fn short_case(scenario: &str, seed: u64) -> CaseSpec {
    let mut spec = CaseSpec::from_scenario(scenario, seed).unwrap();
    spec.baseline_minutes = 12;
    spec.tail_minutes = 3;
    spec.max_detection_minutes = 8;
    spec.telemetry.traces_per_minute = 20.0;
    spec.telemetry.log_sampling = 0.005;
    spec
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_same_seed_gives_the_same_bundle_and_another_seed_another() {
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (dir, seed) in dirs.iter().zip([5u64, 5, 6]) {
        sim::generate_case(&short_case("bad_deploy", seed))
            .unwrap()
            .write(dir.path())
            .unwrap();
    }
    let a = files(dirs[0].path());
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "events.jsonl",
            "ground_truth.json",
            "incident.json",
            "logs.jsonl",
            "metrics.csv",
            "traces.jsonl"
        ]
    );
    assert_eq!(a, files(dirs[1].path()), "same seed, same bytes");
    let c = files(dirs[2].path());
    for ((name, x), (_, y)) in a.iter().zip(&c) {
        assert_ne!(x, y, "{name} differs for another seed");
    }
}

#[test]
fn a_written_case_loads_back_as_the_same_telemetry() {
    let case = sim::generate_case(&short_case("connection_pool_exhaustion", 2)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    case.write(dir.path()).unwrap();
    let loaded = load_bundle(dir.path(), &LoadOptions::default()).unwrap();
    let original = case.environment.snapshot();
    assert_eq!(loaded.index().counts(), original.counts());
    assert_eq!(loaded.index().services(), original.services());
    // One series, point by point.
    let r = case.ground_truth.window;
    let q = MetricQuery {
        range: r,
        service: Some(case.ground_truth.root_service.clone()),
        metric: Some("error_rate".into()),
    };
    let a = &loaded.index().metrics(&q)[0];
    let b = &original.metrics(&q)[0];
    assert_eq!(a.points.len(), b.points.len());
    for (x, y) in a.points.iter().zip(&b.points) {
        assert_eq!(x.at, y.at);
        assert!((x.value - y.value).abs() <= 1e-9 * y.value.abs().max(1.0));
    }
    // The ground truth and the report are files of their own.
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(sim::GROUND_TRUTH_FILE)).unwrap())
            .unwrap();
    assert_eq!(
        truth["root_service"],
        case.ground_truth.root_service.as_str()
    );
    let incident: itops_core::NewIncident =
        serde_json::from_slice(&std::fs::read(dir.path().join(sim::INCIDENT_FILE)).unwrap())
            .unwrap();
    assert_eq!(incident.title, case.incident.title);
}

#[test]
fn unknown_names_are_clear_errors_listing_the_valid_ones() {
    let e = sim::generate("meteor_strike", 1).unwrap_err().to_string();
    assert!(
        e.contains("meteor_strike") && e.contains("cascade_failure") && e.contains("disk_full"),
        "{e}"
    );

    let env = sim(1, SignalSet::MetricsOnly);
    let e = env
        .inject(FaultSpec::new(
            FaultKind::DiskFull,
            "mainframe",
            env.now(),
            0.5,
        ))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mainframe") && e.contains("checkout") && e.contains("postgres"),
        "{e}"
    );
    let e = env
        .inject(FaultSpec::new(FaultKind::DiskFull, "cart", env.now(), 0.5))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("catalog") && e.contains("postgres"),
        "where it can start: {e}"
    );
    let e = env
        .inject(FaultSpec::new(FaultKind::Unknown, "cart", env.now(), 0.5))
        .unwrap_err()
        .to_string();
    assert!(e.contains("memory_leak"), "{e}");
    assert!(env
        .inject(FaultSpec::new(
            FaultKind::MemoryLeak,
            "cart",
            env.now(),
            1.5
        ))
        .is_err());

    let catalogue = ActionCatalogue::standard();
    let mut action = catalogue
        .action(ActionParams::ClearCache(ClearCache::default()), "cart")
        .unwrap();
    action.catalogue_id = "drop_database".into();
    let e = env.execute_now(&action).unwrap_err().to_string();
    assert!(
        e.contains("drop_database") && e.contains("restart_service"),
        "{e}"
    );
    let action = catalogue
        .action(ActionParams::ClearCache(ClearCache::default()), "mainframe")
        .unwrap();
    let e = env.execute_now(&action).unwrap_err().to_string();
    assert!(e.contains("mainframe") && e.contains("frontend"), "{e}");
    let action = catalogue
        .action(
            ActionParams::ToggleFeatureFlag(ToggleFeatureFlag {
                flag: "nope".into(),
                enabled: false,
            }),
            "cart",
        )
        .unwrap();
    let e = env.execute_now(&action).unwrap_err().to_string();
    assert!(e.contains("cart-recalc-v2"), "{e}");
    let action = catalogue
        .action(
            ActionParams::RaisePoolLimit(RaisePoolLimit {
                max_connections: 50,
            }),
            "cart",
        )
        .unwrap();
    let e = env.execute_now(&action).unwrap_err().to_string();
    assert!(
        e.contains("inventory"),
        "lists the services with a pool: {e}"
    );
}

// ---------------------------------------------------------------------------------------
// Scenarios, reports and the suite.
// ---------------------------------------------------------------------------------------

#[test]
fn the_catalogue_has_the_classics_and_one_scenario_per_fault_kind() {
    let names: Vec<&str> = sim::scenarios().iter().map(|s| s.name).collect();
    for classic in [
        "cascade_failure",
        "gradual_degradation",
        "security_event",
        "capacity_issue",
        "network_problem",
    ] {
        assert!(names.contains(&classic));
    }
    for kind in sim::injectable_kinds() {
        assert!(names.contains(&kind.as_str()), "{kind}");
    }
    assert!(sim::scenarios().iter().all(|s| !s.description.is_empty()));
}

#[test]
fn a_report_describes_symptoms_and_the_truth_stays_out_of_the_telemetry() {
    let mut spec = short_case("dependency_down", 4);
    spec.service = "payments".into();
    spec.variant = Some(FaultVariant::CrashLoop);
    let case = sim::generate_case(&spec).unwrap();
    let truth = &case.ground_truth;
    assert_eq!(truth.root_service, "payments");
    assert!(truth.detected_at > truth.injected_at);
    assert_eq!(truth.curing_actions, ["failover_dependency"]);
    let report = &case.incident;
    assert_eq!(report.affected_services[0], "frontend", "{report:?}");
    assert!(!report.title.is_empty() && !report.description.is_empty());
    let incident = report
        .to_new_incident()
        .into_incident(report.detected_at)
        .unwrap();
    assert_eq!(incident.source, report.detected_by);

    // Nothing in what agents can read names the injection.
    let r = truth.window;
    let logs = case.environment.with_index(|ix| {
        ix.logs(&LogQuery {
            range: r,
            service: None,
            contains: None,
            min_level: None,
            limit: usize::MAX,
        })
    });
    let changes = case.environment.with_index(|ix| ix.changes(r, None));
    let text: Vec<String> = logs
        .iter()
        .map(|l| l.message.to_lowercase())
        .chain(changes.iter().map(|c| c.description.to_lowercase()))
        .collect();
    for word in [
        "dependency_down",
        "root cause",
        "inject",
        "fault",
        "ground truth",
        "simulat",
    ] {
        assert!(
            !text.iter().any(|t| t.contains(word)),
            "telemetry mentions '{word}'"
        );
    }
}

#[test]
fn exports_vary_like_real_ones() {
    // Metrics only: no logs, traces or events.
    let env = sim(2, SignalSet::MetricsOnly);
    env.advance(5 * MIN);
    let counts = env.snapshot().counts();
    assert!(counts.metric_points > 0);
    assert_eq!((counts.logs, counts.spans, counts.changes), (0, 0, 0));

    // Prometheus naming: counters that never go down except when a pod restarts, seconds.
    let mut config = SimConfig::new(2)
        .sample_interval(15)
        .signals(SignalSet::NoTraces)
        .metric_naming(MetricNaming::Prometheus);
    config.topology = sim::Topology::web_shop_named(ServiceNaming::Joined);
    let env = SimEnvironment::new(config).unwrap();
    env.advance(6 * MIN);
    let r = range(env.now() - 6 * MIN, env.now());
    let series = env.with_index(|ix| {
        ix.metrics(&MetricQuery {
            range: r,
            service: Some("cartservice".into()),
            metric: Some("http_server_requests_total".into()),
        })
    });
    let points = &series[0].points;
    assert!(points.len() >= 20, "15 s scrapes");
    assert!(points.windows(2).all(|w| w[1].value >= w[0].value));
    let gap = (points[5].at - points[4].at).num_milliseconds();
    assert!((14_000..=16_000).contains(&gap), "{gap}");
    let names = env.with_index(|ix| ix.series_names());
    assert!(names
        .iter()
        .any(|(_, m)| m == "http_server_request_duration_seconds_p99"));
    assert!(names
        .iter()
        .any(|(s, m)| s == "orders-db" && m == "node_filesystem_avail_bytes"));
    assert!(env.snapshot().counts().spans == 0);

    // OpenTelemetry naming; a data store logs little, a storefront a lot.
    let env =
        SimEnvironment::new(SimConfig::new(2).metric_naming(MetricNaming::OpenTelemetry)).unwrap();
    env.advance(10 * MIN);
    let names = env.with_index(|ix| ix.series_names());
    assert!(names
        .iter()
        .any(|(_, m)| m == "http.server.request.duration.p99"));
    let r = range(env.now() - 10 * MIN, env.now());
    let count = |s: &str| {
        env.with_index(|ix| {
            ix.logs(&LogQuery {
                range: r,
                service: Some(s.into()),
                contains: None,
                min_level: None,
                limit: usize::MAX,
            })
            .len()
        })
    };
    assert!(
        count("frontend") > 20 * count("redis").max(1),
        "{} vs {}",
        count("frontend"),
        count("redis")
    );
}

#[test]
fn the_suite_is_varied_enough_to_be_a_test_set() {
    let suite = sim::suite(1);
    assert!(suite.len() >= 50);
    assert_eq!(suite, sim::suite(1), "deterministic");
    assert_ne!(suite, sim::suite(2));
    for kind in sim::injectable_kinds() {
        let n = suite.iter().filter(|c| c.fault == kind).count();
        assert!(n >= 4, "{kind}: {n} cases");
    }
    let mut roots: Vec<String> = suite
        .iter()
        .map(|c| {
            let named = sim::Topology::web_shop_named(c.naming);
            let i = named
                .names()
                .iter()
                .position(|n| *n == c.service)
                .expect("root exists in its naming");
            sim::Topology::web_shop().names()[i].to_string()
        })
        .collect();
    roots.sort();
    roots.dedup();
    assert!(roots.len() >= 10, "{roots:?}");
    let distinct = |f: &dyn Fn(&CaseSpec) -> String| {
        let mut v: Vec<String> = suite.iter().map(f).collect();
        v.sort();
        v.dedup();
        v.len()
    };
    assert!(distinct(&|c| c.telemetry.sample_interval_s.to_string()) >= 4);
    assert_eq!(distinct(&|c| c.telemetry.signals.to_string()), 3);
    assert_eq!(distinct(&|c| c.telemetry.metric_naming.to_string()), 3);
    assert_eq!(distinct(&|c| c.naming.to_string()), 3);
    assert!(suite.iter().filter(|c| !c.distractions.is_empty()).count() >= 20);
    let ids: std::collections::HashSet<&str> = suite.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), suite.len());
    // A few cases of different shapes run end to end.
    for i in [0usize, 13, 57] {
        let mut spec = suite[i].clone();
        spec.baseline_minutes = spec.baseline_minutes.min(20);
        spec.tail_minutes = 2;
        let case = sim::generate_case(&spec).unwrap();
        assert_eq!(case.ground_truth.root_service, spec.service);
        assert!(case
            .environment
            .snapshot()
            .services()
            .contains(&case.incident.affected_services[0]));
    }
}

#[tokio::test]
async fn the_simulator_is_a_telemetry_source_in_simulated_time() {
    let env = sim(9, SignalSet::Full);
    let start = env.now();
    env.advance(Duration::from_secs(3600));
    assert_eq!((env.now() - start).num_seconds(), 3600);
    let bounds = env.time_bounds().await.unwrap().unwrap();
    assert!(bounds.start >= start && bounds.end <= env.now() + chrono::Duration::seconds(30));
    let services = env.services().await.unwrap();
    assert_eq!(services.len(), 14);
    let spans = env
        .spans(&SpanQuery {
            range: bounds,
            service: None,
            trace_id: None,
            errors_only: false,
            limit: 50,
        })
        .await
        .unwrap();
    assert_eq!(spans.len(), 50);
    // Roughly the same traffic at the same hour on the same seed, less at night.
    let night =
        SimEnvironment::new(SimConfig::new(9).start("2024-03-12T03:00:00Z".parse().unwrap()))
            .unwrap();
    night.advance(10 * MIN);
    let r = range(night.now() - 10 * MIN, night.now());
    let day_rate = mean(
        &env,
        "frontend",
        "request_rate",
        range(env.now() - 10 * MIN, env.now()),
    )
    .unwrap();
    let night_rate = mean(&night, "frontend", "request_rate", r).unwrap();
    assert!(night_rate < day_rate * 0.6, "{night_rate} vs {day_rate}");
}
