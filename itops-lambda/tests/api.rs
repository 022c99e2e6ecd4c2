//! The HTTP API as a client sees it: the server is built in-process (simulator, SQLite in a
//! temporary directory) and served on a loopback port; requests go through a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use itops_lambda::app::config::{PolicyMode, ServeConfig, TokenConfig};
use itops_lambda::app::App;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "admin-token-0123456789abcdef";
const OPERATOR: &str = "operator-token-0123456789abcdef";
const VIEWER: &str = "viewer-token-0123456789abcdef";
const INGEST: &str = "ingest-token-0123456789abcdef";

struct Server {
    url: String,
    client: reqwest::Client,
    /// Webhook bodies received by the fake notification receiver.
    hooks: Arc<Mutex<Vec<Value>>>,
    _data: tempfile::TempDir,
}

impl Server {
    async fn start(policy: PolicyMode) -> Self {
        // A webhook receiver for notifications.
        let hooks: Arc<Mutex<Vec<Value>>> = Arc::default();
        let received = hooks.clone();
        let hook_app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let received = received.clone();
                async move {
                    received.lock().unwrap().push(body);
                    "ok"
                }
            }),
        );
        let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook_addr = hook_listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(hook_listener, hook_app).await });

        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = ServeConfig {
            data_dir: Some(data.path().to_path_buf()),
            listen: Some(addr),
            public_url: Some(format!("http://{addr}")),
            ..ServeConfig::default()
        };
        config.policy.mode = policy;
        config.auth.admin_token = Some(ADMIN.into());
        config.auth.tokens = vec![
            TokenConfig {
                name: "olga".into(),
                role: "operator".into(),
                token: Some(OPERATOR.into()),
                token_sha256: None,
            },
            TokenConfig {
                name: "victor".into(),
                role: "viewer".into(),
                token: Some(VIEWER.into()),
                token_sha256: None,
            },
            TokenConfig {
                name: "collector".into(),
                role: "ingest".into(),
                token: Some(INGEST.into()),
                token_sha256: None,
            },
        ];
        config.notifications.webhook_url = Some(format!("http://{hook_addr}/hook"));
        config.http.max_body_bytes = Some(64 * 1024);
        let app = App::build(config).await.unwrap();
        app.start_background().await.unwrap();
        support::serve_app(listener, &app);
        Self {
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            hooks,
            _data: data,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Polls the incident until `done` holds for it (or fails after 60 s).
    async fn wait_incident(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (_, incident) = self.get(&format!("/api/incidents/{id}"), ADMIN).await;
            if done(&incident) {
                return incident;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}; incident: {incident}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn seed_incident() -> Value {
    // The REST example from the README.
    json!({
        "title": "Checkout latency above 2 s",
        "description": "p99 of /checkout rose from 300 ms to 2.4 s at 14:02",
        "severity": "high",
        "affected_services": ["checkout"],
        "detected_by": "pagerduty"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_can_be_created_read_listed_edited_and_deleted() {
    let s = Server::start(PolicyMode::Default).await;
    let (status, created) = s.post("/api/incidents", OPERATOR, seed_incident()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "open");
    assert_eq!(created["source"], "pagerduty");
    let id = created["id"].as_str().unwrap().to_string();

    let (status, got) = s.get(&format!("/api/incidents/{id}"), VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    let (status, list) = s
        .get("/api/incidents?severity=high&service=checkout", VIEWER)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let (_, empty) = s.get("/api/incidents?severity=low", VIEWER).await;
    assert_eq!(empty["items"].as_array().unwrap().len(), 0);

    let (status, edited) = s
        .call(
            reqwest::Method::PATCH,
            &format!("/api/incidents/{id}"),
            Some(OPERATOR),
            Some(json!({"severity": "critical", "version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["severity"], "critical");
    // The same stale version again: someone changed it meanwhile.
    let (status, stale) = s
        .call(
            reqwest::Method::PATCH,
            &format!("/api/incidents/{id}"),
            Some(OPERATOR),
            Some(json!({"title": "x", "version": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");

    let (_, timeline) = s
        .get(&format!("/api/incidents/{id}/timeline"), VIEWER)
        .await;
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "updated"]);

    // Only admins delete.
    let (status, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/incidents/{id}"),
            Some(OPERATOR),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/incidents/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = s.get(&format!("/api/incidents/{id}"), ADMIN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gone["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_client_errors() {
    let s = Server::start(PolicyMode::Default).await;
    // No token, an unknown token, too small a role.
    let (status, body) = s
        .call(reqwest::Method::GET, "/api/incidents", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
    let (status, _) = s.get("/api/incidents", "not-a-known-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = s.post("/api/incidents", VIEWER, seed_incident()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Validation names the field.
    let mut bad = seed_incident();
    bad["severity"] = json!("apocalyptic");
    let (status, body) = s.post("/api/incidents", OPERATOR, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("severity"),
        "{body}"
    );
    let mut bad = seed_incident();
    bad["title"] = json!("   ");
    let (status, body) = s.post("/api/incidents", OPERATOR, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "title");
    let (status, body) = s
        .post("/api/incidents", OPERATOR, json!({"severity": "low"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("title"));

    // Not JSON, too big, unknown ids and filters.
    let response = s
        .client
        .post(format!("{}/api/incidents", s.url))
        .bearer_auth(OPERATOR)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let mut huge = seed_incident();
    huge["description"] = json!("x".repeat(100 * 1024));
    let (status, _) = s.post("/api/incidents", OPERATOR, huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    for path in [
        "/api/incidents/01a21004-8858-74b4-8bdb-1182c516e3c6",
        "/api/incidents/not-an-id",
        "/api/incidents/01a21004-8858-74b4-8bdb-1182c516e3c6/timeline",
        "/api/approvals/01a21004-8858-74b4-8bdb-1182c516e3c6",
        "/api/no-such-endpoint",
    ] {
        let (status, body) = s.get(path, ADMIN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    // A value of the wrong type names its field; a method a route does not take is a JSON 405.
    let (status, body) = s
        .post(
            "/api/incidents",
            OPERATOR,
            json!({"title": "x", "severity": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "severity");
    let (status, body) = s
        .call(reqwest::Method::PUT, "/api/incidents", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let (status, body) = s.get("/api/incidents?status=sleeping", ADMIN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "status");
    let (status, _) = s.get("/api/incidents?limit=0", ADMIN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_risky_plan_waits_for_a_human_who_decides_once_through_the_notified_link() {
    let s = Server::start(PolicyMode::AlwaysAsk).await;
    // Break the simulated system: its monitor raises the incident and starts the workflow.
    let (status, injected) = s
        .post(
            "/api/simulator/faults",
            OPERATOR,
            json!({"kind": "memory_leak", "service": "checkout", "severity": 0.9}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{injected}");
    let id = injected["incident"]["id"].as_str().unwrap().to_string();
    // Starting it again is harmless: the running workflow comes back.
    let (status, again) = s
        .post(
            &format!("/api/incidents/{id}/workflow"),
            OPERATOR,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(again["incident_id"], id.as_str());

    let incident = s
        .wait_incident(&id, "the plan to wait", |i| {
            i["status"] == "awaiting_approval" || i["status"] == "escalated"
        })
        .await;
    assert_eq!(
        incident["status"], "awaiting_approval",
        "a plan for a leaking checkout should need approval under always_ask"
    );

    // The approval request went to the webhook with a one-time link.
    let started = Instant::now();
    let link = loop {
        let found = s.hooks.lock().unwrap().iter().find_map(|h| {
            (h["event"] == "approval_requested")
                .then(|| h["approval"]["link"].as_str().unwrap().to_string())
        });
        if let Some(link) = found {
            break link;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (path, token) = link.split_once("?token=").unwrap();
    let approval_id = path.rsplit('/').next().unwrap().to_string();

    // The link alone lets its holder read and decide; a wrong token does not.
    let read = s
        .client
        .get(format!("{}/api/approvals/{approval_id}", s.url))
        .header("x-approval-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let (status, _) = s
        .call(
            reqwest::Method::POST,
            &format!("/api/approvals/{approval_id}/decision"),
            None,
            Some(json!({"decision": "approve", "token": "wrong"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, decided) = s
        .call(
            reqwest::Method::POST,
            &format!("/api/approvals/{approval_id}/decision"),
            None,
            Some(json!({"decision": "approve", "token": token, "decided_by": "pat", "comment": "go"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "approved");
    // A second decision is refused, whoever sends it.
    let (status, second) = s
        .post(
            &format!("/api/approvals/{approval_id}/decision"),
            OPERATOR,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");

    let done = s
        .wait_incident(&id, "the workflow to end", |i| {
            i["status"] == "resolved" || i["status"] == "escalated"
        })
        .await;
    let (_, checkpoint) = s
        .get(&format!("/api/incidents/{id}/workflow"), VIEWER)
        .await;
    let records = checkpoint["data"]["actions"].as_array().unwrap();
    assert!(
        !records.is_empty(),
        "the approved actions ran: {checkpoint}"
    );
    assert!(checkpoint["data"]["verification"].is_object() || done["status"] == "escalated");
    let (_, timeline) = s
        .get(&format!("/api/incidents/{id}/timeline?limit=1000"), VIEWER)
        .await;
    let kinds: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "created",
        "triage",
        "tool_call",
        "observation",
        "finding",
        "plan",
        "approval_requested",
        "approval_decided",
        "action",
        "verification",
    ] {
        assert!(kinds.contains(&kind), "no {kind} entry in {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_alerts_land_on_one_incident() {
    let s = Server::start(PolicyMode::Default).await;
    let alert = json!({
        "version": "4", "status": "firing", "groupKey": "{}:{alertname=\"DiskFull\"}",
        "commonLabels": {"alertname": "DiskFull", "severity": "warning"},
        "commonAnnotations": {"summary": "postgres disk above 90%"},
        "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull", "service": "postgres"},
                    "annotations": {}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f1"}]
    });
    let (status, first) = s
        .post("/api/alerts/alertmanager", OPERATOR, alert.clone())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["created"], true);
    let (_, second) = s.post("/api/alerts/alertmanager", OPERATOR, alert).await;
    assert_eq!(second["created"], false);
    assert_eq!(second["incident"]["id"], first["incident"]["id"]);

    let sns = json!({"Type": "Notification", "Message": json!({
        "AlarmName": "payments-errors", "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed",
        "Trigger": {"Dimensions": [{"name": "ServiceName", "value": "payments"}]}
    }).to_string()});
    let (status, cw) = s.post("/api/alerts/cloudwatch", OPERATOR, sns).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{cw}");
    assert_eq!(cw["incident"]["affected_services"][0], "payments");
    let (status, _) = s
        .post("/api/alerts/cloudwatch", OPERATOR, json!({"hello": 1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // PagerDuty and Opsgenie: their own ids keep repeats on one incident; an
    // acknowledgement changes nothing; a close clears it.
    let pagerduty = |event_type: &str| {
        json!({"event": {"id": "01DEN3", "event_type": event_type, "resource_type": "incident",
               "occurred_at": "2026-01-01T00:00:00Z",
               "data": {"id": "PGR0VU2", "type": "incident", "title": "Search is slow",
                        "service": {"id": "PF9KMXH", "summary": "search", "type": "service_reference"},
                        "urgency": "high"}}})
    };
    let (status, pd) = s
        .post(
            "/api/alerts/pagerduty",
            OPERATOR,
            pagerduty("incident.triggered"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pd}");
    assert_eq!(pd["created"], true);
    assert_eq!(pd["incident"]["affected_services"][0], "search");
    let (_, again) = s
        .post(
            "/api/alerts/pagerduty",
            OPERATOR,
            pagerduty("incident.triggered"),
        )
        .await;
    assert_eq!(again["incident"]["id"], pd["incident"]["id"]);
    let (status, ack) = s
        .post(
            "/api/alerts/pagerduty",
            OPERATOR,
            pagerduty("incident.acknowledged"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ack}");
    assert_eq!(ack["incident"], Value::Null);
    let opsgenie = |action: &str| {
        json!({"action": action, "alert": {"alertId": "7041", "alias": "queue-lag",
               "message": "orders queue lag above 10k", "tags": ["service:orders"], "priority": "P3"},
               "integrationType": "Webhook"})
    };
    let (status, og) = s
        .post("/api/alerts/opsgenie", OPERATOR, opsgenie("Create"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{og}");
    assert_eq!(og["incident"]["severity"], "medium");
    let (_, closed) = s
        .post("/api/alerts/opsgenie", OPERATOR, opsgenie("Close"))
        .await;
    assert_eq!(closed["incident"]["id"], og["incident"]["id"]);
    let (status, _) = s
        .post("/api/alerts/opsgenie", VIEWER, opsgenie("Create"))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer cannot raise alerts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_streams_live_and_operational_endpoints_answer() {
    let s = Server::start(PolicyMode::Default).await;
    let (_, created) = s.post("/api/incidents", OPERATOR, seed_incident()).await;
    let id = created["id"].as_str().unwrap().to_string();
    let mut response = s
        .client
        .get(format!("{}/api/incidents/{id}/events", s.url))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // A note added now arrives on the open stream after the backlog.
    s.post(
        &format!("/api/incidents/{id}/notes"),
        OPERATOR,
        json!({"text": "looking into it"}),
    )
    .await;
    // The stream sends the backlog, then the incident, then live entries: the note may come
    // with the backlog (the stream began after it was added) or live, and the incident
    // event after the backlog in a chunk of its own. Read until both are there.
    let mut text = String::new();
    let started = Instant::now();
    while !(text.contains("looking into it") && text.contains("event: incident")) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "stream: {text}"
        );
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: timeline"));
    assert!(text.contains("id: 1"));
    assert!(text.contains("event: incident"));

    let (status, health) = s.get("/healthz", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let metrics = s
        .client
        .get(format!("{}/metrics", s.url))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("itops_http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("itops_incidents{status=\"open\"} 1"),
        "{metrics}"
    );
    let (_, doc) = s.get("/openapi.json", VIEWER).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/incidents"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Incident"].is_object());
    let (_, me) = s.get("/api/me", OPERATOR).await;
    assert_eq!(me, json!({"name": "olga", "role": "operator"}));

    // An ingest token sends telemetry and reads nothing.
    for path in ["/api/incidents", "/api/me", "/api/simulator"] {
        let (status, body) = s.get(path, INGEST).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let scraped = s
        .client
        .get(format!("{}/metrics", s.url))
        .bearer_auth(INGEST)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::UNAUTHORIZED);

    // The simulated shop's own metrics, for a real Prometheus to scrape.
    let shop = s
        .client
        .get(format!("{}/api/simulator/metrics", s.url))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(shop.status(), StatusCode::OK);
    assert!(shop
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/plain; version=0.0.4")));
    let shop = shop.text().await.unwrap();
    assert!(shop.contains("# TYPE "), "{shop}");
    assert!(shop.contains("{service=\"checkout\"}"), "{shop}");
}
