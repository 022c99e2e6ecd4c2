//! One fault, several alert rules firing: Alertmanager sends one webhook per alert group,
//! and the server correlates them into one incident (one investigation), while an alert
//! on an unrelated service still opens its own. The server is built in-process (simulator,
//! SQLite in a temporary directory) and called over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use itops_lambda::app::config::ServeConfig;
use itops_lambda::app::App;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "admin-token-0123456789abcdef";

struct Server {
    url: String,
    client: reqwest::Client,
    _data: tempfile::TempDir,
}

impl Server {
    /// A server that knows frontend calls checkout.
    async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = ServeConfig {
            data_dir: Some(data.path().to_path_buf()),
            listen: Some(addr),
            ..ServeConfig::default()
        };
        config.auth.admin_token = Some(ADMIN.into());
        config.alerts.dependencies =
            BTreeMap::from([("frontend".to_string(), vec!["checkout".to_string()])]);
        let app = App::build(config).await.unwrap();
        app.start_background().await.unwrap();
        support::serve_app(listener, &app);
        Self {
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            _data: data,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// Posts an Alertmanager webhook; returns the intake's answer.
    async fn alert(&self, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/api/alerts/alertmanager", self.url))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        answer
    }

    async fn incidents(&self) -> Vec<Value> {
        self.get("/api/incidents")
            .await
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap()
    }

    async fn timeline(&self, id: &str) -> Vec<Value> {
        self.get(&format!("/api/incidents/{id}/timeline"))
            .await
            .as_array()
            .cloned()
            .unwrap()
    }
}

/// One Alertmanager group: rule `name` firing for `service`.
fn group(name: &str, service: &str, summary: &str, status: &str) -> Value {
    json!({
        "version": "4", "status": status, "receiver": "itops",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "service": service, "severity": "critical",
                         "cluster": "prod-eu", "namespace": "shop"},
        "commonAnnotations": {"summary": summary},
        "alerts": [{"status": status,
                    "labels": {"alertname": name, "service": service, "severity": "critical",
                               "cluster": "prod-eu", "namespace": "shop"},
                    "annotations": {"summary": summary},
                    "startsAt": "2026-03-01T10:00:00Z", "fingerprint": format!("{name}-1")}]
    })
}

fn one_fault() -> [Value; 3] {
    [
        group(
            "CheckoutLatencyHigh",
            "checkout",
            "checkout p99 above 2s",
            "firing",
        ),
        group(
            "FrontendErrorsHigh",
            "frontend",
            "frontend 5xx above 5%",
            "firing",
        ),
        group(
            "CheckoutSaturated",
            "checkout",
            "checkout workers saturated",
            "firing",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_groups_for_one_fault_open_one_incident_and_an_unrelated_group_another() {
    let s = Server::start().await;
    let [latency, errors, saturation] = one_fault();
    let first = s.alert(latency).await;
    assert_eq!(first["created"], true, "{first}");
    assert_eq!(first["correlated"], false, "{first}");
    let id = first["incident"]["id"].as_str().unwrap().to_string();
    for next in [errors, saturation] {
        let answer = s.alert(next).await;
        assert_eq!(answer["created"], false, "{answer}");
        assert_eq!(answer["correlated"], true, "{answer}");
        assert_eq!(answer["incident"]["id"], id.as_str(), "{answer}");
    }
    let incidents = s.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(
        incidents[0]["affected_services"],
        json!(["checkout", "frontend"])
    );
    let timeline = s.timeline(&id).await;
    let joined: Vec<&str> = timeline
        .iter()
        .filter_map(|e| e["summary"].as_str())
        .filter(|s| s.contains("joined this incident"))
        .collect();
    assert_eq!(joined.len(), 2, "{joined:?}");
    assert!(
        joined[0].contains("'frontend 5xx above 5%' from alertmanager")
            && joined[0].contains("frontend and checkout are connected"),
        "{}",
        joined[0]
    );

    // One investigation: one workflow, on the one incident.
    let started = Instant::now();
    while !s.timeline(&id).await.iter().any(|e| e["kind"] == "triage") {
        assert!(started.elapsed() < Duration::from_secs(60), "no triage");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let triages = s
        .timeline(&id)
        .await
        .iter()
        .filter(|e| e["kind"] == "triage")
        .count();
    assert_eq!(triages, 1);

    // The same labels (cluster, namespace) but another service: its own incident.
    let disk = s
        .alert(group(
            "PostgresDiskFull",
            "postgres",
            "postgres disk above 90%",
            "firing",
        ))
        .await;
    assert_eq!(disk["created"], true, "{disk}");
    assert_ne!(disk["incident"]["id"], id.as_str());
    assert_eq!(s.incidents().await.len(), 2);

    // One group clearing leaves the incident to the others still firing.
    let cleared = s
        .alert(group(
            "FrontendErrorsHigh",
            "frontend",
            "frontend 5xx above 5%",
            "resolved",
        ))
        .await;
    assert_eq!(cleared["incident"]["id"], id.as_str(), "{cleared}");
    assert_ne!(cleared["incident"]["status"], "resolved", "{cleared}");
    assert!(s.timeline(&id).await.iter().any(|e| e["summary"]
        .as_str()
        .is_some_and(|t| t.contains("condition cleared: frontend 5xx above 5%"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_for_one_fault_arriving_at_once_open_one_incident() {
    let s = std::sync::Arc::new(Server::start().await);
    let mut posts = Vec::new();
    for body in one_fault() {
        let s = s.clone();
        posts.push(tokio::spawn(async move { s.alert(body).await }));
    }
    let mut answers = Vec::new();
    for post in posts {
        answers.push(post.await.unwrap());
    }
    let created = answers.iter().filter(|a| a["created"] == true).count();
    assert_eq!(created, 1, "{answers:?}");
    let id = &answers[0]["incident"]["id"];
    assert!(
        answers.iter().all(|a| a["incident"]["id"] == *id),
        "{answers:?}"
    );
    assert_eq!(s.incidents().await.len(), 1);
}
