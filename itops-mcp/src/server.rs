//! Serving tools over MCP: an [`McpServer`] is built once from core tools (and optional
//! MCP-aware tools, resources and prompts) and opens one [`McpSession`] per client
//! connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use itops_core::{DynTool, ToolSpec};
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};

use crate::error::{Error, Result};

mod context;
mod paging;
mod prompts;
mod resources;
mod session;
mod tools;

pub use context::{ContextTool, ToolContext};
pub use prompts::PromptProvider;
pub use resources::{ResourceProvider, ResourceUpdates};
pub use session::McpSession;

/// Default page size of `tools/list`, `resources/list` and `prompts/list`.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Default limit on the size of one `tools/call`'s arguments (serialised JSON).
pub const DEFAULT_MAX_ARGUMENT_BYTES: usize = 1024 * 1024;
/// Default interval of the progress heartbeat sent while a plain core tool runs.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// One tool as the server holds it.
#[derive(Clone)]
pub(crate) enum ServedTool {
    /// A plain core tool: JSON in, JSON out.
    Core(Arc<dyn DynTool>),
    /// A tool that talks to the client while it runs.
    Context(Arc<dyn ContextTool>),
}

impl ServedTool {
    pub(crate) fn spec(&self) -> ToolSpec {
        match self {
            ServedTool::Core(tool) => tool.spec(),
            ServedTool::Context(tool) => tool.spec(),
        }
    }
}

/// What every session of one server shares.
pub(crate) struct ServerDefinition {
    pub(crate) implementation: Implementation,
    pub(crate) instructions: Option<String>,
    pub(crate) tools: Vec<(rmcp::model::Tool, ServedTool)>,
    pub(crate) tool_index: HashMap<String, usize>,
    pub(crate) resources: Option<Arc<dyn ResourceProvider>>,
    pub(crate) prompts: Option<Arc<dyn PromptProvider>>,
    pub(crate) page_size: usize,
    pub(crate) max_argument_bytes: usize,
    pub(crate) progress_interval: Option<Duration>,
}

impl ServerDefinition {
    pub(crate) fn info(&self) -> ServerConfig {
        // Logging is always on: tool failures are reported to clients that ask for logs.
        let mut capabilities = ServerCapabilities::default();
        capabilities.tools = Some(rmcp::model::ToolsCapability::default());
        capabilities.logging = Some(rmcp::model::JsonObject::new());
        if let Some(provider) = &self.resources {
            let mut resources = rmcp::model::ResourcesCapability::default();
            if provider.updates().is_some() {
                resources.subscribe = Some(true);
            }
            capabilities.resources = Some(resources);
        }
        if self.prompts.is_some() {
            capabilities.prompts = Some(rmcp::model::PromptsCapability::default());
        }
        if self.resources.is_some() || self.prompts.is_some() {
            capabilities.completions = Some(rmcp::model::JsonObject::new());
        }
        let mut info =
            ServerConfig::new(capabilities).with_server_info(self.implementation.clone());
        if let Some(instructions) = &self.instructions {
            info = info.with_instructions(instructions.clone());
        }
        info
    }
}

/// An MCP server definition: its name, tools, resources and prompts. Cheap to clone;
/// each client connection gets its own [`McpSession`] from [`McpServer::session`].
#[derive(Clone)]
pub struct McpServer {
    definition: Arc<ServerDefinition>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("name", &self.definition.implementation.name)
            .field("tools", &self.tool_names())
            .finish()
    }
}

impl McpServer {
    /// Starts a server named `name` (what clients show) at `version`.
    pub fn builder(name: impl Into<String>, version: impl Into<String>) -> McpServerBuilder {
        McpServerBuilder {
            name: name.into(),
            version: version.into(),
            title: None,
            instructions: None,
            tools: Vec::new(),
            resources: None,
            prompts: None,
            page_size: DEFAULT_PAGE_SIZE,
            max_argument_bytes: DEFAULT_MAX_ARGUMENT_BYTES,
            progress_interval: Some(DEFAULT_PROGRESS_INTERVAL),
        }
    }

