//! The HTTP-level security checks of `itops serve` (see docs/security.md): the server is
//! built in-process and served on a loopback port; requests go through a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use itops_lambda::app::config::{ServeConfig, TokenConfig};
use itops_lambda::app::App;
use reqwest::StatusCode;
use serde_json::Value;

const ADMIN: &str = "admin-token-0123456789abcdef";
const OPERATOR: &str = "operator-token-0123456789abcdef";
const VIEWER: &str = "viewer-token-0123456789abcdef";

struct Server {
    url: String,
    client: reqwest::Client,
    app: App,
    _data: tempfile::TempDir,
}

impl Server {
    /// A server over the simulator with an admin, an operator (`olga`) and a viewer
    /// (`victor`) token; `tune` adjusts the configuration first.
    async fn start(tune: impl FnOnce(&mut ServeConfig)) -> Self {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = ServeConfig {
            data_dir: Some(data.path().to_path_buf()),
            listen: Some(addr),
            public_url: Some(format!("http://{addr}")),
            ..ServeConfig::default()
        };
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
        ];
        tune(&mut config);
        let app = App::build(config).await.unwrap();
        support::serve_app(listener, &app);
        Self {
            url: format!("http://{addr}"),
            client: reqwest::Client::new(),
            app,
            _data: data,
        }
    }

    /// A request to `path` with `headers`; the status and the body (JSON, else a string).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.send(reqwest::Method::POST, path, &headers, Some(body))
            .await
    }

    /// A new incident's id.
    async fn incident(&self) -> String {
        let (status, created) = self
            .post(
                "/api/incidents",
                Some(OPERATOR),
                serde_json::json!({"title": "Checkout slow", "severity": "low",
                                   "affected_services": ["checkout"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    /// A pending approval for a new incident: its id and its one-time token.
    async fn approval(&self) -> (String, String) {
        let incident: itops_core::IncidentId = self.incident().await.parse().unwrap();
        let ticket = self
            .app
            .approvals()
            .request(itops_core::ApprovalRequest::new(
                incident,
                "restart checkout",
                std::time::Duration::from_secs(600),
            ))
            .await
            .unwrap();
        (
            ticket.approval.id.to_string(),
            ticket.token.expose().to_string(),
        )
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.send(reqwest::Method::GET, path, &headers, None).await
    }
}

/// A made-up credential, different for every `i`.
fn junk(i: usize) -> String {
    format!(
        "{}{i:06}",
        itops_core::IncidentId::new().to_string().replace('-', "")
    )
}

// ------------------------------------------------------------------- rate limiting

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_credentials_do_not_get_a_bucket_of_their_own() {
    let s = Server::start(|c| c.http.requests_per_minute = Some(60)).await;
    // 60 a minute: a burst of 20, then about one a second.
    let mut limited = 0;
    for i in 0..60 {
        let basic = format!("Basic {}", junk(i));
        let (status, _) = s
            .send(
                reqwest::Method::GET,
                "/api/incidents",
                &[("authorization", basic.as_str())],
                None,
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    assert!(limited >= 30, "only {limited} of 60 were throttled");
    // Unknown bearer tokens share the address's bucket too.
    let bearer = format!("Bearer {}", junk(99));
    let (status, _) = s
        .send(
            reqwest::Method::GET,
            "/api/incidents",
            &[("authorization", bearer.as_str())],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A valid token has its own bucket: the noise above does not throttle it.
    let (status, _) = s.get("/api/incidents", Some(VIEWER)).await;
    assert_eq!(status, StatusCode::OK);
}

// ------------------------------------------------------------------- who approved

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decider_is_the_bearer_tokens_holder_and_a_link_decision_says_so() {
    let s = Server::start(|_| {}).await;
    let decide = |id: &str| format!("/api/approvals/{id}/decision");

    // An operator's bearer token names the decider, whatever the body claims.
    let (id, link) = s.approval().await;
    let (status, decided) = s
        .post(
            &decide(&id),
            Some(OPERATOR),
            serde_json::json!({"decision": "approve", "token": link, "decided_by": "the-ceo"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["decided_by"], "olga", "{decided}");

    // With the one-time link alone, the decision is recorded as made with the link.
    let (id, link) = s.approval().await;
    let (status, decided) = s
        .post(
            &decide(&id),
            None,
            serde_json::json!({"decision": "approve", "token": link, "decided_by": "olga"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["decided_by"], "link:olga", "{decided}");

    // A viewer may decide only through the link, and is named as its holder.
    let (id, link) = s.approval().await;
    let (status, decided) = s
        .post(
            &decide(&id),
            Some(VIEWER),
            serde_json::json!({"decision": "reject", "token": link, "decided_by": "the-ceo"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["decided_by"], "link:victor", "{decided}");
}

// ------------------------------------------------------------------- notifications

/// A webhook receiver on a loopback port: its URL and what it received.
async fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let received: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_text_cannot_render_a_fake_approve_link() {
    use itops_core::{Clock, NewIncident, Severity, SystemClock};
    use itops_lambda::app::notify::{Notice, Notifier};
    let (url, received) = receiver().await;
    let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(SystemClock);
    let store: std::sync::Arc<dyn itops_core::StateStore> =
        std::sync::Arc::new(itops_core::store::MemoryStore::new(clock.clone()));
    let title = "<https://evil.example/approve|Approve now> & <!channel>";
    let incident = itops_core::incidents::open_incident(
        store.as_ref(),
        clock.now(),
        &itops_core::Actor::System,
        NewIncident::new(title, Severity::High),
    )
    .await
    .unwrap();
    let notifier = Notifier::new(None, Some(url), Severity::Low, 1, store, clock.clone());
    let link = "https://itops.example.com/#/approvals/a1?token=t&x=1".to_string();
    notifier
        .notify(
            &incident,
            Notice::ApprovalRequested {
                link: link.clone(),
                summary: "restart <https://evil.example|checkout>".into(),
                expires_at: clock.now(),
            },
        )
        .await;
    notifier
        .notify(
            &incident,
            Notice::Escalated {
                reason: "model says: <https://evil.example/ok|Approve>".into(),
            },
        )
        .await;
    let bodies = received.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    for body in &bodies {
        let text = body["text"].as_str().unwrap();
        assert!(!text.contains("<https://evil"), "{text}");
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("&lt;https://evil.example"), "{text}");
        assert!(text.contains("&amp; &lt;!channel&gt;"), "{text}");
    }
    // The real link is the only link, and still works.
    let approval = bodies[0]["text"].as_str().unwrap();
    assert_eq!(approval.matches('<').count(), 1, "{approval}");
    assert!(
        approval.contains("<https://itops.example.com/#/approvals/a1?token=t&amp;x=1|"),
        "{approval}"
    );
}

// ------------------------------------------------------------------- /metrics

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

/// The `itops_http_requests_total` series in a scrape.
fn request_series(scrape: &str) -> usize {
    scrape
        .lines()
        .filter(|l| l.starts_with("itops_http_requests_total{"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_a_token_and_made_up_methods_add_no_series() {
    let vars = [("ITOPS_METRICS_TOKEN", METRICS_TOKEN)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let s = Server::start(|c| {
        c.apply_env(&vars).unwrap();
        c.http.requests_per_minute = Some(1_000_000);
    })
    .await;
    let (status, _) = s.get("/metrics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "/metrics is not open");
    let (status, _) = s.get("/metrics", Some("made-up-token-0123456789")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = s.get("/metrics", Some(VIEWER)).await;
    assert_eq!(status, StatusCode::OK, "a viewer may scrape");
    let (status, scrape) = s.get("/metrics", Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "so may the metrics token");
    assert!(scrape.as_str().unwrap().contains("itops_incidents{"));
    // The metrics token is good for nothing else.
    let (status, _) = s.get("/api/incidents", Some(METRICS_TOKEN)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let made_up = |i: usize| reqwest::Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
    s.send(made_up(0), "/api/incidents", &[], None).await;
    let (_, before) = s.get("/metrics", Some(METRICS_TOKEN)).await;
    for i in 1..=1000 {
        s.send(made_up(i), "/api/incidents", &[], None).await;
    }
    let (_, after) = s.get("/metrics", Some(METRICS_TOKEN)).await;
    let (before, after) = (before.as_str().unwrap(), after.as_str().unwrap());
    assert_eq!(
        request_series(before),
        request_series(after),
        "1000 made-up methods added series:\n{after}"
    );
    assert!(after.contains("method=\"other\""), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_open_only_when_the_operator_says_so() {
    let vars = [("ITOPS_METRICS_PUBLIC", "true")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let s = Server::start(|c| c.apply_env(&vars).unwrap()).await;
    let (status, scrape) = s.get("/metrics", None).await;
    assert_eq!(status, StatusCode::OK, "{scrape}");
}

// ------------------------------------------------------------------- live streams

/// The value of an unlabelled gauge in a scrape, if it is there.
fn gauge(scrape: &str, name: &str) -> Option<i64> {
    scrape.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_end_when_their_clients_go_away() {
    let s = Server::start(|c| c.http.requests_per_minute = Some(1_000_000)).await;
    let id = s.incident().await;
    let (status, _) = s
        .send(
            reqwest::Method::PATCH,
            &format!("/api/incidents/{id}"),
            &[("authorization", &format!("Bearer {OPERATOR}"))],
            Some(serde_json::json!({"status": "resolved"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let subscribers = || async {
        let (_, scrape) = s.get("/metrics", Some(VIEWER)).await;
        gauge(scrape.as_str().unwrap(), "itops_sse_subscribers")
    };
    let start = subscribers()
        .await
        .expect("the scrape has itops_sse_subscribers");

    // 1000 streams on a resolved incident (no event will ever come), 100 open at a time;
    // each batch's tasks end once its clients are gone.
    for batch in 0..10 {
        let mut open = Vec::new();
        for _ in 0..100 {
            let mut response = s
                .client
                .get(format!("{}/api/incidents/{id}/events", s.url))
                .bearer_auth(VIEWER)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            // The backlog arrives: the stream's task is running.
            response.chunk().await.unwrap().unwrap();
            open.push(response);
        }
        assert_eq!(subscribers().await, Some(start + 100), "batch {batch}");
        drop(open);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let now = subscribers().await;
            if now == Some(start) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "batch {batch}: the streams' tasks outlived their clients: {now:?} \
                 subscribers, {start} before"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

// ------------------------------------------------------------------- secrets in logs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_without_a_token_says_only_whether_the_server_is_healthy() {
    let s = Server::start(|_| {}).await;
    let (status, health) = s.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health, serde_json::json!({"status": "ok"}), "{health}");
    let (status, health) = s.get("/healthz", Some(VIEWER)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert!(
        health["model"].is_string() && health["telemetry"].is_string(),
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_admin_token_goes_to_a_private_file_when_stdout_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An empty ITOPS_ADMIN_TOKEN counts as unset: the server generates one.
    let server = support::Server::start(
        &data,
        dir.path(),
        "generated",
        "",
        &[("ITOPS_ADMIN_TOKEN", "")],
    );
    let file = data.join("admin-token");
    let token = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no {}: {e}\n{}", file.display(), server.output()))
        .trim()
        .to_string();
    assert!(token.len() >= 32, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token file is readable by others");
    }
    // The server prints where it listens first and the rest of its banner just after:
    // wait for the banner (up to ten seconds) before reading it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.output().contains("admin-token") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = server.output();
    assert!(
        !output.contains(&token),
        "the token reached the logs:\n{output}"
    );
    assert!(
        output.contains("admin-token"),
        "the path is printed:\n{output}"
    );
    // It is the admin token.
    let me = reqwest::Client::new()
        .get(format!("{}/api/me", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

// ------------------------------------------------------------------- the action webhook

const WEBHOOK_SECRET: &str = "webhook-secret-0123456789abcdef";

/// A receiver that verifies as docs/deployment.md says: the signature over the timestamp
/// and the raw body, a recent timestamp, and no signature seen twice.
async fn verifying_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>,
) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;
    let seen: Seen = Default::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hooks/{secret_path}",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = log.clone();
            async move {
                let Some(header) = headers
                    .get(itops_lambda::app::webhook::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                else {
                    return (StatusCode::UNAUTHORIZED, "unsigned");
                };
                let Some(t) = header
                    .split(',')
                    .find_map(|p| p.strip_prefix("t="))
                    .and_then(|t| t.parse::<i64>().ok())
                else {
                    return (StatusCode::UNAUTHORIZED, "no timestamp");
                };
                if (chrono::Utc::now().timestamp() - t).abs() > 300 {
                    return (StatusCode::UNAUTHORIZED, "stale");
                }
                if itops_lambda::app::webhook::signature(WEBHOOK_SECRET, t, &body) != header {
                    return (StatusCode::UNAUTHORIZED, "bad signature");
                }
                let mut seen = seen.lock().unwrap();
                if seen.iter().any(|(h, _)| h == header) {
                    return (StatusCode::CONFLICT, "replayed");
                }
                seen.push((header.to_string(), body.to_vec()));
                (StatusCode::OK, "applied")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks/path-s3cret"), seen)
}

fn scale_out(target: &str) -> itops_core::RemediationAction {
    itops_core::catalogue::ActionCatalogue::standard()
        .action(
            itops_core::catalogue::ActionParams::ScaleOut(itops_core::catalogue::ScaleOut {
                replicas: 4,
            }),
            target,
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_webhook_requests_are_signed_and_a_replay_or_an_alteration_is_refused() {
    use itops_core::environment::ActionExecutor;
    let (url, seen) = verifying_receiver().await;
    let clock: std::sync::Arc<dyn itops_core::Clock> = std::sync::Arc::new(itops_core::SystemClock);
    let executor = itops_lambda::app::webhook::WebhookExecutor::new(Some(url.clone()), clock)
        .with_secret(Some(WEBHOOK_SECRET.into()));
    let report = executor.execute(&scale_out("checkout")).await.unwrap();
    assert!(report.applied, "{report:?}");
    assert_eq!(report.detail, "applied");

    // The request as it went out, sent again: refused.
    let (signature, body) = seen.lock().unwrap()[0].clone();
    let client = reqwest::Client::new();
    let replay = client
        .post(&url)
        .header(itops_lambda::app::webhook::SIGNATURE_HEADER, &signature)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::CONFLICT);
    // Altered (another target) under the same signature: refused.
    let altered = String::from_utf8(body)
        .unwrap()
        .replace("checkout", "payments");
    let altered = client
        .post(&url)
        .header(itops_lambda::app::webhook::SIGNATURE_HEADER, &signature)
        .header("content-type", "application/json")
        .body(altered)
        .send()
        .await
        .unwrap();
    assert_eq!(altered.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_webhook_errors_never_carry_its_url() {
    use itops_core::environment::ActionExecutor;
    let clock: std::sync::Arc<dyn itops_core::Clock> = std::sync::Arc::new(itops_core::SystemClock);
    // Nothing listens there; the path is a credential.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for url in [
        format!("http://127.0.0.1:{port}/hooks/tok3n-in-the-path?key=s3cret"),
        "http://user:s3cret@[::1:bad/hooks".to_string(),
    ] {
        let executor =
            itops_lambda::app::webhook::WebhookExecutor::new(Some(url.clone()), clock.clone())
                .with_secret(Some(WEBHOOK_SECRET.into()));
        let err = executor
            .execute(&scale_out("checkout"))
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret") && !err.contains("tok3n"), "{err}");
        assert!(err.contains("action webhook"), "{err}");
    }
}

// ------------------------------------------------------------------- MCP over HTTP

const MCP_TOKEN: &str = "mcp-token-0123456789abcdef";

fn mcp_initialize() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "security-test", "version": "0"}
        }
    })
}

/// POSTs an `initialize` to `url` with `headers`: the status and the session id, if any.
async fn mcp_open(url: &str, headers: &[(&str, &str)]) -> (StatusCode, Option<String>) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .json(&mcp_initialize());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (response.status(), session)
}

async fn mcp_server(options: itops_mcp::HttpOptions) -> itops_mcp::HttpServer {
    let server = itops_mcp::McpServer::builder("security-test", "0")
        .build()
        .unwrap();
    itops_mcp::serve_http(
        &server,
        itops_mcp::HttpOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            bearer_token: Some(MCP_TOKEN.into()),
            ..options
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_http_requires_a_generated_token_by_default_even_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("mcp.stderr");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_itops"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("ITOPS_") {
            command.env_remove(var);
        }
    }
    let child = command
        .args([
            "mcp",
            "monitoring",
            "--simulate",
            "capacity_issue",
            "--transport",
            "http",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let _child = support::Spawned(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let url = loop {
        let text = std::fs::read_to_string(&stderr).unwrap_or_default();
        if let Some(url) = text.lines().find_map(|l| {
            l.split_once("serving MCP at ")
                .map(|(_, u)| u.trim().to_string())
        }) {
            break url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "itops mcp did not start:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (status, _) = mcp_open(&url, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token, no MCP");
    let token = std::fs::read_to_string(dir.path().join(".itops/mcp-token"))
        .expect("the generated token is in .itops/mcp-token")
        .trim()
        .to_string();
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        !text.contains(&token),
        "the token reached the logs:\n{text}"
    );
    let bearer = format!("Bearer {token}");
    let (status, session) = mcp_open(&url, &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(session.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_sessions_are_capped() {
    let http = mcp_server(itops_mcp::HttpOptions::default()).await;
    let url = http.url();
    let bearer = format!("Bearer {MCP_TOKEN}");
    let auth = [("authorization", bearer.as_str())];
    let mut sessions = Vec::new();
    for i in 0..64 {
        let (status, session) = mcp_open(&url, &auth).await;
        assert_eq!(status, StatusCode::OK, "session {i}");
        sessions.push(session.unwrap());
    }
    let (status, _) = mcp_open(&url, &auth).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a 65th session");
    // Ending one makes room for another.
    let ended = reqwest::Client::new()
        .delete(&url)
        .header("authorization", &bearer)
        .header("mcp-session-id", &sessions[0])
        .send()
        .await
        .unwrap();
    assert!(ended.status().is_success(), "{}", ended.status());
    let (status, _) = mcp_open(&url, &auth).await;
    assert_eq!(status, StatusCode::OK);
    http.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_origins_must_match_scheme_host_and_port_exactly() {
    let http = mcp_server(itops_mcp::HttpOptions {
        allowed_origins: vec!["https://app.example.com".into()],
        ..itops_mcp::HttpOptions::default()
    })
    .await;
    let url = http.url();
    let bearer = format!("Bearer {MCP_TOKEN}");
    let own = format!("http://{}", http.local_addr());
    for (origin, expected) in [
        ("https://app.example.com", StatusCode::OK),
        (own.as_str(), StatusCode::OK),
        ("https://app.example.com:8443", StatusCode::FORBIDDEN),
        ("http://app.example.com", StatusCode::FORBIDDEN),
        ("http://localhost:3000", StatusCode::FORBIDDEN),
        ("http://127.0.0.1:1", StatusCode::FORBIDDEN),
    ] {
        let (status, _) = mcp_open(
            &url,
            &[("authorization", bearer.as_str()), ("origin", origin)],
        )
        .await;
        assert_eq!(status, expected, "{origin}");
    }
    http.shutdown().await.unwrap();
}

// ------------------------------------------------------------------- bounded lists

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_are_listed_a_page_at_a_time() {
    let s = Server::start(|c| c.http.requests_per_minute = Some(1_000_000)).await;
    let mut requested = Vec::new();
    for _ in 0..5 {
        requested.push(s.approval().await.0);
    }
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{}/api/approvals?status=pending&limit=2", s.url);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let response = client.get(url).bearer_auth(VIEWER).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let next = response
            .headers()
            .get("x-next-cursor")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let page: Vec<Value> = response.json().await.unwrap();
        assert!(page.len() <= 2, "a page of {}", page.len());
        seen.extend(page.iter().map(|a| a["id"].as_str().unwrap().to_string()));
        pages += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, requested, "every approval once, oldest first");
    let (status, body) = s.get("/api/approvals?limit=0", Some(VIEWER)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = s.get("/api/approvals?limit=501", Some(VIEWER)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Without a limit, one default page (100) at most.
    let (status, all) = s.get("/api/approvals", Some(VIEWER)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 5);
}
