//! A live simulator running for weeks keeps a bounded window of telemetry: what the charts
//! and the agents reach, plus a margin; older samples, log lines and spans are dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::telemetry::{LogQuery, MetricQuery, TimeRange};
use itops_sim::{LiveSim, SimConfig};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_live_system_keeps_its_retention_window_and_no_more() {
    let start: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let live =
        LiveSim::start(SimConfig::new(3).start(start), Duration::from_secs(20 * 60)).unwrap();
    let counts_after_one_hour = {
        live.advance(HOUR).unwrap();
        live.environment().with_index(|ix| ix.counts())
    };
    live.advance(11 * HOUR).unwrap();
    let env = live.environment();
    let now = env.now();
    let bounds = env.with_index(|ix| ix.time_bounds()).unwrap();
    let window = chrono::Duration::hours(8);
    // Dropped: what is older than the window (pruning runs every eighth of it).
    assert!(
        bounds.start >= now - window - window / 8 - chrono::Duration::minutes(1),
        "telemetry from {} is still kept at {now}",
        bounds.start
    );
    // Kept: the whole window.
    assert!(
        bounds.start <= now - window,
        "{} > {}",
        bounds.start,
        now - window
    );
    let counts = env.with_index(|ix| ix.counts());
    assert!(
        counts.logs < counts_after_one_hour.logs * 11,
        "{counts:?} after 12 h, {counts_after_one_hour:?} after 1 h"
    );
    // What is kept still answers queries.
    let last_hours = TimeRange::new(now - chrono::Duration::hours(6), now).unwrap();
    let series = env.with_index(|ix| {
        ix.metrics(&MetricQuery {
            range: last_hours,
            service: None,
            metric: None,
        })
    });
    assert!(series.iter().all(|s| !s.points.is_empty()) && !series.is_empty());
    let logs = env.with_index(|ix| {
        ix.logs(&LogQuery {
            range: last_hours,
            service: None,
            contains: None,
            min_level: None,
            limit: 10,
        })
    });
    assert_eq!(logs.len(), 10);
}
