//! Simulator speed, in simulated seconds per wall-clock second, beside a baseline measured
//! in the same run: the model alone with metrics only (no logs, traces or events) on a
//! healthy system. Every other row is reported as a ratio to it.
//!
//! `cargo bench -p itops-sim --bench sim`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use itops_core::FaultKind;
use itops_sim::{
    self as sim, Distraction, DistractionKind, FaultSpec, SignalSet, SimConfig, SimEnvironment,
};

/// Simulated time per measured run.
const SIMULATED: Duration = Duration::from_secs(6 * 3600);
/// Runs per row; the median is reported.
const RUNS: usize = 5;

struct Row {
    name: &'static str,
    what: &'static str,
    simulated_s: f64,
    wall: Duration,
    rows: usize,
}

fn config(signals: SignalSet) -> SimConfig {
    SimConfig::new(42).sample_interval(30).signals(signals)
}

/// Runs `f` RUNS times; returns the median wall time and what the last run produced.
fn measure(mut f: impl FnMut() -> (f64, usize)) -> (Duration, f64, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = (0.0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        last = f();
        times.push(t.elapsed());
    }
    times.sort();
    (times[RUNS / 2], last.0, last.1)
}

fn rows_of(env: &SimEnvironment) -> usize {
    let c = env.with_index(|ix| ix.counts());
    c.metric_points + c.logs + c.spans + c.changes
}

fn healthy(signals: SignalSet) -> (f64, usize) {
    let env = SimEnvironment::new(config(signals)).unwrap();
    env.advance(SIMULATED);
    (SIMULATED.as_secs_f64(), rows_of(&env))
}

fn incident() -> (f64, usize) {
    let env = SimEnvironment::new(config(SignalSet::Full)).unwrap();
    let start = env.now();
    env.inject(FaultSpec::new(
        FaultKind::ConnectionPoolExhaustion,
        "inventory",
        start + chrono::Duration::hours(1),
        0.7,
    ))
    .unwrap();
    env.inject(FaultSpec::new(
        FaultKind::MemoryLeak,
        "catalog",
        start + chrono::Duration::hours(3),
        0.5,
    ))
    .unwrap();
    env.distract(Distraction::new(
        DistractionKind::NoisyNeighbour,
        "cart",
        start,
    ))
    .unwrap();
    env.distract(Distraction::new(
        DistractionKind::HarmlessDeploy,
        "shipping",
        start + chrono::Duration::minutes(50),
    ))
    .unwrap();
    env.advance(SIMULATED);
    (SIMULATED.as_secs_f64(), rows_of(&env))
}

fn scenario() -> (f64, usize) {
    let case = sim::generate("cascade_failure", 7).unwrap();
    let w = case.ground_truth.window;
    (
        (w.end - w.start).num_milliseconds() as f64 / 1000.0,
        rows_of(&case.environment),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported, every row runs.
    let mut rows = Vec::new();
    let (wall, s, n) = measure(|| healthy(SignalSet::MetricsOnly));
    rows.push(Row {
        name: "baseline_metrics_only",
        what: "healthy web shop, model + metrics only",
        simulated_s: s,
        wall,
        rows: n,
    });
    let (wall, s, n) = measure(|| healthy(SignalSet::NoTraces));
    rows.push(Row {
        name: "metrics_logs_events",
        what: "healthy, + logs and change events",
        simulated_s: s,
        wall,
        rows: n,
    });
    let (wall, s, n) = measure(|| healthy(SignalSet::Full));
    rows.push(Row {
        name: "full_signals",
        what: "healthy, + sampled traces (60/min)",
        simulated_s: s,
        wall,
        rows: n,
    });
    let (wall, s, n) = measure(incident);
    rows.push(Row {
        name: "incident_full_signals",
        what: "two faults and two distractions, full signals",
        simulated_s: s,
        wall,
        rows: n,
    });
    let (wall, s, n) = measure(scenario);
    rows.push(Row {
        name: "generate_case",
        what: "sim::generate(\"cascade_failure\", 7): baseline, fault, alert rules, report",
        simulated_s: s,
        wall,
        rows: n,
    });

    let speed = |r: &Row| r.simulated_s / r.wall.as_secs_f64();
    let base = speed(&rows[0]);
    println!("simulator speed (median of {RUNS} runs; 30 s scrapes; 14 services)");
    println!("command: cargo bench -p itops-sim --bench sim\n");
    println!("| row | what | simulated | wall | simulated s / wall s | rows/s | vs baseline |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} s | {:.1} ms | {:.0} | {:.0} | {:.2}× |",
            r.name,
            r.what,
            r.simulated_s,
            r.wall.as_secs_f64() * 1000.0,
            speed(r),
            r.rows as f64 / r.wall.as_secs_f64(),
            speed(r) / base
        );
    }
}
