//! Telemetry bundle load + index throughput on a generated 1M-row bundle, beside two
//! baselines measured in the same run: reading the same files line by line with no parsing,
//! and parsing them (csv records, JSON values) without building an index. Also: the cost
//! of index adds in order, slightly late, and shuffled.
//!
//! `cargo bench -p itops-core --bench bundle`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput};
use itops_core::telemetry::bundle::{load_bundle, BundleWriter, LoadOptions};
use itops_core::telemetry::{LogLevel, LogRecord, Span, SpanStatus, TelemetryIndex};

const SERVICES: usize = 15;
const METRICS: [&str; 8] = [
    "cpu",
    "memory",
    "latency_p50",
    "latency_p99",
    "request_rate",
    "error_rate",
    "saturation",
    "gc_pause",
];
/// 15 services × 8 metrics × 7 500 instants = 900 000 samples.
const INSTANTS: usize = 7_500;
const LOGS: usize = 80_000;
const SPANS: usize = 19_000;
const EVENTS: usize = 1_000;
const ROWS: usize = SERVICES * METRICS.len() * INSTANTS + LOGS + SPANS + EVENTS;
const FILES: [&str; 4] = ["metrics.csv", "logs.jsonl", "traces.jsonl", "events.jsonl"];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()
}

fn service(i: usize) -> String {
    format!("service-{:02}", i % SERVICES)
}

/// Writes the 1M-row bundle: 10 s metric intervals, logs and spans spread over the same
/// 21 hours, in time order as an exporter would write them.
fn generate(dir: &Path) {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut writer = BundleWriter::create(dir).unwrap();
    let services: Vec<String> = (0..SERVICES).map(service).collect();
    for step in 0..INSTANTS {
        let at = start() + chrono::Duration::seconds(10 * step as i64);
        for name in &services {
            for metric in METRICS {
                writer.metric(name, metric, at, rng.f64() * 100.0).unwrap();
            }
        }
    }
    let span_of = |i: usize| chrono::Duration::milliseconds(i as i64 * 75_000_000 / LOGS as i64);
    for i in 0..LOGS {
        let level = [
            LogLevel::Info,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ][i % 4];
        writer
            .log(&LogRecord {
                at: start() + span_of(i),
                service: service(i),
                message: format!("request {i} finished in {} ms with status 200", i % 700),
                level: Some(level),
                trace_id: Some(format!("{:032x}", i / 4)),
                span_id: Some(format!("{:016x}", i)),
            })
            .unwrap();
    }
    for i in 0..SPANS {
        writer
            .span(&Span {
                trace_id: format!("{:032x}", i / 5),
                span_id: format!("{:016x}", i),
                parent_span_id: (i % 5 != 0).then(|| format!("{:016x}", i - i % 5)),
                service: service(i),
                operation: format!("GET /api/v1/items/{}", i % 20),
                start: start() + span_of(i * 4),
                duration_ns: 1_000_000 + (i as u64 % 1000) * 1000,
                status: if i % 50 == 0 {
                    SpanStatus::Error
                } else {
                    SpanStatus::Ok
                },
            })
            .unwrap();
    }
    for i in 0..EVENTS {
        writer
            .change(&itops_core::telemetry::ChangeEvent {
                at: start() + span_of(i * 80),
                service: service(i),
                kind: "deploy".into(),
                description: format!("rollout {i}"),
                version: Some(format!("1.{i}.0")),
                actor: Some("ci".into()),
            })
            .unwrap();
    }
    writer.finish().unwrap();
}

/// Baseline 1: every line of every file read into a buffer, nothing parsed.
fn read_lines(dir: &Path) -> usize {
    let mut lines = 0;
    let mut buffer = Vec::new();
    for name in FILES {
        let mut file = BufReader::with_capacity(1 << 16, File::open(dir.join(name)).unwrap());
        loop {
            buffer.clear();
            if file.read_until(b'\n', &mut buffer).unwrap() == 0 {
                break;
            }
            lines += 1;
        }
    }
    lines - 1 // the CSV header
}

