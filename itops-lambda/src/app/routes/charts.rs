//! Which series to chart for a service: its key signals (latency, errors, saturation or
//! resources), downsampled for a small chart.

use itops_agents::analysis::ranking::as_rate_if_counter;
use itops_agents::analysis::signal_kind::{classify, SignalKind};
use itops_core::telemetry::MetricSeries;

use super::incidents::ChartSeries;

/// Most points per charted series.
const MAX_POINTS: usize = 120;

/// Up to three series: the worst-named latency (p99 over p50), an error series, and one of
/// saturation, CPU or memory.
pub(crate) fn key_series(all: Vec<MetricSeries>) -> Vec<ChartSeries> {
    let mut picked: Vec<MetricSeries> = Vec::new();
    for wanted in [
        &[SignalKind::Latency][..],
        &[SignalKind::Errors],
        &[SignalKind::Saturation, SignalKind::Cpu, SignalKind::Memory],
    ] {
        let best = all
            .iter()
            .filter(|s| wanted.contains(&classify(&s.metric)))
            .max_by_key(|s| preference(&s.metric));
        if let Some(best) = best {
            picked.push(best.clone());
        }
    }
    picked
        .into_iter()
        .map(|s| {
            let s = as_rate_if_counter(s);
            ChartSeries {
                unit: unit_of(&s.metric),
                points: downsample(&s),
                name: s.metric,
            }
        })
        .collect()
}

/// Higher is better: tail latency over medians, rates over raw counts.
fn preference(metric: &str) -> i32 {
    let m = metric.to_ascii_lowercase();
    let mut score = 0;
    for (word, points) in [
        ("p99", 3),
        ("p95", 2),
        ("rate", 1),
        ("ratio", 1),
        ("usage", 1),
    ] {
        if m.contains(word) {
            score += points;
        }
    }
    score - (m.len() as i32 / 20)
}

fn unit_of(metric: &str) -> Option<String> {
    let m = metric.to_ascii_lowercase();
    [
        ("_ms", "ms"),
        ("seconds", "s"),
        ("_mb", "MiB"),
        ("bytes", "B"),
        ("percent", "%"),
    ]
    .iter()
    .find(|(suffix, _)| m.contains(suffix))
    .map(|(_, unit)| (*unit).to_string())
}

fn downsample(series: &MetricSeries) -> Vec<(i64, f64)> {
    let points: Vec<(i64, f64)> = series
        .points
        .iter()
        .filter(|p| p.value.is_finite())
        .map(|p| (p.at.timestamp_millis(), p.value))
        .collect();
    if points.len() <= MAX_POINTS {
        return points;
    }
    let step = points.len().div_ceil(MAX_POINTS);
    points
        .chunks(step)
        .map(|chunk| {
            let n = chunk.len() as f64;
            let at = chunk[chunk.len() / 2].0;
            (at, chunk.iter().map(|p| p.1).sum::<f64>() / n)
        })
        .collect()
}
