//! MCP over streamable HTTP at `/mcp`: sessions, SSE streams, and a guard in front that
//! checks `Host` and `Origin` (DNS-rebinding protection), the bearer token and the body size.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::server::McpServer;

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8765);

/// Host names a loopback server answers to.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How to serve MCP over HTTP.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Where to listen (default `127.0.0.1:8765`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Extra host names (or `host:port`) accepted in the `Host` header, besides the
    /// loopback names and the listen address. Needed when binding beyond loopback.
    pub allowed_hosts: Vec<String>,
    /// Extra browser origins accepted in the `Origin` header (`scheme://host` for any port,
    /// or `scheme://host:port`), besides loopback origins. Requests without `Origin`
    /// (non-browser clients) are not affected.
    pub allowed_origins: Vec<String>,
    /// When set, every request needs `Authorization: Bearer <token>`. Required when
    /// listening beyond loopback.
    pub bearer_token: Option<String>,
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
            max_body_bytes: 4 * 1024 * 1024,
            stateful: true,
            sse_keep_alive: Some(Duration::from_secs(15)),
            session_idle_timeout: Duration::from_secs(300),
        }
    }
}

/// The request checks that run before MCP sees a request.
#[derive(Debug)]
struct Guard {
    hosts: Vec<String>,
    origins: Vec<OriginPattern>,
    bearer: Option<String>,
    max_body_bytes: usize,
}

/// An accepted origin: scheme and host, and a port unless any port is accepted.
#[derive(Debug, PartialEq)]
struct OriginPattern {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl OriginPattern {
    fn parse(text: &str) -> Option<(Self, bool)> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return None;
        }
        let (host, port, any_port) = split_host_port(rest)?;
        Some((
            Self {
                scheme: scheme.to_ascii_lowercase(),
                host,
                port,
            },
            any_port,
        ))
    }

    fn matches(&self, origin: &OriginPattern) -> bool {
        self.scheme == origin.scheme
            && self.host == origin.host
            && (self.port.is_none() || self.port == origin.port)
    }
}

/// `host[:port]` (with `[v6]` brackets) as lowercase host, port, and whether the port is `*`
/// or absent.
fn split_host_port(text: &str) -> Option<(String, Option<u16>, bool)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            _ => (text, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    match port {
        None | Some("*") => Some((host, None, true)),
        Some(port) => Some((host, Some(port.parse().ok()?), false)),
    }
}

impl Guard {
    fn new(options: &HttpOptions) -> Result<Self> {
        let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        hosts.push(options.listen.ip().to_string());
        for host in &options.allowed_hosts {
            let (host, _, _) = split_host_port(host).ok_or_else(|| {
                Error::invalid_option("allowed_hosts", format!("'{host}' is not a host name"))
            })?;
            hosts.push(host);
        }
        let mut origins = Vec::new();
        for scheme in ["http", "https"] {
            for host in LOOPBACK_HOSTS {
                origins.push(OriginPattern {
                    scheme: scheme.into(),
                    host: host.into(),
                    port: None,
                });
            }
        }
        for origin in &options.allowed_origins {
            let (pattern, _) = OriginPattern::parse(origin).ok_or_else(|| {
                Error::invalid_option(
                    "allowed_origins",
                    format!(
                        "'{origin}' is not an origin; write scheme://host or scheme://host:port"
                    ),
                )
            })?;
            origins.push(pattern);
        }
        if let Some(token) = &options.bearer_token {
            if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
                return Err(Error::invalid_option(
                    "bearer_token",
                    "must be non-empty and contain no whitespace",
                ));
            }
        }
        Ok(Self {
            hosts,
            origins,
            bearer: options.bearer_token.clone(),
            max_body_bytes: options.max_body_bytes,
        })
    }

    /// Why the request must be refused, if it must.
    fn check(&self, headers: &HeaderMap) -> Option<(StatusCode, String)> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        match host.and_then(split_host_port) {
            Some((host, _, _)) if self.hosts.contains(&host) => {}
            Some((host, _, _)) => {
                return Some((
                    StatusCode::FORBIDDEN,
                    format!("Host '{host}' is not allowed: this MCP server only answers requests addressed to its own host names (DNS-rebinding protection); add the name to the allowed hosts to serve it"),
                ))
            }
            None => {
                return Some((
                    StatusCode::BAD_REQUEST,
                    "the request has no valid Host header".to_string(),
                ))
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let text = origin.to_str().unwrap_or("");
            let allowed = OriginPattern::parse(text)
                .is_some_and(|(origin, _)| self.origins.iter().any(|p| p.matches(&origin)));
            if !allowed {
                return Some((
                    StatusCode::FORBIDDEN,
                    format!("Origin '{text}' is not allowed: browser pages may only call this MCP server from its allowed origins (DNS-rebinding protection)"),
                ));
            }
        }
        if let Some(expected) = &self.bearer {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !given.is_some_and(|given| constant_time_eq(given.as_bytes(), expected.as_bytes())) {
                return Some((
                    StatusCode::UNAUTHORIZED,
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>'"
                        .to_string(),
                ));
            }
        }
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(length) = length.filter(|&l| l > self.max_body_bytes) {
            return Some((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is {length} bytes; this server accepts at most {} bytes",
                    self.max_body_bytes
                ),
            ));
        }
        None
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Compare every byte so the time taken says nothing about where they differ.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A refusal in JSON-RPC's error shape, so MCP clients can show the message.
fn refusal(status: StatusCode, message: String) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32600, "message": message },
    });
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

