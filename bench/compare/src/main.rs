//! The same ReAct task on the itops engine and on rig's agent, in one process: time and
//! allocations per step for N = 1, 5, 20 tool calls, and memory per agent with 1,000
//! agents in flight at once (each in a fresh child process of this binary).
//!
//! `itops-compare [--rounds R] [--agents A] [--json FILE]`; run by `bench/compare/run`.

mod alloc;
mod itops_side;
mod rig_side;
mod script;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const STEPS: [usize; 3] = [1, 5, 20];
/// N of the memory measurement.
const MEMORY_N: usize = 20;
/// Wall time one timed batch aims for.
const BATCH: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    Itops,
    Rig,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Itops => "itops",
            Engine::Rig => "rig",
        }
    }

    fn parse(s: &str) -> Engine {
        match s {
            "itops" => Engine::Itops,
            "rig" => Engine::Rig,
            other => panic!("unknown engine {other}"),
        }
    }
}

enum Agent {
    Itops(itops_side::Agent),
    Rig(rig_side::Agent),
}

impl Agent {
    fn new(engine: Engine, n: usize, gate: Option<Arc<script::Gate>>) -> Agent {
        match engine {
            Engine::Itops => Agent::Itops(itops_side::Agent::new(n, gate)),
            Engine::Rig => Agent::Rig(rig_side::Agent::new(n, gate)),
        }
    }

    async fn run(&self, shared: bool) {
        match self {
            Agent::Itops(a) => a.run(shared).await,
            Agent::Rig(a) => a.run(shared).await,
        }
    }

    fn executed(&self) -> usize {
        match self {
            Agent::Itops(a) => a.executed(),
            Agent::Rig(a) => a.executed(),
        }
    }
}

struct Args {
    rounds: usize,
    agents: usize,
    json: Option<String>,
    memory_child: Option<(Engine, usize, Mode)>,
}

fn args() -> Args {
    let mut out = Args {
        rounds: 9,
        agents: 1000,
        json: None,
        memory_child: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--rounds" => out.rounds = value().parse().expect("--rounds N"),
            "--agents" => out.agents = value().parse().expect("--agents N"),
            "--json" => out.json = Some(value()),
            "--memory-child" => {
                let engine = Engine::parse(&value());
                let n = value().parse().expect("--memory-child ENGINE N MODE");
                let mode = Mode::parse(&value());
                out.memory_child = Some((engine, n, mode));
            }
            other => panic!("unknown argument {other}"),
        }
    }
    out
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Time per model turn: median over rounds of batch time / (runs × (N + 1)).
fn time_steps(rounds: usize) -> Vec<Value> {
    let rt = current_thread();
    let mut rows = Vec::new();
    for n in STEPS {
        let agents = [
            Agent::new(Engine::Itops, n, None),
            Agent::new(Engine::Rig, n, None),
        ];
        let engines = [Engine::Itops, Engine::Rig];
        // Warm up, and size a batch to about BATCH of wall time.
        let mut iters = [0usize; 2];
        for (i, agent) in agents.iter().enumerate() {
            let started = Instant::now();
            let mut runs = 0;
            while started.elapsed() < BATCH || runs < 20 {
                rt.block_on(agent.run(false));
                runs += 1;
            }
            iters[i] = runs.max(10);
        }
        // Allocations of one run, after warm-up (the loop is deterministic; averaged over 50).
        let mut allocs = [(0f64, 0f64); 2];
        for (i, agent) in agents.iter().enumerate() {
            let reps = 50;
            let before = alloc::snapshot();
            for _ in 0..reps {
                rt.block_on(agent.run(false));
            }
            let after = alloc::snapshot();
            let steps = (reps * (n + 1)) as f64;
            allocs[i] = (
                (after.allocs - before.allocs) as f64 / steps,
                (after.bytes - before.bytes) as f64 / steps,
            );
        }
        // Timed rounds, alternating which engine goes first.
        let mut per_step: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let started = Instant::now();
                for _ in 0..iters[i] {
                    rt.block_on(agents[i].run(false));
                }
                let ns = started.elapsed().as_nanos() as f64;
                per_step[i].push(ns / (iters[i] * (n + 1)) as f64);
            }
        }
        for i in 0..2 {
            let mut v = per_step[i].clone();
            v.sort_by(|a, b| a.total_cmp(b));
            let median = v[v.len() / 2];
            eprintln!(
                "{:>5} N={n:>2}: {:>8.2} µs/step (range {:.2}–{:.2}), {:>6.1} allocs/step, {:>7.0} B allocated/step",
                engines[i].name(),
                median / 1000.0,
                v[0] / 1000.0,
                v[v.len() - 1] / 1000.0,
                allocs[i].0,
                allocs[i].1
            );
            rows.push(json!({
                "engine": engines[i].name(),
                "n": n,
                "steps_per_run": n + 1,
                "ns_per_step": median,
                "ns_per_step_min": v[0],
                "ns_per_step_max": v[v.len() - 1],
                "runs_per_round": iters[i],
                "rounds": rounds,
                "allocs_per_step": allocs[i].0,
                "bytes_allocated_per_step": allocs[i].1,
            }));
        }
    }
    rows
}

