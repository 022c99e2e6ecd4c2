//! The HTTP API fuzzed against its own OpenAPI document with schemathesis: starts
//! `itops serve` on a free loopback port with a fresh data directory, a random admin token
//! and the rate limit out of the way, opens a few incidents (so generated requests find
//! ids that exist, and approvals to read and decide), then lets `schemathesis run` generate
//! requests for every operation of `/openapi.json` (coverage, fuzzing and stateful phases,
//! valid and invalid data, a fixed seed and a bounded number of cases per operation) with
//! four checks on every answer:
//!
//! - `not_a_server_error`: no 5xx, whatever the client sends;
//! - `response_schema_conformance`: the body matches the documented schema (the error body
//!   `{"error": {"code", "message", "field"?}}` included);
//! - `status_code_conformance`: the status is documented;
//! - `content_type_conformance`: the `Content-Type` is the documented one.
//!
//! Its JSON report gives the counts printed at the end (operations, test cases, failures by
//! kind); every failure fails the test, with schemathesis's own account of it (and a `curl`
//! line that reproduces it). Then a few requests schemathesis cannot make (a path segment
//! that is not UTF-8) check that those errors are JSON too.
//!
//! Every operation is in the run, two of them narrowed (in the run's config file, [`CONFIG`]):
//!
//! - `GET /api/incidents/{id}/events`, the live timeline as Server-Sent Events, streams until
//!   the client goes away: schemathesis reads its first event only (the first of the backlog,
//!   or the incident), checked against the event schema, and closes the stream.
//! - `POST /api/simulator/faults` gets invalid data only. Valid data injects a fault, which
//!   fast-forwards the simulator and opens an incident whose workflow runs the agents; once
//!   schemathesis learns the eligible service names from the 422 answers, it injects dozens,
//!   and the workflows they start swamp two cores (one answer took over 10 s). The seeding
//!   makes the one valid injection.
//!
//! `DELETE /api/incidents/{id}` stays in.
//!
//! For a seed, the coverage and fuzzing phases send the same requests every run; the
//! stateful phase follows what the server answers (time-ordered ids, workflows running in
//! the background), so its number of cases varies from run to run, with or without `DELETE`.
//!
//! `scripts/setup-test-deps` installs schemathesis into `.venv`; without it the test says so
//! and skips, unless `ITOPS_REQUIRE_REAL_CLIENTS` is set (as `scripts/test` does), when it
//! fails. `ITOPS_FUZZ_EXAMPLES` and `ITOPS_FUZZ_SEED` change the cases per operation and
//! the seed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use support::{missing, random_token, root, Server, Spawned};

use std::fs::File;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long the schemathesis run may take (it takes about 30 s on two cores).
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// Schemathesis's `--max-examples`: generated cases per operation in the fuzzing phase (the
/// coverage phase adds its boundary cases, the stateful phase its call sequences); enough to
/// reach each operation's edge cases, few enough for the run to stay well under 90 s.
const MAX_EXAMPLES: u32 = 100;
/// The run's seed.
const SEED: u64 = 20_261_125;
/// The run's per-operation settings; why: see the module docs.
const CONFIG: &str = r#"
[[operations]]
include-path = "/api/incidents/{id}/events"
max-stream-events = 1

