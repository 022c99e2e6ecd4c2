//! [`WebhookExecutor`]: the deployment runs actions by handing them to the user's own
//! automation (a deploy pipeline, an SSM Automation runbook behind an endpoint, a chat-ops
//! bot) over HTTPS. itops decides and records; the user's automation acts.

use std::time::Duration;

use async_trait::async_trait;
use itops_core::environment::{ActionExecutor, ActionReport};
use itops_core::{Clock, Error, RemediationAction, Result};
use std::sync::Arc;

/// Longest a webhook call may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Most of the response body kept as the action's detail.
const MAX_DETAIL: usize = 500;

/// An [`ActionExecutor`] that POSTs each action (its `RemediationAction` JSON, with the
/// action id as the idempotency key in the `Idempotency-Key` header) to a URL; a 2xx answer
/// means the action was applied, and its body becomes the action's detail.
#[derive(Clone)]
pub struct WebhookExecutor {
    url: Option<String>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl WebhookExecutor {
    /// Actions go to `url`; with none, every action fails saying that nothing is configured.
    pub fn new(url: Option<String>, clock: Arc<dyn Clock>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { url, client, clock }
    }
}

fn failed(action: &RemediationAction, message: String) -> Error {
    Error::Step {
        step: "execute".into(),
        incident: String::new(),
        message: format!("{} on {}: {message}", action.catalogue_id, action.target),
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
        let response = self
            .client
            .post(url)
            .header("Idempotency-Key", action.id.to_string())
            .json(action)
            .send()
            .await
            .map_err(|e| failed(action, format!("the action webhook did not answer: {e}")))?;
        let status = response.status();
        let mut detail = response.text().await.unwrap_or_default();
        if detail.len() > MAX_DETAIL {
            let mut cut = MAX_DETAIL;
            while !detail.is_char_boundary(cut) {
                cut -= 1;
            }
            detail.truncate(cut);
        }
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