/// Whether each of the concurrent agents is its own agent value (engine, model, tools)
/// or all runs share one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Own,
    Shared,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Own => "own",
            Mode::Shared => "shared",
        }
    }

    fn parse(s: &str) -> Mode {
        match s {
            "own" => Mode::Own,
            "shared" => Mode::Shared,
            other => panic!("unknown mode {other}"),
        }
    }
}

/// In a fresh process: `agents` runs in flight at once on a 2-worker tokio runtime, all
/// held mid-task (at the model turn after ⌈N/2⌉ tool calls); live heap bytes and RSS
/// growth per agent, measured from just before the agents start.
fn memory_child(engine: Engine, n: usize, agents: usize, mode: Mode) -> Value {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Warm the runtime and the engine's lazily initialised statics with one run.
    rt.block_on(Agent::new(engine, n, None).run(false));
    let (gate, open) = script::Gate::new(n.div_ceil(2));
    let live0 = alloc::snapshot().live;
    let rss0 = alloc::rss_bytes();
    let shared = match mode {
        Mode::Shared => Some(Arc::new(Agent::new(engine, n, Some(gate.clone())))),
        Mode::Own => None,
    };
    let own_executed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (live1, rss1, handles) = rt.block_on(async {
        let mut handles = Vec::with_capacity(agents);
        for _ in 0..agents {
            let gate = gate.clone();
            let shared = shared.clone();
            let own_executed = own_executed.clone();
            handles.push(tokio::spawn(async move {
                match shared {
                    Some(agent) => agent.run(true).await,
                    None => {
                        let agent = Agent::new(engine, n, Some(gate));
                        agent.run(false).await;
                        own_executed.fetch_add(agent.executed(), Ordering::Relaxed);
                    }
                }
            }));
        }
        while gate.arrived() < agents {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "agents did not reach the gate"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (alloc::snapshot().live, alloc::rss_bytes(), handles)
    });
    let reached = started.elapsed();
    open.send(true).expect("release");
    rt.block_on(async {
        for h in handles {
            h.await.expect("an agent failed");
        }
    });
    let executed = match &shared {
        Some(agent) => agent.executed(),
        None => own_executed.load(Ordering::Relaxed),
    };
    assert_eq!(executed, agents * n, "{}: tools executed", engine.name());
    let live = (live1 - live0) as f64 / agents as f64;
    let rss = rss1.saturating_sub(rss0) as f64 / agents as f64;
    json!({
        "engine": engine.name(),
        "n": n,
        "agents": agents,
        "mode": mode.name(),
        "held_at_turn": n.div_ceil(2),
        "live_bytes_per_agent": live,
        "rss_bytes_per_agent": rss,
        "ms_to_reach_gate": reached.as_secs_f64() * 1000.0,
    })
}

fn memory(agents: usize) -> Vec<Value> {
    let exe = std::env::current_exe().expect("current exe");
    let mut out = Vec::new();
    for mode in [Mode::Own, Mode::Shared] {
        for engine in [Engine::Itops, Engine::Rig] {
            let output = std::process::Command::new(&exe)
                .args([
                    "--memory-child",
                    engine.name(),
                    &MEMORY_N.to_string(),
                    mode.name(),
                    "--agents",
                    &agents.to_string(),
                ])
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("memory child");
            assert!(
                output.status.success(),
                "memory child for {} failed",
                engine.name()
            );
            let v: Value = serde_json::from_slice(&output.stdout).expect("child JSON");
            eprintln!(
                "{:>5} {agents} agents mid-task (N={MEMORY_N}, {} agent): {:>7.0} B live heap/agent, {:>7.0} B RSS/agent",
                engine.name(),
                mode.name(),
                v["live_bytes_per_agent"].as_f64().unwrap_or(0.0),
                v["rss_bytes_per_agent"].as_f64().unwrap_or(0.0),
            );
            out.push(v);
        }
    }
    out
}

fn main() {
    let args = args();
    if let Some((engine, n, mode)) = args.memory_child {
        println!("{}", memory_child(engine, n, args.agents, mode));
        return;
    }
    let steps = time_steps(args.rounds);
    let memory = memory(args.agents);
    let report = json!({ "steps": steps, "memory": memory });
    let text = serde_json::to_string_pretty(&report).expect("json");
    match args.json {
        Some(path) => std::fs::write(&path, text).expect("write --json"),
        None => println!("{text}"),
    }
}
