//! The serving layer, in process: an rmcp client and an itops MCP server joined over
//! `tokio::io::duplex`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
#![allow(deprecated)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use itops_core::telemetry::LogLevel;
use itops_core::{DynTool, Tool, ToolSpec};
use itops_mcp::rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ContentBlock, ErrorCode,
    GetPromptRequestParams, GetPromptResult, JsonObject, LoggingLevel,
    LoggingMessageNotificationParam, NumberOrString, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, Prompt, PromptMessage, ReadResourceRequestParams,
    Resource, ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam, Role,
    ServerResult, SetLevelRequestParams, SubscribeRequestParams,
};
use itops_mcp::rmcp::service::{NotificationContext, RoleClient, RunningService};
use itops_mcp::rmcp::{ClientHandler, ServiceError, ServiceExt};
use itops_mcp::{
    ContextTool, McpServer, PromptProvider, ResourceProvider, ResourceUpdates, ToolContext,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Adds two numbers.
struct Add;

/// Arguments of `add`.
#[derive(Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: i64,
    /// Second addend.
    b: i64,
}

#[derive(Serialize)]
struct Sum {
    sum: i64,
}

#[async_trait]
impl Tool for Add {
    type Args = AddArgs;
    type Output = Sum;
    fn name(&self) -> &str {
        "add"
    }
    fn description(&self) -> &str {
        "Adds two integers."
    }
    async fn call(&self, args: AddArgs) -> itops_core::Result<Sum> {
        Ok(Sum {
            sum: args.a + args.b,
        })
    }
}

/// Always fails, as a dependency would.
struct Broken;

#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

#[async_trait]
impl Tool for Broken {
    type Args = NoArgs;
    type Output = Value;
    fn name(&self) -> &str {
        "broken"
    }
    fn description(&self) -> &str {
        "Fails every time."
    }
    async fn call(&self, _: NoArgs) -> itops_core::Result<Value> {
        Err(itops_core::Error::Tool {
            tool: "broken".into(),
            message: "the metrics backend is unreachable".into(),
            retryable: true,
        })
    }
}

/// Returns a list (not an object) to check the structured-content wrapping.
struct Services;

#[async_trait]
impl Tool for Services {
    type Args = NoArgs;
    type Output = Vec<String>;
    fn name(&self) -> &str {
        "services"
    }
    fn description(&self) -> &str {
        "Lists services."
    }
    async fn call(&self, _: NoArgs) -> itops_core::Result<Vec<String>> {
        Ok(vec!["api".into(), "db".into()])
    }
}

/// Sleeps; records whether it was dropped before finishing.
struct Slow {
    millis: u64,
    finished: Arc<AtomicBool>,
    dropped_early: Arc<AtomicBool>,
}

#[derive(Deserialize, JsonSchema)]
struct SlowArgs {}

struct DropFlag(Arc<AtomicBool>, Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.1.load(Ordering::SeqCst) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Tool for Slow {
    type Args = SlowArgs;
    type Output = Value;
    fn name(&self) -> &str {
        "slow"
    }
    fn description(&self) -> &str {
        "Takes a while."
    }
    async fn call(&self, _: SlowArgs) -> itops_core::Result<Value> {
        let _flag = DropFlag(self.dropped_early.clone(), self.finished.clone());
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        self.finished.store(true, Ordering::SeqCst);
        Ok(json!({"done": true}))
    }
}

/// An MCP-aware tool: reports progress and logs.
struct Counting;

#[async_trait]
impl ContextTool for Counting {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "count".into(),
            description: "Counts to three, reporting progress.".into(),
            input_schema: itops_core::tool::input_schema_for::<NoArgs>(),
        }
    }
    async fn call(&self, _: Value, cx: ToolContext) -> itops_core::Result<CallToolResult> {
        for i in 1..=3 {
            cx.progress(i as f64, Some(3.0), Some(format!("step {i}")))
                .await;
        }
        cx.log(LogLevel::Debug, "counted").await;
        Ok(CallToolResult::success(vec![ContentBlock::text("3")]))
    }
}

#[derive(Default)]
struct Recorder {
    progress: Mutex<Vec<ProgressNotificationParam>>,
    logs: Mutex<Vec<LoggingMessageNotificationParam>>,
    updated: Mutex<Vec<String>>,
}

