//! itops MCP servers and the client bridge against the official components: the Python SDK
//! client (stdio and HTTP), the MCP inspector CLI, the conformance suite, and a Python SDK
//! `MCPServer` as a third-party server for the bridge.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use itops_core::breaker::BreakerConfig;
use itops_core::{DynTool, Tool};
use itops_mcp::{
    serve_http, ClientOptions, HttpOptions, HttpServer, McpClient, McpServer, ServerTarget,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use support::*;

/// Looks up the p95 latency of a service (a stand-in for a telemetry tool).
struct Latency;

/// Arguments of `service_latency`.
#[derive(Deserialize, JsonSchema)]
struct LatencyArgs {
    /// The service.
    service: String,
    /// Window in minutes (1 to 1440).
    minutes: u32,
}

#[derive(Serialize)]
struct LatencyReport {
    service: String,
    p95_ms: f64,
}

#[async_trait]
impl Tool for Latency {
    type Args = LatencyArgs;
    type Output = LatencyReport;
    fn name(&self) -> &str {
        "service_latency"
    }
    fn description(&self) -> &str {
        "p95 latency of a service over the last minutes."
    }
    async fn call(&self, args: LatencyArgs) -> itops_core::Result<LatencyReport> {
        if !(1..=1440).contains(&args.minutes) {
            return Err(itops_core::Error::invalid(
                "minutes",
                format!("{} is out of range; use 1 to 1440", args.minutes),
            ));
        }
        if args.service != "checkout" {
            return Err(itops_core::Error::not_found("service", &args.service));
        }
        Ok(LatencyReport {
            service: args.service,
            p95_ms: 412.5,
        })
    }
}

/// Lists services.
struct Services;

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

#[async_trait]
impl Tool for Services {
    type Args = NoArgs;
    type Output = Vec<&'static str>;
    fn name(&self) -> &str {
        "list_services"
    }
    fn description(&self) -> &str {
        "Every known service."
    }
    async fn call(&self, _: NoArgs) -> itops_core::Result<Vec<&'static str>> {
        Ok(vec!["checkout", "payments"])
    }
}

/// Takes 1.5 s, to see the progress heartbeat.
struct Slow;

#[async_trait]
impl Tool for Slow {
    type Args = NoArgs;
    type Output = Value;
    fn name(&self) -> &str {
        "slow_scan"
    }
    fn description(&self) -> &str {
        "A slow scan."
    }
    async fn call(&self, _: NoArgs) -> itops_core::Result<Value> {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(json!({"scanned": 3}))
    }
}

fn server(page_size: usize) -> McpServer {
    McpServer::builder("itops-test", "0.0.1")
        .tool(Arc::new(Latency))
        .tool(Arc::new(Services))
        .tool(Arc::new(Slow))
        .page_size(page_size)
        .progress_interval(Some(Duration::from_millis(400)))
        .max_argument_bytes(10_000)
        .build()
        .unwrap()
}

/// Serves the test server on a free loopback port; without a bearer token in `options`,
/// authentication is turned off explicitly (the clients' auth is tested on its own).
async fn serve(options: HttpOptions) -> HttpServer {
    let no_auth = options.bearer_token.is_none();
    serve_http(
        &server(2),
        HttpOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            no_auth,
            ..options
        },
    )
    .await
    .unwrap()
}

/// Valid and invalid calls of every tool, and calls the protocol must refuse.
fn cases() -> Value {
    json!([
        {"tool": "service_latency", "arguments": {"service": "checkout", "minutes": 15}},
        {"tool": "service_latency", "arguments": {"service": "checkout", "minutes": "fifteen"}},
        {"tool": "service_latency", "arguments": {"service": "checkout"}},
        {"tool": "service_latency", "arguments": {"service": "checkout", "minutes": 100000}},
        {"tool": "service_latency", "arguments": {"service": "nowhere", "minutes": 5}},
        {"tool": "list_services", "arguments": {}},
        {"tool": "list_services", "arguments": {"unexpected": true}},
        {"tool": "slow_scan", "arguments": {}},
        {"tool": "no_such_tool", "arguments": {}},
        {"tool": "list_services", "arguments": {"padding": "x".repeat(20_000)}},
    ])
}

