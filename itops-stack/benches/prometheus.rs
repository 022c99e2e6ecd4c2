//! An investigation's ranking over a real Prometheus against the same data in memory (a
//! bundle's index): wall time and HTTP requests. 50 services × 20 metrics × 1 hour at a
//! 15 s step, one service's cpu saturating 50 minutes in.
//!
//! `cargo bench -p itops-stack --features test-utils --bench prometheus` (needs
//! Prometheus and promtool: `scripts/setup-test-deps`). Prints the median of five runs of
//! each, and their ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Instant;

use chrono::{DateTime, Utc};
use itops_agents::analysis::ranking::{rank_anomalies, RankingOptions};
use itops_core::telemetry::TelemetryIndex;
use itops_core::TelemetrySource;
use itops_stack::testing::{openmetrics, Prometheus, Sample};
use itops_stack::{PrometheusConfig, PrometheusSource};

const SERVICES: usize = 50;
const METRICS: usize = 20;
const STEP: i64 = 15;
const SAMPLES: i64 = 240;
const FAULT: i64 = 200;
const RUNS: usize = 5;

fn value(service: usize, metric: usize, i: i64) -> f64 {
    let wobble = (((i * 7919 + (service * 31 + metric) as i64 * 104_729) % 13) as f64 - 6.0) / 6.0;
    let hot = service == 7 && metric == 0 && i >= FAULT;
    (if hot { 95.0 } else { 30.0 + metric as f64 }) + wobble
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn time(source: &dyn TelemetrySource, at: DateTime<Utc>) -> (f64, String) {
    let started = Instant::now();
    let ranking = rank_anomalies(
        source,
        &RankingOptions {
            at: Some(at),
            max_candidates: Some(5),
        },
    )
    .await
    .unwrap();
    let first = ranking
        .candidates
        .first()
        .map(|c| c.service.clone())
        .unwrap_or_default();
    (started.elapsed().as_secs_f64() * 1000.0, first)
}

fn main() {
    let t0 = (Utc::now().timestamp() - 3 * 3600) / 60 * 60;
    let names: Vec<String> = (0..SERVICES).map(|s| format!("svc-{s:02}")).collect();
    let metrics: Vec<String> = (0..METRICS)
        .map(|m| {
            if m == 0 {
                "cpu_usage_percent".to_string()
            } else {
                format!("metric_{m:02}")
            }
        })
        .collect();
    let labels: Vec<Vec<(&str, &str)>> = names
        .iter()
        .map(|n| vec![("service", n.as_str())])
        .collect();
    let mut samples: Vec<Sample<'_>> = Vec::new();
    let mut index = TelemetryIndex::new();
    for (s, name) in names.iter().enumerate() {
        for (m, metric) in metrics.iter().enumerate() {
            for i in 0..SAMPLES {
                let at = t0 + i * STEP;
                let v = value(s, m, i);
                samples.push((metric.as_str(), labels[s].as_slice(), at, v));
                index.add_metric(name, metric, DateTime::from_timestamp(at, 0).unwrap(), v);
            }
        }
    }
    let server = Prometheus::start(&openmetrics(&samples)).unwrap_or_else(|e| panic!("{e}"));
    let at = DateTime::from_timestamp(t0 + (FAULT + 20) * STEP, 0).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut memory = Vec::new();
        let mut remote = Vec::new();
        let mut requests = 0;
        for _ in 0..RUNS {
            let (ms, first) = time(&index, at).await;
            assert_eq!(first, "svc-07");
            memory.push(ms);
            let source = PrometheusSource::new(PrometheusConfig::new(server.url())).unwrap();
            let (ms, first) = time(&source, at).await;
            assert_eq!(first, "svc-07");
            remote.push(ms);
            requests = source.requests_sent();
        }
        let (memory, remote) = (median(memory), median(remote));
        println!(
            "{SERVICES} services × {METRICS} metrics × {SAMPLES} samples, ranking at the fault + 5 min, median of {RUNS}"
        );
        println!("baseline: the same data in memory (a bundle's index)  {memory:>8.1} ms  1.00×");
        println!(
            "over Prometheus (HTTP API, {requests} requests)            {remote:>8.1} ms  {:.2}×",
            remote / memory
        );
    });
}
