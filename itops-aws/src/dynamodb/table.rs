//! [`DynamoDbTable`]: the one table both adapters use, its creation, and the few DynamoDB
//! calls they make (with pagination, retries of unprocessed items, and error mapping).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::item::{attr, item_size, Item, GSI1, GSI2, MAX_ITEM_BYTES};
use crate::config::{region_of, AwsSettings};
use crate::error::{Error, Result};
use crate::sdk::{classify, Call};

/// Longest [`DynamoDbTable::create`] waits for the table to become active.
const CREATE_WAIT: Duration = Duration::from_secs(120);
/// Rounds of retrying a batch's unprocessed items before giving up.
const BATCH_ROUNDS: u32 = 8;

/// The DynamoDB table that holds everything itops stores: incidents, timelines, agent state,
/// checkpoints, knowledge documents and approvals (single-table design; see the crate docs).
#[derive(Clone, Debug)]
pub struct DynamoDbTable {
    client: Client,
    name: String,
    region: String,
}

/// The result of a conditional write.
#[derive(Debug)]
pub(crate) enum Written {
    /// The write happened.
    Done,
    /// The condition failed; the item as it was (when DynamoDB returned it or it was re-read).
    ConditionFailed(Option<Item>),
}

/// A query: partition key equality, an optional sort-key condition, an optional filter.
#[derive(Debug, Default)]
pub(crate) struct QuerySpec {
    /// An index name, or the table itself.
    pub(crate) index: Option<&'static str>,
    /// The key condition expression.
    pub(crate) key_condition: String,
    /// A filter applied after the key condition.
    pub(crate) filter: Option<String>,
    /// Expression attribute names.
    pub(crate) names: HashMap<String, String>,
    /// Expression attribute values.
    pub(crate) values: HashMap<String, AttributeValue>,
    /// Ascending sort-key order when true.
    pub(crate) forward: bool,
    /// Stop after this many matching items (all when `None`).
    pub(crate) max_items: Option<usize>,
    /// Strongly consistent read (table only; indexes are eventually consistent).
    pub(crate) consistent: bool,
}

