//! Test fixture, not a user example: the server the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`, server mode) runs against, built on the itops-mcp
//! serving layer: the tools, resources and prompts the suite's scenarios call, served over
//! streamable HTTP at `/mcp`. `cargo test -p itops-mcp` builds it, and the `real_clients`
//! tests run it.
//!
//! ```text
//! cargo run -p itops-mcp --example conformance_fixture_server -- --listen 127.0.0.1:3001
//! npx @modelcontextprotocol/conformance server --url http://127.0.0.1:3001/mcp --suite all
//! ```
//!
//! `--stdio` serves the same fixtures on stdin/stdout instead.

// Sampling and logging are deprecated in the newest protocol draft, but are what the
// 2025-11-25 revision (the one the suite checks) defines.
#![allow(deprecated)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::telemetry::LogLevel;
use itops_core::{DynTool, Tool, ToolSpec};
use itops_mcp::rmcp::model::{
    CallToolResult, ContentBlock, CreateMessageRequestParams, ElicitRequestParams,
    ElicitationSchema, GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage,
    Resource, ResourceContents, ResourceTemplate, Role, SamplingMessage,
};
use itops_mcp::{
    serve_http, ContextTool, HttpOptions, McpServer, PromptProvider, ResourceProvider,
    ResourceUpdates, ToolContext,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// A 2x2 PNG.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR42mN4VqcERAwQCgAtxgYZ9CrwVgAAAABJRU5ErkJggg==";
/// 2 ms of 8 kHz mono silence.
const WAV_BASE64: &str =
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YRAAAACAgICAgICAgICAgICAgICA";

/// No arguments.
#[derive(Deserialize, JsonSchema)]
struct NoArgs {}

fn no_args_spec(name: &str, description: &str) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: itops_core::tool::input_schema_for::<NoArgs>(),
    }
}

fn tool_error(tool: &str, message: impl Into<String>) -> itops_core::Error {
    itops_core::Error::Tool {
        tool: tool.into(),
        message: message.into(),
        retryable: false,
    }
}

/// Tools whose result is fixed content (text, image, audio, embedded resources).
struct FixedContent {
    name: &'static str,
    description: &'static str,
    content: fn() -> Vec<ContentBlock>,
}

#[async_trait]
impl ContextTool for FixedContent {
    fn spec(&self) -> ToolSpec {
        no_args_spec(self.name, self.description)
    }
    async fn call(&self, _: Value, _: ToolContext) -> itops_core::Result<CallToolResult> {
        Ok(CallToolResult::success((self.content)()))
    }
}

fn fixed_content_tools() -> Vec<FixedContent> {
    vec![
        FixedContent {
            name: "test_simple_text",
            description: "Returns a simple text response.",
            content: || {
                vec![ContentBlock::text(
                    "This is a simple text response for testing.",
                )]
            },
        },
        FixedContent {
            name: "test_image_content",
            description: "Returns a PNG image.",
            content: || vec![ContentBlock::image(PNG_BASE64, "image/png")],
        },
        FixedContent {
            name: "test_audio_content",
            description: "Returns a WAV clip.",
            content: || vec![ContentBlock::audio(WAV_BASE64, "audio/wav")],
        },
        FixedContent {
            name: "test_embedded_resource",
            description: "Returns an embedded text resource.",
            content: || {
                vec![ContentBlock::resource(
                    ResourceContents::text(
                        "This is an embedded resource content.",
                        "test://embedded-resource",
                    )
                    .with_mime_type("text/plain"),
                )]
            },
        },
        FixedContent {
            name: "test_multiple_content_types",
            description: "Returns text, an image and an embedded resource.",
            content: || {
                vec![
                    ContentBlock::text("Multiple content types test:"),
                    ContentBlock::image(PNG_BASE64, "image/png"),
                    ContentBlock::resource(
                        ResourceContents::text(
                            r#"{"test":"data","value":123}"#,
                            "test://mixed-content-resource",
                        )
                        .with_mime_type("application/json"),
                    ),
                ]
            },
        },
    ]
}

/// A plain core tool that always fails: its error becomes an `isError` result.
struct AlwaysFails;

#[async_trait]
impl Tool for AlwaysFails {
    type Args = NoArgs;
    type Output = Value;
    fn name(&self) -> &str {
        "test_error_handling"
    }
    fn description(&self) -> &str {
        "Always fails, to show how tool errors reach the client."
    }
    async fn call(&self, _: NoArgs) -> itops_core::Result<Value> {
        Err(tool_error(
            "test_error_handling",
            "This tool intentionally returns an error for testing",
        ))
    }
}

/// Sends three info log messages, 50 ms apart.
struct WithLogging;

