//! [`WebhookExecutor`]: actions run by handing them to the user's own automation (a deploy
//! pipeline, an SSM Automation runbook behind an endpoint, a chat-ops bot) over HTTPS,
//! from `itops serve` (`[actions] webhook_url`) and from the AWS deployment's execute
//! function alike. itops decides and records; the user's automation acts.
//!
//! Every request is signed: the header [`SIGNATURE_HEADER`] carries
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the shared secret>`. A
//! receiver recomputes the HMAC over the timestamp and the raw body, compares in constant
//! time, refuses a timestamp more than a few minutes old, and refuses a signature (or an
//! `Idempotency-Key`) it has seen before: an altered or replayed request then fails.

use std::time::Duration;

use async_trait::async_trait;
use itops_core::environment::{ActionExecutor, ActionReport};
use itops_core::{Clock, Error, RemediationAction, Result};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Longest a webhook call may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Most of the response body kept as the action's detail.
const MAX_DETAIL: usize = 500;
/// The header carrying the request's signature.
pub const SIGNATURE_HEADER: &str = "x-itops-signature";
/// The shortest secret accepted.
pub const MIN_SECRET_CHARS: usize = 16;

/// HMAC-SHA256 of `message` under `key` (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let mac = hmac_sha256(secret.as_bytes(), &message);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// `text` with every http(s) URL replaced by `<url>`: error texts reach the timeline, and a
/// webhook URL often carries a credential in its path or query.
pub(crate) fn strip_urls(text: &str) -> String {
    // ASCII lower-casing keeps every byte where it was, so positions carry over.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(found) = lower[at..].find("http") {
        let start = at + found;
        let tail = &lower[start..];
        if !(tail.starts_with("http://") || tail.starts_with("https://")) {
            out.push_str(&text[at..start + 4]);
            at = start + 4;
            continue;
        }
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>'))
            .map_or(text.len(), |e| start + e);
        out.push_str(&text[at..start]);
        out.push_str("<url>");
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// An [`ActionExecutor`] that POSTs each action (its `RemediationAction` JSON, with the
/// action id as the idempotency key in the `Idempotency-Key` header, signed in
/// [`SIGNATURE_HEADER`]) to a URL; a 2xx answer means the action was applied, and its body
/// becomes the action's detail.
#[derive(Clone)]
pub struct WebhookExecutor {
    url: Option<String>,
    secret: Option<String>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl WebhookExecutor {
    /// Actions go to `url`; with none, every action fails saying that nothing is configured.
    /// Without a signing secret ([`with_secret`](Self::with_secret)) nothing is sent either.
    pub fn new(url: Option<String>, clock: Arc<dyn Clock>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            url,
            secret: None,
            client,
            clock,
        }
    }

    /// Signs every request with `secret` (at least [`MIN_SECRET_CHARS`] characters).
    pub fn with_secret(mut self, secret: Option<String>) -> Self {
        self.secret = secret.filter(|s| !s.trim().is_empty());
        self
    }
}

fn failed(action: &RemediationAction, message: String) -> Error {
    Error::Step {
        step: "execute".into(),
        incident: String::new(),
        message: format!(
            "{} on {}: {}",
            action.catalogue_id,
            action.target,
            strip_urls(&message)
        ),
    }
}

/// What went wrong sending a request, without the URL reqwest puts in its errors.
fn transport_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        strip_urls(&error.to_string())
    }
}

#[async_trait]
impl ActionExecutor for WebhookExecutor {
    async fn execute(&self, action: &RemediationAction) -> Result<ActionReport> {
        let Some(url) = &self.url else {
            return Err(failed(
                action,
                "no action webhook is configured (ITOPS_ACTION_WEBHOOK_URL); nothing was run"
                    .into(),
            ));
        };
        let Some(secret) = self
            .secret
            .as_deref()
            .filter(|s| s.len() >= MIN_SECRET_CHARS)
        else {
            return Err(failed(
                action,
                format!(
                    "no signing secret of at least {MIN_SECRET_CHARS} characters is configured \
                     for the action webhook (ITOPS_ACTION_WEBHOOK_SECRET or \
                     ITOPS_ACTION_WEBHOOK_SECRET_ARN); nothing was run"
                ),
            ));
        };
        let body = serde_json::to_vec(action).map_err(|e| Error::serialization("the action", e))?;
        let timestamp = self.clock.now().timestamp();
        let response = self
            .client
            .post(url)
            .header("Idempotency-Key", action.id.to_string())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature(secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                failed(
                    action,
                    format!("the action webhook did not answer: {}", transport_error(&e)),
                )
            })?;
        let status = response.status();
        let mut detail = response.text().await.unwrap_or_default();
        if detail.len() > MAX_DETAIL {
            let mut cut = MAX_DETAIL;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
        let detail = strip_urls(&detail);
        if !status.is_success() {
            return Err(failed(
                action,
                format!("the action webhook answered {status}: {detail}"),
            ));
        }
        Ok(ActionReport {
            action_id: action.id,
            catalogue_id: action.catalogue_id.clone(),
            target: action.target.clone(),
            applied: true,
            at: self.clock.now(),
            detail: if detail.trim().is_empty() {
                format!("accepted by the action webhook ({status})")
            } else {
                detail
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (RFC 4231 case 6).
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn urls_are_stripped_from_error_texts() {
        assert_eq!(
            strip_urls("error sending request for url (https://h.example/x?token=s3cret): refused"),
            "error sending request for url (<url>): refused"
        );
        assert_eq!(strip_urls("no url here"), "no url here");
        assert_eq!(strip_urls("HTTP://A/b and http://c/d"), "<url> and <url>");
    }
}
