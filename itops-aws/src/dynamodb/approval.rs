//! [`DynamoDbApprovalGate`]: approvals in the same table, decided at most once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use itops_core::store::{approval_as_of, approval_matches};
use itops_core::{
    Approval, ApprovalFilter, ApprovalGate, ApprovalId, ApprovalPage, ApprovalRequest,
    ApprovalStatus, ApprovalTicket, ApprovalToken, Clock, Decision, Error, Result, SystemClock,
};

use super::item::{attr, from_data, get_s, n, s, time_key, to_data, Item, GSI1, GSI2};
use super::keys::{approval_order, approval_pk, approvals_in, approvals_of, APPROVAL_SK};
use super::store::{names, values};
use super::table::{DynamoDbTable, QuerySpec, Written};

/// How long a decided or expired approval is kept before DynamoDB's TTL removes it.
pub const DEFAULT_APPROVAL_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Rounds a decision retries after losing a race to something other than a decision.
const DECIDE_ATTEMPTS: u32 = 4;

/// An `ApprovalGate` on DynamoDB, in the same table as [`DynamoDbStateStore`](super::DynamoDbStateStore).
///
/// A decision is a conditional update that requires the approval to be still pending at the
/// version that was read, so of any number of concurrent deciders exactly one wins and the
/// others get `ApprovalAlreadyDecided`. Expiry is decided by `expires_at` against the
/// gate's clock (a pending approval past it reads as expired at once); separately, the
/// item's `ttl` attribute (expiry plus a retention period) lets DynamoDB delete old
/// approvals on its own.
#[derive(Clone, Debug)]
pub struct DynamoDbApprovalGate {
    table: DynamoDbTable,
    clock: Arc<dyn Clock>,
    retention: Duration,
}

impl DynamoDbApprovalGate {
    /// A gate on `table` reading time from `clock`.
    pub fn new(table: DynamoDbTable, clock: Arc<dyn Clock>) -> Self {
        Self {
            table,
            clock,
            retention: DEFAULT_APPROVAL_RETENTION,
        }
    }

    /// A gate on `table` on the system clock.
    pub fn with_system_clock(table: DynamoDbTable) -> Self {
        Self::new(table, Arc::new(SystemClock))
    }

    /// How long approvals are kept after they expire (default 90 days).
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The table.
    pub fn table(&self) -> &DynamoDbTable {
        &self.table
    }

    fn ttl_of(&self, approval: &Approval) -> AttributeValue {
        let retention = i64::try_from(self.retention.as_secs()).unwrap_or(i64::MAX);
        n(approval.expires_at.timestamp().saturating_add(retention))
    }

    fn item(&self, approval: &Approval, token_hash: &str) -> Result<Item> {
        let order = approval_order(approval.requested_at, approval.id);
        Ok(Item::from([
            (attr::PK.to_string(), s(approval_pk(approval.id))),
            (attr::SK.to_string(), s(APPROVAL_SK)),
            (attr::ENTITY.to_string(), s("approval")),
            (attr::VERSION.to_string(), n(approval.version)),
            (attr::DATA.to_string(), to_data(approval, "approval")?),
            (attr::STATUS.to_string(), s(approval.status.as_str())),
            (attr::TOKEN_HASH.to_string(), s(token_hash)),
            (
                attr::EXPIRES_AT.to_string(),
                s(time_key(approval.expires_at)),
            ),
            (attr::TTL.to_string(), self.ttl_of(approval)),
            (
                attr::GSI1_PK.to_string(),
                s(approvals_of(approval.incident_id)),
            ),
            (attr::GSI1_SK.to_string(), s(&order)),
            (attr::GSI2_PK.to_string(), s(approvals_in(approval.status))),
            (attr::GSI2_SK.to_string(), s(order)),
        ]))
    }

    /// Replaces a pending approval by its decided (or expired) form, if it is still pending
    /// at the version read. `false` when someone else changed it first.
    async fn store_outcome(&self, before: &Approval, after: &Approval) -> Result<bool> {
        let outcome = self
            .table
            .update_if(
                &approval_pk(after.id),
                APPROVAL_SK,
                "SET #data = :data, #status = :status, #version = :version, #g2 = :g2",
                "#version = :expected AND #status = :pending",
                names(&[
                    ("#data", attr::DATA),
                    ("#status", attr::STATUS),
                    ("#version", attr::VERSION),
                    ("#g2", attr::GSI2_PK),
                ]),
                values(vec![
                    (":data", to_data(after, "approval")?),
                    (":status", s(after.status.as_str())),
                    (":version", n(after.version)),
                    (":g2", s(approvals_in(after.status))),
                    (":expected", n(before.version)),
                    (":pending", s(ApprovalStatus::Pending.as_str())),
                ]),
            )
            .await?;
        Ok(outcome.is_ok())
    }

