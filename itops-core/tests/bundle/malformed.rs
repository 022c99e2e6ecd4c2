//! Every kind of bad row names file, line and field; lenient mode skips and counts it.

use itops_core::telemetry::bundle::load_bundle;
use itops_core::Error;

use crate::support::*;

const METRICS_OK: &str = "timestamp,service,metric,value\n2024-03-01T12:00:00Z,api,cpu,0.5\n";
const LOG_OK: &str = r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api","message":"ok"}"#;
const SPAN_OK: &str = r#"{"trace_id":"t","span_id":"s","service":"api","operation":"GET","start_unix_nano":1709294400000000000,"duration_ns":5}"#;
const EVENT_OK: &str =
    r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api","kind":"deploy","description":"v2"}"#;

/// (file, bad row, the error's exact text; the bad row is always on line 3).
const CASES: &[(&str, &str, &str)] = &[
    ("metrics.csv", "2024-03-01T12:00:01Z,api,cpu,abc", "metrics.csv line 3: field 'value': 'abc' is not a number"),
    ("metrics.csv", "2024-03-01T12:00:01Z,api,cpu,NaN", "metrics.csv line 3: field 'value': 'NaN' is not a finite number"),
    ("metrics.csv", "2024-03-01T12:00:01Z,api,cpu,inf", "metrics.csv line 3: field 'value': 'inf' is not a finite number"),
    ("metrics.csv", "2024-03-01T12:00:01Z,,cpu,1", "metrics.csv line 3: field 'service': service is empty"),
    ("metrics.csv", "2024-03-01T12:00:01Z,api,  ,1", "metrics.csv line 3: field 'metric': metric is empty"),
    ("metrics.csv", "2024-03-01T12:00:01Z,api,cpu", "metrics.csv line 3: field 'value': missing"),
    ("metrics.csv", "yesterday,api,cpu,1", "metrics.csv line 3: field 'timestamp': 'yesterday' is not a timestamp"),
    ("metrics.csv", "2024-03-01T12:00:01Z,api,cpu,", "metrics.csv line 3: field 'value': '' is not a number"),
    ("logs.jsonl", "{not json", "logs.jsonl line 3: not a valid JSON object"),
    ("logs.jsonl", "[1,2]", "logs.jsonl line 3: not a valid JSON object"),
    ("logs.jsonl", r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api"}"#, "logs.jsonl line 3: field 'message': missing"),
    ("logs.jsonl", r#"{"timestamp":null,"service":"api","message":"m"}"#, "logs.jsonl line 3: field 'timestamp': missing"),
    ("logs.jsonl", r#"{"timestamp":{"s":1},"service":"api","message":"m"}"#, "logs.jsonl line 3: field 'timestamp': expected a string or number"),
    ("logs.jsonl", r#"{"timestamp":"2024-03-01T12:00:00Z","service":"","message":"m"}"#, "logs.jsonl line 3: field 'service': service is empty"),
    ("logs.jsonl", r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api","message":"m"} trailing"#, "logs.jsonl line 3: not a valid JSON object"),
    ("traces.jsonl", r#"{"trace_id":"t","span_id":"s","service":"api","operation":"GET","start_unix_nano":1,"duration_ns":-5}"#, "traces.jsonl line 3: field 'duration_ns': '-5' is negative"),
    ("traces.jsonl", r#"{"trace_id":"t","span_id":"s","service":"api","operation":"GET","start_unix_nano":1,"duration_ns":5,"status_code":"MAYBE"}"#, "traces.jsonl line 3: field 'status_code': 'MAYBE' is not a span status"),
    ("traces.jsonl", r#"{"span_id":"s","service":"api","operation":"GET","start_unix_nano":1,"duration_ns":5}"#, "traces.jsonl line 3: field 'trace_id': missing"),
    ("traces.jsonl", r#"{"trace_id":"t","span_id":"s","service":"api","operation":"GET","start_unix_nano":"soon","duration_ns":5}"#, "traces.jsonl line 3: field 'start_unix_nano': 'soon' is not a whole number"),
    ("traces.jsonl", r#"{"trace_id":"t","span_id":"s","service":"api","start_unix_nano":1,"duration_ns":5}"#, "traces.jsonl line 3: field 'operation': missing"),
    ("traces.jsonl", r#"{"trace_id":"t","span_id":"s","service":"api","operation":"GET","start_unix_nano":1,"duration_ns":1.5}"#, "traces.jsonl line 3: field 'duration_ns': '1.5' is not a whole number"),
    ("traces.jsonl", r#"{"trace_id":"t","span_id":"s","service":"api","operation":"GET","start_unix_nano":99999999999999999999,"duration_ns":5}"#, "traces.jsonl line 3: field 'start_unix_nano': '99999999999999999999' is outside the years 1677 to 2262"),
    ("events.jsonl", r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api","description":"d"}"#, "events.jsonl line 3: field 'kind': missing"),
    ("events.jsonl", r#"{"service":"api","kind":"deploy","description":"d"}"#, "events.jsonl line 3: field 'timestamp': missing"),
    ("events.jsonl", r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api","kind":"deploy"}"#, "events.jsonl line 3: field 'description': missing"),
];

/// The file with one good row, a blank or good second line, then `bad` on line 3.
fn file_with(file: &str, bad: &str) -> String {
    match file {
        "metrics.csv" => format!("{METRICS_OK}{bad}\n"),
        "logs.jsonl" => format!("{LOG_OK}\n\n{bad}\n{LOG_OK}\n"),
        "traces.jsonl" => format!("{SPAN_OK}\n{SPAN_OK}\n{bad}\n"),
        _ => format!("{EVENT_OK}\n{EVENT_OK}\n{bad}\n"),
    }
}

#[test]
fn each_bad_row_names_file_line_and_field() {
    for &(file, bad, expected) in CASES {
        let dir = bundle_dir(&[(file, &file_with(file, bad))]);
        let error = load_bundle(dir.path(), &strict()).unwrap_err();
        assert!(
            matches!(error, Error::Bundle { line: 3, .. }),
            "{file}: {bad}: {error:?}"
        );
        let text = error.to_string();
        assert!(
            text.starts_with(expected),
            "{file}: {bad}\n got: {text}\nwant: {expected}"
        );
    }
}

#[test]
fn lenient_mode_skips_and_counts_each_bad_row() {
    for &(file, bad, _) in CASES {
        let dir = bundle_dir(&[(file, &file_with(file, bad))]);
        let bundle = load_bundle(dir.path(), &lenient()).unwrap();
        let report = bundle.files().iter().find(|f| f.file == file).unwrap();
        assert_eq!(report.skipped, 1, "{file}: {bad}");
        assert_eq!(
            report.rows,
            if file == "metrics.csv" { 1 } else { 2 },
            "{file}"
        );
        assert!(report.skip_reasons[0].starts_with(&format!("{file} line 3: ")));
        assert_eq!(bundle.skipped(), 1);
    }
}

#[test]
fn lenient_mode_keeps_only_the_first_few_reasons() {
    let mut text = String::from("timestamp,service,metric,value\n");
    for i in 0..20 {
        text.push_str(&format!("{i},api,cpu,bad{i}\n"));
        text.push_str(&format!("{i},api,cpu,{i}\n"));
    }
    let dir = bundle_dir(&[("metrics.csv", &text)]);
    let bundle = load_bundle(dir.path(), &lenient()).unwrap();
    let report = &bundle.files()[0];
    assert_eq!((report.rows, report.skipped), (20, 20));
    assert_eq!(
        report.skip_reasons.len(),
        itops_core::telemetry::bundle::MAX_SKIP_REASONS
    );
    assert_eq!(
        report.skip_reasons[1],
        "metrics.csv line 4: field 'value': 'bad1' is not a number"
    );
    assert_eq!(bundle.index().counts().metric_points, 20);
}

#[test]
fn a_header_without_a_needed_column_fails_even_when_lenient() {
    let dir = bundle_dir(&[("metrics.csv", "timestamp,service,name,value\n1,api,cpu,1\n")]);
    for options in [strict(), lenient()] {
        let error = load_bundle(dir.path(), &options).unwrap_err().to_string();
        assert_eq!(
            error,
            "metrics.csv line 1: field 'metric': the header has no 'metric' column (it has: \
             timestamp, service, name, value); metrics.csv needs the columns timestamp, \
             service, metric, value"
        );
    }
}

#[test]
fn invalid_utf8_is_a_row_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = format!("{LOG_OK}\n").into_bytes();
    bytes.extend_from_slice(b"{\"message\":\"\xff\"}\n");
    std::fs::write(dir.path().join("logs.jsonl"), &bytes).unwrap();
    let error = load_bundle(dir.path(), &strict()).unwrap_err().to_string();
    assert!(
        error.starts_with("logs.jsonl line 2: not valid UTF-8"),
        "{error}"
    );

    let mut csv = b"timestamp,service,metric,value\n1,ap\xffi,cpu,1\n".to_vec();
    csv.extend_from_slice(b"2,api,cpu,2\n");
    std::fs::write(dir.path().join("metrics.csv"), &csv).unwrap();
    std::fs::remove_file(dir.path().join("logs.jsonl")).unwrap();
    let error = load_bundle(dir.path(), &strict()).unwrap_err().to_string();
    assert_eq!(
        error,
        "metrics.csv line 2: field 'service': is not valid UTF-8"
    );
}

#[test]
fn a_long_bad_value_is_cut_short_in_the_message() {
    let long = "x".repeat(10_000);
    let dir = bundle_dir(&[(
        "metrics.csv",
        &format!("timestamp,service,metric,value\n1,api,cpu,{long}\n"),
    )]);
    let error = load_bundle(dir.path(), &strict()).unwrap_err().to_string();
    assert!(error.len() < 200, "{error}");
    assert!(error.contains("…"));
}
