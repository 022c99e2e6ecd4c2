//! Runs the examples and checks what they report: each offline example end to end, the
//! MCP server example through a real MCP client, and the Bedrock example without an AWS
//! account (it must say what is missing). `cargo test` builds the examples before it runs
//! the tests, so these run the binaries it built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::{Command, Output};

use itops_mcp::{ClientOptions, McpClient, ServerTarget};
use serde_json::json;

/// The built example `name` (target/<profile>/examples/name).
fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<test binary> → target/<profile>/examples/<name>
    let test = std::env::current_exe().expect("the test binary's path");
    let profile = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target directory");
    let path = profile.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test -p itops-examples` builds the examples (or `cargo build -p itops-examples --examples`)",
        path.display()
    );
    path
}

/// Runs an example to completion; returns its output after checking it succeeded.
fn run(name: &str, args: &[&str]) -> String {
    let output: Output = Command::new(example(name))
        .args(args)
        .output()
        .expect("the example starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn custom_tool_shows_schema_errors_and_a_corrected_run() {
    let out = run("custom_tool", &[]);
    assert!(out.contains("\"window_minutes\""), "{out}");
    assert!(out.contains("unknown service 'paymnts'"), "{out}");
    assert!(out.contains("stopped: Completed"), "{out}");
}

#[test]
fn custom_agent_blames_the_simulated_deploy() {
    let out = run("custom_agent", &[]);
    assert!(out.contains("\"blamed_service\""), "{out}");
    assert!(out.contains("simulated bad deploy:"), "{out}");
    // In the workflow's root-cause role: its steps and its finding are on the timeline.
    assert!(
        out.contains("agent:deploy_blame  tool_call       recent_deploys"),
        "{out}"
    );
    assert!(out.contains("agent:deploy_blame  finding"), "{out}");
    assert!(out.contains("root cause in the workflow: Some("), "{out}");
}

#[test]
fn custom_store_passes_the_conformance_suite() {
    let out = run("custom_store", &[]);
    assert!(out.contains("StateStore conformance:"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
fn mcp_client_investigates_with_remote_tools() {
    let out = run("mcp_client", &[]);
    assert!(out.contains("connected to sim-monitoring"), "{out}");
    assert!(out.contains("over MCP"), "{out}");
}

#[test]
fn local_quickstart_resolves_the_incident() {
    let out = run("local_quickstart", &[]);
    assert!(out.contains("status:     resolved"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_server_serves_its_tool_to_an_mcp_client() {
    let server = example("mcp_server");
    let target = ServerTarget::stdio(server.to_string_lossy(), Vec::<String>::new());
    let client = McpClient::connect("error-budget", &target, ClientOptions::default())
        .await
        .expect("the example server answers the MCP handshake");
    let tools = client.list_tools().await.expect("tools/list");
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].name, "error_budget");
    let answer = client
        .call_tool(
            "error_budget",
            json!({"errors": 50, "requests": 100_000, "slo": 0.999}),
        )
        .await
        .expect("tools/call");
    assert_eq!(answer["within_budget"], json!(true));
    client.close().await.expect("the session closes");
}

#[test]
fn bedrock_without_an_aws_account_says_what_is_missing() {
    let output = Command::new(example("bedrock"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_CONFIG_FILE", "/nonexistent/itops/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/itops/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("the example starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs an AWS account"), "{stderr}");
    assert!(stderr.contains("AWS_REGION"), "{stderr}");
}
