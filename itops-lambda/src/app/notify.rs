//! Notifications and escalation: a generic JSON webhook and a Slack-compatible incoming
//! webhook, retried with backoff; every attempt lands on the incident's timeline.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use itops_core::{Actor, Clock, Incident, Severity, StateStore, TimelineEntry, TimelineKind};
use serde_json::json;

/// How loudly an incident is announced, from its severity.
pub(crate) fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "page",
        Severity::High => "urgent",
        Severity::Medium => "notify",
        Severity::Low => "log",
    }
}

/// What is announced.
#[derive(Clone, Debug)]
pub enum Notice {
    /// A plan waits for a human decision.
    ApprovalRequested {
        /// The approval page, carrying the one-time token.
        link: String,
        /// What is to be approved.
        summary: String,
        /// When the request expires.
        expires_at: DateTime<Utc>,
    },
    /// Triage assessed a high or critical incident: people are told (paged, for critical)
    /// while the agents investigate.
    Triaged {
        /// Urgency, 1 to 10.
        urgency: u8,
        /// What triage saw.
        reasoning: String,
    },
    /// The incident was handed to humans.
    Escalated {
        /// Why.
        reason: String,
    },
    /// The incident was fixed and verified.
    Resolved {
        /// What verification saw.
        summary: String,
    },
}

impl Notice {
    fn event(&self) -> &'static str {
        match self {
            Notice::ApprovalRequested { .. } => "approval_requested",
            Notice::Triaged { .. } => "triaged",
            Notice::Escalated { .. } => "escalated",
            Notice::Resolved { .. } => "resolved",
        }
    }
}

/// Sends notices to the configured channels.
#[derive(Clone)]
pub struct Notifier {
    client: reqwest::Client,
    webhook_url: Option<String>,
    slack_url: Option<String>,
    min_severity: Severity,
    attempts: u32,
    base_delay: Duration,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("webhook", &self.webhook_url.is_some())
            .field("slack", &self.slack_url.is_some())
            .field("min_severity", &self.min_severity)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier writing attempts to `store`'s timelines.
    pub fn new(
        webhook_url: Option<String>,
        slack_url: Option<String>,
        min_severity: Severity,
        attempts: u32,
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            client,
            webhook_url,
            slack_url,
            min_severity,
            attempts: attempts.clamp(1, 10),
            base_delay: Duration::from_millis(500),
            store,
            clock,
        }
    }

    /// Waits `delay`, doubling per attempt, between attempts (tests use a short one).
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Announces `notice` for `incident` on every channel, retrying each; returns when
    /// every channel delivered or gave up. Approval requests are always sent; other notices
    /// only from the configured minimum severity up.
    pub async fn notify(&self, incident: &Incident, notice: Notice) {
        let level = level(incident.severity);
        let wanted = matches!(notice, Notice::ApprovalRequested { .. })
            || incident.severity.rank() >= self.min_severity.rank();
        let channels: Vec<(&str, &String)> = [
            ("webhook", self.webhook_url.as_ref()),
            ("slack", self.slack_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, url)| url.map(|u| (name, u)))
        .collect();
        if !wanted || channels.is_empty() {
            let why = if wanted {
                "no notification channel is configured".to_string()
            } else {
                format!("below the notified severity ({})", self.min_severity)
            };
            self.record(
                incident,
                format!("{} ({level}): not sent: {why}", notice.event()),
                json!({ "event": notice.event(), "level": level, "sent": false }),
            )
            .await;
            return;
        }
        for (channel, url) in channels {
            let body = match channel {
                "slack" => slack_body(incident, &notice, level),
                _ => webhook_body(incident, &notice, level),
            };
            self.deliver(incident, channel, url, &notice, level, &body)
                .await;
        }
    }

    async fn deliver(
        &self,
        incident: &Incident,
        channel: &str,
        url: &str,
        notice: &Notice,
        level: &str,
        body: &serde_json::Value,
    ) {
        let mut delay = self.base_delay;
        for attempt in 1..=self.attempts {
            let outcome = match self.client.post(url).json(body).send().await {
                Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Err(if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    "could not connect".to_string()
                }),
            };
            let payload = json!({
                "event": notice.event(), "level": level, "channel": channel,
                "attempt": attempt, "attempts": self.attempts,
                "sent": outcome.is_ok(),
            });
            match outcome {
                Ok(status) => {
                    self.record(
                        incident,
                        format!(
                            "{} ({level}) sent to {channel} (attempt {attempt}, HTTP {status})",
                            notice.event()
                        ),
                        payload,
                    )
                    .await;
                    return;
                }
                Err(why) => {
                    let last = attempt == self.attempts;
                    self.record(
                        incident,
                        format!(
                            "{} ({level}) to {channel} failed (attempt {attempt} of {}): {why}{}",
                            notice.event(),
                            self.attempts,
                            if last { "; giving up" } else { "; retrying" }
                        ),
                        payload,
                    )
                    .await;
                    if last {
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    async fn record(&self, incident: &Incident, summary: String, payload: serde_json::Value) {
        let entry = TimelineEntry::new(
            incident.id,
            self.clock.now(),
            Actor::Integration("notifier".into()),
            TimelineKind::Notification,
            summary,
        )
        .with_payload(payload);
        if let Err(error) = self.store.append_timeline(&entry).await {
            tracing::warn!(incident_id = %incident.id, %error, "could not record a notification");
        }
    }
}

fn webhook_body(incident: &Incident, notice: &Notice, level: &str) -> serde_json::Value {
    let mut body = json!({
        "event": notice.event(),
        "level": level,
        "incident": {
            "id": incident.id, "title": incident.title, "severity": incident.severity,
            "status": incident.status, "affected_services": incident.affected_services,
        },
    });
    match notice {
        Notice::ApprovalRequested {
            link,
            summary,
            expires_at,
        } => {
            body["approval"] =
                json!({ "link": link, "summary": summary, "expires_at": expires_at });
        }
        Notice::Triaged { urgency, reasoning } => {
            body["triage"] = json!({ "urgency": urgency, "reasoning": reasoning });
        }
        Notice::Escalated { reason } => body["reason"] = json!(reason),
        Notice::Resolved { summary } => body["verification"] = json!(summary),
    }
    body
}

/// Text for Slack's markup with its control characters escaped (`&`, `<`, `>`), so that a
/// title or a model's words cannot render as a link, a mention or a fake "approve" button.
pub(crate) fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_body(incident: &Incident, notice: &Notice, level: &str) -> serde_json::Value {
    let head = format!(
        "[{level}] {} incident: {}",
        incident.severity,
        slack_escape(&incident.title)
    );
    let text = match notice {
        Notice::ApprovalRequested {
            link,
            summary,
            expires_at,
        } => format!(
            "{head}\nApproval needed: {}\nDecide before {}: <{}|approve or reject>",
            slack_escape(summary),
            expires_at.format("%Y-%m-%d %H:%M UTC"),
            slack_escape(link)
        ),
        Notice::Triaged { urgency, reasoning } => format!(
            "{head}\nUrgency {urgency}/10; the agents are investigating. {}",
            slack_escape(reasoning)
        ),
        Notice::Escalated { reason } => {
            format!("{head}\nEscalated to on-call: {}", slack_escape(reason))
        }
        Notice::Resolved { summary } => {
            format!("{head}\nResolved and verified: {}", slack_escape(summary))
        }
    };
    json!({ "text": text })
}
