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
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{DynTool, LanguageModel, Message, ModelRequest, Result, Tool};
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

criterion_group!(benches, engine, breaker);
criterion_main!(benches);
