//! `itops serve` exports its own spans over OTLP/HTTP when an endpoint is configured: a
//! fake collector (a `POST /v1/traces` route that keeps every body) receives protobuf
//! bodies holding the workflow's steps and the agents' model and tool calls, with their
//! OpenTelemetry GenAI attribute names. Protobuf strings are raw UTF-8, so the checks are
//! byte searches; nothing is decoded.
//!
//! Two runs: one with a short batch delay (spans arrive while the server runs), one with a
//! delay far longer than the test (spans arrive only because a graceful stop flushes them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::json;

const TOKEN: &str = "otlp-test-admin-token-0123456789abcdef";
/// How long the spans may take to reach the collector.
const EXPORT_LIMIT: Duration = Duration::from_secs(30);
/// What every export of a fault's investigation must hold.
const EXPECTED: &[&str] = &[
    "gen_ai.operation.name",
    "gen_ai.tool.name",
    "rank_anomalies",
    "workflow_step",
    "service.name",
    "itops",
];

/// What the fake collector received: (content type, body) per request.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A fake OTLP/HTTP collector on a free port.
struct Collector {
    url: String,
    received: Received,
}

impl Collector {
    async fn start() -> Self {
        async fn traces(
            State(received): State<Received>,
            headers: HeaderMap,
            body: Bytes,
        ) -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            received.lock().unwrap().push((content_type, body.to_vec()));
            // An empty ExportTraceServiceResponse: everything accepted.
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-protobuf")],
            )
        }
        let received = Received::default();
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, received }
    }

    /// Every body received so far, concatenated, and the content types seen.
    fn all(&self) -> (Vec<u8>, Vec<String>) {
        let received = self.received.lock().unwrap();
        let bytes = received
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        let types = received.iter().map(|(t, _)| t.clone()).collect();
        (bytes, types)
    }

    /// The expected strings not (yet) in what was received.
    fn missing(&self) -> Vec<&'static str> {
        let (bytes, _) = self.all();
        EXPECTED
            .iter()
            .copied()
            .filter(|s| !contains(&bytes, s.as_bytes()))
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `itops serve` exporting to `collector`; killed when dropped.
struct Server(support::Server);

impl std::ops::Deref for Server {
    type Target = support::Server;

    fn deref(&self) -> &support::Server {
        &self.0
    }
}

impl Server {
    /// Starts the server; `env` sets the span batching (`OTEL_BSP_*`).
    fn start(data: &Path, logs: &Path, collector: &str, env: &[(&str, &str)]) -> Self {
        let mut all = vec![("ITOPS_OTLP_ENDPOINT", collector)];
        all.extend_from_slice(env);
        Self(support::Server::start(data, logs, "server", TOKEN, &all))
    }

    /// Breaks `checkout` in the simulator, so the agents investigate.
    async fn inject_fault(&self) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/simulator/faults", self.url))
            .bearer_auth(TOKEN)
            .json(&json!({"kind": "memory_leak", "service": "checkout", "severity": 0.9}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "fault injection: {status}: {body}");
    }

    /// SIGTERM (a graceful stop), then waits for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.process.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.0.process.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "itops serve did not stop within 30 s of SIGTERM\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
fn assert_protobuf(collector: &Collector, server: &Server) {
    let (_, types) = collector.all();
    assert!(!types.is_empty(), "nothing received\n{}", server.output());
    assert!(
        types.iter().all(|t| t == "application/x-protobuf"),
        "content types: {types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_while_the_server_runs() {
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        dir.path(),
        &collector.url,
        &[("OTEL_BSP_SCHEDULE_DELAY", "200")],
    );
    server.inject_fault().await;

    let deadline = Instant::now() + EXPORT_LIMIT;
    while !collector.missing().is_empty() {
        assert!(
            Instant::now() < deadline,
            "after {EXPORT_LIMIT:?} the collector still lacks {:?} ({} requests)\n{}",
            collector.missing(),
            collector.all().1.len(),
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_protobuf(&collector, &server);
    let (bytes, _) = collector.all();
    // A model call's span, by its conventional name.
    assert!(contains(&bytes, b"chat offline-planner"), "no chat span");
    assert!(contains(&bytes, b"execute_tool rank_anomalies"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_flushes_the_spans_still_queued() {
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Ten minutes between scheduled exports and batches larger than the run's spans: only
    // the flush at shutdown can deliver.
    let mut server = Server::start(
        &dir.path().join("data"),
        dir.path(),
        &collector.url,
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100000"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100000"),
        ],
    );
    server.inject_fault().await;

    // Let the agents run: wait until the incident's root-cause step is over.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + EXPORT_LIMIT;
    loop {
        let page: serde_json::Value = http
            .get(format!("{}/api/incidents", server.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let statuses: Vec<&str> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["status"].as_str())
            .collect();
        let past_root_cause = statuses
            .iter()
            .any(|s| !matches!(*s, "open" | "triaging" | "investigating"));
        if past_root_cause {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no incident got past the investigation within {EXPORT_LIMIT:?}: {statuses:?}\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(
        collector.all().1.is_empty(),
        "spans were exported before the stop; this test no longer tests the flush"
    );
    let status = server.terminate();
    assert!(
        status.success(),
        "itops serve exited with {status}\n{}",
        server.output()
    );
    let missing = collector.missing();
    assert!(
        missing.is_empty(),
        "after a graceful stop the collector lacks {missing:?}\n{}",
        server.output()
    );
    assert_protobuf(&collector, &server);
}
