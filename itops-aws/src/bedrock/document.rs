//! JSON values to and from Smithy documents (tool schemas, tool inputs).

use std::collections::HashMap;

use aws_smithy_types::{Document, Number};

/// A JSON value as a Smithy document; integers stay integers.
pub(crate) fn to_document(value: &serde_json::Value) -> Document {
    match value {
        serde_json::Value::Null => Document::Null,
        serde_json::Value::Bool(b) => Document::Bool(*b),
        serde_json::Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        serde_json::Value::String(s) => Document::String(s.clone()),
        serde_json::Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        serde_json::Value::Object(map) => Document::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// A Smithy document as a JSON value; non-finite floats (which JSON cannot hold) become null.
pub(crate) fn to_json(document: &Document) -> serde_json::Value {
    match document {
        Document::Null => serde_json::Value::Null,
        Document::Bool(b) => serde_json::Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => serde_json::Value::from(*u),
        Document::Number(Number::NegInt(i)) => serde_json::Value::from(*i),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Document::String(s) => serde_json::Value::String(s.clone()),
        Document::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Document::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<serde_json::Map<_, _>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_integers_and_floats_apart() {
        let value = json!({
            "service": "api",
            "limit": 20,
            "offset": -3,
            "threshold": 0.25,
            "big": u64::MAX,
            "tags": ["a", null, true],
            "nested": {"empty": {}}
        });
        let doc = to_document(&value);
        match &doc {
            Document::Object(map) => {
                assert_eq!(map["limit"], Document::Number(Number::PosInt(20)));
                assert_eq!(map["offset"], Document::Number(Number::NegInt(-3)));
                assert_eq!(map["threshold"], Document::Number(Number::Float(0.25)));
            }
            other => panic!("expected an object, got {other:?}"),
        }
        assert_eq!(to_json(&doc), value);
    }

    #[test]
    fn non_finite_floats_become_null() {
        assert_eq!(
            to_json(&Document::Number(Number::Float(f64::NAN))),
            serde_json::Value::Null
        );
    }
}
