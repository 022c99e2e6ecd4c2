//! [`TaskTokens`]: where an orchestrator's resume token for an incident's approval wait is
//! kept (a Step Functions `.waitForTaskToken` task token), so that whatever sees the
//! decision later can resume the execution. One token per incident, in the incident's
//! partition; it expires with DynamoDB's TTL.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use itops_core::{ApprovalId, IncidentId};

use super::item::{attr, get_s, n, s, Item};
use super::keys::{approval_pk, incident_pk, APPROVAL_SK};
use super::table::DynamoDbTable;
use crate::error::Result;

/// Sort key of an incident's task token.
const TASK_TOKEN_SK: &str = "TASKTOKEN";
/// The attribute holding the token.
const TOKEN: &str = "task_token";

/// The resume tokens of incidents waiting for a human decision.
#[derive(Clone, Debug)]
pub struct TaskTokens {
    table: DynamoDbTable,
}

impl TaskTokens {
    /// Tokens kept in `table`.
    pub fn new(table: DynamoDbTable) -> Self {
        Self { table }
    }

    /// Keeps `token` for `incident` (replacing an older one) until `expires_at`, after
    /// which DynamoDB may remove it.
    pub async fn put(
        &self,
        incident: IncidentId,
        token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let item: Item = HashMap::from([
            (attr::PK.to_string(), s(incident_pk(incident))),
            (attr::SK.to_string(), s(TASK_TOKEN_SK)),
            (attr::ENTITY.to_string(), s("task_token")),
            (TOKEN.to_string(), s(token)),
            (attr::TTL.to_string(), n(expires_at.timestamp().max(0))),
        ]);
        self.table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.table.fail("PutItem", e))?;
        Ok(())
    }

    /// The token kept for `incident`, if any.
    pub async fn get(&self, incident: IncidentId) -> Result<Option<String>> {
        let item = self
            .table
            .get(&incident_pk(incident), TASK_TOKEN_SK)
            .await?;
        Ok(item.and_then(|i| get_s(&i, TOKEN).map(str::to_string)))
    }

    /// Forgets the token kept for `incident` (once used).
    pub async fn remove(&self, incident: IncidentId) -> Result<()> {
        self.table
            .delete_keys(vec![(incident_pk(incident), TASK_TOKEN_SK.to_string())])
            .await
    }
}

/// The approval whose record has these keys (`pk`, `sk`), as a DynamoDB stream record names
/// them; `None` for any other record of the table.
pub fn approval_of_keys(pk: &str, sk: &str) -> Option<ApprovalId> {
    if sk != APPROVAL_SK {
        return None;
    }
    let id = pk.strip_prefix("APPROVAL#")?;
    let id: ApprovalId = id.parse().ok()?;
    (approval_pk(id) == pk).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_keys_are_recognised_and_nothing_else() {
        let id = ApprovalId::new();
        assert_eq!(approval_of_keys(&approval_pk(id), APPROVAL_SK), Some(id));
        assert_eq!(approval_of_keys(&approval_pk(id), "INCIDENT"), None);
        let incident = IncidentId::new();
        assert_eq!(approval_of_keys(&incident_pk(incident), APPROVAL_SK), None);
        assert_eq!(approval_of_keys("APPROVAL#not-an-id", APPROVAL_SK), None);
    }
}
