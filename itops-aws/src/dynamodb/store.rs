//! [`DynamoDbStateStore`]: the core store traits over the single table.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use itops_core::store::{
    new_stored, next_stored, next_version, version_conflict, AgentState, IncidentFilter,
    IncidentPage,
};
use itops_core::workflow::WorkflowCheckpoint;
use itops_core::{
    AgentStateStore, CheckpointStore, DocumentKind, Error, Incident, IncidentId, IncidentStore,
    KnowledgeDocument, KnowledgeStore, Result, TimelineEntry, TimelineStore,
};

use super::item::{
    attr, from_data, get_s, get_u64, n, s, time_key, to_data, version_of, Item, GSI1, GSI2,
};
use super::keys::{
    agent_sk, document_pk, documents_of, incident_pk, incidents_in, timeline_sk, ALL_DOCUMENTS,
    ALL_INCIDENTS, CHECKPOINT_SK, DOCUMENT_SK, INCIDENT_SK, TIMELINE_PREFIX,
    UNFINISHED_CHECKPOINTS,
};
use super::table::{DynamoDbTable, QuerySpec, Written};

/// Rounds an append may lose to concurrent appenders before it gives up.
const APPEND_ATTEMPTS: u32 = 64;

/// A `StateStore` on DynamoDB: incidents, timelines, agent state, workflow checkpoints and
/// knowledge documents in one table (see the table design in the crate docs).
///
/// Every update is a conditional write on the `version` attribute, so a stale writer gets
/// `Error::Conflict` with the stored version; timeline appends are conditional puts of a new
/// sequence number inside a transaction that also checks the incident, so they never
/// overwrite and never land on a deleted incident. Reads of one record are strongly
/// consistent; lists go through global secondary indexes, which are eventually consistent
/// (a record written a moment ago may be missing from a list for a fraction of a second).
#[derive(Clone, Debug)]
pub struct DynamoDbStateStore {
    table: DynamoDbTable,
}

impl DynamoDbStateStore {
    /// A store on `table`.
    pub fn new(table: DynamoDbTable) -> Self {
        Self { table }
    }

    /// The table.
    pub fn table(&self) -> &DynamoDbTable {
        &self.table
    }
}

