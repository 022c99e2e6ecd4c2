//! What every source of the crate shares: the HTTP client and its settings (timeout,
//! authentication, tenant header), the retries through a circuit breaker, the cap on an
//! answer's size, and the mapping of failures to core errors.
//!
//! A request that may pass if tried again (unreachable, timed out, a 5xx, a 429) is an
//! [`Error::Tool`] marked retryable and counts against the breaker; one the backend
//! refuses (another 4xx) is the caller's mistake, [`Error::Invalid`] with the backend's
//! message, and counts against neither.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use itops_core::breaker::{
    call_guarded, BreakerConfig, CircuitBreaker, ConsecutiveFailureBreaker, RetryPolicy,
};
use itops_core::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The header that names the tenant of a multi-tenant Loki, Tempo or Mimir.
pub(crate) const TENANT_HEADER: &str = "X-Scope-OrgID";

/// How much of an unreadable answer an error quotes.
const QUOTED_CHARS: usize = 300;

/// Where and how to reach a backend's HTTP API: what the configuration of every source of
/// the crate holds (each adds its own limits beside it).
#[derive(Clone, Debug)]
pub struct Connection {
    /// The API's base URL (`http://` or `https://`, optionally with a path prefix).
    pub url: String,
    /// A bearer token.
    pub bearer_token: Option<String>,
    /// Basic-auth user and password.
    pub basic_auth: Option<(String, String)>,
    /// The tenant, sent in the backend's tenant header (`X-Scope-OrgID` for Loki, Tempo
    /// and Mimir, `x-tenant` for Jaeger).
    pub tenant: Option<String>,
    /// Each request's timeout.
    pub timeout: Duration,
    /// Retries of a request that failed in a way that may pass.
    pub retry: RetryPolicy,
    /// The circuit breaker every request goes through.
    pub breaker: BreakerConfig,
    /// The largest answer read, in bytes; a larger one is an error.
    pub max_response_bytes: usize,
}

impl Connection {
    /// `url` without authentication or tenant, a 30 s timeout, the default retries and
    /// breaker, and answers of at most `max_response_bytes`.
    pub fn new(url: impl Into<String>, max_response_bytes: usize) -> Self {
        Self {
            url: url.into(),
            bearer_token: None,
            basic_auth: None,
            tenant: None,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            max_response_bytes,
        }
    }

    /// With the bearer token held by the environment variable `var`, when it is set and
    /// not empty.
    pub fn bearer_token_from_env(mut self, var: &str) -> Self {
        if let Some(token) = env_secret(var) {
            self.bearer_token = Some(token);
        }
        self
    }

    /// With `tenant` sent in the backend's tenant header.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// Finds the backend's own message in the body of a failed answer, when it has one.
pub(crate) type ErrorText = fn(&str) -> Option<String>;

/// An HTTP API of one backend, behind retries and a circuit breaker.
pub(crate) struct Backend {
    /// The backend's name in errors and logs (`prometheus`, `loki`, ...).
    name: &'static str,
    base: String,
    settings: Connection,
    /// The header the tenant goes in.
    tenant_header: &'static str,
    http: reqwest::Client,
    breaker: Arc<dyn CircuitBreaker>,
    error_text: ErrorText,
    requests: AtomicU64,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings hold secrets: only the address is shown.
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("url", &self.base)
            .finish_non_exhaustive()
    }
}

/// A failure of `backend`'s API.
pub(crate) fn failure(backend: &str, message: impl Into<String>, retryable: bool) -> Error {
    Error::Tool {
        tool: backend.into(),
        message: message.into(),
        retryable,
    }
}

/// The value of the environment variable `var`, when it is set and not empty.
pub(crate) fn env_secret(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|t| !t.is_empty())
}

