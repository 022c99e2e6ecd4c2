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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let dir = bundle(&[(
        "metrics.csv",
        "timestamp,service,metric,value\n2026-05-01T12:00:00Z,api,cpu,1\nxx,api,cpu,1\n",
    )]);
    let path = dir.path().to_str().unwrap();
    let out = itops(&["telemetry", "inspect", path]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("metrics.csv line 3: field 'timestamp'"),
        "{err}"
    );
    let out = itops(&["telemetry", "inspect", path, "--lenient"]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("1 rows, 1 skipped"));
}

#[test]
fn telemetry_inspect_of_a_missing_directory_is_a_clear_error() {
    let out = itops(&["telemetry", "inspect", "/definitely/not/here"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("'/definitely/not/here' not found"), "{err}");
}

/// A bundle where `db` slows down at minute 40 and `api`, which calls it, suffers.
fn incident_bundle() -> tempfile::TempDir {
    let t0 = 1_777_636_800i64; // 2026-05-01T12:00:00Z
    let mut metrics = String::from("timestamp,service,metric,value\n");
    let mut traces = String::new();
    let mut logs = String::new();
    for minute in 0..60i64 {
        let at = t0 + minute * 60;
        let bad = minute >= 40;
        let db_ms = if bad { 800 } else { 5 + minute % 3 };
        metrics.push_str(&format!("{at},db,latency_ms,{db_ms}\n"));
        metrics.push_str(&format!(
            "{at},api,latency_ms,{}\n",
            db_ms + 20 + minute % 2
        ));
        metrics.push_str(&format!("{at},api,cpu,{}\n", 30 + minute % 4));
        let start_ns = at as i128 * 1_000_000_000;
        traces.push_str(&format!(
            "{{\"trace_id\":\"t{minute}\",\"span_id\":\"a\",\"service\":\"api\",\"operation\":\"GET /\",\"start_unix_nano\":{start_ns},\"duration_ns\":{},\"status_code\":\"{}\"}}\n",
            (db_ms + 20) * 1_000_000,
            if bad { "ERROR" } else { "OK" }
        ));
        traces.push_str(&format!(
            "{{\"trace_id\":\"t{minute}\",\"span_id\":\"b\",\"parent_span_id\":\"a\",\"service\":\"db\",\"operation\":\"query\",\"start_unix_nano\":{start_ns},\"duration_ns\":{},\"status_code\":\"OK\"}}\n",
            db_ms * 1_000_000
        ));
        if bad {
            logs.push_str(&format!("{{\"timestamp\":{at},\"service\":\"api\",\"level\":\"error\",\"message\":\"query to db timed out after {db_ms} ms\"}}\n"));
        }
    }
    bundle(&[
        ("metrics.csv", &metrics),
        ("traces.jsonl", &traces),
        ("logs.jsonl", &logs),
    ])
}

#[test]
fn investigate_finds_the_origin_and_prints_json_candidates() {
    let dir = incident_bundle();
    let out = itops(&[
        "investigate",
        "--telemetry",
        dir.path().to_str().unwrap(),
        "--at",
        "2026-05-01T12:40:00Z",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidates = report["candidates"].as_array().unwrap();
    assert_eq!(candidates[0]["service"], "db", "{report:#}");
    assert!(candidates[0]["score"].as_f64().unwrap() > candidates[1]["score"].as_f64().unwrap());
    assert!(candidates[0]["evidence"]
        .as_array()
        .is_some_and(|e| !e.is_empty()));
    assert!(report["finding"]["summary"]
        .as_str()
        .unwrap()
        .contains("db"));
    assert_eq!(
        report["steps"][0]["tool_calls"][0]["call"]["name"],
        "rank_anomalies"
    );
}

#[test]
fn investigate_prints_a_readable_report_and_accepts_unix_seconds() {
    let dir = incident_bundle();
    let out = itops(&[
        "investigate",
        "--telemetry",
        dir.path().to_str().unwrap(),
        "--at",
        "1777639200",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1. db"), "{text}");
    assert!(text.contains("Steps:"), "{text}");
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("loaded 2 services"));
}

#[test]
fn investigate_rejects_a_bad_time_and_a_bad_incident_file() {
    let dir = incident_bundle();
    let path = dir.path().to_str().unwrap();
    let out = itops(&["investigate", "--telemetry", path, "--at", "last tuesday"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("invalid at"));
    std::fs::write(dir.path().join("incident.json"), "{\"title\": \"x\"}").unwrap();
    let incident = dir.path().join("incident.json");
    let out = itops(&[
        "investigate",
        "--telemetry",
        path,
        "--incident",
        incident.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("not a valid incident report") && err.contains("severity"),
        "{err}"
    );
}

#[test]
fn simulate_lists_scenarios_and_writes_a_bundle_that_loads() {
    let out = itops(&["simulate", "--list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    for scenario in [
        "cascade_failure",
        "gradual_degradation",
        "security_event",
        "capacity_issue",
        "network_problem",
        "memory_leak",
    ] {
        assert!(list.contains(scenario), "{scenario} missing from {list}");
    }

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("leak");
    let out = itops(&[
        "simulate",
        "--scenario",
        "memory_leak",
        "--seed",
        "3",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "metrics.csv",
        "logs.jsonl",
        "traces.jsonl",
        "events.jsonl",
        "ground_truth.json",
        "incident.json",
    ] {
        assert!(bundle.join(file).exists(), "{file} not written");
    }
    let out = itops(&[
        "telemetry",
        "inspect",
        bundle.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary["totals"]["services"].as_u64().unwrap() >= 10);
    assert!(summary["totals"]["metric_points"].as_u64().unwrap() > 1000);
}

#[test]
fn simulate_refuses_an_unknown_scenario_and_a_missing_out() {
    let out = itops(&["simulate", "--scenario", "gremlins", "--out", "/tmp/never"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown scenario 'gremlins'") && err.contains("memory_leak"),
        "{err}"
    );
    let out = itops(&["simulate", "--scenario", "memory_leak"]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--out DIR is required"));
}

#[test]
fn eval_reports_accuracy_on_the_first_cases_of_the_suite() {
    let out = itops(&["eval", "--limit", "2", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["overall"]["cases"], 2);
    let ac1 = report["overall"]["ac1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ac1));
    assert_eq!(report["cases"].as_array().unwrap().len(), 2);
}
