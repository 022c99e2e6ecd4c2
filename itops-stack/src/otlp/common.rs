//! What every signal shares: the service of a resource, ids as hex, times, attribute
//! values as text.

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The service of data whose resource names none, as OpenTelemetry SDKs call it.
pub(crate) const UNKNOWN_SERVICE: &str = "unknown_service";

/// The service a resource names in `service.name`; [`UNKNOWN_SERVICE`] when it names none
/// (or an empty one).
pub(crate) fn service_of(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .map(any_text)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}

/// An id of exactly `len` bytes, not all zero (OpenTelemetry's valid ids), as lowercase
/// hex; `None` otherwise.
pub(crate) fn hex_id(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len && bytes.iter().any(|&b| b != 0)).then(|| hex(bytes))
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Hex (either case) as bytes; `None` for an odd length or a character that is not a
/// hex digit.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    digits
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some((digit(*high)? << 4) | digit(*low)?),
            _ => None,
        })
        .collect()
}

/// Unix nanoseconds as an instant: `None` for 0 (unset in OTLP) and past what itops holds
/// (the year 2262).
pub(crate) fn instant(nanos: u64) -> Option<DateTime<Utc>> {
    let nanos = i64::try_from(nanos).ok().filter(|&n| n > 0)?;
    Some(DateTime::from_timestamp_nanos(nanos))
}

/// A value as text: a string as it is, anything else as JSON text.
pub(crate) fn any_text(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        None => String::new(),
        Some(_) => any_json(value).to_string(),
    }
}

/// A value as JSON: maps as objects, arrays as arrays, bytes as a hex string, doubles that
/// are not finite as strings (`"NaN"`, `"inf"`).
pub(crate) fn any_json(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value as Json;
    match &value.value {
        None => Json::Null,
        Some(Value::StringValue(s)) => Json::String(s.clone()),
        Some(Value::BoolValue(b)) => Json::Bool(*b),
        Some(Value::IntValue(i)) => Json::from(*i),
        Some(Value::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map_or_else(|| Json::String(d.to_string()), Json::Number),
        Some(Value::ArrayValue(array)) => Json::Array(array.values.iter().map(any_json).collect()),
        Some(Value::KvlistValue(list)) => Json::Object(pairs(&list.values)),
        Some(Value::BytesValue(bytes)) => Json::String(hex(bytes)),
        // An index into a dictionary that only the profiles signal carries.
        Some(Value::StringValueStrindex(i)) => Json::from(*i),
    }
}

fn pairs(values: &[KeyValue]) -> serde_json::Map<String, serde_json::Value> {
    values
        .iter()
        .map(|kv| {
            let value = kv.value.as_ref().map_or(serde_json::Value::Null, any_json);
            (kv.key.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn value(v: Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    #[test]
    fn ids_are_lowercase_hex_of_the_right_length_and_not_zero() {
        assert_eq!(
            hex_id(&[0xAB, 0x01, 0, 0, 0, 0, 0, 0xff], 8).unwrap(),
            "ab010000000000ff"
        );
        assert_eq!(hex_id(&[0; 8], 8), None);
        assert_eq!(hex_id(&[1; 7], 8), None);
        assert_eq!(hex_id(&[], 16), None);
    }

    #[test]
    fn hex_reads_back_as_the_bytes_it_came_from() {
        let bytes = [0xAB, 0x01, 0, 0xff];
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(unhex("ABcd").unwrap(), [0xab, 0xcd]);
        assert_eq!(unhex("").unwrap(), Vec::<u8>::new());
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn the_service_falls_back_to_unknown_service() {
        assert_eq!(service_of(None), UNKNOWN_SERVICE);
        let resource = |v: Value| Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(value(v)),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            service_of(Some(&resource(Value::StringValue("cart".into())))),
            "cart"
        );
        assert_eq!(
            service_of(Some(&resource(Value::StringValue(String::new())))),
            UNKNOWN_SERVICE
        );
    }

    #[test]
    fn structured_values_are_json_text() {
        let body = value(Value::KvlistValue(KeyValueList {
            values: vec![
                KeyValue {
                    key: "user".into(),
                    value: Some(value(Value::IntValue(7))),
                    ..Default::default()
                },
                KeyValue {
                    key: "tags".into(),
                    value: Some(value(Value::ArrayValue(ArrayValue {
                        values: vec![
                            value(Value::BoolValue(true)),
                            value(Value::DoubleValue(f64::NAN)),
                            value(Value::BytesValue(vec![1, 255])),
                        ],
                    }))),
                    ..Default::default()
                },
            ],
        }));
        let text: serde_json::Value = serde_json::from_str(&any_text(&body)).unwrap();
        assert_eq!(
            text,
            serde_json::json!({"user": 7, "tags": [true, "NaN", "01ff"]})
        );
        assert_eq!(
            any_text(&value(Value::StringValue("plain".into()))),
            "plain"
        );
    }

    #[test]
    fn instants_exclude_unset_and_out_of_range() {
        assert_eq!(instant(0), None);
        assert_eq!(instant(u64::MAX), None);
        assert_eq!(instant(1_000_000_000).unwrap().timestamp(), 1);
    }
}
