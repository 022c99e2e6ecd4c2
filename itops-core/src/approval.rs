//! Human approval of risky actions: request → one-time token → one decision → or expiry.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::Actor;
use crate::error::{Error, Result};
use crate::id::{ApprovalId, IncidentId};
use crate::word_enum::word_enum;

word_enum! {
    /// Where an approval stands.
    pub enum ApprovalStatus as "approval status" {
        /// Waiting for a decision.
        Pending = "pending",
        /// Approved: the actions may run.
        Approved = "approved",
        /// Rejected: the actions must not run.
        Rejected = "rejected",
        /// No decision arrived in time.
        Expired = "expired",
    }
}

word_enum! {
    /// A decision on an approval.
    pub enum Verdict as "verdict" {
        /// Let the actions run.
        Approve = "approve",
        /// Do not run them.
        Reject = "reject",
    }
}

/// A request for a human decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Chosen by the caller, so that a retried request can be recognised.
    pub id: ApprovalId,
    /// The incident.
    pub incident_id: IncidentId,
    /// What is to be approved, in one line.
    pub summary: String,
    /// Details (the actions, their risk, the evidence).
    pub payload: serde_json::Value,
    /// Who asks.
    pub requested_by: Actor,
    /// How long a decision may take.
    pub ttl: Duration,
}

impl ApprovalRequest {
    /// A request with a fresh id.
    pub fn new(incident_id: IncidentId, summary: impl Into<String>, ttl: Duration) -> Self {
        Self {
            id: ApprovalId::new(),
            incident_id,
            summary: summary.into(),
            payload: serde_json::Value::Null,
            requested_by: Actor::System,
            ttl,
        }
    }
}

/// An approval as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Approval {
    /// Id.
    pub id: ApprovalId,
    /// The incident.
    pub incident_id: IncidentId,
    /// What is to be approved.
    pub summary: String,
    /// Details.
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Who asked.
    pub requested_by: Actor,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// When it expires if undecided.
    pub expires_at: DateTime<Utc>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's comment.
    pub comment: Option<String>,
    /// Optimistic-concurrency version.
    pub version: u64,
}

impl Approval {
    /// The status as of `now`: a pending approval past its expiry reads as expired.
    pub fn status_at(&self, now: DateTime<Utc>) -> ApprovalStatus {
        if self.status == ApprovalStatus::Pending && now >= self.expires_at {
            ApprovalStatus::Expired
        } else {
            self.status
        }
    }

    /// A new pending approval for `request` at `now`.
    pub fn pending(request: &ApprovalRequest, now: DateTime<Utc>) -> Result<Self> {
        if request.summary.trim().is_empty() {
            return Err(Error::invalid("summary", "must not be empty"));
        }
        if request.ttl.is_zero() {
            return Err(Error::invalid("ttl", "must be longer than zero"));
        }
        let ttl = chrono::Duration::from_std(request.ttl)
            .map_err(|_| Error::invalid("ttl", "is too long"))?;
        let expires_at = now
            .checked_add_signed(ttl)
            .ok_or_else(|| Error::invalid("ttl", "is too long"))?;
        Ok(Self {
            id: request.id,
            incident_id: request.incident_id,
            summary: request.summary.clone(),
            payload: request.payload.clone(),
            status: ApprovalStatus::Pending,
            requested_by: request.requested_by.clone(),
            requested_at: now,
            expires_at,
            decided_by: None,
            decided_at: None,
            comment: None,
            version: 1,
        })
    }