/// Baseline 2: csv records with the value parsed, and each JSON line parsed into a
/// `serde_json::Value`; no timestamps, no validation, no index.
fn parse_only(dir: &Path) -> usize {
    let mut rows = 0;
    let mut reader = csv::Reader::from_path(dir.join("metrics.csv")).unwrap();
    let mut record = csv::ByteRecord::new();
    let mut sum = 0.0;
    while reader.read_byte_record(&mut record).unwrap() {
        sum += std::str::from_utf8(&record[3])
            .unwrap()
            .parse::<f64>()
            .unwrap();
        rows += 1;
    }
    std::hint::black_box(sum);
    let mut line = String::new();
    for name in &FILES[1..] {
        let mut file = BufReader::with_capacity(1 << 16, File::open(dir.join(name)).unwrap());
        loop {
            line.clear();
            if file.read_line(&mut line).unwrap() == 0 {
                break;
            }
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            std::hint::black_box(value);
            rows += 1;
        }
    }
    rows
}

fn load(dir: &Path) -> usize {
    let bundle = load_bundle(dir, &LoadOptions::default()).unwrap();
    let counts = bundle.index().counts();
    counts.metric_points + counts.logs + counts.spans + counts.changes
}

fn median_seconds(runs: usize, mut f: impl FnMut() -> usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let begun = Instant::now();
            assert_eq!(std::hint::black_box(f()), ROWS);
            begun.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// 100 000 samples over 10 series at 1 s steps, in the given order.
fn add_samples(order: &[usize]) -> TelemetryIndex {
    let services: Vec<String> = (0..10).map(service).collect();
    let mut index = TelemetryIndex::new();
    for &i in order {
        let at = start() + chrono::Duration::seconds((i / 10) as i64);
        index.add_metric(&services[i % 10], "cpu", at, i as f64);
    }
    index
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let begun = Instant::now();
    generate(dir.path());
    let bytes: u64 = FILES
        .iter()
        .map(|name| std::fs::metadata(dir.path().join(name)).unwrap().len())
        .sum();
    println!(
        "bundle: {ROWS} rows, {:.0} MiB, generated in {:.1}s",
        bytes as f64 / (1 << 20) as f64,
        begun.elapsed().as_secs_f64()
    );

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    {
        let mut group = c.benchmark_group("bundle_1m_rows");
        group.throughput(Throughput::Elements(ROWS as u64));
        group.bench_function("load_and_index", |b| b.iter(|| load(dir.path())));
        group.bench_function("baseline_parse_only", |b| b.iter(|| parse_only(dir.path())));
        group.bench_function("baseline_read_lines", |b| b.iter(|| read_lines(dir.path())));
        group.finish();
    }
    {
        const N: usize = 100_000;
        let in_order: Vec<usize> = (0..N).collect();
        // One sample in ten arrives up to 50 samples late (a slow scrape).
        let mut late = in_order.clone();
        let mut rng = fastrand::Rng::with_seed(1);
        for i in (0..N).step_by(10) {
            let to = (i + rng.usize(1..50)).min(N - 1);
            late.swap(i, to);
        }
        let mut shuffled = in_order.clone();
        rng.shuffle(&mut shuffled);
        let mut group = c.benchmark_group("index_add_100k");
        group.throughput(Throughput::Elements(N as u64));
        for (name, order) in [
            ("in_order", &in_order),
            ("ten_percent_late", &late),
            ("shuffled", &shuffled),
        ] {
            group.bench_function(name, |b| {
                b.iter_batched(|| order.clone(), |o| add_samples(&o), BatchSize::LargeInput)
            });
        }
        group.finish();
    }
    c.final_summary();

    if std::env::args().any(|a| a == "--bench") {
        // Figures to quote: medians of 5 runs of each, in this same process.
        let load_s = median_seconds(5, || load(dir.path()));
        let parse_s = median_seconds(5, || parse_only(dir.path()));
        let lines_s = median_seconds(5, || read_lines(dir.path()));
        let rate = |s: f64| ROWS as f64 / s;
        println!(
            "\nload + index: {:.2} M rows/s ({:.0} MiB/s)\n\
             baseline parse only: {:.2} M rows/s (load + index takes {:.2}x its time)\n\
             baseline read lines: {:.2} M rows/s (load + index takes {:.2}x its time)",
            rate(load_s) / 1e6,
            bytes as f64 / (1 << 20) as f64 / load_s,
            rate(parse_s) / 1e6,
            load_s / parse_s,
            rate(lines_s) / 1e6,
            load_s / lines_s,
        );
    }
}
