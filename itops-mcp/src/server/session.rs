//! One client's session: the `ServerHandler` that answers its requests.

// `logging/setLevel` and `resources/subscribe` are deprecated in the newest protocol
// revision but are how clients on 2025-06-18 and 2025-11-25 use them.
#![allow(deprecated)]

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use itops_core::telemetry::LogLevel;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    CompletionInfo, ErrorData, GetPromptRequestParams, GetPromptResponse, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Reference, ResourceUpdatedNotificationParam,
    ServerConfig, SetLevelRequestParams, SubscribeRequestParams, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{Peer, RequestContext, RoleServer};
use rmcp::ServerHandler;
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::context::{send_log, SessionLogLevel, ToolContext};
use super::paging::page;
use super::tools::{arguments_value, error_result, success_result};
use super::{ServedTool, ServerDefinition};

/// The newest protocol revision served. Later drafts change the lifecycle (no sessions,
/// no `logging/setLevel`), which clients do not speak yet.
const NEWEST_PROTOCOL: ProtocolVersion = ProtocolVersion::V_2025_11_25;

/// Per-connection state and the request handlers of an [`super::McpServer`].
pub struct McpSession {
    definition: Arc<ServerDefinition>,
    log_level: Arc<SessionLogLevel>,
    subscriptions: Arc<Mutex<HashSet<String>>>,
    /// Cancels the subscription forwarder when the session ends.
    forwarder: Mutex<Option<DropGuard>>,
}

impl std::fmt::Debug for McpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpSession")
            .field("server", &self.definition.implementation.name)
            .finish()
    }
}

impl McpSession {
    pub(crate) fn new(definition: Arc<ServerDefinition>) -> Self {
        Self {
            definition,
            log_level: Arc::new(SessionLogLevel::new()),
            subscriptions: Arc::new(Mutex::new(HashSet::new())),
            forwarder: Mutex::new(None),
        }
    }

