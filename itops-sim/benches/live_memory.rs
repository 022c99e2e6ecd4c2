//! Resident memory of a live simulator over 48 simulated hours, as `itops serve` runs it
//! for weeks: telemetry is kept for the retention window (8 hours) and older telemetry is
//! dropped, so memory does not grow. The system starts with a full window of history (a
//! server that has been running) and the load follows a daily cycle, so what is kept —
//! and the resident set — rises and falls with the hour of the day: the comparison is day
//! against day. Reports the resident set every 2 simulated hours and fails unless the
//! second day's peak is within 10 % of the first day's (and its mean too).
//!
//! `cargo bench -p itops-sim --bench live_memory`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use itops_sim::{LiveSim, SimConfig, DEFAULT_RETENTION};

const HOUR: Duration = Duration::from_secs(3600);
const SIMULATED_HOURS: usize = 48;
/// Allowed growth from the first simulated day to the second.
const FLAT: f64 = 1.10;

/// The resident set size in KiB (Linux), if known.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn summary(day: &[u64]) -> (u64, f64) {
    let peak = day.iter().copied().max().unwrap_or(0);
    let mean = day.iter().sum::<u64>() as f64 / day.len().max(1) as f64;
    (peak, mean)
}

fn main() {
    let started = Instant::now();
    let history = DEFAULT_RETENTION + HOUR;
    let start = chrono::Utc::now() - chrono::Duration::from_std(history).unwrap();
    let live = LiveSim::start(SimConfig::new(1).start(start), history).unwrap();
    println!(
        "live simulator, {SIMULATED_HOURS} simulated hours after a full {} h window of history",
        DEFAULT_RETENTION.as_secs() / 3600
    );
    let mut resident = Vec::with_capacity(SIMULATED_HOURS);
    for hour in 1..=SIMULATED_HOURS {
        live.advance(HOUR).unwrap();
        let counts = live.environment().with_index(|ix| ix.counts());
        let rows = counts.metric_points + counts.logs + counts.spans + counts.changes;
        let rss = resident_kib();
        if hour % 2 == 0 {
            println!(
                "  hour {hour:>2}: resident {:>8} KiB, {rows:>7} telemetry rows kept",
                rss.map_or("n/a".to_string(), |r| r.to_string())
            );
        }
        if let Some(rss) = rss {
            resident.push(rss);
        }
    }
    println!("wall time {:.1} s", started.elapsed().as_secs_f64());
    if resident.len() < SIMULATED_HOURS {
        println!("resident memory is not readable on this system; nothing to compare");
        return;
    }
    let (peak1, mean1) = summary(&resident[..24]);
    let (peak2, mean2) = summary(&resident[24..]);
    let peak_growth = peak2 as f64 / peak1 as f64;
    let mean_growth = mean2 / mean1;
    let flat = peak_growth <= FLAT && mean_growth <= FLAT;
    println!(
        "day 1: peak {peak1} KiB, mean {mean1:.0} KiB; day 2: peak {peak2} KiB, mean {mean2:.0} KiB; \
         day 2 / day 1: peak {peak_growth:.3}, mean {mean_growth:.3} (flat within {:.0} %: {})",
        (FLAT - 1.0) * 100.0,
        if flat { "yes" } else { "NO" }
    );
    if !flat {
        std::process::exit(1);
    }
}