#[async_trait]
impl ContextTool for WithLogging {
    fn spec(&self) -> ToolSpec {
        no_args_spec("test_tool_with_logging", "Logs while it runs.")
    }
    async fn call(&self, _: Value, cx: ToolContext) -> itops_core::Result<CallToolResult> {
        cx.log(LogLevel::Info, "Tool execution started").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        cx.log(LogLevel::Info, "Tool processing data").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        cx.log(LogLevel::Info, "Tool execution completed").await;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            "Logging test completed",
        )]))
    }
}

/// Reports progress 0, 50 and 100 of 100.
struct WithProgress;

#[async_trait]
impl ContextTool for WithProgress {
    fn spec(&self) -> ToolSpec {
        no_args_spec("test_tool_with_progress", "Reports progress while it runs.")
    }
    async fn call(&self, _: Value, cx: ToolContext) -> itops_core::Result<CallToolResult> {
        for (done, message) in [(0.0, "starting"), (50.0, "halfway"), (100.0, "done")] {
            cx.progress(done, Some(100.0), Some(message.into())).await;
            if done < 100.0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(
            "Progress test completed",
        )]))
    }
}

/// Arguments of `test_sampling`.
#[derive(Deserialize, JsonSchema)]
struct SamplingArgs {
    /// The prompt to send to the client's model.
    prompt: String,
}

/// Asks the client's model to complete a prompt.
struct Sampling;

#[async_trait]
impl ContextTool for Sampling {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "test_sampling".into(),
            description: "Asks the client's model to answer a prompt (sampling).".into(),
            input_schema: itops_core::tool::input_schema_for::<SamplingArgs>(),
        }
    }
    async fn call(&self, args: Value, cx: ToolContext) -> itops_core::Result<CallToolResult> {
        let args: SamplingArgs = parse_args("test_sampling", args)?;
        let supported = cx
            .peer()
            .peer_info()
            .is_some_and(|info| info.capabilities.sampling.is_some());
        if !supported {
            return Err(tool_error(
                "test_sampling",
                "the client does not offer sampling",
            ));
        }
        let request =
            CreateMessageRequestParams::new(vec![SamplingMessage::user_text(args.prompt)], 100);
        let answer = cx
            .peer()
            .create_message(request)
            .await
            .map_err(|e| tool_error("test_sampling", format!("sampling failed: {e}")))?;
        let text = answer
            .message
            .content
            .first()
            .and_then(|block| block.as_text())
            .map(|t| t.text.clone())
            .unwrap_or_default();
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "LLM response: {text}"
        ))]))
    }
}

/// Arguments of `test_elicitation`.
#[derive(Deserialize, JsonSchema)]
struct ElicitationArgs {
    /// The message shown to the user.
    message: String,
}

/// Asks the user for input through the client (elicitation), with a fixed schema.
struct Elicitation {
    name: &'static str,
    description: &'static str,
    message: Option<&'static str>,
    schema: fn() -> Value,
}

#[async_trait]
impl ContextTool for Elicitation {
    fn spec(&self) -> ToolSpec {
        if self.message.is_some() {
            no_args_spec(self.name, self.description)
        } else {
            ToolSpec {
                name: self.name.into(),
                description: self.description.into(),
                input_schema: itops_core::tool::input_schema_for::<ElicitationArgs>(),
            }
        }
    }
    async fn call(&self, args: Value, cx: ToolContext) -> itops_core::Result<CallToolResult> {
        let message = match self.message {
            Some(message) => message.to_string(),
            None => parse_args::<ElicitationArgs>(self.name, args)?.message,
        };
        let supported = cx
            .peer()
            .peer_info()
            .is_some_and(|info| info.capabilities.elicitation.is_some());
        if !supported {
            return Err(tool_error(
                self.name,
                "the client does not offer elicitation",
            ));
        }
        let schema: ElicitationSchema = serde_json::from_value((self.schema)())
            .map_err(|e| tool_error(self.name, format!("bad elicitation schema: {e}")))?;
        let request = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message,
            requested_schema: schema,
        };
        let answer = cx
            .peer()
            .create_elicitation(request)
            .await
            .map_err(|e| tool_error(self.name, format!("elicitation failed: {e}")))?;
        let action = serde_json::to_value(&answer.action).unwrap_or(Value::Null);
        let content = answer.content.unwrap_or(Value::Null);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "Elicitation completed: action={}, content={content}",
            action.as_str().unwrap_or("unknown")
        ))]))
    }
}

