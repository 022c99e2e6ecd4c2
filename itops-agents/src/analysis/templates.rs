//! Log message templates: the message with its variable parts masked, so that lines that
//! differ only in ids, numbers or addresses count as one kind of event.

/// The template of a log message: numbers, hex ids, UUIDs, IP addresses, quoted strings and
/// key=value values are replaced by `<*>`; whitespace is collapsed; long messages are cut.
pub fn template(message: &str) -> String {
    const MAX_CHARS: usize = 160;
    let first_line = message.lines().next().unwrap_or("");
    let mut out = String::with_capacity(first_line.len().min(MAX_CHARS));
    for (i, token) in first_line.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&mask_token(token));
        if out.chars().count() >= MAX_CHARS {
            break;
        }
    }
    out
}

fn mask_token(token: &str) -> String {
    let core = token.trim_matches(|c: char| {
        matches!(
            c,
            ',' | ';' | ':' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'' | '.'
        )
    });
    if core.is_empty() {
        return token.to_string();
    }
    let prefix_len = token.find(core).unwrap_or(0);
    let (prefix, suffix) = (&token[..prefix_len], &token[prefix_len + core.len()..]);
    // key=value: keep the key.
    if let Some((key, value)) = core.split_once('=') {
        let is_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if is_key && !value.is_empty() {
            return format!("{prefix}{key}=<*>{suffix}");
        }
    }
    if is_variable(core) {
        return format!("{prefix}<*>{suffix}");
    }
    token.to_string()
}

fn is_variable(word: &str) -> bool {
    let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    // Numbers with units or separators (42, 3.5, 250ms, 10.0.0.1, 12:30:01, 0x1f, 7%).
    if word
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-' | '/' | '%' | '+'))
    {
        return true;
    }
    let lower = word.to_ascii_lowercase();
    let unit_number = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !unit_number.is_empty()
        && unit_number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && lower.len() - unit_number.len() <= 3
    {
        return true;
    }
    // Hex-ish ids and UUIDs: mostly hex digits, long enough.
    let hexish = word
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .count();
    if word.len() >= 8 && hexish * 10 >= word.len() * 9 {
        return true;
    }
    // Mixed identifiers with many digits (req_8f3a9c21, user12345).
    digits * 3 >= word.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_variable_parts() {
        assert_eq!(
            template("Timeout after 5000ms calling payments at 10.0.3.7:8080 request_id=ab12cd"),
            "Timeout after <*> calling payments at <*> request_id=<*>"
        );
        assert_eq!(
            template("user 4711 checkout failed: order 9f1c2d3e-aaaa-bbbb-cccc-123456789abc"),
            "user <*> checkout failed: order <*>"
        );
        assert_eq!(template("GET /api/cart 200"), "GET /api/cart <*>");
    }

    #[test]
    fn same_event_same_template() {
        assert_eq!(
            template("connection pool exhausted (active=50, waiting=12)"),
            template("connection pool exhausted (active=50, waiting=31)")
        );
        assert_ne!(template("connection refused"), template("connection reset"));
    }

    #[test]
    fn keeps_only_the_first_line() {
        assert_eq!(
            template("NullPointerException\n  at Foo.bar(Foo.java:42)"),
            "NullPointerException"
        );
    }
}
