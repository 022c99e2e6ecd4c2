//! No input makes loading panic: random bytes, and valid rows with random bytes spliced in.

use itops_core::telemetry::bundle::{load_bundle, summarize};
use proptest::prelude::*;

use crate::support::*;

const FILES: [&str; 4] = ["metrics.csv", "logs.jsonl", "traces.jsonl", "events.jsonl"];

const VALID: [&str; 4] = [
    "timestamp,service,metric,value\n2024-03-01T12:00:00Z,api,cpu,0.5\n1709294400.5,db,rps,12\n",
    "{\"timestamp\":\"2024-03-01T12:00:00Z\",\"service\":\"api\",\"message\":\"m\",\"level\":\"warn\"}\n",
    "{\"trace_id\":\"t\",\"span_id\":\"s\",\"parent_span_id\":\"p\",\"service\":\"api\",\"operation\":\"GET\",\"start_unix_nano\":1709294400000000000,\"duration_ns\":5,\"status_code\":\"ERROR\"}\n",
    "{\"timestamp\":1709294400,\"service\":\"api\",\"kind\":\"deploy\",\"description\":\"d\",\"version\":\"1\"}\n",
];

/// Loads `files` strictly and leniently and summarises; only a panic fails.
fn load_never_panics(files: &[(&str, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let _ = load_bundle(dir.path(), &strict());
    if let Ok(bundle) = load_bundle(dir.path(), &lenient()) {
        let summary = summarize(&bundle);
        let _ = summary.to_string();
        let _ = bundle.index().logs(&log_query(all()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_in_each_file(file in 0..4_usize, bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        load_never_panics(&[(FILES[file], bytes)]);
    }

    #[test]
    fn valid_rows_with_random_bytes_spliced_in(
        file in 0..4_usize,
        at in 0..200_usize,
        cut in 0..8_usize,
        noise in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut bytes = VALID[file].repeat(2).into_bytes();
        let at = at.min(bytes.len());
        let end = (at + cut).min(bytes.len());
        bytes.splice(at..end, noise);
        load_never_panics(&[(FILES[file], bytes)]);
    }

    #[test]
    fn random_text_tokens_in_each_field(
        file in 0..4_usize,
        token in prop::sample::select(vec![
            "", "null", "-1", "1e999", "-1e999", "NaN", "\"\"", "{}", "[]", "true",
            "99999999999999999999999", "-99999999999999999999999", "1.5", "\"2024-13-40T99:99:99Z\"",
            "\"\\u0000\"", "\"\\ud800\"", "0", "\"1709294400.999999999999\"", "1e-400", "\"\u{feff}\"",
        ]),
        field in 0..8_usize,
    ) {
        // Replace the value of the `field`-th field of the first row with `token`.
        let text = VALID[file];
        let patched = if file == 0 {
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let mut cells: Vec<String> = lines[1].split(',').map(str::to_owned).collect();
            let i = field % cells.len();
            cells[i] = token.to_owned();
            lines[1] = cells.join(",");
            lines.join("\n")
        } else {
            let mut row: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text.trim()).unwrap();
            let key = row.keys().nth(field % row.len()).unwrap().clone();
            row.remove(&key);
            // Splice the token in as raw JSON, so that invalid values are possible too.
            let rest = serde_json::to_string(&row).unwrap();
            let rest = rest.trim_end_matches('}');
            let sep = if rest.len() > 1 { "," } else { "" };
            format!("{rest}{sep}\"{key}\":{token}}}\n")
        };
        load_never_panics(&[(FILES[file], patched.into_bytes())]);
    }
}
