//! OTLP ingest throughput and memory: spans/s and log records/s decoding protobuf
//! requests of 512 items across 20 services and adding them to an [`OtlpStore`], against
//! decoding the same requests alone (the baseline); the longest single ingest call while
//! the store prunes at its cap; and the resident memory a million retained spans take.
//!
//! `cargo bench -p itops-stack --bench otlp`. Prints the median of five runs of each. The
//! memory figure is the growth of this process's resident set (`VmRSS`, Linux) from an
//! empty store to one holding 1,000,000 spans, so it includes the allocator's slack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use chrono::Utc;
use itops_stack::otlp::{
    decode_logs, decode_traces, Compression, Encoding, Format, DEFAULT_MAX_BODY_BYTES,
};
use itops_stack::{OtlpStore, OtlpStoreConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

const BATCH: usize = 512;
const SERVICES: usize = 20;
const BATCHES: usize = 400;
const RUNS: usize = 5;
const MILLION: usize = 1_000_000;
const PROTOBUF: Format = Format {
    encoding: Encoding::Protobuf,
    compression: Compression::None,
};

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn resource(service: usize) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            attribute("service.name", &format!("service-{service:02}")),
            attribute("service.instance.id", &format!("pod-{service:02}-7d9f8")),
            attribute("telemetry.sdk.language", "rust"),
        ],
        ..Default::default()
    })
}