fn elicitation_tools() -> Vec<Elicitation> {
    vec![
        Elicitation {
            name: "test_elicitation",
            description: "Asks the user for a username and an email.",
            message: None,
            schema: || {
                json!({
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}
                    },
                    "required": ["username", "email"]
                })
            },
        },
        Elicitation {
            name: "test_elicitation_sep1034_defaults",
            description: "Asks for values that all have defaults (SEP-1034).",
            message: Some("Please confirm or change these values"),
            schema: || {
                json!({
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "default": "John Doe"},
                        "age": {"type": "integer", "default": 30},
                        "score": {"type": "number", "default": 95.5},
                        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "default": true}
                    }
                })
            },
        },
        Elicitation {
            name: "test_elicitation_sep1330_enums",
            description: "Asks for choices in every enum form (SEP-1330).",
            message: Some("Please choose"),
            schema: || {
                json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "oneOf": [
                            {"const": "value1", "title": "First Option"},
                            {"const": "value2", "title": "Second Option"},
                            {"const": "value3", "title": "Third Option"}
                        ]},
                        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                                       "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}
                        ]}}
                    }
                })
            },
        },
    ]
}

/// A street address.
#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "address")]
#[allow(dead_code)]
struct Address {
    street: Option<String>,
    city: Option<String>,
}

/// Arguments of `json_schema_2020_12_tool`: the derived schema keeps `$schema`, `$defs`
/// and `additionalProperties: false`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SchemaArgs {
    name: Option<String>,
    address: Option<Address>,
}

/// A core tool whose full JSON Schema 2020-12 document is served as is.
struct SchemaTool;

#[async_trait]
impl DynTool for SchemaTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "json_schema_2020_12_tool".into(),
            description: "Tool with JSON Schema 2020-12 features.".into(),
            input_schema: schemars::schema_for!(SchemaArgs).to_value(),
        }
    }
    async fn call_json(&self, input: Value) -> itops_core::Result<Value> {
        let args: SchemaArgs = parse_args("json_schema_2020_12_tool", input)?;
        let city = args.address.and_then(|a| a.city);
        Ok(
            json!({ "greeting": format!("Hello, {}", args.name.as_deref().unwrap_or("world")), "city": city }),
        )
    }
}

/// Takes a moment, so a client can watch its SSE stream and reconnect.
struct Reconnection;

#[async_trait]
impl ContextTool for Reconnection {
    fn spec(&self) -> ToolSpec {
        no_args_spec("test_reconnection", "Takes a moment before answering.")
    }
    async fn call(&self, _: Value, _: ToolContext) -> itops_core::Result<CallToolResult> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            "Reconnection test completed",
        )]))
    }
}

fn parse_args<T: serde::de::DeserializeOwned>(tool: &str, args: Value) -> itops_core::Result<T> {
    serde_json::from_value(args).map_err(|e| tool_error(tool, format!("invalid arguments: {e}")))
}

/// The suite's resources: two static ones, a watched one, and a template.
struct FixtureResources {
    updates: tokio::sync::broadcast::Sender<String>,
}

#[async_trait]
impl ResourceProvider for FixtureResources {
    async fn list(&self) -> itops_core::Result<Vec<Resource>> {
        Ok(vec![
            Resource::new("test://static-text", "Static text")
                .with_description("A fixed text resource")
                .with_mime_type("text/plain"),
            Resource::new("test://static-binary", "Static binary")
                .with_description("A fixed PNG image")
                .with_mime_type("image/png"),
            Resource::new("test://watched-resource", "Watched")
                .with_description("A resource clients may subscribe to")
                .with_mime_type("text/plain"),
        ])
    }

    async fn templates(&self) -> itops_core::Result<Vec<ResourceTemplate>> {
        Ok(vec![ResourceTemplate::new(
            "test://template/{id}/data",
            "Data by id",
        )
        .with_description("JSON data for an id")
        .with_mime_type("application/json")])
    }

    async fn read(&self, uri: &str) -> itops_core::Result<Option<Vec<ResourceContents>>> {
        let contents = match uri {
            "test://static-text" => {
                ResourceContents::text("This is the content of the static text resource.", uri)
                    .with_mime_type("text/plain")
            }
            "test://static-binary" => {
                ResourceContents::blob(PNG_BASE64, uri).with_mime_type("image/png")
            }
            "test://watched-resource" => ResourceContents::text("Watched resource content.", uri)
                .with_mime_type("text/plain"),
            _ => {
                let Some(id) = uri
                    .strip_prefix("test://template/")
                    .and_then(|rest| rest.strip_suffix("/data"))
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                else {
                    return Ok(None);
                };
                let data =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                ResourceContents::text(data.to_string(), uri).with_mime_type("application/json")
            }
        };
        Ok(Some(vec![contents]))
    }

    async fn complete(
        &self,
        _: &str,
        argument: &str,
        value: &str,
    ) -> itops_core::Result<Vec<String>> {
        Ok(match argument {
            "id" => ["1", "2", "3", "123"]
                .iter()
                .filter(|id| id.starts_with(value))
                .map(|id| id.to_string())
                .collect(),
            _ => Vec::new(),
        })
    }

