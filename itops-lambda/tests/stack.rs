//! itops over a self-hosted stack: metrics from a real Prometheus (the Debian package,
//! backfilled with promtool), logs from Loki, and approved actions run by the command
//! executor. Loki cannot be installed here: its answers come from a small server in this
//! test that answers as Loki's HTTP API is documented to (`/loki/api/v1/labels`,
//! `/label/NAME/values`, `/query_range` with `resultType` `streams`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// A Loki answering as documented: cart logs a timeout every 15 s from `fault` (Unix
/// seconds) on, frontend an info line every minute. Returns its base URL.
async fn loki(fault: i64) -> String {
    let lines = move |q: HashMap<String, String>| {
        let query = q.get("query").cloned().unwrap_or_default();
        let nanos = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let (start, end) = (nanos("start"), nanos("end"));
        let mut streams = Vec::new();
        let wanted = |s: &str| query.contains(&format!("\"{s}\"")) || query.contains("=~\".+\"");
        if wanted("cart") {
            let values: Vec<Value> = (0..40)
                .map(|i| (fault + i * 15) * 1_000_000_000)
                .filter(|t| (start..end).contains(t))
                .map(|t| {
                    json!([
                        t.to_string(),
                        "ERROR upstream request timeout calling cart-db"
                    ])
                })
                .collect();
            streams.push(
                json!({"stream": {"service_name": "cart", "level": "error"}, "values": values}),
            );
        }
        if wanted("frontend") {
            let values: Vec<Value> = (-120..40)
                .map(|i| (fault + i * 60) * 1_000_000_000)
                .filter(|t| (start..end).contains(t))
                .map(|t| json!([t.to_string(), "INFO served /cart"]))
                .collect();
            streams.push(
                json!({"stream": {"service_name": "frontend", "level": "info"}, "values": values}),
            );
        }
        Json(json!({"status": "success", "data": {"resultType": "streams", "result": streams}}))
    };
    let app = Router::new()
        .route(
            "/loki/api/v1/labels",
            get(|| async { Json(json!({"status": "success", "data": ["level", "service_name"]})) }),
        )
        .route(
            "/loki/api/v1/label/service_name/values",
            get(|| async { Json(json!({"status": "success", "data": ["cart", "frontend"]})) }),
        )
        .route(
            "/loki/api/v1/query_range",
            get(move |Query(q): Query<HashMap<String, String>>| async move { lines(q) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investigate_reads_metrics_from_prometheus_and_logs_from_loki() {
    let t0 = (chrono::Utc::now().timestamp() - 3 * 3600) / 60 * 60;
    let (prometheus, at) = support::cart_saturates_from(t0);
    let loki = loki(t0 + 400 * 15).await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_itops"))
            .args([
                "investigate",
                "--prometheus",
                prometheus.url(),
                "--loki",
                &loki,
            ])
            .args(["--at", &at.to_string(), "--format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = &report["candidates"][0];
    assert_eq!(top["service"], "cart", "{report:#}");
    // Both backends were read: the metrics and the logs are the top candidate's evidence.
    let evidence = top["evidence"].to_string();
    assert!(evidence.contains("process_cpu_usage_percent"), "{evidence}");
    assert!(
        report.to_string().contains("upstream request timeout"),
        "the log lines from Loki are in the investigation: {report:#}"
    );
}

/// A program for every action that saves the JSON it gets on stdin and says what it did.
fn action_program(dir: &std::path::Path) -> std::path::PathBuf {
    let program = dir.join("act.sh");
    let out = dir.join("actions");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\ncat > '{}/'\"$ITOPS_ACTION_ID\".json\necho \"ran $ITOPS_ACTION on $ITOPS_TARGET\"\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    program
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_acts_on_an_alert_with_the_configured_program() {
    // The data ends a minute ago: cart's trouble began five minutes before that.
    let t0 = (chrono::Utc::now().timestamp() - 420 * 15 - 60) / 15 * 15;
    let (prometheus, _) = support::cart_saturates_from(t0);
    let loki = loki(t0 + 400 * 15).await;
    let dir = tempfile::tempdir().unwrap();
    let program = action_program(dir.path());
    let mut config = format!(
        "[telemetry]\n\
         [[telemetry.sources]]\nkind = \"prometheus\"\nurl = \"{}\"\n\
         [[telemetry.sources]]\nkind = \"loki\"\nurl = \"{loki}\"\n\
         [policy]\nmode = \"auto_approve\"\n\
         [workflow]\nsettle_secs = 1\n",
        prometheus.url()
    );
    for id in [
        "scale_out",
        "restart_service",
        "rollback_deployment",
        "clear_cache",
        "failover_dependency",
        "raise_pool_limit",
    ] {
        config.push_str(&format!(
            "[actions.command.{id}]\nprogram = \"{}\"\ntimeout_seconds = 30\n",
            program.display()
        ));
    }
    let config_file = dir.path().join("itops.toml");
    std::fs::write(&config_file, config).unwrap();
    let data = tempfile::tempdir().unwrap();
    let token = "stack-test-admin-token-0123456789";
    let server = support::Server::start_with(
        data.path(),
        dir.path(),
        "stack",
        token,
        &[],
        &["--config", config_file.to_str().unwrap()],
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
    let action = server.wait_for_entry(token, &id, "action").await;
    // The program ran once, got the typed action on stdin, and its output is on the timeline.
    let saved: Vec<_> = std::fs::read_dir(dir.path().join("actions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "{action:#}\n{}", server.output());
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&saved[0]).unwrap()).unwrap();
    assert_eq!(got["target"], "cart", "{got:#}");
    let ran = format!("ran {} on cart", got["catalogue_id"].as_str().unwrap());
    assert!(action.to_string().contains(&ran), "{action:#}");
    assert!(
        action["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("succeeded"),
        "{action:#}"
    );
    // Both backends' circuit breakers are reported.
    let metrics = server.metrics_text(token).await;
    for step in ["prometheus", "loki"] {
        assert!(
            metrics.contains(&format!("breaker_open{{step=\"{step}\"}} 0")),
            "{metrics}"
        );
    }
}
