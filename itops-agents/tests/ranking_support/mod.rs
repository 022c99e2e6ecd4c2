//! What the ranking's signal tests share: a start time, a deterministic wobble, and a
//! ranking at a detection time.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use chrono::{DateTime, TimeZone, Utc};
use itops_agents::analysis::ranking::{rank_anomalies, AnomalyRanking, RankingOptions};
use itops_core::telemetry::TelemetryIndex;

/// Where every fixture's data begins.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

/// A small deterministic wobble in [-1, 1], so that no series is perfectly flat.
pub fn wobble(i: i64, salt: i64) -> f64 {
    (((i * 7919 + salt * 104_729) % 13) as f64 - 6.0) / 6.0
}

/// The ranking (at most five candidates) of `idx` for an incident detected at `at`.
pub async fn rank_at(idx: &TelemetryIndex, at: DateTime<Utc>) -> AnomalyRanking {
    rank_anomalies(
        idx,
        &RankingOptions {
            at: Some(at),
            max_candidates: Some(5),
        },
    )
    .await
    .unwrap()
}
