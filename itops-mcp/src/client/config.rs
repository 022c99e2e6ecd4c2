//! The MCP servers config file, in the shape MCP clients share:
//!
//! ```json
//! {
//!   "mcpServers": {
//!     "files":  { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv"],
//!                 "env": { "LOG_LEVEL": "warn" } },
//!     "github": { "url": "https://api.example.com/mcp",
//!                 "headers": { "Authorization": "Bearer ${GITHUB_TOKEN}" },
//!                 "toolPrefix": "github_" }
//!   }
//! }
//! ```
//!
//! `${VAR}` in `command`, `args`, `env`, `url` and `headers` is replaced by the environment
//! variable `VAR`, so secrets stay out of the file. `"disabled": true` skips a server;
//! `"type"` may be `stdio`, `http` or `streamable-http`. Other keys are ignored.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use itops_core::DynTool;
use serde::Deserialize;

use super::{ClientOptions, McpClient, ServerTarget};
use crate::error::{Error, Result};

/// One server of the file, as written.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawServer {
    #[serde(rename = "type")]
    kind: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    disabled: bool,
    tool_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(rename = "mcpServers")]
    servers: BTreeMap<String, RawServer>,
}

/// A server of the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredServer {
    /// Its key in `mcpServers`.
    pub name: String,
    /// Where it is, with variables expanded.
    pub target: ServerTarget,
    /// Prefix for its tool names (`toolPrefix`).
    pub tool_prefix: Option<String>,
}

/// The enabled servers of an MCP servers config file, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McpServersConfig {
    /// The servers, sorted by name; disabled ones are left out.
    pub servers: Vec<ConfiguredServer>,
}

impl McpServersConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        Self::parse(&text, path, |name| std::env::var(name).ok())
    }

    /// Parses config text; `path` names it in errors and `lookup` resolves `${VAR}`.
    pub fn parse(text: &str, path: &Path, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let fail = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| {
            fail(format!(
                "{e}; expected {{\"mcpServers\": {{\"name\": {{\"command\": ...}} | {{\"url\": ...}}}}}}"
            ))
        })?;
        let mut servers = Vec::new();
        for (name, server) in raw.servers {
            if server.disabled {
                continue;
            }
            let target =
                target_of(&name, server.kind.as_deref(), &server, &lookup).map_err(fail)?;
            servers.push(ConfiguredServer {
                name,
                target,
                tool_prefix: server.tool_prefix,
            });
        }
        Ok(Self { servers })
    }

    /// Connects to every server at once; each server's tools get its `toolPrefix` (or the
    /// prefix in `options`). Fails, naming the server, if one cannot be reached or two
    /// servers offer the same tool name.
    pub async fn connect_all(&self, options: &ClientOptions) -> Result<McpToolbox> {
        let connections = self.servers.iter().map(|server| {
            let mut options = options.clone();
            if server.tool_prefix.is_some() {
                options.tool_prefix = server.tool_prefix.clone();
            }
            async move {
                let client = McpClient::connect(&server.name, &server.target, options).await?;
                let tools = client.tools().await?;
                Ok::<_, Error>((client, tools))
            }
        });
        let mut clients = Vec::new();
        let mut tools: Vec<Arc<dyn DynTool>> = Vec::new();
        let mut owners: HashMap<String, String> = HashMap::new();
        for connected in futures::future::join_all(connections).await {
            let (client, server_tools) = connected?;
            for tool in server_tools {
                let name = tool.spec().name;
                if let Some(other) = owners.insert(name.clone(), client.name().to_string()) {
                    return Err(Error::invalid_option(
                        "mcpServers",
                        format!(
                            "servers '{other}' and '{}' both offer a tool named '{name}'; give one of them a \"toolPrefix\"",
                            client.name()
                        ),
                    ));
                }
                tools.push(tool);
            }
            clients.push(client);
        }
        Ok(McpToolbox { clients, tools })
    }
}

