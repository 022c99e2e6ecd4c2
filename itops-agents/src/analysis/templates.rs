//! Log message templates: the message with its variable parts masked, so that lines that
//! differ only in ids, numbers or addresses count as one kind of event.

/// The template of a log message: numbers, hex ids, UUIDs, IP addresses and key=value values
/// are replaced by `<*>` (also inside paths and hyphenated names: `/product/<*>`,
/// `web-<*>-<*>`); whitespace is collapsed; only the first line is kept; long messages are
/// cut. A JSON log line is reduced to its message fields first.
pub fn template(message: &str) -> String {
    const MAX_CHARS: usize = 160;
    let text = json_message(message);
    let first_line = text.lines().next().unwrap_or("");
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

/// Whether `text` contains `word` (case-insensitively) as a whole word or name: not inside a
/// longer one (`cart` is not in `cart-service`, `cart_id` or `cart2`).
pub fn contains_word(text: &str, word: &str) -> bool {
    find_word(text, word, |_| true)
}

/// Whether `text` names the service `name` as something it talks about: as a word, and not
/// as a segment of a request path (`POST /checkout` is the route a request took, not a
/// call to checkout; a URL's host, `http://checkout:8080`, still names it).
pub fn names_service(text: &str, name: &str) -> bool {
    find_word(text, name, |before| {
        !before.ends_with('/') || before.ends_with("//")
    })
}

/// Whether `word` occurs in `text` as a whole word (case-insensitive) where `accept` takes
/// the text before it.
fn find_word(text: &str, word: &str, accept: impl Fn(&str) -> bool) -> bool {
    let text = text.to_lowercase();
    let word = word.to_lowercase();
    if word.is_empty() {
        return false;
    }
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '-');
    text.match_indices(&word).any(|(i, _)| {
        let before = &text[..i];
        accept(before)
            && boundary(before.chars().next_back())
            && boundary(text[i + word.len()..].chars().next())
    })
}

/// The human-written part of a structured (JSON) log line: its `msg`, `message`, `error` or
/// `err` fields; other lines as they are.
pub fn json_message(message: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return std::borrow::Cow::Borrowed(message);
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(trimmed)
    else {
        return std::borrow::Cow::Borrowed(message);
    };
    let parts: Vec<String> = ["msg", "message", "error", "err", "exception"]
        .iter()
        .filter_map(|k| map.get(*k))
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if parts.is_empty() {
        std::borrow::Cow::Borrowed(message)
    } else {
        std::borrow::Cow::Owned(parts.join(" "))
    }
}

fn is_edge_punct(c: char) -> bool {
    matches!(
        c,
        ',' | ';' | ':' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | '\'' | '.' | '<' | '>'
    )
}

fn mask_token(token: &str) -> String {
    let core = token.trim_matches(is_edge_punct);
    if core.is_empty() {
        return token.to_string();
    }
    let prefix_len = token.find(core).unwrap_or(0);
    let (prefix, suffix) = (&token[..prefix_len], &token[prefix_len + core.len()..]);
    // key=value: keep the key; keep a quoted value's words (they are the message).
    if let Some((key, value)) = core.split_once('=') {
        let is_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if is_key && !value.is_empty() {
            if value.starts_with(['"', '\''])
                && !is_variable(value.trim_matches(|c| c == '"' || c == '\''))
            {
                return token.to_string();
            }
            return format!("{prefix}{key}=<*>{suffix}");
        }
    }
    // Paths and compound names: mask the variable segments only (a UUID or a hex id with
    // dashes is masked whole below).
    let path = core.contains('/');
    if !path && is_variable(core) {
        return format!("{prefix}<*>{suffix}");
    }
    if core.contains(['/', '-', '_', ':', '@', '#']) {
        let masked: String = core
            .split_inclusive(['/', '-', '_', ':', '@', '#'])
            .map(|segment| {
                let (word, sep) = match segment.char_indices().last() {
                    Some((i, '/' | '-' | '_' | ':' | '@' | '#')) => (&segment[..i], &segment[i..]),
                    _ => (segment, ""),
                };
                if !word.is_empty() && is_variable(word) {
                    format!("<*>{sep}")
                } else {
                    segment.to_string()
                }
            })
            .collect();
        return format!("{prefix}{masked}{suffix}");
    }
    token.to_string()
}

fn is_variable(word: &str) -> bool {
    let digits = word.chars().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    // Numbers with units or separators (42, 3.5, 250ms, 10.0.0.1, 12:30:01, 7%).
    if word
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-' | '/' | '%' | '+' | ','))
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
    if word.len() >= 6 && hexish * 10 >= word.len() * 9 {
        return true;
    }
    // Mixed identifiers with many digits (req_8f3a9c21, user12345, 814E933ZQ5).
    digits * 3 >= word.len()
        || (word.len() >= 8 && digits >= 2 && word.chars().all(|c| c.is_ascii_alphanumeric()))
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
        assert_eq!(
            template("GET /product/814E933ZQ5 from web-49bc37eb9e-k133a"),
            "GET /product/<*> from <*>"
        );
        assert_eq!(
            template("served by checkout-7d9f-x2 in 12ms"),
            "served by checkout-<*>-<*> in <*>"
        );
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
    fn whole_words_only() {
        assert!(contains_word("timeout calling Payments:8080", "payments"));
        assert!(!contains_word("timeout calling payments-db", "payments"));
        assert!(contains_word("timeout calling payments-db", "payments-db"));
        assert!(!contains_word("cartservice down", "cart"));
        assert!(contains_word("the site is down", "down"));
        assert!(!contains_word("anything", ""));
    }

    #[test]
    fn a_route_in_a_request_path_does_not_name_a_service() {
        let line = "upstream auth failed for POST /checkout: Response code 500";
        assert!(names_service(line, "auth"));
        assert!(!names_service(line, "checkout"));
        assert!(names_service(
            "I/O error on POST to http://checkout:8080/api",
            "checkout"
        ));
        assert!(names_service("checkout/PlaceOrder failed", "checkout"));
    }

    #[test]
    fn keeps_only_the_first_line() {
        assert_eq!(
            template("NullPointerException\n  at Foo.bar(Foo.java:42)"),
            "NullPointerException"
        );
    }

    #[test]
    fn structured_lines_keep_their_words() {
        assert_eq!(
            template(
                r#"level=error msg="cache error" err="redis: i/o timeout (read tcp 10.0.254.106:6379)""#
            ),
            r#"level=<*> msg="cache error" err="redis: i/o timeout (read tcp <*>)""#
        );
        assert_eq!(
            template(
                r#"{"level":50,"msg":"upstream catalog failed for GET /p/42: null reqId=fb65b74a-24b2","pid":1}"#
            ),
            "upstream catalog failed for GET /p/<*>: null reqId=<*>"
        );
    }
}
