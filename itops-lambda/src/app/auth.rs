//! Bearer tokens with roles. Tokens are kept as SHA-256 hashes; the admin token comes from
//! the configuration or `ITOPS_ADMIN_TOKEN`, or is generated and printed once at start.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::AuthConfig;
use super::error::ApiError;
use super::AppState;
use crate::error::{Error, Result};

/// What a token may do; from viewer on, each role may do everything the ones before it
/// may. An ingest token stands apart: it may send telemetry over OTLP and nothing else (it
/// reads nothing), and operators and admins may send telemetry too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Send telemetry (`POST /v1/traces`, `/v1/logs`, `/v1/metrics`) and nothing else.
    Ingest,
    /// Read incidents, timelines, approvals.
    Viewer,
    /// Also create and change incidents, start workflows, decide approvals, post alerts,
    /// inject simulated faults.
    Operator,
    /// Everything, including deleting incidents.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "ingest" => Ok(Role::Ingest),
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(Error::Usage(format!(
                "unknown role '{other}': use viewer, operator, admin or ingest"
            ))),
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub(crate) struct Principal {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Principal {
    /// `Forbidden` unless the principal has at least `role`.
    pub(crate) fn require(&self, role: Role) -> std::result::Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "'{}' is a {:?} token; this needs {role:?} or above",
                self.name, self.role
            )))
        }
    }
}

/// The known tokens.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tokens {
    by_hash: Arc<HashMap<String, Principal>>,
    /// The hash of the token that may read `/metrics` only.
    metrics_hash: Option<String>,
    /// Whether `/metrics` is served without a token.
    public_metrics: bool,
}

/// SHA-256 of a token, lowercase hex.
pub(crate) fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a secret to `path`, readable and writable by the owner only (mode 0600 on Unix,
/// also when the file existed with looser permissions).
pub(crate) fn write_secret(path: &std::path::Path, secret: &str) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, format!("{secret}\n").as_bytes()).map_err(io)
}

/// A fresh random token (244 random bits, hex), from the same source as approval tokens.
pub(crate) fn generate_token() -> String {
    itops_core::ApprovalToken::generate().expose().to_string()
}

impl Tokens {
    /// Builds the token table; returns it and the generated admin token, if one was made.
    pub(crate) fn from_config(config: &AuthConfig) -> Result<(Self, Option<String>)> {
        let mut by_hash = HashMap::new();
        let mut generated = None;
        let admin = match &config.admin_token {
            Some(t) if t.trim().len() >= 16 => t.trim().to_string(),
            Some(_) => {
                return Err(Error::Usage(
                    "auth.admin_token (ITOPS_ADMIN_TOKEN) must be at least 16 characters".into(),
                ))
            }
            None => {
                let t = generate_token();
                generated = Some(t.clone());
                t
            }
        };
        by_hash.insert(
            token_hash(&admin),
            Principal {
                name: "admin".into(),
                role: Role::Admin,
            },
        );
        for t in &config.tokens {
            let hash = match (&t.token, &t.token_sha256) {
                (Some(token), None) if token.trim().len() >= 16 => token_hash(token.trim()),
                (Some(_), None) => {
                    return Err(Error::Usage(format!(
                        "auth.tokens: token '{}' must be at least 16 characters",
                        t.name
                    )))
                }
                (None, Some(hash))
                    if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
                {
                    hash.to_ascii_lowercase()
                }
                (None, Some(_)) => {
                    return Err(Error::Usage(format!(
                        "auth.tokens: token '{}': token_sha256 must be 64 hex characters",
                        t.name
                    )))
                }
                _ => {
                    return Err(Error::Usage(format!(
                        "auth.tokens: token '{}': give exactly one of token or token_sha256",
                        t.name
                    )))
                }
            };
            by_hash.insert(
                hash,
                Principal {
                    name: t.name.clone(),
                    role: t.role.parse()?,
                },
            );
        }
        let metrics_hash = match config.metrics_token.as_deref().map(str::trim) {
            Some(t) if t.len() >= 16 => Some(token_hash(t)),
            Some(_) => {
                return Err(Error::Usage(
                    "auth.metrics_token (ITOPS_METRICS_TOKEN) must be at least 16 characters"
                        .into(),
                ))
            }
            None => None,
        };
        Ok((
            Self {
                by_hash: Arc::new(by_hash),
                metrics_hash,
                public_metrics: config.public_metrics,
            },
            generated,
        ))
    }

    /// The principal holding `token`, if any.
    pub(crate) fn lookup(&self, token: &str) -> Option<Principal> {
        self.by_hash.get(&token_hash(token)).cloned()
    }

    /// Whether a request bearing `token` may read `/metrics`: any API token but an ingest
    /// token, the metrics token, or none at all when the operator made the metrics public.
    pub(crate) fn may_scrape(&self, token: Option<&str>) -> bool {
        if self.public_metrics {
            return true;
        }
        let Some(token) = token else {
            return false;
        };
        let hash = token_hash(token);
        self.by_hash
            .get(&hash)
            .is_some_and(|p| p.role != Role::Ingest)
            || self.metrics_hash.as_deref() == Some(hash.as_str())
    }
}

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    bearer_token(&parts.headers)
}

/// The bearer token in `headers`, if any.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized("send 'Authorization: Bearer <token>' (the token is printed when the server starts)")
        })?;
        let principal = state
            .tokens
            .lookup(token)
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        refuse_ingest(principal)
    }
}

/// An ingest token's holder may send telemetry and nothing else.
fn refuse_ingest(principal: Principal) -> std::result::Result<Principal, ApiError> {
    if principal.role == Role::Ingest {
        return Err(ApiError::forbidden(format!(
            "'{}' is an ingest token: it may only send telemetry (POST /v1/traces, /v1/logs, \
             /v1/metrics)",
            principal.name
        )));
    }
    Ok(principal)
}

/// Who is sending telemetry over OTLP: an ingest, operator or admin token (a viewer's
/// token reads, it does not write).
#[derive(Clone, Debug)]
pub(crate) struct Ingester(pub Principal);

impl FromRequestParts<AppState> for Ingester {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(|| {
            ApiError::unauthorized("send 'Authorization: Bearer <token>' with an ingest token")
        })?;
        let principal = state
            .tokens
            .lookup(token)
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        if principal.role == Role::Viewer {
            return Err(ApiError::forbidden(format!(
                "'{}' is a viewer token; sending telemetry needs an ingest, operator or admin token",
                principal.name
            )));
        }
        Ok(Ingester(principal))
    }
}

/// A principal when the request carries a valid token; `None` without a token (the handler
/// then needs another credential, e.g. an approval's one-time token).
#[derive(Clone, Debug)]
pub(crate) struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        match bearer(parts) {
            None => Ok(MaybePrincipal(None)),
            Some(token) => state
                .tokens
                .lookup(token)
                .ok_or_else(|| ApiError::unauthorized("unknown token"))
                .and_then(refuse_ingest)
                .map(|p| MaybePrincipal(Some(p))),
        }
    }
}