    fn updates(&self) -> Option<ResourceUpdates> {
        Some(self.updates.subscribe())
    }
}

/// The suite's prompts.
struct FixturePrompts;

fn required_arg(args: &JsonObject, name: &str) -> itops_core::Result<String> {
    args.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| itops_core::Error::invalid(name, "is required (a string)"))
}

#[async_trait]
impl PromptProvider for FixturePrompts {
    fn list(&self) -> Vec<Prompt> {
        let arg = |name: &str, description: &str| {
            PromptArgument::new(name)
                .with_description(description)
                .with_required(true)
        };
        vec![
            Prompt::new(
                "test_simple_prompt",
                Some("A prompt without arguments"),
                None,
            ),
            Prompt::new(
                "test_prompt_with_arguments",
                Some("A prompt with two arguments"),
                Some(vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ]),
            ),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                Some("A prompt that embeds a resource"),
                Some(vec![arg("resourceUri", "URI of the resource to embed")]),
            ),
            Prompt::new(
                "test_prompt_with_image",
                Some("A prompt with an image"),
                None,
            ),
        ]
    }

    async fn get(
        &self,
        name: &str,
        args: JsonObject,
    ) -> itops_core::Result<Option<GetPromptResult>> {
        let messages = match name {
            "test_simple_prompt" => vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )],
            "test_prompt_with_arguments" => {
                let arg1 = required_arg(&args, "arg1")?;
                let arg2 = required_arg(&args, "arg2")?;
                vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
                )]
            }
            "test_prompt_with_embedded_resource" => {
                let uri = required_arg(&args, "resourceUri")?;
                vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::resource(
                            ResourceContents::text("Embedded resource content for testing.", uri)
                                .with_mime_type("text/plain"),
                        ),
                    ),
                    PromptMessage::new_text(
                        Role::User,
                        "Please process the embedded resource above.",
                    ),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::new(Role::User, ContentBlock::image(PNG_BASE64, "image/png")),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ],
            _ => return Ok(None),
        };
        Ok(Some(GetPromptResult::new(messages)))
    }

    async fn complete(
        &self,
        prompt: &str,
        argument: &str,
        value: &str,
    ) -> itops_core::Result<Vec<String>> {
        let candidates: &[&str] = match (prompt, argument) {
            ("test_prompt_with_arguments", _) => &["paris", "park", "party", "test", "testing"],
            _ => &[],
        };
        Ok(candidates
            .iter()
            .filter(|c| c.starts_with(value))
            .map(|c| c.to_string())
            .collect())
    }
}

/// Where to serve: HTTP on an address, or stdio.
enum Transport {
    Http(SocketAddr),
    Stdio,
}

fn transport() -> Result<Transport, String> {
    let mut args = std::env::args().skip(1);
    let mut transport = Transport::Http(SocketAddr::from(([127, 0, 0, 1], 3001)));
    while let Some(arg) = args.next() {
        transport = match arg.as_str() {
            "--listen" => {
                let listen = args.next().ok_or("--listen needs ADDR:PORT")?;
                Transport::Http(
                    listen
                        .parse()
                        .map_err(|e| format!("--listen {listen}: {e}"))?,
                )
            }
            "--stdio" => Transport::Stdio,
            other => {
                return Err(format!(
                    "unknown argument '{other}'; usage: [--listen ADDR:PORT | --stdio]"
                ))
            }
        };
    }
    Ok(transport)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let transport = transport()?;
    let (updates, _) = tokio::sync::broadcast::channel(16);
    let mut builder = McpServer::builder("itops-conformance-fixtures", env!("CARGO_PKG_VERSION"))
        .instructions("Fixture tools, resources and prompts of the MCP conformance suite.")
        .tool(Arc::new(AlwaysFails))
        .tool(Arc::new(SchemaTool))
        .context_tool(Arc::new(WithLogging))
        .context_tool(Arc::new(WithProgress))
        .context_tool(Arc::new(Sampling))
        .context_tool(Arc::new(Reconnection))
        .resources(Arc::new(FixtureResources { updates }))
        .prompts(Arc::new(FixturePrompts));
    for tool in fixed_content_tools() {
        builder = builder.context_tool(Arc::new(tool));
    }
    for tool in elicitation_tools() {
        builder = builder.context_tool(Arc::new(tool));
    }
    let server = builder.build()?;
    match transport {
        Transport::Stdio => itops_mcp::serve_stdio(&server).await?,
        Transport::Http(listen) => {
            let http = serve_http(
                &server,
                HttpOptions {
                    listen,
                    // The conformance suite's clients send no token: a local test fixture.
                    no_auth: true,
                    ..HttpOptions::default()
                },
            )
            .await?;
            eprintln!("MCP conformance fixtures at {}", http.url());
            http.wait().await?;
        }
    }
    Ok(())
}