/// Expression attribute names from `(placeholder, name)` pairs.
pub(crate) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// Expression attribute values from `(placeholder, value)` pairs.
pub(crate) fn values(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The condition of an optimistic write (absent for version 0, else at that version) with
/// its attribute names and values (DynamoDB refuses unused ones).
struct VersionCondition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

fn version_condition(expected: u64) -> VersionCondition {
    if expected == 0 {
        VersionCondition {
            expression: "attribute_not_exists(#pk)",
            names: names(&[("#pk", attr::PK)]),
            values: HashMap::new(),
        }
    } else {
        VersionCondition {
            expression: "#version = :expected",
            names: names(&[("#version", attr::VERSION)]),
            values: values(vec![(":expected", n(expected))]),
        }
    }
}

/// The conflict a failed version condition means, with the version actually stored.
fn conflict(
    entity: &'static str,
    id: String,
    expected: u64,
    stored: Option<&Item>,
) -> Result<Error> {
    Ok(version_conflict(
        entity,
        id,
        expected,
        version_of(stored, entity)?,
    ))
}

fn is_deleting(item: &Item) -> bool {
    matches!(item.get(attr::DELETING), Some(AttributeValue::Bool(true)))
}

fn incident_item(incident: &Incident) -> Result<Item> {
    let id = incident.id.to_string();
    Ok(Item::from([
        (attr::PK.to_string(), s(incident_pk(incident.id))),
        (attr::SK.to_string(), s(INCIDENT_SK)),
        (attr::ENTITY.to_string(), s("incident")),
        (attr::VERSION.to_string(), n(incident.version)),
        (attr::DATA.to_string(), to_data(incident, "incident")?),
        (attr::STATUS.to_string(), s(incident.status.as_str())),
        (attr::SEVERITY.to_string(), s(incident.severity.as_str())),
        (
            attr::SERVICES.to_string(),
            AttributeValue::L(incident.affected_services.iter().map(s).collect()),
        ),
        (
            attr::CREATED_AT.to_string(),
            s(time_key(incident.created_at)),
        ),
        (attr::GSI1_PK.to_string(), s(ALL_INCIDENTS)),
        (attr::GSI1_SK.to_string(), s(&id)),
        (attr::GSI2_PK.to_string(), s(incidents_in(incident.status))),
        (attr::GSI2_SK.to_string(), s(id)),
    ]))
}

#[async_trait]
impl IncidentStore for DynamoDbStateStore {
    async fn create_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = new_stored("incident", incident)?;
        let written = self
            .table
            .put_if(
                incident_item(&stored)?,
                "attribute_not_exists(#pk)",
                names(&[("#pk", attr::PK)]),
                HashMap::new(),
                "incident",
                &stored.id.to_string(),
            )
            .await?;
        match written {
            Written::Done => Ok(stored),
            Written::ConditionFailed(_) => Err(Error::AlreadyExists {
                entity: "incident",
                id: stored.id.to_string(),
            }),
        }
    }

    async fn get_incident(&self, id: IncidentId) -> Result<Incident> {
        match self.table.get(&incident_pk(id), INCIDENT_SK).await? {
            Some(item) if !is_deleting(&item) => from_data(&item, "incident"),
            _ => Err(Error::not_found("incident", id)),
        }
    }

    async fn update_incident(&self, incident: &Incident) -> Result<Incident> {
        let stored = next_stored(incident);
        let condition_names = names(&[
            ("#pk", attr::PK),
            ("#version", attr::VERSION),
            ("#deleting", attr::DELETING),
        ]);
        let written = self
            .table
            .put_if(
                incident_item(&stored)?,
                "attribute_exists(#pk) AND #version = :expected AND attribute_not_exists(#deleting)",
                condition_names,
                values(vec![(":expected", n(incident.version))]),
                "incident",
                &stored.id.to_string(),
            )
            .await?;
        match written {
            Written::Done => Ok(stored),
            Written::ConditionFailed(Some(old)) if !is_deleting(&old) => Err(conflict(
                "incident",
                incident.id.to_string(),
                incident.version,
                Some(&old),
            )?),
            Written::ConditionFailed(_) => Err(Error::not_found("incident", incident.id)),
        }
    }

    async fn delete_incident(&self, id: IncidentId) -> Result<()> {
        let pk = incident_pk(id);
        // 1. Mark it: from now on it reads as gone and nothing can be appended to it. A
        //    delete interrupted after this point is finished by calling delete again.
        let marked = self
            .table
            .update_if(
                &pk,
                INCIDENT_SK,
                "SET #deleting = :true",
                "attribute_exists(#pk)",
                names(&[("#pk", attr::PK), ("#deleting", attr::DELETING)]),
                values(vec![(":true", AttributeValue::Bool(true))]),
            )
            .await?;
        if marked.is_err() {
            return Err(Error::not_found("incident", id));
        }
        // 2. Sweep its timeline, agent state and checkpoint (one partition).
        let children: Vec<(String, String)> = self
            .table
            .query(QuerySpec {
                key_condition: "#pk = :pk".to_string(),
                names: names(&[("#pk", attr::PK)]),
                values: values(vec![(":pk", s(&pk))]),
                forward: true,
                consistent: true,
                ..QuerySpec::default()
            })
            .await?
            .iter()
            .filter_map(|item| get_s(item, attr::SK))
            .filter(|sk| *sk != INCIDENT_SK)
            .map(|sk| (pk.clone(), sk.to_string()))
            .collect();
        self.table.delete_keys(children).await?;
        // 3. Remove the incident itself.
        self.table
            .delete_if(
                &pk,
                INCIDENT_SK,
                "attribute_exists(#pk)",
                names(&[("#pk", attr::PK)]),
            )
            .await?;
        Ok(())
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        let page_size = filter.page_size();
        let (index, partition_attr, sort_attr, partition) = match filter.status {
            Some(status) => (GSI2, attr::GSI2_PK, attr::GSI2_SK, incidents_in(status)),
            None => (
                GSI1,
                attr::GSI1_PK,
                attr::GSI1_SK,
                ALL_INCIDENTS.to_string(),
            ),
        };
        let mut expr_names = names(&[("#p", partition_attr), ("#deleting", attr::DELETING)]);
        let mut expr_values = values(vec![(":p", s(partition))]);
        let mut key_condition = "#p = :p".to_string();
        if let Some(cursor) = filter.cursor {
            // Hyphenated lowercase UUIDv7s sort as text exactly as they do as ids.
            key_condition.push_str(" AND #s < :cursor");
            expr_names.insert("#s".to_string(), sort_attr.to_string());
            expr_values.insert(":cursor".to_string(), s(cursor.to_string()));
        }
        let mut conditions = vec!["attribute_not_exists(#deleting)".to_string()];
        if let Some(severity) = filter.severity {
            conditions.push("#severity = :severity".to_string());
            expr_names.insert("#severity".to_string(), attr::SEVERITY.to_string());
            expr_values.insert(":severity".to_string(), s(severity.as_str()));
        }
        if let Some(service) = &filter.service {
            conditions.push("contains(#services, :service)".to_string());
            expr_names.insert("#services".to_string(), attr::SERVICES.to_string());
            expr_values.insert(":service".to_string(), s(service));
        }
        if let Some(key) = &filter.dedup_key {
            // The incident is stored as compact JSON: its key appears in it verbatim, as its
            // `dedup_key` or among its `correlated_keys`; the shared rule below decides.
            let needle = serde_json::to_string(key)
                .map_err(|e| itops_core::Error::serialization("a dedup key", e))?;
            conditions.push("contains(#data, :dedup)".to_string());
            expr_names.insert("#data".to_string(), attr::DATA.to_string());
            expr_values.insert(":dedup".to_string(), s(needle));
        }
        if let Some(after) = filter.created_after {
            conditions.push("#created >= :after".to_string());
            expr_values.insert(":after".to_string(), s(time_key(after)));
        }
        if let Some(before) = filter.created_before {
            conditions.push("#created < :before".to_string());
            expr_values.insert(":before".to_string(), s(time_key(before)));
        }
        if filter.created_after.is_some() || filter.created_before.is_some() {
            expr_names.insert("#created".to_string(), attr::CREATED_AT.to_string());
        }
        let items = self
            .table
            .query(QuerySpec {
                index: Some(index),
                key_condition,
                filter: Some(conditions.join(" AND ")),
                names: expr_names,
                values: expr_values,
                forward: false,
                max_items: Some(page_size.saturating_add(1)),
                consistent: false,
            })
            .await?;
        let mut incidents = Vec::with_capacity(items.len());
        for item in &items {
            let incident: Incident = from_data(item, "incident")?;
            // The index filters; the shared rule has the last word, so backends agree.
            if filter.matches(&incident) {
                incidents.push(incident);
            }
        }
        let next_cursor = if incidents.len() > page_size {
            incidents.truncate(page_size);
            incidents.last().map(|i| i.id)
        } else {
            None
        };
        Ok(IncidentPage {
            items: incidents,
            next_cursor,
        })
    }
}

