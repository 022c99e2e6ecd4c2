//! The `itops` binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

fn itops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_itops"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn version_prints_the_crate_version() {
    let out = itops(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("itops {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_commands() {
    let out = itops(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: itops"), "{text}");
    assert!(text.contains("workflow"), "{text}");
}

#[test]
fn workflow_prints_the_definition_as_json() {
    let out = itops(&["workflow"]);
    assert!(out.status.success());
    let def: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = def["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    for expected in [
        "open",
        "triaging",
        "awaiting_approval",
        "resolved",
        "escalated",
    ] {
        assert!(states.contains(&expected), "{states:?}");
    }
    assert_eq!(def["initial"], "open");
}

#[test]
fn an_unknown_command_fails_with_a_clear_message() {
    let out = itops(&["frobnicate"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unrecognized subcommand 'frobnicate'"),
        "{err}"
    );
}

fn bundle(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn telemetry_inspect_summarises_a_bundle_as_text_and_json() {
    let dir = bundle(&[
        ("metrics.csv", "timestamp,service,metric,value\n2026-05-01T12:00:00Z,api,cpu,12.5\n1777636860,api,cpu,13\n"),
        ("logs.jsonl", "{\"timestamp\":\"2026-05-01T12:00:05Z\",\"service\":\"api\",\"message\":\"boom\",\"level\":\"error\"}\n"),
    ]);
    let path = dir.path().to_str().unwrap();
    let out = itops(&["telemetry", "inspect", path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("metrics.csv   2 rows"), "{text}");
    assert!(text.contains("traces.jsonl  absent"), "{text}");

    let out = itops(&["telemetry", "inspect", path, "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["totals"]["metric_points"], 2);
    assert_eq!(summary["services"][0]["name"], "api");
}

#[test]
fn telemetry_inspect_names_the_bad_row_or_skips_it_when_lenient() {
    let dir = bundle(&[("metrics.csv", "timestamp,service,metric,value\n2026-05-01T12:00:00Z,api,cpu,1\nxx,api,cpu,1\n")]);
    let path = dir.path().to_str().unwrap();
    let out = itops(&["telemetry", "inspect", path]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("metrics.csv line 3: field 'timestamp'"), "{err}");
    let out = itops(&["telemetry", "inspect", path, "--lenient"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("1 rows, 1 skipped"));
}

#[test]
fn telemetry_inspect_of_a_missing_directory_is_a_clear_error() {
    let out = itops(&["telemetry", "inspect", "/definitely/not/here"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("'/definitely/not/here' not found"), "{err}");
}