/// A double-quoted string literal of PromQL, LogQL or TraceQL (Go's syntax: JSON's escapes
/// are all valid there), so that no text can end the string early.
pub(crate) fn string_literal(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

/// `text` with every character special to a RE2 regular expression escaped, so that it
/// matches itself only.
pub(crate) fn regex_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The message of a Prometheus-style error envelope (`errorType`, `error`), as Prometheus
/// and Loki send.
pub(crate) fn envelope_error(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Failed {
        #[serde(rename = "errorType")]
        error_type: Option<String>,
        error: Option<String>,
    }
    let failed: Failed = serde_json::from_str(body).ok()?;
    match (failed.error_type, failed.error) {
        (Some(kind), Some(error)) => Some(format!("{kind}: {error}")),
        (None, Some(error)) => Some(error),
        _ => None,
    }
}

fn quote_start(text: &str) -> String {
    let start: String = text.trim().chars().take(QUOTED_CHARS).collect();
    if start.is_empty() {
        "no message".into()
    } else {
        start
    }
}

impl Backend {
    /// A backend reached through `connection`, naming its tenant in `tenant_header` (no
    /// request is made yet); `error_text` reads its error bodies (`None`: the body's start
    /// is quoted as it is).
    pub(crate) fn new(
        name: &'static str,
        connection: &Connection,
        tenant_header: &'static str,
        error_text: ErrorText,
    ) -> Result<Self> {
        let settings = connection.clone();
        let base = settings.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid(
                "url",
                format!("'{}' is not an http:// or https:// URL", settings.url),
            ));
        }
        if settings.max_response_bytes == 0 {
            return Err(Error::invalid("max_response_bytes", "must be at least 1"));
        }
        settings.retry.validate()?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| failure(name, format!("cannot build the HTTP client: {e}"), false))?;
        let breaker = Arc::new(ConsecutiveFailureBreaker::new(
            name,
            settings.breaker.clone(),
        )?);
        Ok(Self {
            name,
            base,
            settings,
            tenant_header,
            http,
            breaker,
            error_text,
            requests: AtomicU64::new(0),
        })
    }

    /// The base URL, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// How many HTTP requests were sent (retries included).
    pub(crate) fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The circuit breaker guarding the API.
    pub(crate) fn breaker(&self) -> Arc<dyn CircuitBreaker> {
        self.breaker.clone()
    }

    /// A failure of this backend.
    pub(crate) fn failure(&self, message: impl Into<String>, retryable: bool) -> Error {
        failure(self.name, message, retryable)
    }

    /// `GET path?params`, its JSON answer decoded, retried when it may pass, through the
    /// circuit breaker.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<T> {
        match self.get_inner(path, params, false).await? {
            Some(value) => Ok(value),
            None => Err(self.failure(format!("{}{path}: no answer", self.base), false)),
        }
    }

    /// As [`Backend::get`], but a 404 is `None` (a trace that is not there).
    pub(crate) async fn get_if_found<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Option<T>> {
        self.get_inner(path, params, true).await
    }

    async fn get_inner<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
        missing_ok: bool,
    ) -> Result<Option<T>> {
        self.settings
            .retry
            .run(|_| {
                call_guarded(
                    self.breaker.as_ref(),
                    self.get_once(path, params, missing_ok),
                )
            })
            .await
    }

    async fn get_once<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(&str, String)],
        missing_ok: bool,
    ) -> Result<Option<T>> {
        let url = format!("{}{path}", self.base);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self.http.get(&url).query(params);
        if let Some(token) = &self.settings.bearer_token {
            request = request.bearer_auth(token);
        } else if let Some((user, password)) = &self.settings.basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(tenant) = &self.settings.tenant {
            request = request.header(self.tenant_header, tenant);
        }
        let mut response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                format!("timed out after {:?}", self.settings.timeout)
            } else {
                format!("cannot reach it: {e}")
            };
            self.failure(format!("{url}: {what}"), true)
        })?;
        let status = response.status();
        let limit = self.settings.max_response_bytes;
        let too_large = || {
            self.failure(
                format!(
                    "{url}: the answer is larger than the {limit} bytes allowed \
                     (max_response_bytes); narrow the query"
                ),
                false,
            )
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.failure(format!("{url}: reading the answer: {e}"), true))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body);
        if status.is_success() {
            return serde_json::from_str(&text).map(Some).map_err(|e| {
                self.failure(
                    format!(
                        "{url}: HTTP {status}, not a {} API answer ({e}): {}",
                        self.name,
                        quote_start(&text)
                    ),
                    false,
                )
            });
        }
        if missing_ok && status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let message = (self.error_text)(&text).unwrap_or_else(|| quote_start(&text));
        let message = format!("{url}: HTTP {status}, {message}");
        // A request the server refuses (a bad query, a bad label) is the caller's mistake:
        // it says nothing about the server's health.
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::invalid("query", message));
        }
        Err(self.failure(
            message,
            status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_regexes_keep_the_text_inside() {
        assert_eq!(string_literal(r#"a"} |= "b\"#), r#""a\"} |= \"b\\""#);
        assert_eq!(string_literal("x\ny"), r#""x\ny""#);
        assert_eq!(regex_escaped("a.b(c)*"), r"a\.b\(c\)\*");
        assert_eq!(regex_escaped(r"\d"), r"\\d");
    }

    #[test]
    fn envelope_errors_read_their_kind_and_message() {
        assert_eq!(
            envelope_error(r#"{"status":"error","errorType":"bad_data","error":"parse"}"#),
            Some("bad_data: parse".into())
        );
        assert_eq!(envelope_error("parse error at line 1"), None);
    }
}
