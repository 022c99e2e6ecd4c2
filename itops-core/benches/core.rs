//! Core benchmarks: ReAct engine overhead per step, circuit-breaker overhead per call, and
//! SQLite store throughput, each beside a baseline measured in the same run.
//!
//! `cargo bench -p itops-core --bench core`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use itops_core::breaker::{call_guarded, BreakerConfig, ConsecutiveFailureBreaker};
use itops_core::engine::ReactEngine;
use itops_core::store::{MemoryStore, SqliteStore};
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{
    Actor, DynTool, Incident, IncidentStatus, IncidentStore, LanguageModel, Message, ModelRequest,
    NewIncident, Result, Severity, SystemClock, TimelineEntry, TimelineKind, TimelineStore, Tool,
};
use serde_json::json;

/// Steps per engine run in the benchmark.
const STEPS: u64 = 10;
/// Calls per breaker measurement.
const CALLS: u64 = 1_000;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoArgs {
    #[allow(dead_code)]
    i: u64,
}

/// A tool that does nothing.
struct Noop;

#[async_trait]
impl Tool for Noop {
    type Args = NoArgs;
    type Output = &'static str;
    fn name(&self) -> &str {
        "noop"
    }
    fn description(&self) -> &str {
        "Does nothing."
    }
    async fn call(&self, _: NoArgs) -> Result<&'static str> {
        Ok("ok")
    }
}

fn script() -> Vec<ScriptedTurn> {
    let mut turns: Vec<ScriptedTurn> = (0..STEPS - 1)
        .map(|i| ScriptedTurn::tool_call("noop", json!({ "i": i })))
        .collect();
    turns.push(ScriptedTurn::text("done"));
    turns
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn engine(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("react");
    group.throughput(Throughput::Elements(STEPS));

    // Baseline: the same model turns and tool calls, driven by a bare loop.
    group.bench_function("baseline_bare_loop", |b| {
        b.iter_batched(
            || ScriptedModel::new(script()),
            |model| {
                rt.block_on(async {
                    let tool = Noop;
                    let mut request = ModelRequest {
                        messages: vec![Message::user("task")],
                        ..ModelRequest::default()
                    };
                    for _ in 0..STEPS {
                        let response = model.converse(&request).await.unwrap();
                        for call in response.message.tool_calls() {
                            tool.call_json(call.input).await.unwrap();
                        }
                        request.messages.push(response.message);
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });

    group.bench_function("engine_run", |b| {
        b.iter_batched(
            || {
                ReactEngine::builder(Arc::new(ScriptedModel::new(script())))
                    .tool(Noop)
                    .max_steps(STEPS as u32)
                    .build()
                    .unwrap()
            },
            |engine| {
                let t = rt.block_on(engine.run(vec![Message::user("task")]));
                assert!(t.stop_reason.is_completed());
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn breaker(c: &mut Criterion) {
    let rt = runtime();
    let breaker = ConsecutiveFailureBreaker::new(
        "bench",
        BreakerConfig {
            failure_threshold: 5,
            open_interval: Duration::from_secs(30),
            success_threshold: 1,
        },
    )
    .unwrap();
    let mut group = c.benchmark_group("breaker");
    group.throughput(Throughput::Elements(CALLS));
    group.bench_function("baseline_unguarded_call", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..CALLS {
                    let r: Result<u64> = async { Ok(std::hint::black_box(i)) }.await;
                    std::hint::black_box(r.unwrap());
                }
            })
        })
    });
    group.bench_function("guarded_call", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..CALLS {
                    let r = call_guarded(&breaker, async { Ok(std::hint::black_box(i)) }).await;
                    std::hint::black_box(r.unwrap());
                }
            })
        })
    });
    group.finish();
}

fn incident(i: u64) -> Incident {
    NewIncident::new(format!("checkout errors {i}"), Severity::High)
        .description("5xx rate above 5% on checkout for 10 minutes")
        .service("checkout")
        .service("payments")
        .into_incident(chrono::Utc::now())
        .unwrap()
}

fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(1));

    // Baseline: the same two statements (insert, then update) on a bare connection with the
    // same pragmas, without itops' version checks, JSON handling or blocking-pool hop.
    let raw = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    raw.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE incidents (id TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL);",
    )
    .unwrap();
    let mut i = 0u64;
    group.bench_function("baseline_raw_insert_update", |b| {
        b.iter(|| {
            i += 1;
            let inc = incident(i);
            let json = serde_json::to_string(&inc).unwrap();
            raw.execute(
                "INSERT INTO incidents (id, version, data) VALUES (?1, 1, ?2)",
                rusqlite::params![inc.id.to_string(), json],
            )
            .unwrap();
            raw.execute(
                "UPDATE incidents SET version = 2, data = ?2 WHERE id = ?1",
                rusqlite::params![inc.id.to_string(), json],
            )
            .unwrap();
        })
    });

    // The same with synchronous=FULL, which the store uses: the cost of a commit that is on
    // disk before it returns.
    let full = rusqlite::Connection::open(dir.path().join("raw-full.db")).unwrap();
    full.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE incidents (id TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL);",
    )
    .unwrap();
    group.bench_function("baseline_raw_insert_update_full_sync", |b| {
        b.iter(|| {
            i += 1;
            let inc = incident(i);
            let json = serde_json::to_string(&inc).unwrap();
            full.execute(
                "INSERT INTO incidents (id, version, data) VALUES (?1, 1, ?2)",
                rusqlite::params![inc.id.to_string(), json],
            )
            .unwrap();
            full.execute(
                "UPDATE incidents SET version = 2, data = ?2 WHERE id = ?1",
                rusqlite::params![inc.id.to_string(), json],
            )
            .unwrap();
        })
    });

    let store = SqliteStore::open(dir.path().join("itops.db"), Arc::new(SystemClock)).unwrap();
    group.bench_function("store_incident_create_update", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(async {
                let created = store.create_incident(&incident(i)).await.unwrap();
                let updated = created.with_status(IncidentStatus::Triaging, chrono::Utc::now());
                store.update_incident(&updated).await.unwrap();
            })
        })
    });

    let target = rt.block_on(store.create_incident(&incident(0))).unwrap();
    group.bench_function("store_timeline_append", |b| {
        b.iter(|| {
            let entry = TimelineEntry::new(
                target.id,
                chrono::Utc::now(),
                Actor::Tool("metrics_query".into()),
                TimelineKind::Observation,
                "p99 latency 40 ms -> 900 ms",
            )
            .with_payload(json!({"service": "payments", "metric": "latency_p99"}));
            rt.block_on(store.append_timeline(&entry)).unwrap();
        })
    });

    let memory = MemoryStore::default();
    group.bench_function("memory_incident_create_update", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(async {
                let created = memory.create_incident(&incident(i)).await.unwrap();
                let updated = created.with_status(IncidentStatus::Triaging, chrono::Utc::now());
                memory.update_incident(&updated).await.unwrap();
            })
        })
    });
    group.finish();
}

criterion_group!(benches, engine, breaker, sqlite);
criterion_main!(benches);
