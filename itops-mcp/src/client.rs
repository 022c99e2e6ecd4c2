//! Using MCP servers' tools as core tools: connect to a server (a command over stdio, or
//! an HTTP URL), and each of its tools becomes an [`itops_core::DynTool`] behind a timeout
//! and a circuit breaker.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use itops_core::breaker::{BreakerConfig, CircuitBreaker, ConsecutiveFailureBreaker, RetryPolicy};
use itops_core::{DynTool, ToolSpec};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::{ServiceError, ServiceExt};
use serde_json::Value;

use crate::error::{Error, Result};

mod config;
mod remote;

pub use config::{ConfiguredServer, McpServersConfig, McpToolbox};
use remote::RemoteTool;

/// Lines of a stdio server's error output kept for error messages.
const STDERR_TAIL_LINES: usize = 20;

/// Where an MCP server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerTarget {
    /// A program speaking MCP on its stdin and stdout.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Extra environment variables.
        env: BTreeMap<String, String>,
        /// Working directory (default: this process's).
        cwd: Option<PathBuf>,
    },
    /// A streamable-HTTP MCP endpoint.
    Http {
        /// The endpoint URL (`https://host/mcp`).
        url: String,
        /// Headers sent with every request (`Authorization`, API keys).
        headers: BTreeMap<String, String>,
    },
}

impl ServerTarget {
    /// A program run with `args`, speaking MCP over stdio.
    pub fn stdio(
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ServerTarget::Stdio {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    /// A streamable-HTTP endpoint.
    pub fn http(url: impl Into<String>) -> Self {
        ServerTarget::Http {
            url: url.into(),
            headers: BTreeMap::new(),
        }
    }

    /// Adds `Authorization: Bearer <token>` (HTTP targets only; stdio targets are unchanged).
    pub fn with_bearer_token(mut self, token: impl AsRef<str>) -> Self {
        if let ServerTarget::Http { headers, .. } = &mut self {
            headers.insert("Authorization".into(), format!("Bearer {}", token.as_ref()));
        }
        self
    }

    fn describe(&self) -> String {
        match self {
            ServerTarget::Stdio { command, args, .. } => {
                let mut text = command.clone();
                for arg in args {
                    text.push(' ');
                    text.push_str(arg);
                }
                text
            }
            ServerTarget::Http { url, .. } => url.clone(),
        }
    }
}

/// Timeouts, breaker and naming for the tools of one server.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Bound on starting the server and the MCP handshake.
    pub connect_timeout: Duration,
    /// Bound on every tool call.
    pub call_timeout: Duration,
    /// The circuit breaker shared by all the server's tools: a dead server fails fast.
    pub breaker: BreakerConfig,
    /// Retries of failed calls (default none: remote tools may not be idempotent).
    pub retry: RetryPolicy,
    /// Prepended to every tool name (`github_` makes `create_issue` `github_create_issue`),
    /// to keep names unique across servers.
    pub tool_prefix: Option<String>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(60),
            breaker: BreakerConfig::default(),
            retry: RetryPolicy::none(),
            tool_prefix: None,
        }
    }
}

struct ClientInner {
    name: String,
    service: RunningService<RoleClient, ClientConfig>,
    stderr_tail: Option<Arc<Mutex<VecDeque<String>>>>,
    options: ClientOptions,
}

/// A connection to one MCP server. Cheap to clone; the connection (and a stdio server's
/// process) lives while any clone or any of its tools does.
#[derive(Clone)]
pub struct McpClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("name", &self.inner.name)
            .finish()
    }
}

fn client_info() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("itops", env!("CARGO_PKG_VERSION")),
    )
}

