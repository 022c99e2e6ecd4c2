//! The same investigation over a telemetry bundle and over the same samples backfilled into
//! a real Prometheus (the Debian package, installed by `scripts/setup-test-deps`) ranks
//! the same services first: the Prometheus source reads back what a bundle holds.
//!
//! Each case is a simulator case (metrics only: logs and traces are not Prometheus's),
//! moved to end in the past week so that Prometheus accepts it as backfill.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use itops_core::telemetry::bundle::{load_bundle, LoadOptions};
use itops_core::telemetry::MetricQuery;
use itops_sim::{generate_case, CaseSpec, MetricNaming, SignalSet};
use itops_stack::testing::{openmetrics_of, Prometheus};

/// `itops investigate ARGS --at AT --format json`: the ranked services, best first.
fn ranked(args: &[&str], at: DateTime<Utc>) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_itops"))
        .arg("investigate")
        .args(args)
        .args(["--at", &at.to_rfc3339(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "itops investigate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["service"].as_str().unwrap().to_string())
        .collect()
}

/// Generates `scenario` with `seed` (metrics only, named in `naming`), writes its bundle
/// into `dir`, backfills the bundle's samples into Prometheus with each service in the
/// label `service`, and investigates both at the detection time. Returns the root service
/// and both rankings (bundle, Prometheus).
fn both(
    scenario: &str,
    seed: u64,
    naming: MetricNaming,
    dir: &Path,
) -> (String, Vec<String>, Vec<String>) {
    let mut spec = CaseSpec::from_scenario(scenario, seed).unwrap();
    // Moved by whole weeks (the shop's load follows the hour and the weekday, so the case
    // stays the same) to end within the last week, an hour ago at the latest: in the
    // past, as backfill must be.
    let longest = Duration::minutes(
        i64::from(spec.baseline_minutes + spec.max_detection_minutes + spec.tail_minutes) + 5,
    );
    let weeks = (Utc::now() - Duration::hours(1) - longest - spec.start).num_weeks();
    spec.start += Duration::weeks(weeks);
    spec.telemetry.signals = SignalSet::MetricsOnly;
    spec.telemetry.metric_naming = naming;
    let case = generate_case(&spec).unwrap();
    case.environment.write_bundle(dir).unwrap();
    let at = case.detected_at();

    // Exactly the samples the bundle holds, as read back from it.
    let bundle = load_bundle(dir, &LoadOptions::default()).unwrap();
    let bounds = bundle.index().time_bounds().unwrap();
    let series = bundle.index().metrics(&MetricQuery {
        range: bounds,
        service: None,
        metric: None,
    });
    assert!(!series.is_empty(), "{scenario}: the bundle holds metrics");
    let prometheus =
        Prometheus::start(&openmetrics_of(&series, "service")).unwrap_or_else(|e| panic!("{e}"));

    let from_bundle = ranked(&["--telemetry", dir.to_str().unwrap()], at);
    let from_prometheus = ranked(&["--prometheus", prometheus.url()], at);
    (case.ground_truth.root_service, from_bundle, from_prometheus)
}

fn assert_same_ranking(scenario: &str, seed: u64, naming: MetricNaming) {
    let dir = tempfile::tempdir().unwrap();
    let (root, bundle, prometheus) = both(scenario, seed, naming, dir.path());
    eprintln!("{scenario}-{seed} ({naming}): root {root}\n  bundle     {bundle:?}\n  prometheus {prometheus:?}");
    assert_eq!(
        bundle.first(),
        Some(&root),
        "{scenario}-{seed}: the bundle's investigation finds the root first: {bundle:?}"
    );
    assert_eq!(
        prometheus.first(),
        bundle.first(),
        "{scenario}-{seed}: the same service first over Prometheus as over the bundle\n  bundle     {bundle:?}\n  prometheus {prometheus:?}"
    );
    // The source reads the samples as stored, so nothing differs in the tail either.
    assert_eq!(
        prometheus.get(..3),
        bundle.get(..3),
        "{scenario}-{seed}: the same three services first, in the same order, over Prometheus as over the bundle\n  bundle     {bundle:?}\n  prometheus {prometheus:?}"
    );
}

/// Read at a step finer than their scrape interval, each sample came back twice and a
/// counter's rate fell to zero at every other step: over Prometheus, auth ranked before
/// redis, where the cache's cpu is taken.
#[test]
fn a_cpu_contention_on_the_cache_ranks_the_same_over_prometheus_as_over_its_bundle() {
    assert_same_ranking("cpu_contention", 1, MetricNaming::Prometheus);
}

/// Kafka's counters (Prometheus naming) and its filling disk; the rest of the top three
/// differed too when the counters were read at a step.
#[test]
fn a_full_disk_on_the_broker_ranks_the_same_over_prometheus_as_over_its_bundle() {
    assert_same_ranking("disk_full", 4, MetricNaming::Prometheus);
}

/// Plain gauges.
#[test]
fn an_exception_burst_ranks_the_same_over_prometheus_as_over_its_bundle() {
    assert_same_ranking("exception_burst", 1, MetricNaming::Plain);
}
