//! itops over a real Prometheus server (the Debian package, installed by
//! `scripts/setup-test-deps`) holding backfilled data: `itops investigate --prometheus URL`
//! `itops serve` with its telemetry from Prometheus, and `itops mcp monitoring --prometheus`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::process::Command;

use serde_json::{json, Value};

use itops_stack::testing::Prometheus;

fn itops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_itops"))
        .args(args)
        .output()
        .unwrap()
}

/// Two hours ending an hour ago, on a 15 s grid: cart's cpu saturates at sample 400 and
/// its latency follows; the detection time, 20 samples later.
fn server() -> (Prometheus, i64) {
    support::cart_saturates_from((chrono::Utc::now().timestamp() - 3 * 3600) / 60 * 60)
}

#[test]
fn investigate_over_prometheus_prints_the_same_json_as_over_a_bundle() {
    let (server, at) = server();
    let out = itops(&[
        "investigate",
        "--prometheus",
        server.url(),
        "--at",
        &at.to_string(),
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
    assert_eq!(candidates[0]["service"], "cart", "{report:#}");
    assert!(report["finding"]["summary"]
        .as_str()
        .unwrap()
        .contains("cart"));
}

#[test]
fn investigate_over_prometheus_needs_a_time_and_says_when_it_cannot_reach_it() {
    let out = itops(&["investigate", "--prometheus", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--at"), "{text}");

    let out = itops(&[
        "investigate",
        "--prometheus",
        "http://127.0.0.1:1",
        "--at",
        "2026-05-01T12:00:00Z",
    ]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("cannot reach"), "{text}");
    assert!(!text.contains("panicked"), "{text}");

    let out = itops(&[
        "investigate",
        "--prometheus",
        "http://127.0.0.1:1",
        "--telemetry",
        "/tmp",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_investigates_an_alert_over_prometheus() {
    // The data ends a minute ago: cart's trouble began five minutes before that.
    let t0 = (chrono::Utc::now().timestamp() - 420 * 15 - 60) / 15 * 15;
    let (prometheus, _) = support::cart_saturates_from(t0);
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let token = "prometheus-test-admin-token-0123456789";
    let server = support::Server::start(
        data.path(),
        logs.path(),
        "prometheus",
        token,
        &[("ITOPS_PROMETHEUS_URL", prometheus.url())],
    );
    let http = reqwest::Client::new();
    let alert = json!({
        "version": "4", "status": "firing", "groupKey": "{}:{alertname=\"CartSlow\"}",
        "commonLabels": {"alertname": "CartSlow", "severity": "critical"},
        "commonAnnotations": {"summary": "cart p99 latency above 500 ms"},
        "alerts": [{"status": "firing", "labels": {"alertname": "CartSlow", "service": "cart"},
                    "annotations": {}, "startsAt": chrono::Utc::now().to_rfc3339(),
                    "fingerprint": "cart-slow"}]
    });
    let created: Value = http
        .post(format!("{}/api/alerts/alertmanager", server.url))
        .bearer_auth(token)
        .json(&alert)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["incident"]["id"].as_str().unwrap().to_string();
    // The workflow runs on its own: wait for the root-cause finding on the timeline.
    let finding = server.wait_for_entry(token, &id, "finding").await;
    // Ranked on the metrics read from Prometheus: cart's own cpu and latency, as evidence.
    let top = &finding["payload"]["candidates"][0];
    assert_eq!(top["service"], "cart", "{finding:#}");
    let evidence = top["evidence"].to_string();
    assert!(
        evidence.contains("process_cpu_usage_percent"),
        "{finding:#}"
    );
    assert!(
        server.stdout_text().contains("prometheus"),
        "{}",
        server.stdout_text()
    );
    // The source's circuit breaker is reported with the others, closed.
    let metrics = server.metrics_text(token).await;
    assert!(
        metrics.contains("breaker_open{step=\"prometheus\"} 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitoring_mcp_server_serves_prometheus() {
    let (prometheus, at) = server();
    let target = itops_mcp::ServerTarget::stdio(
        env!("CARGO_BIN_EXE_itops"),
        ["mcp", "monitoring", "--prometheus", prometheus.url()],
    );
    let client =
        itops_mcp::McpClient::connect("monitoring", &target, itops_mcp::ClientOptions::default())
            .await
            .unwrap();
    let services = client.call_tool("list_services", json!({})).await.unwrap();
    let text = services.to_string();
    for service in ["frontend", "cart", "catalog", "payments"] {
        assert!(text.contains(service), "{services:#}");
    }
    let at = chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .to_rfc3339();
    let ranking = client
        .call_tool("rank_anomalies", json!({"at": at}))
        .await
        .unwrap();
    assert_eq!(ranking["candidates"][0]["service"], "cart", "{ranking:#}");
}