impl McpClient {
    /// Starts or reaches the server at `target` and completes the MCP handshake; `name`
    /// identifies it in errors, logs and breaker names.
    pub async fn connect(
        name: impl Into<String>,
        target: &ServerTarget,
        options: ClientOptions,
    ) -> Result<Self> {
        let name = name.into();
        let connect_error = |message: String| Error::Connect {
            server: name.clone(),
            message,
        };
        let (service, stderr_tail) = match target {
            ServerTarget::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).envs(env);
                if let Some(cwd) = cwd {
                    cmd.current_dir(cwd);
                }
                let (transport, stderr) = rmcp::transport::TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|e| {
                        connect_error(format!("could not start '{}': {e}", target.describe()))
                    })?;
                let tail = stderr.map(|stderr| keep_stderr_tail(&name, stderr));
                let served =
                    tokio::time::timeout(options.connect_timeout, client_info().serve(transport))
                        .await;
                let service = match served {
                    Ok(Ok(service)) => service,
                    Ok(Err(e)) => {
                        // Give the reader a moment to collect why the process died.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        return Err(connect_error(with_tail(
                            format!(
                                "'{}' did not complete the MCP handshake: {e}",
                                target.describe()
                            ),
                            tail.as_ref(),
                        )));
                    }
                    Err(_) => {
                        return Err(connect_error(with_tail(
                            format!(
                                "'{}' did not complete the MCP handshake within {}s",
                                target.describe(),
                                options.connect_timeout.as_secs()
                            ),
                            tail.as_ref(),
                        )))
                    }
                };
                (service, tail)
            }
            ServerTarget::Http { url, headers } => {
                let transport = http_transport(url, headers).map_err(connect_error)?;
                let service =
                    tokio::time::timeout(options.connect_timeout, client_info().serve(transport))
                        .await
                        .map_err(|_| {
                            connect_error(format!(
                                "{url} did not complete the MCP handshake within {}s",
                                options.connect_timeout.as_secs()
                            ))
                        })?
                        .map_err(|e| connect_error(format!("{url}: {e}")))?;
                (service, None)
            }
        };
        tracing::info!(server = %name, target = %target.describe(), "connected to MCP server");
        Ok(Self {
            inner: Arc::new(ClientInner {
                name,
                service,
                stderr_tail,
                options,
            }),
        })
    }

    /// The name given at connection.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// What the server says about itself (name, version) in the handshake.
    pub fn server_info(&self) -> Option<Implementation> {
        self.inner
            .service
            .peer_info()
            .and_then(|info| info.server_info.clone())
    }

    /// The server's tools (every page), under their remote names.
    pub async fn list_tools(&self) -> Result<Vec<ToolSpec>> {
        let listed = tokio::time::timeout(
            self.inner.options.call_timeout,
            self.inner.service.list_all_tools(),
        )
        .await
        .map_err(|_| self.remote_error("list tools", "timed out".into()))?
        .map_err(|e| self.remote_error("list tools", self.describe_failure(&e)))?;
        Ok(listed
            .into_iter()
            .map(|tool| ToolSpec {
                name: tool.name.to_string(),
                description: tool.description.map(|d| d.to_string()).unwrap_or_default(),
                input_schema: Value::Object((*tool.input_schema).clone()),
            })
            .collect())
    }

    /// Calls the remote tool `name` (its remote name) with `arguments` (a JSON object),
    /// bounded by the call timeout. A tool failure (`isError`) is a core
    /// [`itops_core::Error::Tool`].
    pub async fn call_tool(&self, name: &str, arguments: Value) -> itops_core::Result<Value> {
        let limit = self.inner.options.call_timeout;
        match tokio::time::timeout(limit, self.request(name, name, arguments)).await {
            Ok(answer) => answer.and_then(|answer| answer),
            Err(_) => Err(itops_core::Error::Timeout {
                what: format!("tool '{name}' of MCP server '{}'", self.inner.name),
                after: limit,
            }),
        }
    }

    /// Each of the server's tools as a core tool (named with the tool prefix, if any),
    /// behind the call timeout, the retry policy and one circuit breaker for the server.
    /// The breaker counts only calls the server did not answer (broken connection,
    /// timeout): a tool that answers with an error is a healthy server.
    pub async fn tools(&self) -> Result<Vec<Arc<dyn DynTool>>> {
        let breaker: Arc<dyn CircuitBreaker> = Arc::new(ConsecutiveFailureBreaker::new(
            format!("mcp server '{}'", self.inner.name),
            self.inner.options.breaker.clone(),
        )?);
        self.inner.options.retry.validate()?;
        let prefix = self.inner.options.tool_prefix.clone().unwrap_or_default();
        let specs = self.list_tools().await?;
        Ok(specs
            .into_iter()
            .map(|spec| {
                Arc::new(RemoteTool::new(
                    self.clone(),
                    spec,
                    &prefix,
                    breaker.clone(),
                )) as Arc<dyn DynTool>
            })
            .collect())
    }

    /// Ends the session (and stops a stdio server's process).
    pub async fn close(self) -> Result<()> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => {
                let mut service = inner.service;
                service.close().await.map_err(|e| Error::Transport {
                    transport: "client",
                    message: format!("closing the session with '{}': {e}", inner.name),
                })?;
                Ok(())
            }
            // Tools still hold the connection; it closes when the last one is dropped.
            Err(_) => Ok(()),
        }
    }

    /// One call without a time bound (the caller bounds it); `shown_name` is the name the
    /// caller knows the tool by. `Err` when the server gave no answer (the connection is
    /// broken); `Ok` with the server's answer otherwise, a tool error included.
    pub(crate) async fn request(
        &self,
        remote_name: &str,
        shown_name: &str,
        arguments: Value,
    ) -> itops_core::Result<itops_core::Result<Value>> {
        let arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Ok(Err(itops_core::Error::Tool {
                    tool: shown_name.to_string(),
                    message: format!("arguments must be a JSON object, not {other}"),
                    retryable: false,
                }))
            }
        };
        let mut params = CallToolRequestParams::new(remote_name.to_string());
        params.arguments = arguments;
        match self.inner.service.call_tool(params).await {
            Ok(result) => Ok(remote::output(shown_name, result)),
            Err(ServiceError::McpError(error)) => Ok(Err(itops_core::Error::Tool {
                tool: shown_name.to_string(),
                message: format!(
                    "MCP server '{}' refused the call: {} (code {})",
                    self.inner.name, error.message, error.code.0
                ),
                retryable: false,
            })),
            Err(other) => Err(itops_core::Error::Tool {
                tool: shown_name.to_string(),
                message: self.describe_failure(&other),
                retryable: true,
            }),
        }
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    fn describe_failure(&self, error: &ServiceError) -> String {
        let message = match error {
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => format!(
                "MCP server '{}' is not reachable (the connection closed: {error})",
                self.inner.name
            ),
            other => format!("MCP server '{}': {other}", self.inner.name),
        };
        with_tail(message, self.inner.stderr_tail.as_ref())
    }

    fn remote_error(&self, operation: &str, message: String) -> Error {
        Error::Remote {
            server: self.inner.name.clone(),
            operation: operation.to_string(),
            message,
        }
    }
}