[[operations]]
include-path = "/api/simulator/faults"
generation.mode = "negative"
"#;
/// The checks: no 5xx, and every answer as documented.
const CHECKS: &str = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One request; answers status, content type and body.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, String, String) {
    let mut request = http.request(method.clone(), url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap_or_default();
    (status, content_type, text)
}

/// Opens two incidents, adds a note, starts one's workflow, and injects a fault whose
/// incident's plan waits for approval (waiting a while for it), so the fuzzer finds
/// incidents, timelines, checkpoints and an approval to read and decide.
async fn seed_data(url: &str, token: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("HTTP client");
    let mut ids = Vec::new();
    for (title, severity, service) in [
        ("checkout answers 5xx", "high", "checkout"),
        ("cart latency above 2 s", "medium", "cart"),
    ] {
        let (status, _, text) = call(
            &http,
            reqwest::Method::POST,
            &format!("{url}/api/incidents"),
            token,
            Some(json!({ "title": title, "severity": severity, "affected_services": [service] })),
        )
        .await;
        assert_eq!(status, 201, "open an incident: {text}");
        let incident: Value = serde_json::from_str(&text).expect("an incident");
        ids.push(incident["id"].as_str().expect("an id").to_string());
    }
    let (status, _, text) = call(
        &http,
        reqwest::Method::POST,
        &format!("{url}/api/incidents/{}/notes", ids[1]),
        token,
        Some(json!({ "text": "customers report slow add-to-cart" })),
    )
    .await;
    assert_eq!(status, 201, "add a note: {text}");
    let (status, _, text) = call(
        &http,
        reqwest::Method::POST,
        &format!("{url}/api/incidents/{}/workflow", ids[0]),
        token,
        None,
    )
    .await;
    assert_eq!(status, 202, "start a workflow: {text}");
    let (status, _, text) = call(
        &http,
        reqwest::Method::POST,
        &format!("{url}/api/simulator/faults"),
        token,
        Some(json!({ "kind": "memory_leak", "service": "cart" })),
    )
    .await;
    assert_eq!(status, 202, "inject a fault: {text}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (_, _, text) = call(
            &http,
            reqwest::Method::GET,
            &format!("{url}/api/approvals?status=pending"),
            token,
            None,
        )
        .await;
        if serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.as_array().map(|a| !a.is_empty()))
            .unwrap_or(false)
        {
            eprintln!("seeded: 3 incidents, a note, a plan waiting for approval");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("seeded: 3 incidents, a note (no plan waiting for approval after 30 s)");
}

/// Errors schemathesis cannot provoke (it only sends valid UTF-8) are JSON too.
async fn undecodable_paths_are_json_errors(url: &str, token: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("HTTP client");
    for (method, path) in [
        (reqwest::Method::GET, "/api/incidents/%FF"),
        (reqwest::Method::GET, "/api/incidents/%FF/timeline"),
        (reqwest::Method::GET, "/api/incidents/%FF/events"),
        (reqwest::Method::GET, "/api/approvals/%C3%28"),
    ] {
        let (status, content_type, text) =
            call(&http, method.clone(), &format!("{url}{path}"), token, None).await;
        assert_eq!(status, 400, "{method} {path}: {text}");
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: Content-Type '{content_type}': {text}"
        );
        let body: Value = serde_json::from_str(&text).expect("a JSON error body");
        assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{method} {path}: {text}"
        );
    }
}

/// Waits for `child` at most `limit`; `None` when it had to be killed.
fn wait_at_most(child: &mut Spawned, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for schemathesis") {
            return Some(status);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a failure code of schemathesis's report counts as.
fn failure_kind(code: &str) -> &'static str {
    match code {
        "ST101" | "ST102" => "5xx",
        "ST104" | "ST108" | "ST109" | "ST110" | "ST111" => "schema",
        "ST103" => "status",
        "ST105" | "ST106" => "content_type",
        _ => "other",
    }
}