impl DynamoDbStateStore {
    /// The last sequence number of an incident's timeline (0 when empty).
    async fn last_seq(&self, pk: &str) -> Result<u64> {
        let last = self
            .table
            .query(QuerySpec {
                key_condition: "#pk = :pk AND begins_with(#sk, :prefix)".to_string(),
                names: names(&[("#pk", attr::PK), ("#sk", attr::SK)]),
                values: values(vec![(":pk", s(pk)), (":prefix", s(TIMELINE_PREFIX))]),
                forward: false,
                max_items: Some(1),
                consistent: true,
                ..QuerySpec::default()
            })
            .await?;
        Ok(last
            .first()
            .and_then(|item| get_u64(item, "seq"))
            .unwrap_or(0))
    }
}

#[async_trait]
impl TimelineStore for DynamoDbStateStore {
    async fn append_timeline(&self, entry: &TimelineEntry) -> Result<TimelineEntry> {
        let pk = incident_pk(entry.incident_id);
        let table = self.table.name().to_string();
        for attempt in 0..APPEND_ATTEMPTS {
            let mut stored = entry.clone();
            stored.seq = next_version(self.last_seq(&pk).await?);
            let item = Item::from([
                (attr::PK.to_string(), s(&pk)),
                (attr::SK.to_string(), s(timeline_sk(stored.seq))),
                (attr::ENTITY.to_string(), s("timeline")),
                ("seq".to_string(), n(stored.seq)),
                (attr::DATA.to_string(), to_data(&stored, "timeline entry")?),
            ]);
            let id = format!("{}#{}", entry.incident_id, stored.seq);
            self.table.check_size(&item, "timeline entry", &id)?;
            // The incident must exist (and not be mid-delete), and the seq must be free: one
            // transaction, so an entry never lands on a deleted incident or over another.
            let check = ConditionCheck::builder()
                .table_name(&table)
                .key(attr::PK, s(&pk))
                .key(attr::SK, s(INCIDENT_SK))
                .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#deleting)")
                .set_expression_attribute_names(Some(names(&[
                    ("#pk", attr::PK),
                    ("#deleting", attr::DELETING),
                ])))
                .build()
                .map_err(crate::Error::from)?;
            let put = Put::builder()
                .table_name(&table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .set_expression_attribute_names(Some(names(&[("#pk", attr::PK)])))
                .build()
                .map_err(crate::Error::from)?;
            let cancelled = self
                .table
                .transact(
                    vec![
                        TransactWriteItem::builder().condition_check(check).build(),
                        TransactWriteItem::builder().put(put).build(),
                    ],
                    "timeline entry",
                    &id,
                )
                .await?;
            match cancelled {
                None => return Ok(stored),
                Some(reasons) => {
                    if reasons
                        .first()
                        .is_some_and(|r| r.as_deref() == Some("ConditionalCheckFailed"))
                    {
                        return Err(Error::not_found("incident", entry.incident_id));
                    }
                    // Someone else took this seq (or the transaction collided): read the new
                    // end of the timeline and try again, after a short randomised pause.
                    let cap_ms = 5u64 << attempt.min(5);
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(..cap_ms))).await;
                }
            }
        }
        Err(crate::Error::Throttled {
            service: "DynamoDB",
            operation: "TransactWriteItems",
            resource: table,
            code: format!(
                "timeline of incident {} busy: {APPEND_ATTEMPTS} appends collided",
                entry.incident_id
            ),
        }
        .into())
    }

    async fn timeline(
        &self,
        incident_id: IncidentId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        let Some(first) = after_seq.checked_add(1) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .table
            .query(QuerySpec {
                key_condition: "#pk = :pk AND #sk BETWEEN :from AND :to".to_string(),
                names: names(&[("#pk", attr::PK), ("#sk", attr::SK)]),
                values: values(vec![
                    (":pk", s(incident_pk(incident_id))),
                    (":from", s(timeline_sk(first))),
                    (":to", s(timeline_sk(u64::MAX))),
                ]),
                forward: true,
                max_items: Some(limit),
                consistent: true,
                ..QuerySpec::default()
            })
            .await?;
        items
            .iter()
            .map(|item| from_data(item, "timeline entry"))
            .collect()
    }
}

