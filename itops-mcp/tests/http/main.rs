//! Streamable HTTP: the itops client bridge against an itops server on a loopback port,
//! and raw requests the guard must refuse in JSON-RPC's error shape.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::breaker::BreakerConfig;
use itops_core::{DynTool, Tool};
use itops_mcp::{
    serve_http, ClientOptions, HttpOptions, HttpServer, McpClient, McpServer, ServerTarget,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Echoes its message, or fails when asked to.
struct Echo;

/// Arguments of `echo`.
#[derive(Deserialize, JsonSchema)]
struct EchoArgs {
    /// What to echo.
    message: String,
    /// Fail instead.
    #[serde(default)]
    fail: bool,
}

#[async_trait]
impl Tool for Echo {
    type Args = EchoArgs;
    type Output = Value;
    fn name(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Echoes a message."
    }
    async fn call(&self, args: EchoArgs) -> itops_core::Result<Value> {
        if args.fail {
            return Err(itops_core::Error::Tool {
                tool: "echo".into(),
                message: format!("refusing to echo '{}'", args.message),
                retryable: false,
            });
        }
        Ok(json!({ "echo": args.message }))
    }
}

fn server() -> McpServer {
    McpServer::builder("echo-server", "0.1.0")
        .tool(Arc::new(Echo))
        .build()
        .unwrap()
}

/// Serves the echo server on a free loopback port; without a bearer token in `options`,
/// authentication is turned off explicitly (these tests are about other things).
async fn start(options: HttpOptions) -> HttpServer {
    let no_auth = options.bearer_token.is_none();
    serve_http(
        &server(),
        HttpOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            no_auth,
            ..options
        },
    )
    .await
    .unwrap()
}

fn initialize_body() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}
        }
    })
}