    /// Applies `decision` at `now`, checking that the approval is still pending, unexpired,
    /// and that the token (when the decision relies on one) matches `token_hash`.
    /// Shared by every [`ApprovalGate`] backend so that they all enforce the same rules.
    pub fn decide(
        &self,
        decision: &Decision,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        if decision.decided_by.trim().is_empty() {
            return Err(Error::invalid("decided_by", "must name who decides"));
        }
        if let DecisionAuth::Token(token) = &decision.auth {
            if token.hash() != token_hash {
                return Err(Error::ApprovalTokenInvalid {
                    id: self.id.to_string(),
                });
            }
        }
        match self.status_at(now) {
            ApprovalStatus::Pending => {}
            ApprovalStatus::Expired => {
                return Err(Error::ApprovalExpired {
                    id: self.id.to_string(),
                    expired_at: self.expires_at,
                })
            }
            status => {
                return Err(Error::ApprovalAlreadyDecided {
                    id: self.id.to_string(),
                    status: status.to_string(),
                })
            }
        }
        let mut decided = self.clone();
        decided.status = match decision.verdict {
            Verdict::Approve => ApprovalStatus::Approved,
            Verdict::Reject => ApprovalStatus::Rejected,
        };
        decided.decided_by = Some(decision.decided_by.trim().to_string());
        decided.decided_at = Some(now);
        decided.comment = decision.comment.clone();
        decided.version = self.version.saturating_add(1);
        Ok(decided)
    }

    /// `self` if `token` hashes to `token_hash`, else `ApprovalTokenInvalid` (shared by the
    /// backends' [`ApprovalGate::get_with_token`]).
    pub fn check_token(self, token: &ApprovalToken, token_hash: &str) -> Result<Self> {
        if token.hash() == token_hash {
            Ok(self)
        } else {
            Err(Error::ApprovalTokenInvalid {
                id: self.id.to_string(),
            })
        }
    }

    /// The approval marked expired (for a pending one past its expiry), else `None`.
    pub fn expire(&self, now: DateTime<Utc>) -> Option<Self> {
        (self.status == ApprovalStatus::Pending && now >= self.expires_at).then(|| {
            let mut expired = self.clone();
            expired.status = ApprovalStatus::Expired;
            expired.decided_by = Some("system".to_string());
            expired.decided_at = Some(now);
            expired.version = self.version.saturating_add(1);
            expired
        })
    }
}

/// A one-time secret that authorises one decision on one approval.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovalToken(String);

impl ApprovalToken {
    /// A fresh random token (244 random bits).
    pub fn generate() -> Self {
        Self(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Wraps a token received from a user.
    pub fn from_secret(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret, to put in a link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token, hex: what stores keep instead of the token.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for ApprovalToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovalToken(<redacted>)")
    }
}

/// What authorises a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecisionAuth {
    /// The one-time token from the request (e.g. a link in a notification).
    Token(ApprovalToken),
    /// An operator already authenticated by the caller (e.g. an API bearer token with that role).
    Operator,
}

/// A decision on an approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Approve or reject.
    pub verdict: Verdict,
    /// Who decides.
    pub decided_by: String,
    /// Why.
    pub comment: Option<String>,
    /// What authorises it.
    pub auth: DecisionAuth,
}

/// A created approval and its one-time token (returned once; stores keep only its hash).
#[derive(Clone, Debug)]
pub struct ApprovalTicket {
    /// The approval.
    pub approval: Approval,
    /// The token.
    pub token: ApprovalToken,
}

/// Which approvals to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalFilter {
    /// Only this status (as of now), when set.
    pub status: Option<ApprovalStatus>,
    /// Only this incident, when set.
    pub incident_id: Option<IncidentId>,
}

/// Human approvals: request one (get a one-time token), decide it once, or let it expire.
#[async_trait]
pub trait ApprovalGate: Send + Sync {
    /// Records a pending approval. `AlreadyExists` if `request.id` was used before.
    async fn request(&self, request: ApprovalRequest) -> Result<ApprovalTicket>;

    /// The approval, with a pending one past its expiry reported as expired.
    async fn get(&self, id: ApprovalId) -> Result<Approval>;

    /// The approval, if `token` is its one-time token (`ApprovalTokenInvalid` otherwise):
    /// what a person holding only the notification link may read before deciding.
    async fn get_with_token(&self, id: ApprovalId, token: &ApprovalToken) -> Result<Approval>;

    /// Decides once: `ApprovalAlreadyDecided`, `ApprovalExpired` or `ApprovalTokenInvalid` otherwise.
    async fn decide(&self, id: ApprovalId, decision: Decision) -> Result<Approval>;

    /// Approvals matching the filter, oldest first.
    async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>>;

    /// Marks every pending approval past its expiry as expired; returns them.
    async fn expire_due(&self) -> Result<Vec<Approval>>;
}