#[async_trait]
impl AgentStateStore for DynamoDbStateStore {
    async fn get_agent_state(
        &self,
        incident_id: IncidentId,
        agent: &str,
    ) -> Result<Option<AgentState>> {
        self.table
            .get(&incident_pk(incident_id), &agent_sk(agent))
            .await?
            .map(|item| from_data(&item, "agent state"))
            .transpose()
    }

    async fn put_agent_state(&self, state: &AgentState) -> Result<AgentState> {
        let stored = next_stored(state);
        let id = format!("{}/{}", state.incident_id, state.agent);
        let item = Item::from([
            (attr::PK.to_string(), s(incident_pk(state.incident_id))),
            (attr::SK.to_string(), s(agent_sk(&state.agent))),
            (attr::ENTITY.to_string(), s("agent_state")),
            (attr::VERSION.to_string(), n(stored.version)),
            (attr::DATA.to_string(), to_data(&stored, "agent state")?),
        ]);
        let condition = version_condition(state.version);
        match self
            .table
            .put_if(
                item,
                condition.expression,
                condition.names,
                condition.values,
                "agent state",
                &id,
            )
            .await?
        {
            Written::Done => Ok(stored),
            Written::ConditionFailed(old) => {
                Err(conflict("agent state", id, state.version, old.as_ref())?)
            }
        }
    }
}

#[async_trait]
impl CheckpointStore for DynamoDbStateStore {
    async fn get_checkpoint(&self, incident_id: IncidentId) -> Result<Option<WorkflowCheckpoint>> {
        self.table
            .get(&incident_pk(incident_id), CHECKPOINT_SK)
            .await?
            .map(|item| from_data(&item, "checkpoint"))
            .transpose()
    }

