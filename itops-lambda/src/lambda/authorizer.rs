//! The HTTP API's Lambda authorizer (payload 2.0, simple responses): the API is never open.
//! A request passes with a known bearer token; an approval request carrying a one-time
//! approval token (`X-Approval-Token`, or the decision body's `token`) passes to the API,
//! which checks that token itself; `/healthz` and the web UI's static files (its page, style
//! sheet and the modules of [`ui::MODULES`] under `/js/`) are public.

use serde_json::{json, Value};

use crate::app::auth::Tokens;
use crate::app::ui;

/// Decides whether API Gateway lets a request through.
#[derive(Clone, Debug)]
pub(super) struct Authorizer {
    tokens: Tokens,
}

/// Paths anyone may read: liveness and the web UI's static files (with [`ui_module`]).
const PUBLIC: &[&str] = &["/healthz", "/", "/index.html", "/style.css"];

/// Whether `path` is one of the web UI's modules (`/js/main.js`, ...): only the names the
/// server embeds, so no other path under `/js/` is public.
fn ui_module(path: &str) -> bool {
    path.strip_prefix("/js/")
        .is_some_and(|name| ui::module(name).is_some())
}

impl Authorizer {
    /// An authorizer accepting `tokens`.
    pub(super) fn new(tokens: Tokens) -> Self {
        Self { tokens }
    }

    /// The authorizer's answer to an HTTP API authorizer event:
    /// `{"isAuthorized": bool, "context": {…}}`.
    pub(super) fn decide(&self, event: &Value) -> Value {
        let header = |name: &str| {
            event["headers"]
                .as_object()
                .and_then(|h| {
                    h.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .and_then(|(_, v)| v.as_str())
                })
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let path = event["rawPath"].as_str().unwrap_or("");
        let method = event["requestContext"]["http"]["method"]
            .as_str()
            .unwrap_or("");
        let bearer = header("authorization").and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        });
        if let Some(principal) = bearer.and_then(|t| self.tokens.lookup(t)) {
            return json!({
                "isAuthorized": true,
                "context": { "principal": principal.name, "role": principal.role }
            });
        }
        let approval_path =
            path.starts_with("/api/approvals/") && path.len() > "/api/approvals/".len();
        let one_time = approval_path
            && (header("x-approval-token").is_some()
                || (method == "POST" && path.ends_with("/decision")));
        // The metrics token (or none, when the metrics are public) reads `/metrics` only;
        // the API checks it again.
        if method == "GET" && path == "/metrics" && self.tokens.may_scrape(bearer) {
            return json!({ "isAuthorized": true, "context": { "principal": "metrics" } });
        }
        if bearer.is_none()
            && (one_time || (method == "GET" && (PUBLIC.contains(&path) || ui_module(path))))
        {
            return json!({ "isAuthorized": true, "context": { "principal": "anonymous" } });
        }
        json!({ "isAuthorized": false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::{AuthConfig, TokenConfig};

    fn authorizer() -> Authorizer {
        let config = AuthConfig {
            admin_token: Some("an-admin-token-of-some-length".into()),
            tokens: vec![TokenConfig {
                name: "ops".into(),
                role: "viewer".into(),
                token: None,
                token_sha256: Some(crate::app::auth::token_hash("a-viewer-token-1234")),
            }],
            metrics_token: Some("a-metrics-token-1234".into()),
            public_metrics: false,
        };
        let (tokens, _) = Tokens::from_config(&config).unwrap();
        Authorizer::new(tokens)
    }

    fn event(method: &str, path: &str, headers: Value) -> Value {
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "rawPath": path,
            "headers": headers,
            "requestContext": { "http": { "method": method, "path": path } }
        })
    }

    fn allowed(answer: &Value) -> bool {
        answer["isAuthorized"] == json!(true)
    }

    #[test]
    fn known_tokens_pass_with_their_role_and_others_do_not() {
        let a = authorizer();
        let ok = a.decide(&event(
            "GET",
            "/api/incidents",
            json!({ "authorization": "Bearer a-viewer-token-1234" }),
        ));
        assert!(allowed(&ok));
        assert_eq!(ok["context"]["principal"], "ops");
        assert_eq!(ok["context"]["role"], "viewer");
        for headers in [
            json!({}),
            json!({ "authorization": "Bearer wrong-token-0000000" }),
            json!({ "authorization": "Basic YWRtaW46YWRtaW4=" }),
        ] {
            assert!(!allowed(&a.decide(&event(
                "GET",
                "/api/incidents",
                headers
            ))));
        }
        // A wrong bearer token is refused even where anonymous access would pass.
        assert!(!allowed(&a.decide(&event(
            "GET",
            "/healthz",
            json!({ "Authorization": "Bearer wrong-token-0000000" })
        ))));
    }

    #[test]
    fn the_metrics_token_reads_metrics_and_nothing_else() {
        let a = authorizer();
        let metrics = json!({ "authorization": "Bearer a-metrics-token-1234" });
        assert!(allowed(&a.decide(&event(
            "GET",
            "/metrics",
            metrics.clone()
        ))));
        assert!(!allowed(&a.decide(&event(
            "GET",
            "/api/incidents",
            metrics
        ))));
        assert!(!allowed(&a.decide(&event("GET", "/metrics", json!({})))));
    }

    #[test]
    fn one_time_approval_links_and_public_paths_pass_nothing_else() {
        let a = authorizer();
        let id = "/api/approvals/0193f1a2-0000-7000-8000-000000000000";
        assert!(allowed(&a.decide(&event(
            "GET",
            id,
            json!({ "x-approval-token": "t" })
        ))));
        assert!(allowed(&a.decide(&event(
            "POST",
            &format!("{id}/decision"),
            json!({})
        ))));
        assert!(allowed(&a.decide(&event("GET", "/healthz", json!({})))));
        assert!(allowed(&a.decide(&event("GET", "/", json!({})))));
        for (name, _) in ui::MODULES {
            let path = format!("/js/{name}");
            assert!(
                allowed(&a.decide(&event("GET", &path, json!({})))),
                "{path}"
            );
        }
        for (method, path) in [
            ("GET", "/app.js"),
            ("GET", "/js/"),
            ("GET", "/js/unknown.js"),
            ("GET", "/js/../api/incidents"),
            ("GET", "/js/main.js/x"),
            ("GET", "/api/js/main.js"),
            ("POST", "/js/main.js"),
            ("GET", id),
            ("GET", "/api/approvals"),
            ("POST", "/api/incidents"),
            ("GET", "/metrics"),
            ("DELETE", "/"),
        ] {
            assert!(
                !allowed(&a.decide(&event(method, path, json!({})))),
                "{method} {path}"
            );
        }
    }
}