/// The streamable-HTTP transport for `url`, with `headers` (an `Authorization: Bearer`
/// header becomes the transport's auth header).
fn http_transport(
    url: &str,
    headers: &BTreeMap<String, String>,
) -> std::result::Result<rmcp::transport::StreamableHttpClientTransport<reqwest::Client>, String> {
    use axum::http::{HeaderName, HeaderValue};
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("'{url}' is not an http:// or https:// URL"));
    }
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_string());
    let mut custom = std::collections::HashMap::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("authorization") {
            if let Some(token) = value.strip_prefix("Bearer ") {
                config = config.auth_header(token.to_string());
                continue;
            }
        }
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("'{name}' is not a valid HTTP header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header '{name}' is not valid in HTTP"))?;
        custom.insert(header, value);
    }
    Ok(rmcp::transport::StreamableHttpClientTransport::from_config(
        config.custom_headers(custom),
    ))
}

fn keep_stderr_tail(
    server: &str,
    stderr: tokio::process::ChildStderr,
) -> Arc<Mutex<VecDeque<String>>> {
    use tokio::io::AsyncBufReadExt;
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
    let keep = tail.clone();
    let server = server.to_string();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(server = %server, "{line}");
            let mut tail = keep.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    });
    tail
}

fn with_tail(message: String, tail: Option<&Arc<Mutex<VecDeque<String>>>>) -> String {
    let Some(tail) = tail else {
        return message;
    };
    let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
    if tail.is_empty() {
        return message;
    }
    let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
    format!("{message}; its last error output:\n{}", lines.join("\n"))
}

/// A tool result as the JSON value core tools return: the structured content if any, else
/// the text (parsed when it is JSON), else the content blocks.
pub(crate) fn result_value(result: &CallToolResult) -> Value {
    if let Some(structured) = &result.structured_content {
        return structured.clone();
    }
    let texts: Option<Vec<&str>> = result
        .content
        .iter()
        .map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    match texts {
        Some(texts) if texts.len() == 1 => {
            serde_json::from_str(texts[0]).unwrap_or_else(|_| Value::String(texts[0].to_string()))
        }
        Some(texts) => Value::String(texts.join("\n")),
        None => serde_json::to_value(&result.content).unwrap_or(Value::Null),
    }
}
