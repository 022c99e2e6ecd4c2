//! `itops eval --cases FILE`: the root-cause ranking scored on labelled incidents, run as a
//! user runs it, on small synthetic bundles written here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

/// The fault's start in every synthetic bundle.
const T: i64 = 1_767_225_600;
/// The end of the data, ten minutes later.
const END: i64 = T + 600;

fn itops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itops"))
        .args(args)
        .output()
        .unwrap()
}

/// A bundle of three services sampled every 15 s from 30 minutes before `T` to `END`, in
/// which only `culprit`'s cpu jumps (20 → 95) at `T`.
fn write_bundle(dir: &Path, culprit: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let mut csv = String::from("timestamp,service,metric,value\n");
    for (s, service) in ["frontend", "cart", "payment"].iter().enumerate() {
        for i in 0..((END - (T - 1800)) / 15 + 1) {
            let ts = T - 1800 + i * 15;
            // Small deterministic wiggle so the baseline is not flat.
            let wiggle = ((i * 7 + s as i64 * 3) % 5) as f64 * 0.4;
            let cpu = if *service == culprit && ts >= T {
                95.0 + wiggle
            } else {
                20.0 + wiggle
            };
            csv.push_str(&format!("{ts},{service},cpu_usage,{cpu}\n"));
            csv.push_str(&format!("{ts},{service},request_rate,{}\n", 50.0 + wiggle));
        }
    }
    std::fs::write(dir.join("metrics.csv"), csv).unwrap();
}

fn case(id: &str, bundle: &str, fault: &str, root: &str) -> Value {
    json!({
        "case_id": id,
        "bundle_dir": bundle,
        "system": "shop",
        "fault_type": fault,
        "root_service": root,
        "window_start_unix": T,
        "window_end_unix": END,
        "bundle_start_unix": T - 1800,
        "source_run": "ignored",
    })
}

/// Four cases: two obvious ones (cart's and payment's cpu jump), one whose label names a
/// service that did nothing (cart's bundle, root "frontend"), one whose bundle is missing.
fn write_cases(dir: &Path) -> std::path::PathBuf {
    write_bundle(&dir.join("bundles/cart-cpu"), "cart");
    write_bundle(&dir.join("bundles/payment-cpu"), "payment");
    let cases = json!([
        case("cart-cpu", "bundles/cart-cpu", "cpu", "cart"),
        case("payment-cpu", "bundles/payment-cpu", "cpu_load", "payment"),
        case(
            "mislabelled",
            "bundles/cart-cpu",
            "network_loss",
            "frontend"
        ),
        case("missing", "bundles/nowhere", "cpu", "cart"),
    ]);
    let file = dir.join("cases.json");
    std::fs::write(&file, serde_json::to_string_pretty(&cases).unwrap()).unwrap();
    file
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-9
}