fn target_of(
    name: &str,
    kind: Option<&str>,
    server: &RawServer,
    lookup: &impl Fn(&str) -> Option<String>,
) -> std::result::Result<ServerTarget, String> {
    let expand = |field: &str, value: &str| {
        expand_vars(value, lookup).map_err(|var| {
            format!("server '{name}': {field} uses ${{{var}}}, but the environment variable {var} is not set")
        })
    };
    match (kind, &server.command, &server.url) {
        (Some("sse"), _, _) => Err(format!(
            "server '{name}': the legacy SSE transport is not supported; use its streamable HTTP endpoint (\"type\": \"http\")"
        )),
        (Some(other), _, _) if !matches!(other, "stdio" | "http" | "streamable-http" | "streamableHttp") => Err(format!(
            "server '{name}': unknown type '{other}'; use \"stdio\" or \"http\""
        )),
        (_, Some(_), Some(_)) => Err(format!(
            "server '{name}': give either \"command\" (stdio) or \"url\" (HTTP), not both"
        )),
        (_, None, None) => Err(format!(
            "server '{name}': give \"command\" (a program speaking MCP on stdio) or \"url\" (a streamable HTTP endpoint)"
        )),
        (Some("stdio"), None, Some(_)) => Err(format!("server '{name}': type stdio needs \"command\", not \"url\"")),
        (Some("http" | "streamable-http" | "streamableHttp"), Some(_), None) => {
            Err(format!("server '{name}': type http needs \"url\", not \"command\""))
        }
        (_, Some(command), None) => {
            let mut args = Vec::with_capacity(server.args.len());
            for arg in &server.args {
                args.push(expand("args", arg)?);
            }
            let mut env = BTreeMap::new();
            for (key, value) in &server.env {
                env.insert(key.clone(), expand(&format!("env.{key}"), value)?);
            }
            Ok(ServerTarget::Stdio {
                command: expand("command", command)?,
                args,
                env,
                cwd: server.cwd.clone(),
            })
        }
        (_, None, Some(url)) => {
            let mut headers = BTreeMap::new();
            for (key, value) in &server.headers {
                headers.insert(key.clone(), expand(&format!("headers.{key}"), value)?);
            }
            Ok(ServerTarget::Http {
                url: expand("url", url)?,
                headers,
            })
        }
    }
}

/// `text` with every `${VAR}` replaced by `lookup(VAR)`; the name of the first unset
/// variable otherwise. Text without `${` is returned as is.
fn expand_vars(
    text: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let var = &after[..end];
        out.push_str(&lookup(var).ok_or_else(|| var.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The tools of several MCP servers, with their connections.
#[derive(Clone)]
pub struct McpToolbox {
    clients: Vec<McpClient>,
    tools: Vec<Arc<dyn DynTool>>,
}

impl std::fmt::Debug for McpToolbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpToolbox")
            .field("clients", &self.clients)
            .field("tools", &self.tools.len())
            .finish()
    }
}

impl McpToolbox {
    /// Every server's tools, ready for an engine or agent.
    pub fn tools(&self) -> Vec<Arc<dyn DynTool>> {
        self.tools.clone()
    }

    /// The connections, one per server.
    pub fn clients(&self) -> &[McpClient] {
        &self.clients
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<McpServersConfig> {
        McpServersConfig::parse(text, Path::new("mcp.json"), |var| match var {
            "TOKEN" => Some("t0k".into()),
            "HOME" => Some("/home/me".into()),
            _ => None,
        })
    }

    #[test]
    fn reads_the_common_client_config_shape() {
        let config = parse(
            r#"{"mcpServers": {
                "files": {"command": "npx", "args": ["-y", "server-fs", "${HOME}/srv"],
                          "env": {"A": "b"}, "alwaysAllow": ["read"]},
                "remote": {"type": "http", "url": "https://mcp.example.com/mcp",
                           "headers": {"Authorization": "Bearer ${TOKEN}"}, "toolPrefix": "r_"},
                "off": {"command": "nope", "disabled": true}
            }}"#,
        )
        .unwrap();
        assert_eq!(config.servers.len(), 2);
        assert_eq!(config.servers[0].name, "files");
        assert_eq!(
            config.servers[0].target,
            ServerTarget::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "server-fs".into(), "/home/me/srv".into()],
                env: BTreeMap::from([("A".into(), "b".into())]),
                cwd: None,
            }
        );
        assert_eq!(
            config.servers[1].target,
            ServerTarget::Http {
                url: "https://mcp.example.com/mcp".into(),
                headers: BTreeMap::from([("Authorization".into(), "Bearer t0k".into())]),
            }
        );
        assert_eq!(config.servers[1].tool_prefix.as_deref(), Some("r_"));
    }

    #[test]
    fn mistakes_are_explained() {
        let cases = [
            (r#"{"servers": {}}"#, "mcpServers"),
            (r#"{"mcpServers": {"x": {}}}"#, "give \"command\""),
            (
                r#"{"mcpServers": {"x": {"command": "a", "url": "http://b"}}}"#,
                "not both",
            ),
            (
                r#"{"mcpServers": {"x": {"type": "sse", "url": "http://b"}}}"#,
                "legacy SSE",
            ),
            (
                r#"{"mcpServers": {"x": {"type": "ws", "url": "http://b"}}}"#,
                "unknown type 'ws'",
            ),
            (
                r#"{"mcpServers": {"x": {"url": "http://b", "headers": {"K": "${MISSING}"}}}}"#,
                "environment variable MISSING is not set",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(err.contains("mcp.json"), "{err}");
        }
    }

    #[test]
    fn variable_expansion_leaves_other_text_alone() {
        let lookup = |v: &str| (v == "A").then(|| "1".to_string());
        assert_eq!(expand_vars("x${A}y${A}", &lookup).unwrap(), "x1y1");
        assert_eq!(expand_vars("$A ${A", &lookup).unwrap(), "$A ${A");
        assert_eq!(expand_vars("${B}", &lookup).unwrap_err(), "B");
    }
}
