//! The bundle summary behind `itops telemetry inspect`.

use itops_core::telemetry::bundle::{load_bundle, summarize, write_bundle};

use crate::support::*;

#[test]
fn summary_lists_services_metrics_range_rows_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_bundle(dir.path(), &sample_index()).unwrap();
    std::fs::remove_file(dir.path().join("traces.jsonl")).unwrap();
    let mut logs = std::fs::read_to_string(dir.path().join("logs.jsonl")).unwrap();
    logs.push_str("{\"broken\n");
    std::fs::write(dir.path().join("logs.jsonl"), logs).unwrap();

    let bundle = load_bundle(dir.path(), &lenient()).unwrap();
    let summary = summarize(&bundle);
    let names: Vec<&str> = summary.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["api", "db", "queue"]);
    assert_eq!(summary.services[0].metrics, ["cpu", "latency_p99"]);
    assert_eq!(summary.services[1].counts.error_logs, 1);
    assert_eq!(summary.services[0].counts.error_logs, 1);
    assert_eq!(summary.services[0].counts.changes, 1);
    assert_eq!(summary.totals.spans, 0);
    assert_eq!(summary.files[1].rows, 5);
    assert_eq!(summary.files[1].skipped, 1);
    assert!(!summary.files[2].present);
    assert_eq!(summary.time_range.unwrap().start, t(-10));

    let text = summary.to_string();
    for expected in [
        "time range  2024-03-01T11:59:50.000000000Z .. 2024-03-01T12:01:35.000000001Z (1m 45s)",
        "logs.jsonl    5 rows, 1 skipped",
        "traces.jsonl  absent",
        "totals      3 services, 3 series, 31 metric points, 5 logs, 0 spans, 2 changes",
        "  api      cpu, latency_p99",
        "skipped rows (first few per file)",
        "  logs.jsonl line 6: not a valid JSON object",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }

    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["services"][1]["name"], "db");
    assert_eq!(json["services"][1]["error_logs"], 1);
    assert_eq!(json["files"][1]["skipped"], 1);
    assert_eq!(json["totals"]["metric_points"], 31);
}

#[test]
fn an_empty_bundle_summarises_as_empty() {
    let dir = bundle_dir(&[]);
    let summary = summarize(&load_bundle(dir.path(), &strict()).unwrap());
    assert!(summary.services.is_empty());
    assert_eq!(summary.time_range, None);
    let text = summary.to_string();
    assert!(
        text.contains("time range  none (the bundle is empty)"),
        "{text}"
    );
    assert!(text.contains("metrics.csv   absent"), "{text}");
}