    fn subscriptions(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A set of strings is valid after any panic, so a poisoned lock is still usable.
        self.subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts forwarding resource updates to this client, once per session.
    fn ensure_forwarder(&self, peer: &Peer<RoleServer>) {
        let mut forwarder = self
            .forwarder
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if forwarder.is_some() {
            return;
        }
        let Some(mut updates) = self.definition.resources.as_ref().and_then(|r| r.updates()) else {
            return;
        };
        let stop = CancellationToken::new();
        *forwarder = Some(stop.clone().drop_guard());
        let subscriptions = self.subscriptions.clone();
        let peer = peer.clone();
        tokio::spawn(async move {
            loop {
                let uri = tokio::select! {
                    _ = stop.cancelled() => return,
                    received = updates.recv() => match received {
                        Ok(uri) => uri,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                };
                let subscribed = subscriptions
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .contains(&uri);
                if subscribed
                    && peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                        .await
                        .is_err()
                {
                    return;
                }
            }
        });
    }

    async fn run_tool(
        &self,
        name: &str,
        served: ServedTool,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let arguments = arguments_value(request.arguments);
        let size = serde_json::to_vec(&arguments).map(|v| v.len()).unwrap_or(0);
        if size > self.definition.max_argument_bytes {
            return Err(ErrorData::invalid_params(
                format!(
                    "the arguments of tool '{name}' are {size} bytes; this server accepts at most {} bytes",
                    self.definition.max_argument_bytes
                ),
                Some(json!({ "tool": name, "bytes": size, "limit": self.definition.max_argument_bytes })),
            ));
        }
        let progress_token = context.meta.get_progress_token();
        let cancellation = context.ct.clone();
        let outcome = match served {
            ServedTool::Core(tool) => {
                let heartbeat = progress_token
                    .clone()
                    .zip(self.definition.progress_interval)
                    .map(|(token, interval)| Heartbeat {
                        peer: context.peer.clone(),
                        token,
                        interval,
                        tool: name.to_string(),
                    });
                let call = async move { tool.call_json(arguments).await.map(success_result) };
                run_with(call, heartbeat, &cancellation).await
            }
            ServedTool::Context(tool) => {
                let tool_context = ToolContext {
                    tool: name.to_string(),
                    peer: context.peer.clone(),
                    progress_token,
                    cancellation: cancellation.clone(),
                    log_level: self.log_level.clone(),
                };
                run_with(tool.call(arguments, tool_context), None, &cancellation).await
            }
        };
        match outcome {
            Some(Ok(result)) => Ok(result),
            Some(Err(error)) => {
                send_log(
                    &context.peer,
                    &self.log_level,
                    LogLevel::Warn,
                    name,
                    error.to_string(),
                )
                .await;
                Ok(error_result(&error))
            }
            // The client no longer waits for this answer.
            None => Err(ErrorData::invalid_request(
                format!("the call of tool '{name}' was cancelled by the client"),
                None,
            )),
        }
    }
}

/// Periodic progress for a core tool, which cannot report its own.
struct Heartbeat {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    interval: Duration,
    tool: String,
}

/// Runs `call` until it finishes (`Some`) or the client cancels it (`None`, and the call is
/// dropped, which stops it at its next await point), sending heartbeats meanwhile.
async fn run_with<T>(
    call: impl std::future::Future<Output = T>,
    heartbeat: Option<Heartbeat>,
    cancellation: &CancellationToken,
) -> Option<T> {
    tokio::pin!(call);
    let Some(heartbeat) = heartbeat else {
        return tokio::select! {
            out = &mut call => Some(out),
            _ = cancellation.cancelled() => None,
        };
    };
    let started = Instant::now();
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + heartbeat.interval,
        heartbeat.interval,
    );
    // Progress must grow with every notification: count the beats.
    let mut beats = 0u32;
    loop {
        tokio::select! {
            out = &mut call => return Some(out),
            _ = cancellation.cancelled() => return None,
            _ = ticker.tick() => {
                beats = beats.saturating_add(1);
                let param = ProgressNotificationParam::new(heartbeat.token.clone(), f64::from(beats))
                    .with_message(format!(
                        "{} still running after {:.1}s",
                        heartbeat.tool,
                        started.elapsed().as_secs_f64()
                    ));
                if let Err(error) = heartbeat.peer.notify_progress(param).await {
                    tracing::debug!(%error, "could not send a progress heartbeat");
                }
            }
        }
    }
}

/// A core error from a provider, as a protocol error.
fn provider_error(error: itops_core::Error) -> ErrorData {
    match error {
        itops_core::Error::Invalid { .. } | itops_core::Error::UnknownVariant { .. } => {
            ErrorData::invalid_params(error.to_string(), None)
        }
        itops_core::Error::NotFound { .. } => {
            ErrorData::resource_not_found(error.to_string(), None)
        }
        other => ErrorData::internal_error(other.to_string(), None),
    }
}

impl ServerHandler for McpSession {
    fn get_info(&self) -> ServerConfig {
        self.definition.info()
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&NEWEST_PROTOCOL))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools: Vec<Tool> = self
            .definition
            .tools
            .iter()
            .map(|(tool, _)| tool.clone())
            .collect();
        let (items, next) = page(&tools, request.as_ref(), self.definition.page_size)?;
        let mut result = ListToolsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let index = *self.definition.tool_index.get(name)?;
        self.definition
            .tools
            .get(index)
            .map(|(tool, _)| tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let served = self
            .definition
            .tool_index
            .get(&name)
            .and_then(|&i| self.definition.tools.get(i))
            .map(|(_, served)| served.clone());
        let Some(served) = served else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool '{name}'; tools/list names the tools of this server"),
                Some(json!({ "tool": name })),
            ));
        };
        self.run_tool(&name, served, request, context)
            .await
            .map(CallToolResponse::from)
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.log_level.set(request.level);
        Ok(())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let Some(provider) = &self.definition.resources else {
            return Ok(ListResourcesResult::default());
        };
        let resources = provider.list().await.map_err(provider_error)?;
        let (items, next) = page(&resources, request.as_ref(), self.definition.page_size)?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let Some(provider) = &self.definition.resources else {
            return Ok(ListResourceTemplatesResult::default());
        };
        let templates = provider.templates().await.map_err(provider_error)?;
        let (items, next) = page(&templates, request.as_ref(), self.definition.page_size)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let contents = match &self.definition.resources {
            Some(provider) => provider.read(&uri).await.map_err(provider_error)?,
            None => None,
        };
        match contents {
            Some(contents) => Ok(ReadResourceResult::new(contents).into()),
            None => Err(ErrorData::resource_not_found(
                format!("no resource at '{uri}'; resources/list and resources/templates/list name what this server has"),
                Some(json!({ "uri": uri })),
            )),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if self
            .definition
            .resources
            .as_ref()
            .and_then(|r| r.updates())
            .is_none()
        {
            return Err(ErrorData::invalid_request(
                "this server's resources do not change, so there is nothing to subscribe to",
                None,
            ));
        }
        self.subscriptions().insert(request.uri);
        self.ensure_forwarder(&context.peer);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscriptions().remove(&request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let Some(provider) = &self.definition.prompts else {
            return Ok(ListPromptsResult::default());
        };
        let prompts = provider.list();
        let (items, next) = page(&prompts, request.as_ref(), self.definition.page_size)?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let name = request.name;
        let found = match &self.definition.prompts {
            Some(provider) => provider
                .get(&name, request.arguments.unwrap_or_default())
                .await
                .map_err(provider_error)?,
            None => None,
        };
        match found {
            Some(prompt) => Ok(prompt.into()),
            None => Err(ErrorData::invalid_params(
                format!("unknown prompt '{name}'; prompts/list names the prompts of this server"),
                Some(json!({ "prompt": name })),
            )),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let argument = &request.argument;
        let mut values = match &request.r#ref {
            Reference::Prompt(prompt) => match &self.definition.prompts {
                Some(provider) => provider
                    .complete(&prompt.name, &argument.name, &argument.value)
                    .await
                    .map_err(provider_error)?,
                None => Vec::new(),
            },
            Reference::Resource(template) => match &self.definition.resources {
                Some(provider) => provider
                    .complete(&template.uri, &argument.name, &argument.value)
                    .await
                    .map_err(provider_error)?,
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        let total = values.len();
        let has_more = total > CompletionInfo::MAX_VALUES;
        values.truncate(CompletionInfo::MAX_VALUES);
        let info = CompletionInfo::with_pagination(
            values,
            Some(u32::try_from(total).unwrap_or(u32::MAX)),
            has_more,
        )
        .map_err(|message| ErrorData::internal_error(message, None))?;
        Ok(CompleteResult::new(info))
    }
}