#[derive(Clone, Default)]
struct RecordingClient(Arc<Recorder>);

impl ClientHandler for RecordingClient {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.0.progress.lock().unwrap().push(params);
    }
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.0.logs.lock().unwrap().push(params);
    }
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.0.updated.lock().unwrap().push(params.uri);
    }
}

struct Docs {
    updates: tokio::sync::broadcast::Sender<String>,
}

#[async_trait]
impl ResourceProvider for Docs {
    async fn list(&self) -> itops_core::Result<Vec<Resource>> {
        Ok(vec![
            Resource::new("itops://runbooks/db", "db runbook").with_mime_type("text/markdown")
        ])
    }
    async fn templates(&self) -> itops_core::Result<Vec<ResourceTemplate>> {
        Ok(vec![ResourceTemplate::new(
            "itops://services/{name}",
            "service",
        )])
    }
    async fn read(&self, uri: &str) -> itops_core::Result<Option<Vec<ResourceContents>>> {
        Ok(match uri {
            "itops://runbooks/db" => Some(vec![ResourceContents::text("restart the db", uri)]),
            _ => uri
                .strip_prefix("itops://services/")
                .map(|name| vec![ResourceContents::text(format!("service {name}"), uri)]),
        })
    }
    async fn complete(
        &self,
        _: &str,
        argument: &str,
        value: &str,
    ) -> itops_core::Result<Vec<String>> {
        assert_eq!(argument, "name");
        Ok(["api", "auth", "db"]
            .iter()
            .filter(|s| s.starts_with(value))
            .map(|s| s.to_string())
            .collect())
    }
    fn updates(&self) -> Option<ResourceUpdates> {
        Some(self.updates.subscribe())
    }
}

struct Prompts;

#[async_trait]
impl PromptProvider for Prompts {
    fn list(&self) -> Vec<Prompt> {
        vec![Prompt::new("triage", Some("Triage an incident"), None)]
    }
    async fn get(
        &self,
        name: &str,
        args: JsonObject,
    ) -> itops_core::Result<Option<GetPromptResult>> {
        if name != "triage" {
            return Ok(None);
        }
        let title = args
            .get("title")
            .and_then(Value::as_str)
            .ok_or_else(|| itops_core::Error::invalid("title", "is required"))?;
        Ok(Some(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Triage: {title}"),
        )])))
    }
}

struct Fixture {
    client: RunningService<RoleClient, RecordingClient>,
    recorder: Arc<Recorder>,
    slow_finished: Arc<AtomicBool>,
    slow_dropped: Arc<AtomicBool>,
    updates: tokio::sync::broadcast::Sender<String>,
}

async fn connect(server: McpServer) -> RunningService<RoleClient, RecordingClient> {
    connect_with(server, RecordingClient::default()).await
}

async fn connect_with(
    server: McpServer,
    client: RecordingClient,
) -> RunningService<RoleClient, RecordingClient> {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let (read, write) = tokio::io::split(server_io);
        let _ = itops_mcp::serve_io(&server, read, write).await;
    });
    client.serve(client_io).await.expect("handshake")
}

async fn fixture_with(slow_millis: u64, progress: Option<Duration>) -> Fixture {
    let finished = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let (updates, _) = tokio::sync::broadcast::channel(16);
    let server = McpServer::builder("test-server", "1.2.3")
        .instructions("Use add to add.")
        .tool(Arc::new(Add))
        .tool(Arc::new(Broken))
        .tool(Arc::new(Services))
        .tool(Arc::new(Slow {
            millis: slow_millis,
            finished: finished.clone(),
            dropped_early: dropped.clone(),
        }))
        .context_tool(Arc::new(Counting))
        .resources(Arc::new(Docs {
            updates: updates.clone(),
        }))
        .prompts(Arc::new(Prompts))
        .progress_interval(progress)
        .max_argument_bytes(4096)
        .build()
        .unwrap();
    let recording = RecordingClient::default();
    let recorder = recording.0.clone();
    Fixture {
        client: connect_with(server, recording).await,
        recorder,
        slow_finished: finished,
        slow_dropped: dropped,
        updates,
    }
}

async fn fixture() -> Fixture {
    fixture_with(10, None).await
}

