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

/// Page size of [`ApprovalGate::list_page`] unless the filter says otherwise.
pub const DEFAULT_APPROVAL_PAGE: usize = 100;
/// Largest page of [`ApprovalGate::list_page`].
pub const MAX_APPROVAL_PAGE: usize = 500;

/// Which approvals to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalFilter {
    /// Only this status (as of now), when set.
    pub status: Option<ApprovalStatus>,
    /// Only this incident, when set.
    pub incident_id: Option<IncidentId>,
    /// Page size of [`ApprovalGate::list_page`] (default 100, at most 500).
    pub limit: Option<usize>,
    /// Continue after this approval (the previous page's `next_cursor`).
    pub cursor: Option<ApprovalId>,
}

impl ApprovalFilter {
    /// The page size to use: the limit clamped to `1..=MAX_APPROVAL_PAGE`.
    pub fn page_size(&self) -> usize {
        self.limit
            .unwrap_or(DEFAULT_APPROVAL_PAGE)
            .clamp(1, MAX_APPROVAL_PAGE)
    }
}

/// One page of approvals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalPage {
    /// The approvals, oldest first.
    pub items: Vec<Approval>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<ApprovalId>,
}

impl ApprovalPage {
    /// The page of `all` (every match, oldest first) that `filter` asks for: after
    /// `after` (the cursor approval's request time and id), at most its page size.
    pub fn of(
        all: Vec<Approval>,
        after: Option<(DateTime<Utc>, ApprovalId)>,
        filter: &ApprovalFilter,
    ) -> Self {
        let size = filter.page_size();
        let mut items: Vec<Approval> = all
            .into_iter()
            .filter(|a| after.is_none_or(|after| (a.requested_at, a.id) > after))
            .take(size + 1)
            .collect();
        Self::from_overfull(&mut items, size)
    }

    /// A page from up to `size + 1` approvals: the extra one says there is a next page.
    pub fn from_overfull(items: &mut Vec<Approval>, size: usize) -> Self {
        let next_cursor = if items.len() > size {
            items.truncate(size);
            items.last().map(|a| a.id)
        } else {
            None
        };
        Self {
            items: std::mem::take(items),
            next_cursor,
        }
    }
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

    /// Every approval matching the filter's status and incident, oldest first (its `limit`
    /// and `cursor` are for [`list_page`](Self::list_page)).
    async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>>;

    /// One page of the approvals matching the filter, oldest first: after its `cursor`
    /// (whatever that approval's status is now), at most its page size, with the cursor of
    /// the next page. A cursor naming no approval is `NotFound`. The default reads every
    /// match; stores page in the query.
    async fn list_page(&self, filter: &ApprovalFilter) -> Result<ApprovalPage> {
        let after = match filter.cursor {
            Some(cursor) => {
                let at = self.get(cursor).await?;
                Some((at.requested_at, at.id))
            }
            None => None,
        };
        Ok(ApprovalPage::of(self.list(filter).await?, after, filter))
    }

    /// Marks every pending approval past its expiry as expired; returns them.
    async fn expire_due(&self) -> Result<Vec<Approval>>;
}
