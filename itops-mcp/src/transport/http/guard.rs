//! The checks in front of the MCP endpoint: `Host` and `Origin` (DNS-rebinding
//! protection; origins match scheme, host and port exactly), the bearer token, the body
//! size, and the cap on open sessions.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::json;

use super::{HttpOptions, LOOPBACK_HOSTS};
use crate::error::{Error, Result};

/// The header naming a request's MCP session.
const SESSION_HEADER: &str = "mcp-session-id";

/// The request checks that run before MCP sees a request.
#[derive(Debug)]
pub(super) struct Guard {
    pub(super) hosts: Vec<String>,
    origins: Vec<Origin>,
    bearer: Option<String>,
    max_body_bytes: usize,
    max_sessions: usize,
    /// The open sessions, counted before a new one is opened.
    sessions: Option<Arc<LocalSessionManager>>,
    /// Held while a session is being opened, so that the cap holds under concurrency.
    opening: tokio::sync::Mutex<()>,
}

/// An origin as browsers send it: scheme, host and port (the scheme's default port when
/// none is written).
#[derive(Debug, PartialEq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        if rest.is_empty() || rest.contains('/') {
            return None;
        }
        let (host, port) = split_host_port(rest)?;
        Some(Self {
            scheme,
            host,
            port: match port {
                Some(port) => port.parse().ok()?,
                None => default_port,
            },
        })
    }
}

/// `host[:port]` (with `[v6]` brackets) as lowercase host and the port as written.
pub(super) fn split_host_port(text: &str) -> Option<(String, Option<&str>)> {
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
    Some((host.to_ascii_lowercase(), port))
}

impl Guard {
    /// The guard for `options`, counting the sessions of `sessions` (stateful servers).
    pub(super) fn new(
        options: &HttpOptions,
        sessions: Option<Arc<LocalSessionManager>>,
    ) -> Result<Self> {
        let mut hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect();
        hosts.push(options.listen.ip().to_string());
        for host in &options.allowed_hosts {
            let (host, _) = split_host_port(host).ok_or_else(|| {
                Error::invalid_option("allowed_hosts", format!("'{host}' is not a host name"))
            })?;
            hosts.push(host);
        }
        // The server's own origin under its loopback names; nothing else by default.
        let mut origins = Vec::new();
        if options.listen.port() != 0 {
            for host in LOOPBACK_HOSTS {
                origins.push(Origin {
                    scheme: "http".into(),
                    host: host.into(),
                    port: options.listen.port(),
                });
            }
        }
        for origin in &options.allowed_origins {
            let parsed = Origin::parse(origin)
                .filter(|_| !origin.contains('*'))
                .ok_or_else(|| {
                    Error::invalid_option(
                        "allowed_origins",
                        format!(
                            "'{origin}' is not an origin; write scheme://host or \
                             scheme://host:port (matched exactly, no wildcards)"
                        ),
                    )
                })?;
            origins.push(parsed);
        }
        if let Some(token) = &options.bearer_token {
            if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
                return Err(Error::invalid_option(
                    "bearer_token",
                    "must be non-empty and contain no whitespace",
                ));
            }
        }
        if options.max_sessions == 0 {
            return Err(Error::invalid_option("max_sessions", "must be at least 1"));
        }
        Ok(Self {
            hosts,
            origins,
            bearer: options.bearer_token.clone(),
            max_body_bytes: options.max_body_bytes,
            max_sessions: options.max_sessions,
            sessions,
            opening: tokio::sync::Mutex::new(()),
        })
    }

    /// Why the request must be refused, if it must.
    pub(super) fn check(&self, headers: &HeaderMap) -> Option<(StatusCode, String)> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        match host.and_then(split_host_port) {
            Some((host, _)) if self.hosts.contains(&host) => {}
            Some((host, _)) => {
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
            let allowed = Origin::parse(text).is_some_and(|origin| self.origins.contains(&origin));
            if !allowed {
                return Some((
                    StatusCode::FORBIDDEN,
                    format!("Origin '{text}' is not allowed: browser pages may only call this MCP server from its allowed origins, matched by scheme, host and port (DNS-rebinding protection)"),
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

    /// The sessions open now.
    async fn open_sessions(&self) -> usize {
        match &self.sessions {
            Some(sessions) => sessions.sessions.read().await.len(),
            None => 0,
        }
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

/// The middleware: refuses what the guard refuses, and a new session beyond the cap.
pub(super) async fn guard(
    State(guard): State<Arc<Guard>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if let Some((status, message)) = guard.check(request.headers()) {
        tracing::warn!(%status, %message, "refused an MCP HTTP request");
        return refusal(status, message);
    }
    let is_delete = request.method() == Method::DELETE;
    // A POST without a session opens one (an `initialize`): counted, one at a time.
    let opens_session = guard.sessions.is_some()
        && request.method() == Method::POST
        && !request.headers().contains_key(SESSION_HEADER);
    let mut response = if opens_session {
        let _opening = guard.opening.lock().await;
        let open = guard.open_sessions().await;
        if open >= guard.max_sessions {
            let message = format!(
                "this MCP server has {open} open sessions, its limit: end one (DELETE with its \
                 Mcp-Session-Id) or wait for an idle one to expire"
            );
            tracing::warn!(open, "refused a new MCP session: too many open");
            return refusal(StatusCode::SERVICE_UNAVAILABLE, message);
        }
        next.run(request).await
    } else {
        next.run(request).await
    };
    // A session is ended at once: say so with 204, which every client takes as success
    // (some read 202 as a failure to end the session).
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
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
        Guard::new(&options, None).unwrap()
    }

    #[test]
    fn loopback_hosts_and_the_servers_own_origin_pass() {
        let g = guard(HttpOptions::default());
        for host in ["localhost:8765", "127.0.0.1:1", "[::1]:80", "LOCALHOST"] {
            assert_eq!(g.check(&headers(&[("host", host)])), None, "{host}");
        }
        let h = headers(&[("host", "localhost"), ("origin", "http://localhost:8765")]);
        assert_eq!(g.check(&h), None);
        // Another local port is another origin.
        let h = headers(&[("host", "localhost"), ("origin", "http://localhost:3000")]);
        assert_eq!(g.check(&h).unwrap().0, StatusCode::FORBIDDEN);
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
    fn configured_origins_match_scheme_host_and_port_exactly() {
        let g = guard(HttpOptions {
            allowed_hosts: vec!["mcp.internal:443".into()],
            allowed_origins: vec![
                "https://app.example.com:8443".into(),
                "https://ops.example.com".into(),
            ],
            ..HttpOptions::default()
        });
        let ok = |origin: &str| {
            g.check(&headers(&[("host", "mcp.internal"), ("origin", origin)]))
                .is_none()
        };
        assert!(ok("https://app.example.com:8443"));
        assert!(ok("https://ops.example.com"));
        assert!(ok("https://ops.example.com:443"));
        assert!(!ok("https://app.example.com:9"));
        assert!(!ok("https://app.example.com"));
        assert!(!ok("http://ops.example.com"));
        assert!(!ok("https://ops.example.com:8443"));
        assert!(Guard::new(
            &HttpOptions {
                allowed_origins: vec!["https://app.example.com:*".into()],
                ..HttpOptions::default()
            },
            None
        )
        .is_err());
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
}