    async fn read(&self, id: ApprovalId) -> Result<(Approval, String)> {
        let item = self
            .table
            .get(&approval_pk(id), APPROVAL_SK)
            .await?
            .ok_or_else(|| Error::not_found("approval", id))?;
        let approval: Approval = from_data(&item, "approval")?;
        let token_hash = get_s(&item, attr::TOKEN_HASH)
            .unwrap_or_default()
            .to_string();
        Ok((approval, token_hash))
    }

    async fn query_collection(
        &self,
        index: &'static str,
        partition: String,
    ) -> Result<Vec<Approval>> {
        let partition_attr = if index == GSI1 {
            attr::GSI1_PK
        } else {
            attr::GSI2_PK
        };
        let items = self
            .table
            .query(QuerySpec {
                index: Some(index),
                key_condition: "#p = :p".to_string(),
                names: names(&[("#p", partition_attr)]),
                values: values(vec![(":p", s(partition))]),
                forward: true,
                ..QuerySpec::default()
            })
            .await?;
        items
            .iter()
            .map(|item| from_data(item, "approval"))
            .collect()
    }
}

/// One collection a page reads from, with what must hold of its items as of now.
struct PagePart {
    index: &'static str,
    partition: String,
    /// A filter expression over `#status` and `#expires` with `:now`, `:st1` and `:st2`.
    filter: Option<&'static str>,
}

/// The collections holding the approvals `filter` matches as of now.
fn page_parts(filter: &ApprovalFilter) -> Vec<PagePart> {
    let part = |index, partition, filter| PagePart {
        index,
        partition,
        filter,
    };
    match (filter.incident_id, filter.status) {
        (Some(incident), status) => vec![part(
            GSI1,
            approvals_of(incident),
            match status {
                None => None,
                Some(ApprovalStatus::Pending) => Some("#status = :st1 AND #expires > :now"),
                Some(ApprovalStatus::Expired) => {
                    Some("#status = :st2 OR (#status = :st1 AND #expires <= :now)")
                }
                Some(_) => Some("#status = :st1"),
            },
        )],
        (None, None) => [
            ApprovalStatus::Pending,
            ApprovalStatus::Approved,
            ApprovalStatus::Rejected,
            ApprovalStatus::Expired,
        ]
        .into_iter()
        .map(|status| part(GSI2, approvals_in(status), None))
        .collect(),
        (None, Some(ApprovalStatus::Pending)) => vec![part(
            GSI2,
            approvals_in(ApprovalStatus::Pending),
            Some("#expires > :now"),
        )],
        (None, Some(ApprovalStatus::Expired)) => vec![
            part(GSI2, approvals_in(ApprovalStatus::Expired), None),
            part(
                GSI2,
                approvals_in(ApprovalStatus::Pending),
                Some("#expires <= :now"),
            ),
        ],
        (None, Some(status)) => vec![part(GSI2, approvals_in(status), None)],
    }
}

fn sort_oldest_first(approvals: &mut [Approval]) {
    approvals.sort_by_key(|a| (a.requested_at, a.id));
}

#[async_trait]
impl ApprovalGate for DynamoDbApprovalGate {
    async fn request(&self, request: ApprovalRequest) -> Result<ApprovalTicket> {
        let approval = Approval::pending(&request, self.clock.now())?;
        let token = ApprovalToken::generate();
        let item = self.item(&approval, &token.hash())?;
        let written = self
            .table
            .put_if(
                item,
                "attribute_not_exists(#pk)",
                names(&[("#pk", attr::PK)]),
                Default::default(),
                "approval",
                &approval.id.to_string(),
            )
            .await?;
        match written {
            Written::Done => Ok(ApprovalTicket { approval, token }),
            Written::ConditionFailed(_) => Err(Error::AlreadyExists {
                entity: "approval",
                id: approval.id.to_string(),
            }),
        }
    }

    async fn get(&self, id: ApprovalId) -> Result<Approval> {
        let now = self.clock.now();
        let (approval, _) = self.read(id).await?;
        Ok(approval_as_of(approval, now))
    }

    async fn get_with_token(&self, id: ApprovalId, token: &ApprovalToken) -> Result<Approval> {
        let now = self.clock.now();
        let (approval, token_hash) = self.read(id).await?;
        approval_as_of(approval, now).check_token(token, &token_hash)
    }

    async fn decide(&self, id: ApprovalId, decision: Decision) -> Result<Approval> {
        let now = self.clock.now();
        for _ in 0..DECIDE_ATTEMPTS {
            let (approval, token_hash) = self.read(id).await?;
            // The shared rules: token, expiry, decided-once. A loser of a race re-reads the
            // winner's decision here and gets `ApprovalAlreadyDecided`.
            let decided = approval.decide(&decision, &token_hash, now)?;
            if self.store_outcome(&approval, &decided).await? {
                return Ok(decided);
            }
        }
        let (approval, _) = self.read(id).await?;
        Err(Error::Conflict {
            entity: "approval",
            id: id.to_string(),
            expected: approval.version.saturating_sub(1),
            actual: approval.version,
        })
    }