#[test]
fn the_api_answers_fuzzed_requests_as_documented() {
    let schemathesis = root().join(".venv/bin/schemathesis");
    if !schemathesis.exists() {
        missing(&format!("schemathesis ({})", schemathesis.display()));
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let token = random_token();
    let server = Server::start(
        &data,
        dir.path(),
        "server",
        &token,
        // The fuzzer sends thousands of requests a minute with one token.
        &[("ITOPS_RATE_LIMIT_PER_MINUTE", "1000000")],
    );
    eprintln!("itops serve listens on {}", server.url);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(seed_data(&server.url, &token));

    let examples: u32 = env_or("ITOPS_FUZZ_EXAMPLES", MAX_EXAMPLES);
    let seed: u64 = env_or("ITOPS_FUZZ_SEED", SEED);
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).expect("schemathesis config");
    let report = dir.path().join("report.json");
    let log = dir.path().join("schemathesis.log");
    let log_file = File::create(&log).expect("schemathesis log");
    let started = Instant::now();
    let mut run = Spawned(
        Command::new(&schemathesis)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(format!("{}/openapi.json", server.url))
            .args(["--url", &server.url])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", CHECKS])
            .args(["--max-examples", &examples.to_string()])
            .args(["--seed", &seed.to_string()])
            // One worker and no example database: the same seed makes the same requests.
            .args(["--workers", "1", "--generation-database", "none"])
            .args(["--request-timeout", "10"])
            .args(["--report", "json"])
            .arg("--report-dir")
            .arg(dir.path())
            .arg("--report-json-path")
            .arg(&report)
            .arg("--no-color")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start schemathesis"),
    );
    let status = wait_at_most(&mut run, RUN_LIMIT);
    drop(run);
    let elapsed = started.elapsed();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "schemathesis did not finish within {RUN_LIMIT:?}:\n{output}\n{}",
            server.output()
        );
    };
    let report: Value = match std::fs::read_to_string(&report) {
        Ok(text) => serde_json::from_str(&text).expect("schemathesis's JSON report"),
        Err(e) => panic!(
            "schemathesis ({status}) wrote no report ({e}):\n{output}\n{}",
            server.output()
        ),
    };

    let count = |pointer: &str| report.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let failures = report["failures"].as_array().cloned().unwrap_or_default();
    let of_kind = |kind: &str| -> u64 {
        failures
            .iter()
            .filter(|f| failure_kind(f["code"].as_str().unwrap_or_default()) == kind)
            .map(|f| f["count"].as_u64().unwrap_or(1))
            .sum()
    };
    let errors = report["errors"].as_array().map_or(0, Vec::len);
    println!(
        "schemathesis {}: {} of {} operations tested, {} test cases generated \
         (seed {seed}, max-examples {examples}) in {:.1?}; \
         {} with failures: {} 5xx, {} schema violations, {} undocumented status codes, \
         {} undocumented content types, {} other; {errors} errors",
        report["schemathesis_version"].as_str().unwrap_or("?"),
        count("/operations/tested"),
        count("/operations/total"),
        count("/test_cases/generated"),
        elapsed,
        count("/test_cases/with_failures"),
        of_kind("5xx"),
        of_kind("schema"),
        of_kind("status"),
        of_kind("content_type"),
        of_kind("other"),
    );
    // Operations whose generated "valid" data the server mostly refuses: it checks more than
    // the schema says (told, not failed: refusing input is no fault).
    if let Some(stricter) = report
        .pointer("/warnings/validation_mismatch")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        let names: Vec<&str> = stricter.iter().filter_map(Value::as_str).collect();
        println!("validation stricter than the schema: {}", names.join(", "));
    }
    let fail =
        |why: &str| -> ! { panic!("{why}\n--- schemathesis ---\n{output}\n{}", server.output()) };
    if of_kind("5xx") > 0 {
        fail("the server answered 5xx to generated requests");
    }
    if of_kind("schema") > 0 {
        fail("answers violate the documented schemas");
    }
    if !failures.is_empty() || count("/test_cases/with_failures") > 0 {
        fail("answers differ from the OpenAPI document");
    }
    if errors > 0 {
        fail("schemathesis met errors");
    }
    assert_eq!(
        count("/operations/tested"),
        count("/operations/total"),
        "every operation is tested:\n{output}"
    );
    assert!(
        count("/operations/total") >= 21 && count("/test_cases/generated") > 0,
        "the document lists the API's operations:\n{output}"
    );
    assert!(status.success(), "schemathesis exited {status}:\n{output}");

    runtime.block_on(undecodable_paths_are_json_errors(&server.url, &token));
}