fn args(value: Value) -> JsonObject {
    value.as_object().cloned().unwrap()
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_string()).with_arguments(args(arguments))
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mcp_error(err: ServiceError) -> itops_mcp::rmcp::model::ErrorData {
    match err {
        ServiceError::McpError(e) => e,
        other => panic!("expected an MCP error, got {other}"),
    }
}

#[tokio::test]
async fn initialize_reports_name_version_instructions_and_capabilities() {
    let f = fixture().await;
    let info = f.client.peer_info().unwrap();
    let implementation = info.server_info.clone().unwrap();
    assert_eq!(implementation.name, "test-server");
    assert_eq!(implementation.version, "1.2.3");
    assert_eq!(info.instructions.as_deref(), Some("Use add to add."));
    let caps = &info.capabilities;
    assert!(caps.tools.is_some() && caps.logging.is_some() && caps.prompts.is_some());
    assert_eq!(caps.resources.as_ref().unwrap().subscribe, Some(true));
    assert!(caps.completions.is_some());
    assert_eq!(info.protocol_version.as_str(), "2025-11-25");
}

#[tokio::test]
async fn tools_are_listed_with_the_core_schemas() {
    let f = fixture().await;
    let listed = f.client.list_all_tools().await.unwrap();
    let names: Vec<_> = listed.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["add", "broken", "services", "slow", "count"]);
    let add = &listed[0];
    assert_eq!(add.description.as_deref(), Some("Adds two integers."));
    let expected = Add.spec().input_schema;
    assert_eq!(Value::Object((*add.input_schema).clone()), expected);
    assert_eq!(
        add.input_schema["properties"]["a"]["description"],
        json!("First addend.")
    );
}

#[tokio::test]
async fn long_tool_lists_are_paginated() {
    let mut builder = McpServer::builder("many", "0").page_size(2);
    for _ in 0..5 {
        builder = builder.tool(Arc::new(NamedNoop::new()));
    }
    let client = connect(builder.build().unwrap()).await;
    let first = client.list_tools(None).await.unwrap();
    assert_eq!(first.tools.len(), 2);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = client
        .list_tools(Some(
            PaginatedRequestParams::default().with_cursor(Some(cursor)),
        ))
        .await
        .unwrap();
    assert_eq!(second.tools.len(), 2);
    assert_ne!(first.tools[0].name, second.tools[0].name);
    assert_eq!(client.list_all_tools().await.unwrap().len(), 5);
    let bad = client
        .list_tools(Some(
            PaginatedRequestParams::default().with_cursor(Some("nonsense".into())),
        ))
        .await
        .unwrap_err();
    assert_eq!(mcp_error(bad).code, ErrorCode::INVALID_PARAMS);
}

static NEXT_NOOP: AtomicUsize = AtomicUsize::new(0);

struct NamedNoop(String);
impl NamedNoop {
    fn new() -> Self {
        Self(format!("noop_{}", NEXT_NOOP.fetch_add(1, Ordering::SeqCst)))
    }
}

#[async_trait]
impl DynTool for NamedNoop {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.0.clone(),
            description: "Does nothing.".into(),
            input_schema: json!({"type": "object", "properties": {}}),
        }
    }
    async fn call_json(&self, _: Value) -> itops_core::Result<Value> {
        Ok(Value::Null)
    }
}

