//! [`DedupClaims`]: which incident an alert's dedup key belongs to, claimed with a
//! conditional write, so that the same alert delivered to several Lambda instances at once
//! opens one incident. A claim lasts a while (long enough for the incident to show in the
//! indexes the intake searches); a claim on an incident that has ended is taken over.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use itops_core::{Error, IncidentId, Result};

use super::item::{attr, get_s, n, s, time_key, Item};
use super::store::{names, values};
use super::table::{DynamoDbTable, Written};

/// Sort key of a claim.
const CLAIM_SK: &str = "DEDUP";
/// The incident a claim names.
const INCIDENT: &str = "incident_id";
/// Until when the claim holds.
const UNTIL: &str = "until";

/// Claims on alert dedup keys, in the deployment's table.
#[derive(Clone, Debug)]
pub struct DedupClaims {
    table: DynamoDbTable,
}

fn claim_pk(key: &str) -> String {
    format!("DEDUP#{key}")
}

fn incident_of(item: &Item) -> Option<IncidentId> {
    get_s(item, INCIDENT).and_then(|id| id.parse().ok())
}

impl DedupClaims {
    /// Claims kept in `table`.
    pub fn new(table: DynamoDbTable) -> Self {
        Self { table }
    }

    /// Claims `key` for `incident` until `until`, unless a claim that has not lapsed at
    /// `now` names another incident; a claim naming `replace` (an incident that ended) is
    /// taken over. Of concurrent claimants exactly one wins. Returns the incident the key
    /// belongs to now: `incident` when the claim was written, else the holder's.
    pub async fn claim(
        &self,
        key: &str,
        incident: IncidentId,
        replace: Option<IncidentId>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<IncidentId> {
        let pk = claim_pk(key);
        let item: Item = HashMap::from([
            (attr::PK.to_string(), s(&pk)),
            (attr::SK.to_string(), s(CLAIM_SK)),
            (attr::ENTITY.to_string(), s("dedup_claim")),
            (INCIDENT.to_string(), s(incident.to_string())),
            (UNTIL.to_string(), s(time_key(until))),
            // DynamoDB removes lapsed claims some time after a day.
            (
                attr::TTL.to_string(),
                n((until + chrono::Duration::days(1)).timestamp().max(0)),
            ),
        ]);
        let mut condition = "attribute_not_exists(#pk) OR #until <= :now".to_string();
        let mut expr_names = names(&[("#pk", attr::PK), ("#until", UNTIL)]);
        let mut expr_values = vec![(":now", s(time_key(now)))];
        if let Some(replace) = replace {
            condition.push_str(" OR #incident = :replace");
            expr_names.insert("#incident".to_string(), INCIDENT.to_string());
            expr_values.push((":replace", s(replace.to_string())));
        }
        let written = self
            .table
            .put_if(
                item,
                &condition,
                expr_names,
                values(expr_values),
                "dedup claim",
                key,
            )
            .await?;
        let holder = match written {
            Written::Done => Some(incident),
            Written::ConditionFailed(Some(old)) => incident_of(&old),
            Written::ConditionFailed(None) => self
                .table
                .get(&pk, CLAIM_SK)
                .await?
                .as_ref()
                .and_then(incident_of),
        };
        holder.ok_or_else(|| Error::Storage {
            message: format!("the claim on alert key '{key}' names no incident"),
            source: None,
        })
    }
}
