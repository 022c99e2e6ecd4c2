//! Turning tool output into observations: rendering, truncation, and call identity.

use serde_json::Value;

/// Tool output as text for the model: strings as they are, anything else as compact JSON.
pub(crate) fn render(output: &Value) -> String {
    match output {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Cuts `text` to at most `max_bytes` (on a character boundary) and says so.
/// Returns the text and whether it was cut.
pub(crate) fn truncate(text: String, max_bytes: usize) -> (String, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let total = text.len();
    let note_room = 96;
    let mut cut = max_bytes.saturating_sub(note_room).min(total);
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = text[..cut].to_string();
    out.push_str(&format!(
        "\n[truncated: showing {cut} of {total} bytes; narrow the query to see more]"
    ));
    (out, true)
}

/// A key that is equal for two calls exactly when they name the same tool with the same
/// arguments, whatever the order of object keys.
pub(crate) fn call_key(name: &str, input: &Value) -> String {
    let mut key = String::with_capacity(name.len() + 64);
    key.push_str(name);
    key.push('\u{0}');
    write_canonical(input, &mut key);
    key
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn call_key_ignores_key_order() {
        assert_eq!(
            call_key("t", &json!({"a": 1, "b": {"c": 2, "d": 3}})),
            call_key("t", &json!({"b": {"d": 3, "c": 2}, "a": 1}))
        );
        assert_ne!(
            call_key("t", &json!({"a": 1})),
            call_key("u", &json!({"a": 1}))
        );
        assert_ne!(
            call_key("t", &json!({"a": 1})),
            call_key("t", &json!({"a": 2}))
        );
    }

    #[test]
    fn truncation_respects_char_boundaries_and_notes_it() {
        let text = "é".repeat(1000);
        let (out, cut) = truncate(text, 200);
        assert!(cut);
        assert!(out.len() <= 200, "{} bytes", out.len());
        assert!(out.contains("[truncated: showing"));
        let (same, cut) = truncate("short".into(), 200);
        assert!(!cut);
        assert_eq!(same, "short");
    }
}