fn result_text(outcome: &Value) -> String {
    outcome["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// What the cases above must produce, whatever the transport.
fn check_report(report: &Value) {
    assert_eq!(report["protocol_version"], "2025-11-25");
    assert_eq!(report["server"]["name"], "itops-test");
    let tools = report["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["service_latency", "list_services", "slow_scan"]);
    assert_eq!(tools[0]["inputSchema"], Latency.spec().input_schema);
    let r = report["results"].as_array().unwrap();
    let by = |i: usize| &r[i];

    assert_eq!(by(0)["result"]["isError"], false);
    assert_eq!(by(0)["result"]["structuredContent"]["p95_ms"], 412.5);
    for (i, expected) in [
        (1, "invalid type: string \"fifteen\", expected u32"),
        (2, "missing field `minutes`"),
        (3, "100000 is out of range; use 1 to 1440"),
        (4, "service 'nowhere' not found"),
    ] {
        assert_eq!(by(i)["result"]["isError"], true, "{}", by(i));
        assert!(result_text(by(i)).contains(expected), "{}", by(i));
    }
    assert_eq!(
        by(5)["result"]["structuredContent"]["result"],
        json!(["checkout", "payments"])
    );
    // Unknown fields are ignored by tools that do not forbid them.
    assert_eq!(by(6)["result"]["isError"], false);
    assert_eq!(by(7)["result"]["structuredContent"]["scanned"], 3);
    let heartbeats = by(7)["progress"].as_array().unwrap();
    assert!(heartbeats.len() >= 2, "{}", by(7));
    assert_eq!(by(8)["error"]["code"], -32602);
    assert!(by(8)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown tool 'no_such_tool'"));
    assert_eq!(by(9)["error"]["code"], -32602);
    assert!(by(9)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 10000 bytes"));
    assert_eq!(report["ping_after"], true);
    // Tool failures were logged to the client, which asked for debug logs.
    let logs = report["logs"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "warning" && l["logger"] == "service_latency"),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_http_lists_pages_and_calls_every_tool() {
    let Some(python) = python() else { return };
    let http = serve(HttpOptions::default()).await;
    let report = python_client(&python, &["--url".into(), http.url()], &cases()).await;
    check_report(&report);
    // Three tools at two per page.
    assert_eq!(report["pages"], 2);
    http.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_http_with_a_bearer_token() {
    let Some(python) = python() else { return };
    let http = serve(HttpOptions {
        bearer_token: Some("s3cret-token".into()),
        ..HttpOptions::default()
    })
    .await;
    let cases = json!([{"tool": "list_services", "arguments": {}}]);
    let report = python_client(
        &python,
        &[
            "--url".into(),
            http.url(),
            "--bearer".into(),
            "s3cret-token".into(),
        ],
        &cases,
    )
    .await;
    assert_eq!(report["results"][0]["result"]["isError"], false);
    http.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_stdio_against_the_fixture_server() {
    let (Some(python), Some(fixture)) = (python(), fixture_server()) else {
        return;
    };
    let cases = json!([
        {"tool": "test_simple_text", "arguments": {}},
        {"tool": "test_error_handling", "arguments": {}},
        {"tool": "json_schema_2020_12_tool", "arguments": {"name": "ops"}},
        {"tool": "json_schema_2020_12_tool", "arguments": {"name": "ops", "extra": 1}},
        {"tool": "test_tool_with_progress", "arguments": {}},
        {"tool": "missing_tool", "arguments": {}}
    ]);
    let target = [
        "--".to_string(),
        fixture.display().to_string(),
        "--stdio".to_string(),
    ];
    let report = python_client(&python, &target, &cases).await;
    assert_eq!(report["server"]["name"], "itops-conformance-fixtures");
    let r = &report["results"];
    assert_eq!(
        r[0]["result"]["content"][0]["text"],
        "This is a simple text response for testing."
    );
    assert_eq!(r[1]["result"]["isError"], true);
    assert_eq!(
        r[2]["result"]["structuredContent"]["greeting"],
        "Hello, ops"
    );
    assert_eq!(r[3]["result"]["isError"], true);
    assert!(
        result_text(&r[3]).contains("unknown field `extra`"),
        "{}",
        r[3]
    );
    assert_eq!(r[4]["progress"].as_array().unwrap().len(), 3);
    assert_eq!(r[5]["error"]["code"], -32602);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspector_cli_lists_tools_over_http_and_stdio() {
    let Some(node) = Node::find() else { return };
    let http = serve(HttpOptions::default()).await;
    let args = |target: &[&str], method: &[&str]| -> Vec<String> {
        let mut args = vec!["--cli".to_string()];
        args.extend(target.iter().map(|s| s.to_string()));
        args.extend(method.iter().map(|s| s.to_string()));
        args
    };
    let url = http.url();
    let (stdout, stderr, ok) = node
        .run(
            &node.inspector(),
            &args(&[&url, "--transport", "http"], &["--method", "tools/list"]),
        )
        .await;
    assert!(ok, "inspector failed: {stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // The inspector follows the cursor over the two pages.
    assert_eq!(names, ["service_latency", "list_services", "slow_scan"]);

    let (stdout, stderr, ok) = node
        .run(
            &node.inspector(),
            &args(
                &[&url, "--transport", "http"],
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "service_latency",
                    "--tool-arg",
                    "service=checkout",
                    "minutes=30",
                ],
            ),
        )
        .await;
    assert!(ok, "inspector call failed: {stderr}");
    let called: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(called["structuredContent"]["p95_ms"], 412.5, "{called}");
    http.shutdown().await.unwrap();

    if let Some(fixture) = fixture_server() {
        let fixture = fixture.display().to_string();
        let (stdout, stderr, ok) = node
            .run(
                &node.inspector(),
                &args(
                    &[&fixture, "--stdio"],
                    &["--transport", "stdio", "--method", "tools/list"],
                ),
            )
            .await;
        assert!(ok, "inspector over stdio failed: {stderr}");
        let listed: Value = serde_json::from_str(&stdout).unwrap();
        assert!(listed["tools"].as_array().unwrap().len() >= 14, "{listed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conformance_suite_passes_against_the_fixture_server() {
    let (Some(node), Some(fixture)) = (Node::find(), fixture_server()) else {
        return;
    };
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut command = tokio::process::Command::new(&fixture);
    command.args(["--listen", &addr.to_string()]);
    let _server = spawn_listening(command, addr).await;
    let url = format!("http://{addr}/mcp");
    let args: Vec<String> = [
        "server",
        "--url",
        &url,
        "--suite",
        "all",
        "--spec-version",
        "2025-11-25",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (stdout, stderr, _) = node.run(&node.conformance(), &args).await;
    let summary = parse_conformance(&stdout);
    eprintln!(
        "conformance (fixture server): {} scenarios, {} checks passed, {} failed",
        summary.scenarios.len(),
        summary.passed,
        summary.failed
    );
    let failing: Vec<_> = summary.scenarios.iter().filter(|s| s.2 > 0).collect();
    assert!(summary.scenarios.len() >= 32, "{stdout}\n{stderr}");
    assert!(
        failing.is_empty(),
        "failing scenarios: {failing:?}\n{stdout}"
    );
    assert_eq!(summary.failed, 0, "{stdout}");
}

/// The conformance scenarios that need no fixtures, which every itops server must pass.
const PROTOCOL_SCENARIOS: [&str; 6] = [
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
    "logging-set-level",
];

#[tokio::test(flavor = "multi_thread")]
async fn protocol_conformance_scenarios_pass_against_a_plain_tool_server() {
    let Some(node) = Node::find() else { return };
    let http = serve(HttpOptions::default()).await;
    let url = http.url();
    for scenario in PROTOCOL_SCENARIOS {
        let args: Vec<String> = ["server", "--url", &url, "--scenario", scenario]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (stdout, stderr, _) = node.run(&node.conformance(), &args).await;
        let output = format!("{stdout}\n{stderr}");
        let (passed, total, failed, _warnings) = parse_scenario(&output)
            .unwrap_or_else(|| panic!("no result for {scenario}:\n{output}"));
        assert!(
            total > 0 && passed == total && failed == 0,
            "{scenario}:\n{output}"
        );
    }
    http.shutdown().await.unwrap();
}

fn python_echo_stdio(python: &std::path::Path) -> ServerTarget {
    ServerTarget::stdio(
        python.display().to_string(),
        [root()
            .join("itops-mcp/tests/python/echo_server.py")
            .display()
            .to_string()],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_uses_a_python_sdk_server_over_stdio() {
    let Some(python) = python() else { return };
    let options = ClientOptions {
        call_timeout: Duration::from_secs(3),
        tool_prefix: Some("py_".into()),
        breaker: BreakerConfig {
            failure_threshold: 2,
            open_interval: Duration::from_secs(60),
            success_threshold: 1,
        },
        ..ClientOptions::default()
    };
    let client = McpClient::connect("python-echo", &python_echo_stdio(&python), options)
        .await
        .unwrap();
    assert_eq!(client.server_info().unwrap().name, "python-echo");
    let tools: Vec<Arc<dyn DynTool>> = client.tools().await.unwrap();
    let tool = |name: &str| {
        tools
            .iter()
            .find(|t| t.spec().name == name)
            .unwrap_or_else(|| panic!("no tool {name}"))
            .clone()
    };
    let add = tool("py_add");
    let schema = add.spec().input_schema;
    assert_eq!(schema["properties"]["a"]["type"], "integer");
    assert_eq!(schema["required"], json!(["a", "b"]));

    // Structured content comes through as the server sent it (the Python SDK wraps
    // non-object results as {"result": ...}).
    assert_eq!(
        tool("py_echo")
            .call_json(json!({"text": "hello"}))
            .await
            .unwrap(),
        json!({"result": "hello"})
    );
    assert_eq!(
        add.call_json(json!({"a": 2, "b": 3})).await.unwrap(),
        json!({"sum": 5})
    );
    let err = add.call_json(json!({"a": "x", "b": 3})).await.unwrap_err();
    assert!(matches!(err, itops_core::Error::Tool { .. }), "{err}");
    let err = tool("py_fail")
        .call_json(json!({"reason": "disk full"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");

    // A call that outlives the timeout is cut off, not waited for.
    let started = Instant::now();
    let err = tool("py_sleep")
        .call_json(json!({"seconds": 30}))
        .await
        .unwrap_err();
    assert!(matches!(err, itops_core::Error::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // The server dies: errors at once, then the breaker opens; nothing hangs.
    let started = Instant::now();
    let err = tool("py_crash").call_json(json!({})).await.unwrap_err();
    assert!(err.is_dependency_failure(), "{err}");
    let err = tool("py_echo")
        .call_json(json!({"text": "anyone?"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, itops_core::Error::CircuitOpen { .. }) || err.is_dependency_failure(),
        "{err}"
    );
    let err = tool("py_echo")
        .call_json(json!({"text": "anyone?"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, itops_core::Error::CircuitOpen { .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_uses_a_python_sdk_server_over_http_and_from_a_config_file() {
    let Some(python) = python() else { return };
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut command = tokio::process::Command::new(&python);
    command
        .arg(root().join("itops-mcp/tests/python/echo_server.py"))
        .args(["--http", &port.to_string()]);
    let _server = spawn_listening(command, addr).await;

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("mcp.json");
    let config = json!({"mcpServers": {
        "remote": {"type": "http", "url": format!("http://{addr}/mcp"), "toolPrefix": "remote_"},
        "local": {"command": python.display().to_string(),
                  "args": [root().join("itops-mcp/tests/python/echo_server.py").display().to_string()]},
        "off": {"command": "/nonexistent", "disabled": true}
    }});
    std::fs::write(&config_path, config.to_string()).unwrap();
    let toolbox = itops_mcp::McpServersConfig::load(&config_path)
        .unwrap()
        .connect_all(&ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(toolbox.clients().len(), 2);
    let tools = toolbox.tools();
    let remote_add = tools
        .iter()
        .find(|t| t.spec().name == "remote_add")
        .unwrap();
    let local_add = tools.iter().find(|t| t.spec().name == "add").unwrap();
    assert_eq!(
        remote_add
            .call_json(json!({"a": 20, "b": 22}))
            .await
            .unwrap(),
        json!({"sum": 42})
    );
    assert_eq!(
        local_add.call_json(json!({"a": 1, "b": 1})).await.unwrap(),
        json!({"sum": 2})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdio_server_that_fails_to_start_is_a_clear_connect_error() {
    let Some(python) = python() else { return };
    let target = ServerTarget::stdio(
        python.display().to_string(),
        [
            "-c",
            "import sys; sys.stderr.write('config file missing: /etc/x.toml\\n'); sys.exit(2)",
        ],
    );
    let err = McpClient::connect("broken", &target, ClientOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not connect to MCP server 'broken'"),
        "{err}"
    );
    assert!(err.contains("config file missing: /etc/x.toml"), "{err}");
}

// ---- The product servers: `itops mcp monitoring` and `itops mcp incident` ----------------

fn monitoring_args(transport: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["mcp", "monitoring", "--simulate", "cascade_failure"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(transport.iter().map(|s| s.to_string()));
    args
}

/// Valid calls of every monitoring tool, then invalid ones (wrong types, unknown names,
/// bad and out-of-order times).
fn monitoring_cases() -> (Value, usize) {
    let valid = json!([
        {"tool": "rank_anomalies", "arguments": {}},
        {"tool": "list_services", "arguments": {}},
        {"tool": "query_metrics", "arguments": {"service": "checkout"}},
        {"tool": "search_logs", "arguments": {"service": "checkout", "min_level": "error", "limit": 5}},
        {"tool": "get_traces", "arguments": {"errors_only": true, "limit": 3}},
        {"tool": "list_changes", "arguments": {}},
        {"tool": "list_alarms", "arguments": {}}
    ]);
    let invalid = json!([
        {"tool": "rank_anomalies", "arguments": {"max_candidates": "many"}},
        {"tool": "list_services", "arguments": {"start": "2030-01-01T00:00:00Z", "end": "2020-01-01T00:00:00Z"}},
        {"tool": "query_metrics", "arguments": {}},
        {"tool": "query_metrics", "arguments": {"service": "no-such-service"}},
        {"tool": "search_logs", "arguments": {"min_level": "loud"}},
        {"tool": "get_traces", "arguments": {"limit": -1}},
        {"tool": "list_changes", "arguments": {"start": "yesterday-ish"}},
        {"tool": "list_alarms", "arguments": {"minutes": "ten"}}
    ]);
    let mut all = valid.as_array().unwrap().clone();
    all.extend(invalid.as_array().unwrap().iter().cloned());
    all.push(json!({"tool": "drop_tables", "arguments": {}}));
    (Value::Array(all), valid.as_array().unwrap().len())
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_stdio_calls_every_monitoring_tool() {
    let (Some(python), Some(itops)) = (python(), itops_bin()) else {
        return;
    };
    let (cases, valid) = monitoring_cases();
    let mut target = vec!["--".to_string(), itops.display().to_string()];
    target.extend(monitoring_args(&[]));
    let report = python_client(&python, &target, &cases).await;
    assert_eq!(report["server"]["name"], "itops-monitoring");
    let names: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rank_anomalies",
            "list_services",
            "query_metrics",
            "search_logs",
            "get_traces",
            "list_changes",
            "list_alarms"
        ]
    );
    let results = report["results"].as_array().unwrap();
    for (i, outcome) in results.iter().enumerate() {
        if i < valid {
            assert_eq!(outcome["result"]["isError"], false, "{outcome}");
            assert!(
                outcome["result"]["structuredContent"].is_object(),
                "{outcome}"
            );
        } else if i < results.len() - 1 {
            assert_eq!(outcome["result"]["isError"], true, "{outcome}");
            assert!(!result_text(outcome).is_empty(), "{outcome}");
        }
    }
    assert!(
        result_text(&results[valid + 1]).contains("start"),
        "{}",
        results[valid + 1]
    );
    assert!(result_text(&results[valid + 3]).contains("unknown service 'no-such-service'"));
    let unknown = results.last().unwrap();
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert_eq!(report["ping_after"], true);
}

async fn start_itops_http(itops: &std::path::Path, args: Vec<String>) -> (Spawned, String) {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut command = tokio::process::Command::new(itops);
    command.args(&args).args([
        "--transport",
        "http",
        "--no-auth",
        "--listen",
        &addr.to_string(),
    ]);
    (
        spawn_listening(command, addr).await,
        format!("http://{addr}/mcp"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_http_works_an_incident_through_the_incident_server() {
    let (Some(python), Some(itops)) = (python(), itops_bin()) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let args = vec![
        "mcp".to_string(),
        "incident".into(),
        "--data".into(),
        data.path().display().to_string(),
    ];
    let (_server, url) = start_itops_http(&itops, args).await;
    let cases = json!([
        {"tool": "create_incident", "save": "inc",
         "arguments": {"title": "Checkout errors", "severity": "high", "affected_services": ["checkout"]}},
        {"tool": "get_incident", "arguments": {"id": "${inc.id}"}},
        {"tool": "add_note", "arguments": {"id": "${inc.id}", "text": "redis CPU at 80%"}},
        {"tool": "read_timeline", "arguments": {"id": "${inc.id}"}},
        {"tool": "request_approval", "arguments": {"id": "${inc.id}", "summary": "restart redis"}},
        {"tool": "update_incident", "arguments": {"id": "${inc.id}", "severity": "critical"}},
        {"tool": "search_knowledge", "arguments": {"query": "redis saturation"}},
        {"tool": "similar_incidents", "arguments": {"id": "${inc.id}"}},
        {"tool": "list_incidents", "arguments": {}},
        {"tool": "get_incident", "arguments": {"id": "not-an-id"}},
        {"tool": "create_incident", "arguments": {"title": "x", "severity": "apocalyptic"}},
        {"tool": "add_note", "arguments": {"id": "${inc.id}"}},
        {"tool": "decide_approval", "arguments": {}}
    ]);
    let report = python_client(&python, &["--url".into(), url], &cases).await;
    assert_eq!(report["server"]["name"], "itops-incident");
    let names: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // Deciding approvals is for people, through the API or UI.
    assert!(!names.iter().any(|n| n.contains("decide")), "{names:?}");
    let r = report["results"].as_array().unwrap();
    for outcome in &r[..9] {
        assert_eq!(outcome["result"]["isError"], false, "{outcome}");
    }
    assert_eq!(r[5]["result"]["structuredContent"]["severity"], "critical");
    let timeline = r[3]["result"]["structuredContent"]["result"]
        .as_array()
        .unwrap();
    assert!(
        timeline.iter().any(|e| e["summary"] == "redis CPU at 80%"),
        "{timeline:?}"
    );
    assert!(
        timeline.iter().all(|e| e["actor"]["name"] == "mcp"),
        "{timeline:?}"
    );
    assert!(!r[6]["result"]["structuredContent"]["result"]
        .as_array()
        .unwrap()
        .is_empty());
    for outcome in &r[9..12] {
        assert_eq!(outcome["result"]["isError"], true, "{outcome}");
    }
    assert!(result_text(&r[10]).contains("unknown severity 'apocalyptic'"));
    assert_eq!(r[12]["error"]["code"], -32602);
}

#[tokio::test(flavor = "multi_thread")]
async fn inspector_lists_the_product_servers_tools_over_stdio() {
    let (Some(node), Some(itops)) = (Node::find(), itops_bin()) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let itops = itops.display().to_string();
    let data_dir = data.path().display().to_string();
    for (server_args, expected) in [
        (monitoring_args(&[]), 7),
        (
            vec!["mcp".into(), "incident".into(), "--data".into(), data_dir],
            9,
        ),
    ] {
        let mut args = vec!["--cli".to_string(), itops.clone()];
        args.extend(server_args);
        args.extend(["--method".to_string(), "tools/list".into()]);
        let (stdout, stderr, ok) = node.run(&node.inspector(), &args).await;
        assert!(ok, "inspector failed: {stderr}");
        let listed: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(
            listed["tools"].as_array().unwrap().len(),
            expected,
            "{listed}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_conformance_scenarios_pass_against_the_product_servers() {
    let (Some(node), Some(itops)) = (Node::find(), itops_bin()) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let servers = [
        monitoring_args(&[]),
        vec![
            "mcp".to_string(),
            "incident".into(),
            "--data".into(),
            data.path().display().to_string(),
        ],
    ];
    for args in servers {
        let (_server, url) = start_itops_http(&itops, args.clone()).await;
        for scenario in PROTOCOL_SCENARIOS {
            let conformance_args: Vec<String> = ["server", "--url", &url, "--scenario", scenario]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let (stdout, stderr, _) = node.run(&node.conformance(), &conformance_args).await;
            let output = format!("{stdout}\n{stderr}");
            let (passed, total, failed, _) = parse_scenario(&output)
                .unwrap_or_else(|| panic!("no result for {scenario} on {args:?}:\n{output}"));
            assert!(
                total > 0 && passed == total && failed == 0,
                "{scenario} on {args:?}:\n{output}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_analyzes_an_incident_against_a_telemetry_bundle() {
    let (Some(python), Some(itops)) = (python(), itops_bin()) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let bundle = tempfile::tempdir().unwrap();
    let written = std::process::Command::new(&itops)
        .args([
            "simulate",
            "--scenario",
            "memory_leak",
            "--seed",
            "7",
            "--out",
        ])
        .arg(bundle.path())
        .output()
        .unwrap();
    assert!(written.status.success(), "{written:?}");
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.path().join("ground_truth.json")).unwrap(),
    )
    .unwrap();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.path().join("incident.json")).unwrap(),
    )
    .unwrap();
    let args = vec![
        "mcp".to_string(),
        "incident".into(),
        "--data".into(),
        data.path().display().to_string(),
        "--telemetry".into(),
        bundle.path().display().to_string(),
    ];
    let (_server, url) = start_itops_http(&itops, args).await;
    let cases = json!([
        {"tool": "create_incident", "save": "inc",
         "arguments": {"title": report["title"], "description": report["description"],
                       "severity": report["severity"], "affected_services": report["affected_services"]}},
        {"tool": "analyze_incident", "arguments": {"id": "${inc.id}", "at": report["detected_at"]}},
        {"tool": "read_timeline", "arguments": {"id": "${inc.id}", "limit": 200}}
    ]);
    let out = python_client(&python, &["--url".into(), url], &cases).await;
    let r = out["results"].as_array().unwrap();
    assert_eq!(r[1]["result"]["isError"], false, "{}", r[1]);
    let finding = &r[1]["result"]["structuredContent"]["finding"];
    assert_eq!(
        finding["candidates"][0]["service"], truth["root_service"],
        "{finding}"
    );
    let timeline = r[2]["result"]["structuredContent"]["result"]
        .as_array()
        .unwrap();
    assert!(
        timeline.iter().any(|e| e["kind"] == "finding"),
        "{timeline:?}"
    );
    assert!(
        timeline.iter().any(|e| e["kind"] == "tool_call"),
        "{timeline:?}"
    );
}
