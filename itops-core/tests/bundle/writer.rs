//! Writing bundles: the files and their text.

use itops_core::telemetry::bundle::write_bundle;
use itops_core::telemetry::TelemetryIndex;

use crate::support::*;

#[test]
fn writes_four_files_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/bundle");
    write_bundle(&out, &sample_index()).unwrap();
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    assert_eq!(lines.next(), Some("timestamp,service,metric,value"));
    assert_eq!(
        lines.next(),
        Some("2024-03-01T11:59:50.000000000Z,api,cpu,0.05")
    );
    assert_eq!(
        lines.next(),
        Some("2024-03-01T12:00:00.000000000Z,api,cpu,0")
    );
    assert_eq!(metrics.lines().count(), 32);
    let logs = std::fs::read_to_string(out.join("logs.jsonl")).unwrap();
    assert_eq!(
        logs.lines().next(),
        Some(
            r#"{"timestamp":"2024-03-01T12:00:01.000000000Z","service":"db","level":"error","message":"Connection pool exhausted"}"#
        )
    );
    let traces = std::fs::read_to_string(out.join("traces.jsonl")).unwrap();
    assert_eq!(traces.lines().count(), 3);
    assert!(traces
        .lines()
        .next()
        .unwrap()
        .contains(r#""status_code":"OK""#));
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(events
        .lines()
        .next()
        .unwrap()
        .contains(r#""kind":"deploy""#));
}

#[test]
fn refuses_values_a_bundle_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = TelemetryIndex::new();
    index.add_metric("api", "cpu", t(0), f64::NAN);
    let error = write_bundle(dir.path(), &index).unwrap_err().to_string();
    assert!(error.contains("finite"), "{error}");

    let mut index = TelemetryIndex::new();
    index.add_metric(" ", "cpu", t(0), 1.0);
    let error = write_bundle(dir.path(), &index).unwrap_err().to_string();
    assert!(error.contains("service is empty"), "{error}");
}
