//! MCP over streamable HTTP at `/mcp`: sessions, SSE streams, and a guard in front that
//! checks `Host` and `Origin` (DNS-rebinding protection), the bearer token (required unless
//! explicitly turned off), the body size and the number of open sessions.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::server::McpServer;

mod guard;

use guard::Guard;

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8765);

/// Host names a loopback server answers to.
pub(crate) const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How to serve MCP over HTTP.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Where to listen (default `127.0.0.1:8765`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Extra host names (or `host:port`) accepted in the `Host` header, besides the
    /// loopback names and the listen address. Needed when binding beyond loopback.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins accepted in the `Origin` header, matched exactly by scheme,
    /// host and port (`scheme://host` means the scheme's default port), besides the
    /// server's own origin. Requests without `Origin` (non-browser clients) are not
    /// affected.
    pub allowed_origins: Vec<String>,
    /// Every request needs `Authorization: Bearer <token>`. Required, even on loopback
    /// (any local program or web page can reach a loopback port), unless `no_auth`.
    pub bearer_token: Option<String>,
    /// Serve without a bearer token (loopback only): an explicit choice, never a default.
    pub no_auth: bool,
    /// Most sessions open at once (default 64); a new one beyond it is refused with 503.
    pub max_sessions: usize,
    /// Largest accepted request body, in bytes (default 4 MiB).
    pub max_body_bytes: usize,
    /// Keep sessions (`Mcp-Session-Id`) with server-to-client streams (default true);
    /// false serves each request statelessly.
    pub stateful: bool,
    /// Interval of SSE keep-alive comments (default 15 s).
    pub sse_keep_alive: Option<Duration>,
    /// Sessions idle this long are closed (default 5 minutes).
    pub session_idle_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            bearer_token: None,
            no_auth: false,
            max_sessions: 64,
            max_body_bytes: 4 * 1024 * 1024,
            stateful: true,
            sse_keep_alive: Some(Duration::from_secs(15)),
            session_idle_timeout: Duration::from_secs(300),
        }
    }
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// An axum router serving `server` at [`MCP_PATH`] behind the request guard; nest it into a
/// larger application or serve it with [`serve_http`]. `shutdown` ends open SSE streams.
pub fn router(
    server: &McpServer,
    options: &HttpOptions,
    shutdown: CancellationToken,
) -> Result<axum::Router> {
    if !is_loopback(&options.listen) && options.bearer_token.is_none() {
        return Err(Error::invalid_option(
            "listen",
            format!(
                "{} is reachable from other machines; set a bearer token, or listen on 127.0.0.1",
                options.listen
            ),
        ));
    }
    if options.bearer_token.is_none() && !options.no_auth {
        return Err(Error::invalid_option(
            "bearer_token",
            "MCP over HTTP needs a bearer token, even on loopback (any local program or web \
             page can reach a loopback port); set one, or turn authentication off explicitly \
             (no_auth; `itops mcp --no-auth`)",
        ));
    }
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(options.session_idle_timeout);
    let sessions = Arc::new(sessions);
    let guard_state = Arc::new(Guard::new(
        options,
        options.stateful.then(|| sessions.clone()),
    )?);
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(guard_state.hosts.clone())
        .with_sse_keep_alive(options.sse_keep_alive)
        .with_legacy_session_mode(options.stateful)
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(shutdown);
    if !options.stateful {
        config = config.with_json_response(true);
    }
    let server = server.clone();
    let service = StreamableHttpService::new(move || Ok(server.session()), sessions, config);
    Ok(axum::Router::new().route_service(MCP_PATH, service).layer(
        axum::middleware::from_fn_with_state(guard_state, guard::guard),
    ))
}

/// A running HTTP MCP server.
#[derive(Debug)]
pub struct HttpServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HttpServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The MCP endpoint URL (`http://ADDR/mcp`).
    pub fn url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.local_addr)
    }

    /// Stops accepting connections, ends open streams and waits for the server to stop.
    pub async fn shutdown(self) -> Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after [`HttpServer::shutdown`] or an I/O error).
    pub async fn wait(self) -> Result<()> {
        match self.task.await {
            Ok(result) => result.map_err(|e| Error::io("serving MCP over HTTP", e)),
            Err(e) => Err(Error::Transport {
                transport: "http",
                message: format!("the server task failed: {e}"),
            }),
        }
    }
}

/// Binds `options.listen` and serves `server` in a background task.
pub async fn serve_http(server: &McpServer, options: HttpOptions) -> Result<HttpServer> {
    let shutdown = CancellationToken::new();
    // Checked before binding, so a refused configuration opens no port.
    let _checked = router(server, &options, shutdown.clone())?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::io(format!("binding {}", options.listen), e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    // The server's own origin carries the port it got (port 0 picks one).
    let app = router(
        server,
        &HttpOptions {
            listen: local_addr,
            ..options
        },
        shutdown.clone(),
    )?;
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    tracing::info!(url = %format!("http://{local_addr}{MCP_PATH}"), "serving MCP over HTTP");
    Ok(HttpServer {
        local_addr,
        shutdown,
        task,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn listening_beyond_loopback_needs_a_token() {
        let server = McpServer::builder("t", "0").build().unwrap();
        let options = HttpOptions {
            listen: "0.0.0.0:0".parse().unwrap(),
            no_auth: true,
            ..HttpOptions::default()
        };
        let err = router(&server, &options, CancellationToken::new()).unwrap_err();
        assert!(err.to_string().contains("bearer token"), "{err}");
    }

    #[test]
    fn a_token_is_needed_even_on_loopback_unless_turned_off() {
        let server = McpServer::builder("t", "0").build().unwrap();
        let err = router(&server, &HttpOptions::default(), CancellationToken::new()).unwrap_err();
        assert!(err.to_string().contains("no_auth"), "{err}");
        let options = HttpOptions {
            no_auth: true,
            ..HttpOptions::default()
        };
        assert!(router(&server, &options, CancellationToken::new()).is_ok());
    }
}