#[test]
fn eval_cases_scores_each_case_in_both_modes_and_keeps_going_past_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_cases(tmp.path());
    let results = tmp.path().join("results.jsonl");
    let out = itops(&[
        "eval",
        "--cases",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--at",
        "both",
        "--results",
        results.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    // One line per case × mode.
    let lines: Vec<Value> = std::fs::read_to_string(&results)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8, "{lines:#?}");
    let run = |id: &str, mode: &str| {
        lines
            .iter()
            .find(|l| l["case_id"] == id && l["mode"] == mode)
            .unwrap_or_else(|| panic!("no line for {id} {mode}"))
            .clone()
    };
    for mode in ["start", "end"] {
        let expected_t = if mode == "start" { T } else { END };
        // The obvious cases: the one service whose cpu jumped comes first.
        for (id, root) in [("cart-cpu", "cart"), ("payment-cpu", "payment")] {
            let line = run(id, mode);
            assert_eq!(line["rank"], 1, "{line:#}");
            assert_eq!(line["candidates"][0]["service"], root, "{line:#}");
            assert!(line["candidates"][0]["score"].is_number(), "{line:#}");
            assert!(line["candidates"][0]["fault"].is_string(), "{line:#}");
            assert_eq!(line["T"], expected_t);
            assert_eq!(line["expected_fault"], "cpu_contention");
            assert!(line["error"].is_null());
            assert!(line["investigate_ms"].as_f64().unwrap() >= 0.0);
        }
        // The mislabelled one is not first; its label has no kind to score.
        let line = run("mislabelled", mode);
        assert_ne!(line["rank"], 1, "{line:#}");
        assert!(line["expected_fault"].is_null() && line["kind_matched"].is_null());
        // The missing bundle is an error with its message, not the end of the run.
        let line = run("missing", mode);
        assert!(line["rank"].is_null() && line["investigate_ms"].is_null());
        let error = line["error"].as_str().unwrap();
        assert!(error.contains("nowhere"), "{error}");
    }

    // AC@1: 4 of the 8 runs have the root first; errors are misses.
    let overall = &report["overall"];
    assert_eq!(report["cases"], 4);
    assert_eq!(overall["runs"], 8);
    assert_eq!(overall["errors"], 2);
    assert!(close(&overall["ac1"], 0.5), "{overall:#}");
    let firsts = lines.iter().filter(|l| l["rank"] == 1).count();
    assert!(close(&overall["ac1"], firsts as f64 / 8.0));
    assert!(overall["ac5"].as_f64().unwrap() >= 0.5);
    let mrr = lines
        .iter()
        .map(|l| l["rank"].as_f64().map_or(0.0, |r| 1.0 / r))
        .sum::<f64>()
        / 8.0;
    assert!(close(&overall["mrr"], mrr), "{overall:#}");
    // Kind is scored on the three labels that have a kind (cpu, cpu_load, cpu) per mode.
    assert_eq!(overall["kind_scored"], 6);
    assert!(overall["investigate_ms_p95"].as_f64().unwrap() >= 0.0);
    for mode in ["start", "end"] {
        let section = &report["by_mode"][mode];
        assert_eq!(section["runs"], 4, "{section:#}");
        assert_eq!(section["errors"], 1);
        assert!(close(&section["ac1"], 0.5), "{section:#}");
        assert_eq!(section["by_fault_type"]["cpu"]["runs"], 2);
        assert_eq!(section["by_fault_type"]["cpu"]["errors"], 1);
        assert!(close(&section["by_fault_type"]["cpu_load"]["ac1"], 1.0));
        assert_eq!(section["by_system"]["shop"]["runs"], 4);
    }
}

#[test]
fn limit_takes_the_first_cases_and_text_mode_reports_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_cases(tmp.path());
    let out = itops(&[
        "eval",
        "--cases",
        file.to_str().unwrap(),
        "--limit",
        "1",
        "--at",
        "end",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 cases, T at end (1 runs)"), "{text}");
    assert!(
        text.contains("AC@1") && text.contains("by fault type"),
        "{text}"
    );
    let progress = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = progress.lines().collect();
    assert_eq!(lines.len(), 1, "{progress}");
    assert!(
        lines[0].contains("cart-cpu") && lines[0].contains("end") && lines[0].contains("rank 1"),
        "{progress}"
    );
}

#[test]
fn a_bad_at_or_options_without_cases_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_cases(tmp.path());
    let out = itops(&["eval", "--cases", file.to_str().unwrap(), "--at", "noon"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("invalid value 'noon'") && err.contains("start") && err.contains("end"),
        "{err}"
    );
    let out = itops(&["eval", "--at", "start"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--cases"));
}

#[test]
fn a_file_that_is_not_a_cases_list_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cases.json");
    std::fs::write(&file, r#"[{"case_id": "x"}]"#).unwrap();
    let out = itops(&["eval", "--cases", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("not a cases file") && err.contains("bundle_dir"),
        "{err}"
    );
}