async fn guard(State(guard): State<Arc<Guard>>, request: Request<Body>, next: Next) -> Response {
    if let Some((status, message)) = guard.check(request.headers()) {
        tracing::warn!(%status, %message, "refused an MCP HTTP request");
        return refusal(status, message);
    }
    let is_delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    // A session is ended at once: say so with 204, which every client takes as success
    // (some read 202 as a failure to end the session).
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
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
    let guard_state = Arc::new(Guard::new(options)?);
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(guard_state.hosts.clone())
        .with_sse_keep_alive(options.sse_keep_alive)
        .with_legacy_session_mode(options.stateful)
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(shutdown);
    if !options.stateful {
        config = config.with_json_response(true);
    }
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(options.session_idle_timeout);
    let server = server.clone();
    let service =
        StreamableHttpService::new(move || Ok(server.session()), Arc::new(sessions), config);
    Ok(axum::Router::new()
        .route_service(MCP_PATH, service)
        .layer(axum::middleware::from_fn_with_state(guard_state, guard)))
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
    let app = router(server, &options, shutdown.clone())?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::io(format!("binding {}", options.listen), e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
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

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn guard(options: HttpOptions) -> Guard {
        Guard::new(&options).unwrap()
    }

    #[test]
    fn loopback_hosts_and_origins_pass() {
        let g = guard(HttpOptions::default());
        for host in ["localhost:8765", "127.0.0.1:1", "[::1]:80", "LOCALHOST"] {
            assert_eq!(g.check(&headers(&[("host", host)])), None, "{host}");
        }
        let h = headers(&[("host", "localhost"), ("origin", "http://localhost:3000")]);
        assert_eq!(g.check(&h), None);
    }

    #[test]
    fn foreign_hosts_and_origins_are_refused() {
        let g = guard(HttpOptions::default());
        let (status, message) = g.check(&headers(&[("host", "evil.example.com")])).unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(message.contains("evil.example.com"), "{message}");
        let h = headers(&[("host", "localhost"), ("origin", "http://evil.example.com")]);
        assert_eq!(g.check(&h).unwrap().0, StatusCode::FORBIDDEN);
        let h = headers(&[("host", "localhost"), ("origin", "null")]);
        assert_eq!(g.check(&h).unwrap().0, StatusCode::FORBIDDEN);
        assert_eq!(
            g.check(&HeaderMap::new()).unwrap().0,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn configured_hosts_and_origins_pass() {
        let g = guard(HttpOptions {
            allowed_hosts: vec!["mcp.internal:443".into()],
            allowed_origins: vec!["https://app.example.com:8443".into()],
            ..HttpOptions::default()
        });
        let h = headers(&[
            ("host", "mcp.internal"),
            ("origin", "https://app.example.com:8443"),
        ]);
        assert_eq!(g.check(&h), None);
        let h = headers(&[
            ("host", "mcp.internal"),
            ("origin", "https://app.example.com:9"),
        ]);
        assert!(g.check(&h).is_some());
    }

    #[test]
    fn bearer_token_is_required_when_set() {
        let g = guard(HttpOptions {
            bearer_token: Some("s3cret".into()),
            ..HttpOptions::default()
        });
        let (status, _) = g.check(&headers(&[("host", "localhost")])).unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let h = headers(&[("host", "localhost"), ("authorization", "Bearer wrong")]);
        assert_eq!(g.check(&h).unwrap().0, StatusCode::UNAUTHORIZED);
        let h = headers(&[("host", "localhost"), ("authorization", "Bearer s3cret")]);
        assert_eq!(g.check(&h), None);
    }

    #[test]
    fn oversized_bodies_are_refused_by_length() {
        let g = guard(HttpOptions {
            max_body_bytes: 10,
            ..HttpOptions::default()
        });
        let h = headers(&[("host", "localhost"), ("content-length", "11")]);
        assert_eq!(g.check(&h).unwrap().0, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn listening_beyond_loopback_needs_a_token() {
        let server = McpServer::builder("t", "0").build().unwrap();
        let options = HttpOptions {
            listen: "0.0.0.0:0".parse().unwrap(),
            ..HttpOptions::default()
        };
        let err = router(&server, &options, CancellationToken::new()).unwrap_err();
        assert!(err.to_string().contains("bearer token"), "{err}");
    }
}