    async fn put_checkpoint(&self, checkpoint: &WorkflowCheckpoint) -> Result<WorkflowCheckpoint> {
        let stored = next_stored(checkpoint);
        let id = checkpoint.incident_id.to_string();
        let mut item = Item::from([
            (attr::PK.to_string(), s(incident_pk(checkpoint.incident_id))),
            (attr::SK.to_string(), s(CHECKPOINT_SK)),
            (attr::ENTITY.to_string(), s("checkpoint")),
            (attr::VERSION.to_string(), n(stored.version)),
            (attr::DATA.to_string(), to_data(&stored, "checkpoint")?),
        ]);
        // Only unfinished checkpoints are in the index that resume reads (a sparse index).
        if !stored.is_finished() {
            item.insert(attr::GSI1_PK.to_string(), s(UNFINISHED_CHECKPOINTS));
            item.insert(attr::GSI1_SK.to_string(), s(&id));
        }
        let condition = version_condition(checkpoint.version);
        match self
            .table
            .put_if(
                item,
                condition.expression,
                condition.names,
                condition.values,
                "checkpoint",
                &id,
            )
            .await?
        {
            Written::Done => Ok(stored),
            Written::ConditionFailed(old) => Err(conflict(
                "checkpoint",
                id,
                checkpoint.version,
                old.as_ref(),
            )?),
        }
    }

    async fn unfinished_checkpoints(&self) -> Result<Vec<WorkflowCheckpoint>> {
        let items = self
            .table
            .query(QuerySpec {
                index: Some(GSI1),
                key_condition: "#p = :p".to_string(),
                names: names(&[("#p", attr::GSI1_PK)]),
                values: values(vec![(":p", s(UNFINISHED_CHECKPOINTS))]),
                forward: true,
                ..QuerySpec::default()
            })
            .await?;
        let mut checkpoints = Vec::with_capacity(items.len());
        for item in &items {
            let checkpoint: WorkflowCheckpoint = from_data(item, "checkpoint")?;
            if !checkpoint.is_finished() {
                checkpoints.push(checkpoint);
            }
        }
        Ok(checkpoints)
    }
}

#[async_trait]
impl KnowledgeStore for DynamoDbStateStore {
    async fn put_document(&self, document: &KnowledgeDocument) -> Result<KnowledgeDocument> {
        document.validate()?;
        let stored = next_stored(document);
        let item = Item::from([
            (attr::PK.to_string(), s(document_pk(&document.id))),
            (attr::SK.to_string(), s(DOCUMENT_SK)),
            (attr::ENTITY.to_string(), s("document")),
            (attr::VERSION.to_string(), n(stored.version)),
            (
                attr::DATA.to_string(),
                to_data(&stored, "knowledge document")?,
            ),
            (attr::GSI1_PK.to_string(), s(ALL_DOCUMENTS)),
            (attr::GSI1_SK.to_string(), s(&document.id)),
            (attr::GSI2_PK.to_string(), s(documents_of(document.kind))),
            (attr::GSI2_SK.to_string(), s(&document.id)),
        ]);
        let condition = version_condition(document.version);
        match self
            .table
            .put_if(
                item,
                condition.expression,
                condition.names,
                condition.values,
                "document",
                &document.id,
            )
            .await?
        {
            Written::Done => Ok(stored),
            Written::ConditionFailed(old) => Err(conflict(
                "document",
                document.id.clone(),
                document.version,
                old.as_ref(),
            )?),
        }
    }

    async fn get_document(&self, id: &str) -> Result<KnowledgeDocument> {
        match self.table.get(&document_pk(id), DOCUMENT_SK).await? {
            Some(item) => from_data(&item, "knowledge document"),
            None => Err(Error::not_found("document", id)),
        }
    }

    async fn list_documents(&self, kind: Option<DocumentKind>) -> Result<Vec<KnowledgeDocument>> {
        let (index, partition_attr, partition) = match kind {
            Some(kind) => (GSI2, attr::GSI2_PK, documents_of(kind)),
            None => (GSI1, attr::GSI1_PK, ALL_DOCUMENTS.to_string()),
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
            .map(|item| from_data(item, "knowledge document"))
            .collect()
    }

    async fn delete_document(&self, id: &str) -> Result<()> {
        let deleted = self
            .table
            .delete_if(
                &document_pk(id),
                DOCUMENT_SK,
                "attribute_exists(#pk)",
                names(&[("#pk", attr::PK)]),
            )
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(Error::not_found("document", id))
        }
    }
}