async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn jsonrpc_error_message(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(value["jsonrpc"], "2.0");
    value["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_bridge_lists_and_calls_tools_over_http() {
    let http = start(HttpOptions::default()).await;
    let client = McpClient::connect(
        "echo",
        &ServerTarget::http(http.url()),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(client.server_info().unwrap().name, "echo-server");
    let tools = client.tools().await.unwrap();
    assert_eq!(tools.len(), 1);
    let spec = tools[0].spec();
    assert_eq!(spec.name, "echo");
    assert_eq!(spec.input_schema, Echo.spec().input_schema);
    let out = tools[0].call_json(json!({"message": "hi"})).await.unwrap();
    assert_eq!(out, json!({"echo": "hi"}));
    let err = tools[0]
        .call_json(json!({"message": "no", "fail": true}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refusing to echo 'no'"), "{err}");
    let err = tools[0].call_json(json!({"message": 5})).await.unwrap_err();
    assert!(err.to_string().contains("invalid arguments"), "{err}");
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bearer_token_is_required_and_accepted() {
    let http = start(HttpOptions {
        bearer_token: Some("t0ken".into()),
        ..HttpOptions::default()
    })
    .await;
    let options = || ClientOptions {
        connect_timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    };
    let err = McpClient::connect("echo", &ServerTarget::http(http.url()), options())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("could not connect to MCP server 'echo'"),
        "{err}"
    );
    let target = ServerTarget::http(http.url()).with_bearer_token("t0ken");
    let client = McpClient::connect("echo", &target, options())
        .await
        .unwrap();
    let out = client
        .call_tool("echo", json!({"message": "ok"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"echo": "ok"}));

    let (status, headers, body) = post(&http.url(), &[], initialize_body().to_string()).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert!(jsonrpc_error_message(&body).contains("bearer token"));
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused_in_jsonrpc_shape() {
    let http = start(HttpOptions::default()).await;
    let url = http.url();
    let (status, _, body) = post(
        &url,
        &[("host", "evil.example.com")],
        initialize_body().to_string(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(jsonrpc_error_message(&body).contains("Host 'evil.example.com' is not allowed"));
    let (status, _, body) = post(
        &url,
        &[("origin", "http://evil.example.com")],
        initialize_body().to_string(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        jsonrpc_error_message(&body).contains("Origin 'http://evil.example.com' is not allowed")
    );
    // The server's own origin is fine; another local port (another page) is not.
    let own = format!("http://localhost:{}", http.local_addr().port());
    let (status, headers, _) = post(&url, &[("origin", &own)], initialize_body().to_string()).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("mcp-session-id"));
    let (status, _, _) = post(
        &url,
        &[("origin", "http://localhost:6274")],
        initialize_body().to_string(),
    )
    .await;
    assert_eq!(status, 403);
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_get_413_and_the_server_keeps_serving() {
    let http = start(HttpOptions {
        max_body_bytes: 2048,
        ..HttpOptions::default()
    })
    .await;
    let mut big = initialize_body();
    big["params"]["padding"] = json!("x".repeat(4096));
    let (status, _, body) = post(&http.url(), &[], big.to_string()).await;
    assert_eq!(status, 413);
    assert!(jsonrpc_error_message(&body).contains("at most 2048 bytes"));
    let (status, _, _) = post(&http.url(), &[], initialize_body().to_string()).await;
    assert_eq!(status, 200);
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_the_mcp_path_is_served() {
    let http = start(HttpOptions::default()).await;
    let other = format!("http://{}/other", http.local_addr());
    let response = reqwest::Client::new().get(other).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_that_goes_away_gives_errors_then_an_open_breaker() {
    let http = start(HttpOptions::default()).await;
    let options = ClientOptions {
        call_timeout: Duration::from_secs(5),
        breaker: BreakerConfig {
            failure_threshold: 2,
            open_interval: Duration::from_secs(60),
            success_threshold: 1,
        },
        ..ClientOptions::default()
    };
    let client = McpClient::connect("echo", &ServerTarget::http(http.url()), options)
        .await
        .unwrap();
    let tools: Vec<Arc<dyn DynTool>> = client.tools().await.unwrap();
    http.shutdown().await.unwrap();
    let started = std::time::Instant::now();
    for _ in 0..2 {
        let err = tools[0]
            .call_json(json!({"message": "x"}))
            .await
            .unwrap_err();
        assert!(err.is_dependency_failure(), "{err}");
    }
    let err = tools[0]
        .call_json(json!({"message": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, itops_core::Error::CircuitOpen { .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "calls hung");
}

#[tokio::test]
async fn tool_errors_do_not_open_the_breaker() {
    let http = start(HttpOptions::default()).await;
    let options = ClientOptions {
        breaker: BreakerConfig {
            failure_threshold: 2,
            open_interval: Duration::from_secs(60),
            success_threshold: 1,
        },
        ..ClientOptions::default()
    };
    let client = McpClient::connect("echo", &ServerTarget::http(http.url()), options)
        .await
        .unwrap();
    let tools = client.tools().await.unwrap();
    for _ in 0..4 {
        let err = tools[0]
            .call_json(json!({"message": "m", "fail": true}))
            .await
            .unwrap_err();
        assert!(matches!(err, itops_core::Error::Tool { .. }), "{err}");
    }
    assert!(tools[0].call_json(json!({"message": "m"})).await.is_ok());
    http.shutdown().await.unwrap();
}

/// The JSON-RPC messages in a response body, whether JSON or an SSE stream.
fn messages(body: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return vec![value];
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

#[tokio::test]
async fn non_object_arguments_are_a_protocol_error() {
    let http = start(HttpOptions::default()).await;
    let url = http.url();
    let (_, headers, _) = post(&url, &[], initialize_body().to_string()).await;
    let session = headers["mcp-session-id"].to_str().unwrap().to_string();
    let with_session = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let (status, _, _) = post(&url, &with_session, initialized.to_string()).await;
    assert_eq!(status, 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "echo", "arguments": ["not", "an", "object"]}});
    let (_, _, body) = post(&url, &with_session, call.to_string()).await;
    let reply = messages(&body)
        .into_iter()
        .find(|m| m.get("error").is_some() || m.get("result").is_some())
        .unwrap_or_else(|| panic!("no reply in {body}"));
    assert!(reply["error"]["code"].as_i64().unwrap() < 0, "{reply}");
    // The session still serves.
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let (_, _, body) = post(&url, &with_session, list.to_string()).await;
    let listed = messages(&body)
        .into_iter()
        .find(|m| m.get("result").is_some())
        .unwrap();
    assert_eq!(listed["result"]["tools"][0]["name"], "echo");
    http.shutdown().await.unwrap();
}

#[tokio::test]
async fn stateless_mode_answers_each_post_on_its_own() {
    let http = start(HttpOptions {
        stateful: false,
        ..HttpOptions::default()
    })
    .await;
    let (status, headers, body) = post(&http.url(), &[], initialize_body().to_string()).await;
    assert_eq!(status, 200);
    assert!(!headers.contains_key("mcp-session-id"));
    assert_eq!(
        messages(&body)[0]["result"]["serverInfo"]["name"],
        "echo-server"
    );
    let client = McpClient::connect(
        "echo",
        &ServerTarget::http(http.url()),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let out = client
        .call_tool("echo", json!({"message": "hi"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"echo": "hi"}));
    http.shutdown().await.unwrap();
}
