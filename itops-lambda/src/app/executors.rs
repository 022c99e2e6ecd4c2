//! How approved actions reach real infrastructure from `itops serve` (`[actions]`): a
//! program per catalogue action (the command executor), else the user's automation behind
//! a signed webhook; an action with neither stays a proposal for a person to run.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use itops_core::environment::{ActionExecutor, ActionReport};
use itops_core::{Clock, Error as CoreError, RemediationAction, Result as CoreResult};

use super::config::ActionsConfig;
use super::webhook::{WebhookExecutor, MIN_SECRET_CHARS};
use crate::error::{Error, Result};

/// The environment variable holding the action webhook's signing secret by default.
pub(crate) const WEBHOOK_SECRET_VAR: &str = "ITOPS_ACTION_WEBHOOK_SECRET";

/// Runs each action with its configured program, else through the webhook, else refuses
/// it saying that no executor is configured (the plan stays for a person).
pub(crate) struct ActionRouter {
    commands: Option<itops_stack::CommandExecutor>,
    with_program: BTreeSet<String>,
    webhook: Option<WebhookExecutor>,
    /// Why nothing runs an action that has no executor.
    unrouted: &'static str,
}

impl ActionRouter {
    /// The executors `config` names; `unrouted` says why an action without one is not run.
    pub(crate) fn new(
        config: &ActionsConfig,
        clock: Arc<dyn Clock>,
        unrouted: &'static str,
    ) -> Result<Self> {
        let commands = if config.command.is_empty() {
            None
        } else {
            let mut commands = itops_stack::CommandConfig::new().dry_run(config.dry_run);
            for (id, spec) in &config.command {
                commands = commands.action(id.clone(), spec.clone());
            }
            let executor = itops_stack::CommandExecutor::new(commands)
                .map_err(|e| Error::Usage(format!("[actions.command]: {e}")))?
                .with_clock(clock.clone());
            Some(executor)
        };
        let webhook = match &config.webhook_url {
            Some(url) => {
                let var = config
                    .webhook_secret_env
                    .as_deref()
                    .unwrap_or(WEBHOOK_SECRET_VAR);
                let secret = std::env::var(var).ok().filter(|s| !s.trim().is_empty());
                match secret {
                    Some(s) if s.len() >= MIN_SECRET_CHARS => {
                        Some(WebhookExecutor::new(Some(url.clone()), clock).with_secret(Some(s)))
                    }
                    _ => {
                        return Err(Error::Usage(format!(
                            "actions.webhook_url is set but {var} holds no signing secret of at \
                             least {} characters",
                            MIN_SECRET_CHARS
                        )))
                    }
                }
            }
            None => None,
        };
        Ok(Self {
            commands,
            with_program: config.command.keys().cloned().collect(),
            webhook,
            unrouted,
        })
    }

    /// What runs actions, for people.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.with_program.is_empty() {
            let ids: Vec<&str> = self.with_program.iter().map(String::as_str).collect();
            parts.push(format!("programs for {}", ids.join(", ")));
        }
        if self.webhook.is_some() {
            parts.push("a signed webhook for the others".to_string());
        }
        if parts.is_empty() {
            "none (plans are for a person to run)".to_string()
        } else {
            parts.join("; ")
        }
    }
}

#[async_trait]
impl ActionExecutor for ActionRouter {
    async fn execute(&self, action: &RemediationAction) -> CoreResult<ActionReport> {
        if let Some(commands) = &self.commands {
            if self.with_program.contains(&action.catalogue_id) {
                return commands.execute(action).await;
            }
        }
        if let Some(webhook) = &self.webhook {
            return webhook.execute(action).await;
        }
        Err(CoreError::Step {
            step: "execute".into(),
            incident: String::new(),
            message: format!(
                "{} on {}: no executor is configured for it ({}); the plan is for a person to run",
                action.catalogue_id, action.target, self.unrouted
            ),
        })
    }
}
