//! OTLP/HTTP ingest in `itops serve`, fed by the official OpenTelemetry Python SDK and its
//! OTLP/HTTP exporter (installed into `.tools/otel` by `scripts/setup-test-deps`): what the
//! SDK exports is what the agents investigate. Never skipped: without the SDK the test
//! fails saying what to run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

const ADMIN: &str = "otlp-test-admin-token-0123456789";
const INGEST: &str = "otlp-test-ingest-token-0123456789";
const VIEWER: &str = "otlp-test-viewer-token-0123456789";

fn python() -> PathBuf {
    let python = support::root().join(".tools/otel/bin/python");
    assert!(
        python.exists(),
        "the OpenTelemetry Python SDK is not installed ({} is missing); run scripts/setup-test-deps",
        python.display()
    );
    python
}

fn start(dir: &std::path::Path) -> support::Server {
    let config = dir.join("itops.toml");
    std::fs::write(
        &config,
        format!(
            "[[telemetry.sources]]\nkind = \"otlp\"\n\
             [[auth.tokens]]\nname = \"collector\"\nrole = \"ingest\"\ntoken = \"{INGEST}\"\n\
             [[auth.tokens]]\nname = \"vera\"\nrole = \"viewer\"\ntoken = \"{VIEWER}\"\n"
        ),
    )
    .unwrap();
    let data = dir.join("data");
    support::Server::start_with(
        &data,
        dir,
        "otlp",
        ADMIN,
        &[],
        &["--config", config.to_str().unwrap()],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_opentelemetry_sdk_exports_is_investigated() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let script = support::root().join("itops-lambda/tests/otel/send.py");
    let url = server.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([&url, INGEST])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the SDK could not export: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.output()
    );
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sent["spans"], 2700);

    // An incident on checkout: the investigation reads what the SDK sent.
    let finding = server
        .investigate(
            ADMIN,
            json!({"title": "Checkout is failing", "severity": "high",
                   "affected_services": ["checkout"]}),
        )
        .await;
    let top = &finding["payload"]["candidates"][0];
    assert_eq!(top["service"], "payments", "{finding:#}");
    let evidence = finding.to_string();
    assert!(
        evidence.contains("card processor timeout"),
        "the error logs the SDK sent are evidence: {finding:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_exports_are_refused_as_otlp_says() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let http = reqwest::Client::new();
    let post = |token: Option<&str>, content_type: &str, body: Vec<u8>| {
        let mut request = http
            .post(format!("{}/v1/traces", server.url))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let empty = br#"{"resourceSpans": []}"#.to_vec();
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(post(None, "application/json", empty.clone()).await.unwrap()),
        401
    );
    assert_eq!(
        status(
            post(Some(VIEWER), "application/json", empty.clone())
                .await
                .unwrap()
        ),
        403,
        "a viewer reads; it does not write"
    );
    let ok = post(Some(INGEST), "application/json", empty).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.unwrap(), "{}");
    assert_eq!(
        status(
            post(Some(INGEST), "text/plain", b"hello".to_vec())
                .await
                .unwrap()
        ),
        415
    );
    let garbage = post(Some(INGEST), "application/x-protobuf", vec![0xff; 64])
        .await
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 400);
    assert_eq!(
        status(
            post(Some(INGEST), "application/json", b"{not json".to_vec())
                .await
                .unwrap()
        ),
        400
    );
    // Too large before decompression: the body limit answers.
    let huge = vec![b' '; 17 << 20];
    assert_eq!(
        status(post(Some(INGEST), "application/json", huge).await.unwrap()),
        413
    );
    // The ingest token reads nothing, and the server still serves. (A fresh connection:
    // the server closes the one it refused the oversized body on without reading it, and
    // the client's pool may not have noticed yet.)
    let http = reqwest::Client::new();
    let read = http
        .get(format!("{}/api/incidents", server.url))
        .bearer_auth(INGEST)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 403);
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_otlp_source_the_paths_say_how_to_enable_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = support::Server::start(&data, dir.path(), "plain", ADMIN, &[]);
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/logs", server.url))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(r#"{"resourceLogs": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    assert!(answer.text().await.unwrap().contains("kind = \\\"otlp\\\""));
}