    /// A new session (per-connection state: log level, resource subscriptions).
    pub fn session(&self) -> McpSession {
        McpSession::new(self.definition.clone())
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.definition.implementation.name
    }

    /// The names of the tools served, in listing order.
    pub fn tool_names(&self) -> Vec<String> {
        self.definition
            .tools
            .iter()
            .map(|(tool, _)| tool.name.to_string())
            .collect()
    }
}

/// Builds an [`McpServer`]; [`McpServerBuilder::build`] checks the tools.
pub struct McpServerBuilder {
    name: String,
    version: String,
    title: Option<String>,
    instructions: Option<String>,
    tools: Vec<ServedTool>,
    resources: Option<Arc<dyn ResourceProvider>>,
    prompts: Option<Arc<dyn PromptProvider>>,
    page_size: usize,
    max_argument_bytes: usize,
    progress_interval: Option<Duration>,
}

impl McpServerBuilder {
    /// A human-readable title clients may show instead of the name.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Instructions for the model on how to use this server's tools.
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// Serves one core tool.
    pub fn tool(mut self, tool: Arc<dyn DynTool>) -> Self {
        self.tools.push(ServedTool::Core(tool));
        self
    }

    /// Serves core tools, in order.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Arc<dyn DynTool>>) -> Self {
        self.tools.extend(tools.into_iter().map(ServedTool::Core));
        self
    }

    /// Serves a tool that reports progress, logs, or asks the client for input while it runs.
    pub fn context_tool(mut self, tool: Arc<dyn ContextTool>) -> Self {
        self.tools.push(ServedTool::Context(tool));
        self
    }

    /// Serves resources (and resource templates) from `provider`.
    pub fn resources(mut self, provider: Arc<dyn ResourceProvider>) -> Self {
        self.resources = Some(provider);
        self
    }

    /// Serves prompts from `provider`.
    pub fn prompts(mut self, provider: Arc<dyn PromptProvider>) -> Self {
        self.prompts = Some(provider);
        self
    }

    /// Items per page of the list methods (at least 1; default [`DEFAULT_PAGE_SIZE`]).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    /// Largest accepted `tools/call` arguments, in bytes of JSON (default 1 MiB).
    pub fn max_argument_bytes(mut self, bytes: usize) -> Self {
        self.max_argument_bytes = bytes;
        self
    }

    /// How often a running core tool reports progress to a client that asked for it
    /// (`None`: never; default every second).
    pub fn progress_interval(mut self, interval: Option<Duration>) -> Self {
        self.progress_interval = interval;
        self
    }

    /// Checks the tools (valid, unique names; object input schemas) and builds the server.
    pub fn build(self) -> Result<McpServer> {
        if self.page_size == 0 {
            return Err(Error::invalid_option("page_size", "must be at least 1"));
        }
        if self.progress_interval.is_some_and(|i| i.is_zero()) {
            return Err(Error::invalid_option(
                "progress_interval",
                "must be positive; use None to turn the heartbeat off",
            ));
        }
        let mut tools = Vec::with_capacity(self.tools.len());
        let mut tool_index = HashMap::new();
        for served in self.tools {
            let tool = tools::to_mcp_tool(served.spec())?;
            let name = tool.name.to_string();
            if tool_index.insert(name.clone(), tools.len()).is_some() {
                return Err(Error::invalid_option(
                    "tools",
                    format!("two tools are named '{name}'; tool names must be unique"),
                ));
            }
            tools.push((tool, served));
        }
        let mut implementation = Implementation::new(self.name, self.version);
        if let Some(title) = self.title {
            implementation = implementation.with_title(title);
        }
        Ok(McpServer {
            definition: Arc::new(ServerDefinition {
                implementation,
                instructions: self.instructions,
                tools,
                tool_index,
                resources: self.resources,
                prompts: self.prompts,
                page_size: self.page_size,
                max_argument_bytes: self.max_argument_bytes,
                progress_interval: self.progress_interval,
            }),
        })
    }
}