#[tokio::test]
async fn a_call_returns_structured_content_and_text() {
    let f = fixture().await;
    let result = f
        .client
        .call_tool(call("add", json!({"a": 2, "b": 40})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(result.structured_content, Some(json!({"sum": 42})));
    let text: Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_eq!(text, json!({"sum": 42}));
}

#[tokio::test]
async fn non_object_outputs_are_wrapped_as_structured_content() {
    let f = fixture().await;
    let result = f
        .client
        .call_tool(call("services", json!({})))
        .await
        .unwrap();
    assert_eq!(
        result.structured_content,
        Some(json!({"result": ["api", "db"]}))
    );
    assert_eq!(text_of(&result), r#"["api","db"]"#);
}

#[tokio::test]
async fn tool_failures_are_error_results_and_the_server_keeps_serving() {
    let f = fixture().await;
    let result = f.client.call_tool(call("broken", json!({}))).await.unwrap();
    assert_eq!(result.is_error, Some(true));
    assert!(text_of(&result).contains("the metrics backend is unreachable"));
    assert_eq!(result.structured_content.unwrap()["retryable"], json!(true));
    let ok = f
        .client
        .call_tool(call("add", json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    assert_eq!(ok.structured_content, Some(json!({"sum": 2})));
}

#[tokio::test]
async fn wrong_argument_types_are_error_results_naming_the_problem() {
    let f = fixture().await;
    let result = f
        .client
        .call_tool(call("add", json!({"a": "two", "b": 1})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let text = text_of(&result);
    assert!(text.contains("invalid arguments"), "{text}");
    assert!(text.contains("invalid type"), "{text}");
    let missing = f
        .client
        .call_tool(call("add", json!({"a": 1})))
        .await
        .unwrap();
    assert!(text_of(&missing).contains("missing field `b`"));
}

#[tokio::test]
async fn unknown_tools_are_invalid_params_errors() {
    let f = fixture().await;
    let err = f
        .client
        .call_tool(call("no_such_tool", json!({})))
        .await
        .unwrap_err();
    let err = mcp_error(err);
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert!(
        err.message.contains("unknown tool 'no_such_tool'"),
        "{}",
        err.message
    );
    // Still serving.
    assert!(f
        .client
        .call_tool(call("add", json!({"a": 1, "b": 2})))
        .await
        .is_ok());
}

#[tokio::test]
async fn oversized_arguments_are_refused_with_the_sizes() {
    let f = fixture().await;
    let big = "x".repeat(5000);
    let err = f
        .client
        .call_tool(call("add", json!({"a": 1, "b": 2, "pad": big})))
        .await
        .unwrap_err();
    let err = mcp_error(err);
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert!(
        err.message.contains("at most 4096 bytes"),
        "{}",
        err.message
    );
    assert!(f
        .client
        .call_tool(call("add", json!({"a": 1, "b": 2})))
        .await
        .is_ok());
}

fn with_progress(mut params: CallToolRequestParams, token: &str) -> CallToolRequestParams {
    use itops_mcp::rmcp::model::RequestParamsMeta;
    params.set_progress_token(ProgressToken(NumberOrString::String(token.into())));
    params
}

#[tokio::test]
async fn core_tools_send_a_progress_heartbeat_when_asked() {
    let f = fixture_with(350, Some(Duration::from_millis(100))).await;
    let result = f
        .client
        .call_tool(with_progress(call("slow", json!({})), "hb"))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"done": true})));
    let progress = f.recorder.progress.lock().unwrap().clone();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "{progress:?}"
    );
    assert!(progress[0]
        .message
        .as_deref()
        .unwrap()
        .contains("slow still running"));
}

#[tokio::test]
async fn context_tools_report_their_own_progress_and_logs() {
    let f = fixture().await;
    f.client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .unwrap();
    let result = f
        .client
        .call_tool(with_progress(call("count", json!({})), "c"))
        .await
        .unwrap();
    assert_eq!(text_of(&result), "3");
    let progress: Vec<f64> = f
        .recorder
        .progress
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.progress)
        .collect();
    assert_eq!(progress, [1.0, 2.0, 3.0]);
    // Notifications may trail the response slightly.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let logs = f.recorder.logs.lock().unwrap().clone();
    assert!(logs.iter().any(|l| l.data == json!("counted")), "{logs:?}");
}

#[tokio::test]
async fn tool_failures_are_logged_to_clients_that_listen() {
    let f = fixture().await;
    f.client.call_tool(call("broken", json!({}))).await.unwrap();
    f.client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Error))
        .await
        .unwrap();
    f.client.call_tool(call("broken", json!({}))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let logs = f.recorder.logs.lock().unwrap().clone();
    // Warning passes the default (info) filter once, not the error filter set after.
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].level, LoggingLevel::Warning);
    assert_eq!(logs[0].logger.as_deref(), Some("broken"));
}