    async fn list(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        let now = self.clock.now();
        let mut found = if let Some(incident) = filter.incident_id {
            self.query_collection(GSI1, approvals_of(incident)).await?
        } else {
            // By stored status; "expired" as of now also covers stored-pending ones past expiry.
            let stored: Vec<ApprovalStatus> = match filter.status {
                Some(ApprovalStatus::Expired) => {
                    vec![ApprovalStatus::Pending, ApprovalStatus::Expired]
                }
                Some(status) => vec![status],
                None => vec![
                    ApprovalStatus::Pending,
                    ApprovalStatus::Approved,
                    ApprovalStatus::Rejected,
                    ApprovalStatus::Expired,
                ],
            };
            let mut all = Vec::new();
            for status in stored {
                all.extend(self.query_collection(GSI2, approvals_in(status)).await?);
            }
            all
        };
        found.retain(|a| approval_matches(filter, a, now));
        let mut approvals: Vec<Approval> =
            found.into_iter().map(|a| approval_as_of(a, now)).collect();
        sort_oldest_first(&mut approvals);
        Ok(approvals)
    }

    async fn list_page(&self, filter: &ApprovalFilter) -> Result<ApprovalPage> {
        let now = self.clock.now();
        let size = filter.page_size();
        let after = match filter.cursor {
            Some(cursor) => {
                let at = self.get(cursor).await?;
                Some(approval_order(at.requested_at, at.id))
            }
            None => None,
        };
        // Each collection yields its first size + 1 matches after the cursor; the first
        // size + 1 of them all are then exactly the page (and whether there is another).
        let mut found = Vec::new();
        for part in page_parts(filter) {
            let (partition_attr, sort_attr) = if part.index == GSI1 {
                (attr::GSI1_PK, attr::GSI1_SK)
            } else {
                (attr::GSI2_PK, attr::GSI2_SK)
            };
            let mut expr_names = names(&[("#p", partition_attr)]);
            let mut expr_values = values(vec![(":p", s(part.partition))]);
            let mut key_condition = "#p = :p".to_string();
            if let Some(after) = &after {
                key_condition.push_str(" AND #s > :after");
                expr_names.insert("#s".to_string(), sort_attr.to_string());
                expr_values.insert(":after".to_string(), s(after));
            }
            if let Some(expression) = part.filter {
                for (name, attribute) in [("#status", attr::STATUS), ("#expires", attr::EXPIRES_AT)]
                {
                    if expression.contains(name) {
                        expr_names.insert(name.to_string(), attribute.to_string());
                    }
                }
                let first = match filter.status {
                    Some(ApprovalStatus::Expired) => ApprovalStatus::Pending,
                    Some(status) => status,
                    None => ApprovalStatus::Pending,
                };
                for (name, value) in [
                    (":now", time_key(now)),
                    (":st1", first.as_str().to_string()),
                    (":st2", ApprovalStatus::Expired.as_str().to_string()),
                ] {
                    if expression.contains(name) {
                        expr_values.insert(name.to_string(), s(value));
                    }
                }
            }
            let items = self
                .table
                .query(QuerySpec {
                    index: Some(part.index),
                    key_condition,
                    filter: part.filter.map(str::to_string),
                    names: expr_names,
                    values: expr_values,
                    forward: true,
                    max_items: Some(size.saturating_add(1)),
                    ..QuerySpec::default()
                })
                .await?;
            for item in &items {
                found.push(from_data::<Approval>(item, "approval")?);
            }
        }
        sort_oldest_first(&mut found);
        found.truncate(size.saturating_add(1));
        let mut items: Vec<Approval> = found.into_iter().map(|a| approval_as_of(a, now)).collect();
        Ok(ApprovalPage::from_overfull(&mut items, size))
    }

    async fn expire_due(&self) -> Result<Vec<Approval>> {
        let now: DateTime<Utc> = self.clock.now();
        let items = self
            .table
            .query(QuerySpec {
                index: Some(GSI2),
                key_condition: "#p = :p".to_string(),
                filter: Some("#expires <= :now".to_string()),
                names: names(&[("#p", attr::GSI2_PK), ("#expires", attr::EXPIRES_AT)]),
                values: values(vec![
                    (":p", s(approvals_in(ApprovalStatus::Pending))),
                    (":now", s(time_key(now))),
                ]),
                forward: true,
                ..QuerySpec::default()
            })
            .await?;
        let mut expired = Vec::new();
        for item in &items {
            let approval: Approval = from_data(item, "approval")?;
            if let Some(marked) = approval.expire(now) {
                // A decision that won the race stays; this expiry then does nothing.
                if self.store_outcome(&approval, &marked).await? {
                    expired.push(marked);
                }
            }
        }
        sort_oldest_first(&mut expired);
        Ok(expired)
    }
}
