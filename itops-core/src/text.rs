//! Text helpers shared by everything that quotes user, model or telemetry text.

/// At most `max` characters of `text` (cut on a character boundary): when it is longer,
/// its first `max - 1` characters and `…`, so the result never exceeds `max`.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some(_) if max == 0 => String::new(),
        Some(_) => {
            let cut = text
                .char_indices()
                .nth(max - 1)
                .map_or(text.len(), |(i, _)| i);
            format!("{}…", &text[..cut])
        }
    }
}

/// The first `max` characters of `text`, unmarked: for keys and identifiers, which must
/// stay a plain prefix of what they came from.
pub fn prefix(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_text_never_exceeds_its_limit_and_says_it_was_cut() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("exactly10!", 10), "exactly10!");
        assert_eq!(clip("eleven chars", 10), "eleven ch…");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("abc", 0), "");
        assert_eq!(prefix("ééééé", 3), "ééé");
        assert_eq!(prefix("ab", 3), "ab");
    }
}