#[tokio::test]
async fn cancelled_calls_stop_the_tool() {
    let f = fixture_with(10_000, None).await;
    let client = f.client.peer().clone();
    let pending = tokio::spawn(async move { client.call_tool(call("slow", json!({}))).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Dropping the request future sends notifications/cancelled.
    pending.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !f.slow_dropped.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tool kept running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!f.slow_finished.load(Ordering::SeqCst));
    assert!(f
        .client
        .call_tool(call("add", json!({"a": 1, "b": 2})))
        .await
        .is_ok());
}

#[tokio::test]
async fn resources_are_listed_read_completed_and_watched() {
    let f = fixture().await;
    let listed = f.client.list_all_resources().await.unwrap();
    assert_eq!(listed[0].uri, "itops://runbooks/db");
    let templates = f.client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "itops://services/{name}");
    let read = f
        .client
        .read_resource(ReadResourceRequestParams::new("itops://services/api"))
        .await
        .unwrap();
    match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => assert_eq!(text, "service api"),
        other => panic!("{other:?}"),
    }
    let missing = f
        .client
        .read_resource(ReadResourceRequestParams::new("itops://nothing"))
        .await
        .unwrap_err();
    assert_eq!(mcp_error(missing).code, ErrorCode::RESOURCE_NOT_FOUND);
    let completion = f
        .client
        .complete_resource_simple("itops://services/{name}", "name", "a")
        .await
        .unwrap();
    assert_eq!(completion, ["api", "auth"]);

    f.client
        .subscribe(SubscribeRequestParams::new("itops://runbooks/db"))
        .await
        .unwrap();
    f.updates.send("itops://other".into()).unwrap();
    f.updates.send("itops://runbooks/db".into()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while f.recorder.updated.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no update arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*f.recorder.updated.lock().unwrap(), ["itops://runbooks/db"]);
}

#[tokio::test]
async fn prompts_are_listed_filled_and_checked() {
    let f = fixture().await;
    let prompts = f.client.list_all_prompts().await.unwrap();
    assert_eq!(prompts[0].name, "triage");
    let got = f
        .client
        .get_prompt(
            GetPromptRequestParams::new("triage").with_arguments(args(json!({"title": "db down"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&got.messages[0]).unwrap()["content"]["text"],
        "Triage: db down"
    );
    let missing_arg = f
        .client
        .get_prompt(GetPromptRequestParams::new("triage"))
        .await
        .unwrap_err();
    let err = mcp_error(missing_arg);
    assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    assert!(err.message.contains("title"), "{}", err.message);
    let unknown = f
        .client
        .get_prompt(GetPromptRequestParams::new("nope"))
        .await
        .unwrap_err();
    assert_eq!(mcp_error(unknown).code, ErrorCode::INVALID_PARAMS);
}

#[tokio::test]
async fn servers_without_resources_or_prompts_say_so() {
    let client = connect(
        McpServer::builder("bare", "0")
            .tool(Arc::new(Add))
            .build()
            .unwrap(),
    )
    .await;
    let info = client.peer_info().unwrap();
    assert!(info.capabilities.resources.is_none() && info.capabilities.prompts.is_none());
    let raw = client
        .send_request(ClientRequest::ListResourcesRequest(Default::default()))
        .await;
    assert!(matches!(raw, Ok(ServerResult::ListResourcesResult(r)) if r.resources.is_empty()));
}

#[test]
fn invalid_and_duplicate_tool_names_are_refused_at_build() {
    let err = McpServer::builder("s", "0")
        .tool(Arc::new(Add))
        .tool(Arc::new(Add))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("two tools are named 'add'"),
        "{err}"
    );

    struct BadName;
    #[async_trait]
    impl DynTool for BadName {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "has space".into(),
                description: String::new(),
                input_schema: json!({"type": "object"}),
            }
        }
        async fn call_json(&self, _: Value) -> itops_core::Result<Value> {
            Ok(Value::Null)
        }
    }
    let err = McpServer::builder("s", "0")
        .tool(Arc::new(BadName))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("'has space' is not valid"),
        "{err}"
    );
}

#[test]
fn schemas_without_a_top_level_type_are_served_as_objects() {
    /// Either a service or a trace.
    #[derive(Deserialize, JsonSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Target {
        Service { service: String },
        Trace { trace_id: String },
    }
    struct Lookup;
    #[async_trait]
    impl Tool for Lookup {
        type Args = Target;
        type Output = Value;
        fn name(&self) -> &str {
            "lookup"
        }
        fn description(&self) -> &str {
            "Looks up a service or a trace."
        }
        async fn call(&self, _: Target) -> itops_core::Result<Value> {
            Ok(Value::Null)
        }
    }
    assert!(Lookup.spec().input_schema.get("type").is_none());
    let server = McpServer::builder("s", "0")
        .tool(Arc::new(Lookup))
        .build()
        .unwrap();
    assert_eq!(server.tool_names(), ["lookup"]);
}
