//! Building and reading DynamoDB items: keys, attribute names, JSON bodies, exact numbers.
//!
//! Every record is kept whole as JSON text in the `data` attribute, so numbers inside
//! payloads round-trip byte for byte (no float or Decimal conversion); versions and
//! sequence numbers are DynamoDB numbers written and parsed as integer strings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// An item as the SDK holds it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// DynamoDB's hard limit on one item (names plus values), in bytes.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Attribute names.
pub(crate) mod attr {
    /// Partition key.
    pub(crate) const PK: &str = "pk";
    /// Sort key.
    pub(crate) const SK: &str = "sk";
    /// First index: collections (all incidents, all documents, approvals of an incident,
    /// unfinished checkpoints).
    pub(crate) const GSI1_PK: &str = "gsi1pk";
    /// First index sort key.
    pub(crate) const GSI1_SK: &str = "gsi1sk";
    /// Second index: collections by status or kind.
    pub(crate) const GSI2_PK: &str = "gsi2pk";
    /// Second index sort key.
    pub(crate) const GSI2_SK: &str = "gsi2sk";
    /// Record type (`incident`, `timeline`, ...), for people reading the table.
    pub(crate) const ENTITY: &str = "entity";
    /// Optimistic-concurrency version.
    pub(crate) const VERSION: &str = "version";
    /// The record as JSON text.
    pub(crate) const DATA: &str = "data";
    /// Incident status / approval status, for filters.
    pub(crate) const STATUS: &str = "status";
    /// Incident severity, for filters.
    pub(crate) const SEVERITY: &str = "severity";
    /// Incident affected services (a list of strings), for filters.
    pub(crate) const SERVICES: &str = "services";
    /// Incident creation time (fixed-width text), for filters.
    pub(crate) const CREATED_AT: &str = "created_at";
    /// Set while an incident is being deleted: it reads as gone, and nothing can be appended.
    pub(crate) const DELETING: &str = "deleting";
    /// SHA-256 of an approval's one-time token.
    pub(crate) const TOKEN_HASH: &str = "token_hash";
    /// Approval expiry (fixed-width text).
    pub(crate) const EXPIRES_AT: &str = "expires_at";
    /// DynamoDB TTL attribute (Unix seconds): the item is deleted some time after it.
    pub(crate) const TTL: &str = "ttl";
}

/// Names of the two global secondary indexes.
pub(crate) const GSI1: &str = "gsi1";
/// See [`GSI1`].
pub(crate) const GSI2: &str = "gsi2";

/// A string attribute.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute from an integer (exact).
pub(crate) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A timestamp as fixed-width UTC text (nanoseconds), so that text order is time order.
pub(crate) fn time_key(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A sequence number as 20 zero-padded digits, so that text order is numeric order.
pub(crate) fn seq_key(seq: u64) -> String {
    format!("{seq:020}")
}

/// The record as JSON text.
pub(crate) fn to_data<T: Serialize>(value: &T, what: &str) -> itops_core::Result<AttributeValue> {
    serde_json::to_string(value)
        .map(AttributeValue::S)
        .map_err(|e| itops_core::Error::serialization(what, e))
}

/// Reads the record out of an item's `data` attribute.
pub(crate) fn from_data<T: DeserializeOwned>(item: &Item, what: &str) -> itops_core::Result<T> {
    let data = get_s(item, attr::DATA).ok_or_else(|| corrupt(what, "it has no data attribute"))?;
    serde_json::from_str(data).map_err(|e| itops_core::Error::serialization(what, e))
}

/// A string attribute's value.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

/// A number attribute's value as an unsigned integer.
pub(crate) fn get_u64(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// The stored version of an item (0 when the item is absent).
pub(crate) fn version_of(item: Option<&Item>, what: &str) -> itops_core::Result<u64> {
    match item {
        None => Ok(0),
        Some(item) if item.is_empty() => Ok(0),
        Some(item) => get_u64(item, attr::VERSION)
            .ok_or_else(|| corrupt(what, "its version attribute is missing or not an integer")),
    }
}

fn corrupt(what: &str, message: &str) -> itops_core::Error {
    itops_core::Error::Storage {
        message: format!("a stored {what} is unreadable: {message}"),
        source: None,
    }
}

/// DynamoDB's size of an item: attribute names plus values, as its docs define it
/// (strings in UTF-8 bytes, numbers roughly one byte per two digits plus one).
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::B(b) => b.as_ref().len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_their_values() {
        assert!(seq_key(9) < seq_key(10));
        assert!(seq_key(99_999) < seq_key(100_000));
        assert_eq!(seq_key(u64::MAX).len(), 20);
        let a = DateTime::from_timestamp(1_714_564_800, 5).unwrap();
        let b = DateTime::from_timestamp(1_714_564_800, 40).unwrap();
        let c = DateTime::from_timestamp(1_714_564_801, 0).unwrap();
        assert!(time_key(a) < time_key(b) && time_key(b) < time_key(c));
        assert_eq!(time_key(a), "2024-05-01T12:00:00.000000005Z");
    }

    #[test]
    fn json_numbers_round_trip_exactly() {
        let value =
            serde_json::json!({"score": 0.1, "big": 12345678901234567890u64, "x": 2.5e-300});
        let item = Item::from([(attr::DATA.to_string(), to_data(&value, "t").unwrap())]);
        let back: serde_json::Value = from_data(&item, "t").unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn versions_read_exactly() {
        let item = Item::from([(attr::VERSION.to_string(), n(u64::MAX))]);
        assert_eq!(version_of(Some(&item), "t").unwrap(), u64::MAX);
        assert_eq!(version_of(None, "t").unwrap(), 0);
        let bad = Item::from([(attr::VERSION.to_string(), s("x"))]);
        assert!(version_of(Some(&bad), "t").is_err());
    }

    #[test]
    fn size_counts_names_and_values() {
        let item = Item::from([
            ("pk".to_string(), s("INC#1")),
            ("version".to_string(), n(12)),
        ]);
        assert_eq!(item_size(&item), 2 + 5 + 7 + 2);
    }
}