impl DynamoDbTable {
    /// A handle on table `name` through `client`. Nothing is checked until used; call
    /// [`check`](Self::check) to fail early with a clear message.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "(no region)".to_string());
        Self {
            client,
            name: name.into(),
            region,
        }
    }

    /// A handle on table `name` from a loaded AWS configuration.
    pub fn from_sdk_config(sdk: &SdkConfig, name: impl Into<String>) -> Self {
        let mut table = Self::new(Client::new(sdk), name);
        table.region = region_of(sdk);
        table
    }

    /// Loads the AWS configuration from `settings` and returns a handle on table `name`.
    pub async fn connect(settings: &AwsSettings, name: impl Into<String>) -> Result<Self> {
        Ok(Self::from_sdk_config(&settings.load().await?, name))
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The region the client uses.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn call<'a>(&'a self, operation: &'static str) -> Call<'a> {
        Call {
            service: "DynamoDB",
            operation,
            resource: &self.name,
            region: &self.region,
        }
    }

    /// Maps an SDK error: a missing table gets its own message.
    pub(crate) fn fail<E>(&self, operation: &'static str, err: SdkError<E>) -> Error
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        match classify(self.call(operation), err) {
            Error::ResourceNotFound { .. } => Error::TableNotFound {
                table: self.name.clone(),
                region: self.region.clone(),
            },
            other => other,
        }
    }

    /// Creates the table (on-demand capacity, both indexes, TTL on `ttl`) and waits until it
    /// is active. For development and emulators; production tables come from the deployment
    /// template so that their settings (backups, encryption) are reviewed.
    pub async fn create(&self) -> Result<()> {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let string_attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let index = |name: &str, pk: &str, sk: &str| -> Result<GlobalSecondaryIndex> {
            Ok(GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()?)
        };
        let mut request = self
            .client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(attr::PK, KeyType::Hash)?)
            .key_schema(key(attr::SK, KeyType::Range)?)
            .global_secondary_indexes(index(GSI1, attr::GSI1_PK, attr::GSI1_SK)?)
            .global_secondary_indexes(index(GSI2, attr::GSI2_PK, attr::GSI2_SK)?);
        for name in [
            attr::PK,
            attr::SK,
            attr::GSI1_PK,
            attr::GSI1_SK,
            attr::GSI2_PK,
            attr::GSI2_SK,
        ] {
            request = request.attribute_definitions(string_attr(name)?);
        }
        request
            .send()
            .await
            .map_err(|e| self.fail("CreateTable", e))?;
        let started = tokio::time::Instant::now();
        while !self.is_active().await? {
            if started.elapsed() > CREATE_WAIT {
                return Err(Error::Service {
                    service: "DynamoDB",
                    operation: "CreateTable",
                    resource: self.name.clone(),
                    code: "not active".to_string(),
                    message: format!(
                        "the table did not become active within {}s",
                        CREATE_WAIT.as_secs()
                    ),
                    retryable: true,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.client
            .update_time_to_live()
            .table_name(&self.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attr::TTL)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| self.fail("UpdateTimeToLive", e))?;
        Ok(())
    }

    async fn is_active(&self) -> Result<bool> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.name)
            .send()
            .await
            .map_err(|e| self.fail("DescribeTable", e))?;
        let Some(table) = out.table() else {
            return Ok(false);
        };
        Ok(table.table_status() == Some(&TableStatus::Active)
            && table
                .global_secondary_indexes()
                .iter()
                .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active)))
    }

    /// Checks that the table exists with both indexes: a clear error at startup instead of
    /// at the first incident.
    pub async fn check(&self) -> Result<()> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.name)
            .send()
            .await
            .map_err(|e| self.fail("DescribeTable", e))?;
        let indexes: Vec<&str> = out
            .table()
            .map(|t| {
                t.global_secondary_indexes()
                    .iter()
                    .filter_map(|i| i.index_name())
                    .collect()
            })
            .unwrap_or_default();
        let missing: Vec<&str> = [GSI1, GSI2]
            .into_iter()
            .filter(|want| !indexes.contains(want))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::config(format!(
                "DynamoDB table '{}' in region {} lacks the global secondary index(es) {}; \
                 recreate it with `DynamoDbTable::create` or the SAM template",
                self.name,
                self.region,
                missing.join(", ")
            )))
        }
    }

    /// Refuses an item DynamoDB would refuse, naming the record.
    pub(crate) fn check_size(&self, item: &Item, entity: &'static str, id: &str) -> Result<()> {
        let bytes = item_size(item);
        if bytes > MAX_ITEM_BYTES {
            return Err(Error::ItemTooLarge {
                table: self.name.clone(),
                entity,
                id: id.to_string(),
                bytes,
                limit: MAX_ITEM_BYTES,
            });
        }
        Ok(())
    }

    /// A DynamoDB "item too large" rejection, in case the local estimate missed it.
    fn too_large(&self, err: &Error, entity: &'static str, id: &str) -> Option<Error> {
        match err {
            Error::Invalid { message, .. }
                if message.contains("Item size") || message.contains("item size") =>
            {
                Some(Error::ItemTooLarge {
                    table: self.name.clone(),
                    entity,
                    id: id.to_string(),
                    bytes: 0,
                    limit: MAX_ITEM_BYTES,
                })
            }
            _ => None,
        }
    }

    /// The item with this key (strongly consistent), if any.
    pub(crate) async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key(attr::PK, AttributeValue::S(pk.to_string()))
            .key(attr::SK, AttributeValue::S(sk.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.fail("GetItem", e))?;
        Ok(out.item().filter(|i| !i.is_empty()).cloned())
    }

    /// Puts `item` if `condition` holds. On a failed condition, returns the stored item
    /// (asked of DynamoDB with the failure, or re-read when it did not send it).
    pub(crate) async fn put_if(
        &self,
        item: Item,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
        entity: &'static str,
        id: &str,
    ) -> Result<Written> {
        self.check_size(&item, entity, id)?;
        let key = key_of(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Done),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match e.err() {
                    PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                Ok(Written::ConditionFailed(
                    self.old_or_reread(old, key).await?,
                ))
            }
            Err(e) => {
                let err = self.fail("PutItem", e);
                Err(self.too_large(&err, entity, id).unwrap_or(err))
            }
        }
    }

    /// Updates the item with `key` if `condition` holds; returns the new item.
    pub(crate) async fn update_if(
        &self,
        pk: &str,
        sk: &str,
        update: &str,
        condition: &str,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> Result<std::result::Result<Item, Option<Item>>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(attr::PK, AttributeValue::S(pk.to_string()))
            .key(attr::SK, AttributeValue::S(sk.to_string()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Ok(out.attributes().cloned().unwrap_or_default())),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match e.err() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                let key = (pk.to_string(), sk.to_string());
                Ok(Err(self.old_or_reread(old, Some(key)).await?))
            }
            Err(e) => Err(self.fail("UpdateItem", e)),
        }
    }

    async fn old_or_reread(
        &self,
        old: Option<Item>,
        key: Option<(String, String)>,
    ) -> Result<Option<Item>> {
        match (old, key) {
            (Some(item), _) if !item.is_empty() => Ok(Some(item)),
            // DynamoDB sends nothing back when the item does not exist; an emulator may send
            // nothing at all, so read it to be sure.
            (_, Some((pk, sk))) => self.get(&pk, &sk).await,
            (_, None) => Ok(None),
        }
    }

    /// Deletes the item with this key if `condition` holds; `false` when it did not.
    pub(crate) async fn delete_if(
        &self,
        pk: &str,
        sk: &str,
        condition: &str,
        names: HashMap<String, String>,
    ) -> Result<bool> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.name)
            .key(attr::PK, AttributeValue::S(pk.to_string()))
            .key(attr::SK, AttributeValue::S(sk.to_string()))
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(self.fail("DeleteItem", e)),
        }
    }

    /// Runs a transaction. `Ok(None)` when it committed; `Ok(Some(codes))` when DynamoDB
    /// cancelled it, with one reason code per item (`None` for items that were fine).
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        entity: &'static str,
        id: &str,
    ) -> Result<Option<Vec<Option<String>>>> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    TransactWriteItemsError::TransactionCanceledException(_)
                ) =>
            {
                let reasons = match e.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => c
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().filter(|c| *c != "None").map(str::to_string))
                        .collect(),
                    _ => Vec::new(),
                };
                Ok(Some(reasons))
            }
            Err(e) => {
                let err = self.fail("TransactWriteItems", e);
                Err(self.too_large(&err, entity, id).unwrap_or(err))
            }
        }
    }

    /// Runs a query to the end (or to `max_items` matches), following `LastEvaluatedKey`.
    pub(crate) async fn query(&self, spec: QuerySpec) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let wanted = spec.max_items.map(|m| m.saturating_sub(items.len()));
            let mut request = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression(&spec.key_condition)
                .set_filter_expression(spec.filter.clone())
                .set_expression_attribute_names(
                    (!spec.names.is_empty()).then(|| spec.names.clone()),
                )
                .set_expression_attribute_values(
                    (!spec.values.is_empty()).then(|| spec.values.clone()),
                )
                .scan_index_forward(spec.forward)
                .set_exclusive_start_key(start.take());
            if let Some(index) = spec.index {
                request = request.index_name(index);
            } else if spec.consistent {
                request = request.consistent_read(true);
            }
            // Without a filter, a limit is exact; with one, DynamoDB counts items before the
            // filter, so read on until enough match.
            if let Some(wanted) = wanted {
                let limit = if spec.filter.is_some() {
                    wanted.max(50)
                } else {
                    wanted.max(1)
                };
                request = request.limit(i32::try_from(limit).unwrap_or(i32::MAX));
            }
            let out = request.send().await.map_err(|e| self.fail("Query", e))?;
            items.extend(out.items().iter().cloned());
            if let Some(max) = spec.max_items {
                if items.len() >= max {
                    items.truncate(max);
                    return Ok(items);
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    /// Deletes these keys in batches of 25, retrying unprocessed items with backoff.
    pub(crate) async fn delete_keys(&self, keys: Vec<(String, String)>) -> Result<()> {
        for chunk in keys.chunks(25) {
            let mut requests = Vec::with_capacity(chunk.len());
            for (pk, sk) in chunk {
                requests.push(
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .key(attr::PK, AttributeValue::S(pk.clone()))
                                .key(attr::SK, AttributeValue::S(sk.clone()))
                                .build()?,
                        )
                        .build(),
                );
            }
            let mut round = 0;
            while !requests.is_empty() {
                if round == BATCH_ROUNDS {
                    return Err(Error::Throttled {
                        service: "DynamoDB",
                        operation: "BatchWriteItem",
                        resource: self.name.clone(),
                        code: format!("{} items still unprocessed", requests.len()),
                    });
                }
                if round > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << round.min(6))).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(|e| self.fail("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items()
                    .and_then(|m| m.get(&self.name))
                    .cloned()
                    .unwrap_or_default();
                round += 1;
            }
        }
        Ok(())
    }
}

fn key_of(item: &Item) -> Option<(String, String)> {
    match (item.get(attr::PK), item.get(attr::SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            Some((pk.clone(), sk.clone()))
        }
        _ => None,
    }
}