/// Batch `b`: 512 spans of 20 services, traces of 8 spans (a root and its children),
/// each with the usual HTTP attributes; starts a millisecond apart, ending an hour ago.
fn spans_request(b: usize, t0_nanos: u64) -> Vec<u8> {
    let mut by_service: Vec<Vec<Span>> = vec![Vec::new(); SERVICES];
    for i in 0..BATCH {
        let n = (b * BATCH + i) as u64;
        let trace = n / 8;
        let start = t0_nanos + n * 1_000_000;
        let mut trace_id = trace.to_be_bytes().to_vec();
        trace_id.extend_from_slice(&0xfeed_u64.to_be_bytes());
        by_service[i % SERVICES].push(Span {
            trace_id,
            span_id: (n | 1 << 62).to_be_bytes().to_vec(),
            parent_span_id: if n.is_multiple_of(8) {
                Vec::new()
            } else {
                ((trace * 8) | 1 << 62).to_be_bytes().to_vec()
            },
            name: format!("GET /api/v1/items/{{id}}/{}", i % 7),
            kind: 2,
            start_time_unix_nano: start,
            end_time_unix_nano: start + 1_000_000 + (n % 97) * 100_000,
            attributes: vec![
                attribute("http.request.method", "GET"),
                attribute("http.route", "/api/v1/items/{id}"),
                attribute("url.scheme", "https"),
            ],
            status: Some(Status {
                code: if n.is_multiple_of(50) { 2 } else { 0 },
                message: String::new(),
            }),
            ..Default::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .enumerate()
            .map(|(s, spans)| ResourceSpans {
                resource: resource(s),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
    .encode_to_vec()
}

/// Batch `b`: 512 log records of 20 services with a level, ids and a line of text.
fn logs_request(b: usize, t0_nanos: u64) -> Vec<u8> {
    let mut by_service: Vec<Vec<LogRecord>> = vec![Vec::new(); SERVICES];
    for i in 0..BATCH {
        let n = (b * BATCH + i) as u64;
        by_service[i % SERVICES].push(LogRecord {
            time_unix_nano: t0_nanos + n * 1_000_000,
            severity_number: if n.is_multiple_of(40) { 17 } else { 9 },
            severity_text: if n.is_multiple_of(40) {
                "ERROR"
            } else {
                "INFO"
            }
            .into(),
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!(
                    "handled request {n} for user {} in {} ms",
                    n % 1000,
                    n % 97
                ))),
            }),
            trace_id: (n / 8).to_be_bytes().repeat(2),
            span_id: (n | 1 << 62).to_be_bytes().to_vec(),
            attributes: vec![attribute("code.function", "handle")],
            ..Default::default()
        });
    }
    ExportLogsServiceRequest {
        resource_logs: by_service
            .into_iter()
            .enumerate()
            .map(|(s, log_records)| ResourceLogs {
                resource: resource(s),
                scope_logs: vec![ScopeLogs {
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
    .encode_to_vec()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The resident set size in KiB (Linux), if known.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn big_store() -> OtlpStore {
    OtlpStore::new(OtlpStoreConfig {
        max_spans: 10 * MILLION,
        max_logs: 10 * MILLION,
        ..OtlpStoreConfig::default()
    })
}

/// Items per second of `run` over every payload, median of `RUNS`.
fn rate(payloads: &[Vec<u8>], mut run: impl FnMut(&[Vec<u8>])) -> f64 {
    let items = (payloads.len() * BATCH) as f64;
    median(
        (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                run(payloads);
                items / started.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let t0 = (Utc::now() - chrono::Duration::hours(1))
        .timestamp_nanos_opt()
        .unwrap() as u64;
    println!("OTLP ingest, protobuf requests of {BATCH} items across {SERVICES} services");

    // A million spans held, then a store at its cap: every ~100,000 more spans it prunes.
    let before = resident_kib();
    let store = OtlpStore::new(OtlpStoreConfig {
        max_spans: MILLION,
        ..OtlpStoreConfig::default()
    });
    let mut b = 0;
    while store.stats().spans < MILLION - BATCH {
        store.ingest_spans(
            decode_traces(&spans_request(b, t0), PROTOBUF, DEFAULT_MAX_BODY_BYTES)
                .unwrap()
                .items,
        );
        b += 1;
    }
    let after = resident_kib();
    let held = store.stats().spans;
    if let (Some(before), Some(after)) = (before, after) {
        let per_million =
            (after.saturating_sub(before)) as f64 * 1024.0 / held as f64 * MILLION as f64;
        println!(
            "  memory: {held} spans held, resident set +{} MiB: ~{:.0} MiB per million spans ({:.0} bytes a span)",
            (after.saturating_sub(before)) / 1024,
            per_million / (1 << 20) as f64,
            per_million / MILLION as f64
        );
    }
    {
        let mut index = store.snapshot();
        let started = Instant::now();
        let cutoff = index.span_cutoff_keeping(MILLION * 9 / 10);
        let find = started.elapsed();
        let started = Instant::now();
        let dropped = index.retain(&itops_core::telemetry::Cutoffs {
            spans: cutoff,
            ..Default::default()
        });
        let rebuild = started.elapsed();
        let started = Instant::now();
        drop(index);
        println!(
            "  a prune of {held} spans to 90 %: cutoff {:.0} ms, rebuild {:.0} ms ({} dropped), freeing the rest {:.0} ms",
            find.as_secs_f64() * 1000.0,
            rebuild.as_secs_f64() * 1000.0,
            dropped.spans,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    let mut longest = Duration::ZERO;
    let prunes_before = store.stats().prunes;
    for _ in 0..(400_000 / BATCH) {
        let items = decode_traces(&spans_request(b, t0), PROTOBUF, DEFAULT_MAX_BODY_BYTES)
            .unwrap()
            .items;
        b += 1;
        let started = Instant::now();
        store.ingest_spans(items);
        longest = longest.max(started.elapsed());
    }
    let stats = store.stats();
    println!(
        "  at the cap of {MILLION} spans: {} prunes over 400k more spans, the longest ingest call \
         (a prune, queries wait for it) {:.0} ms; {} spans held",
        stats.prunes - prunes_before,
        longest.as_secs_f64() * 1000.0,
        stats.spans
    );
    drop(store);

    let spans: Vec<Vec<u8>> = (0..BATCHES).map(|b| spans_request(b, t0)).collect();
    let logs: Vec<Vec<u8>> = (0..BATCHES).map(|b| logs_request(b, t0)).collect();
    let kib = |p: &[Vec<u8>]| p.iter().map(Vec::len).sum::<usize>() / p.len() / 1024;
    println!(
        "  throughput, {BATCHES} requests a run (spans ~{} KiB, logs ~{} KiB a request), median of {RUNS} runs",
        kib(&spans),
        kib(&logs)
    );

    let decode_spans = rate(&spans, |payloads| {
        for body in payloads {
            std::hint::black_box(decode_traces(body, PROTOBUF, DEFAULT_MAX_BODY_BYTES).unwrap());
        }
    });
    let ingest_spans = rate(&spans, |payloads| {
        let store = big_store();
        for body in payloads {
            store.ingest_spans(
                decode_traces(body, PROTOBUF, DEFAULT_MAX_BODY_BYTES)
                    .unwrap()
                    .items,
            );
        }
        assert_eq!(store.stats().spans, payloads.len() * BATCH);
    });
    let decode_logs_rate = rate(&logs, |payloads| {
        for body in payloads {
            std::hint::black_box(decode_logs(body, PROTOBUF, DEFAULT_MAX_BODY_BYTES).unwrap());
        }
    });
    let ingest_logs = rate(&logs, |payloads| {
        let store = big_store();
        for body in payloads {
            store.ingest_logs(
                decode_logs(body, PROTOBUF, DEFAULT_MAX_BODY_BYTES)
                    .unwrap()
                    .items,
            );
        }
        assert_eq!(store.stats().logs, payloads.len() * BATCH);
    });
    println!(
        "  spans:       decode {decode_spans:>12.0}/s   decode + ingest {ingest_spans:>12.0}/s"
    );
    println!(
        "  log records: decode {decode_logs_rate:>12.0}/s   decode + ingest {ingest_logs:>12.0}/s"
    );
}
