//! The LogQL a query is sent as, and the log records its answer's lines map to.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use itops_core::telemetry::{LogLevel, LogRecord};
use itops_core::{Error, Result};
use serde::Deserialize;

use crate::http;
use crate::service_of_workload;

/// Labels (or structured metadata) that carry a line's level.
const LEVEL_LABELS: [&str; 5] = [
    "level",
    "severity",
    "detected_level",
    "lvl",
    "severity_text",
];
const TRACE_LABELS: [&str; 4] = ["trace_id", "traceID", "traceId", "traceid"];
const SPAN_LABELS: [&str; 4] = ["span_id", "spanID", "spanId", "spanid"];

#[derive(Deserialize)]
pub(super) struct Streams {
    #[serde(rename = "resultType")]
    pub(super) result_type: String,
    #[serde(default)]
    result: Vec<Stream>,
}

#[derive(Deserialize)]
struct Stream {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    /// `[ "<ns>", "<line>" ]`, or with a third element: the line's structured metadata.
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// One line of a page.
pub(super) struct Entry<'a> {
    pub(super) at_ns: i64,
    pub(super) labels: &'a BTreeMap<String, String>,
    pub(super) line: String,
    pub(super) metadata: BTreeMap<String, String>,
}

/// Whether `name` is a valid Loki label name (it is written unquoted into LogQL and URLs).
pub(super) fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn is_workload(label: &str) -> bool {
    label == "pod" || label == "container"
}

/// The LogQL of a query: the service's streams (or every stream with the label), then a
/// case-insensitive line filter for `contains`, the text escaped twice (regex, string).
pub(super) fn logql(label: &str, service: Option<&str>, contains: Option<&str>) -> String {
    let matcher = match service {
        // A workload label holds replica names: match the service's pods by prefix.
        Some(s) if is_workload(label) => format!(
            "{label}=~{}",
            http::string_literal(&format!("{}(-.+)?", http::regex_escaped(s)))
        ),
        Some(s) => format!("{label}={}", http::string_literal(s)),
        None => format!("{label}=~\".+\""),
    };
    let mut query = format!("{{{matcher}}}");
    if let Some(text) = contains.filter(|t| !t.is_empty()) {
        let pattern = format!("(?i){}", http::regex_escaped(text));
        query.push_str(&format!(" |~ {}", http::string_literal(&pattern)));
    }
    query
}

pub(super) fn nanos(at: DateTime<Utc>, what: &str) -> Result<i64> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| Error::invalid(what, format!("{at} is out of Loki's nanosecond range")))
}

/// A level word, case-insensitive with the usual aliases.
fn level_word(word: &str) -> Option<LogLevel> {
    Some(match word.trim().to_ascii_lowercase().as_str() {
        "trace" | "debug" | "dbg" | "verbose" => LogLevel::Debug,
        "info" | "information" | "informational" | "notice" => LogLevel::Info,
        "warn" | "warning" | "wrn" => LogLevel::Warn,
        "error" | "err" | "eror" | "severe" => LogLevel::Error,
        "fatal" | "critical" | "crit" | "alert" | "emerg" | "emergency" | "panic" => {
            LogLevel::Fatal
        }
        _ => return None,
    })
}

/// A line's level from its text: a JSON `level`/`severity` field, `level=…`, or the first
/// level word written in capitals (`ERROR`, `[WARN]`).
pub(super) fn level_of_line(line: &str) -> Option<LogLevel> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed) {
            let found = ["level", "severity", "lvl", "levelname"]
                .iter()
                .find_map(|k| map.get(*k).and_then(|v| v.as_str()).and_then(level_word));
            if found.is_some() {
                return found;
            }
        }
    }
    let lower = line.to_ascii_lowercase();
    for key in ["level=", "lvl=", "severity="] {
        if let Some(at) = lower.find(key) {
            let rest = &lower[at + key.len()..];
            let word: String = rest
                .trim_start_matches('"')
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            if let Some(level) = level_word(&word) {
                return Some(level);
            }
        }
    }
    line.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_uppercase()))
        .find_map(level_word)
}

/// A page's lines, oldest first; `Err` quotes a value that is not `["<ns>", "<line>"]`.
pub(super) fn entries(streams: &Streams) -> std::result::Result<Vec<Entry<'_>>, String> {
    let mut entries = Vec::new();
    for stream in &streams.result {
        for value in &stream.values {
            let at_ns = value
                .first()
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse::<i64>().ok());
            let line = value.get(1).and_then(|v| v.as_str());
            let (Some(at_ns), Some(line)) = (at_ns, line) else {
                return Err(format!("{value:?}"));
            };
            let metadata = value
                .get(2)
                .and_then(|m| m.as_object())
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            entries.push(Entry {
                at_ns,
                labels: &stream.stream,
                line: line.to_string(),
                metadata,
            });
        }
    }
    entries.sort_by_key(|e| e.at_ns);
    Ok(entries)
}

/// The record of a line, when its stream has the service label.
pub(super) fn record(label: &str, entry: &Entry<'_>) -> Option<LogRecord> {
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            entry
                .metadata
                .get(*n)
                .or_else(|| entry.labels.get(*n))
                .filter(|v| !v.is_empty())
                .cloned()
        })
    };
    let owner = entry.labels.get(label)?;
    let service = if is_workload(label) {
        service_of_workload(owner)
    } else {
        owner.clone()
    };
    let level = LEVEL_LABELS
        .iter()
        .filter_map(|n| entry.metadata.get(*n).or_else(|| entry.labels.get(*n)))
        .find_map(|w| level_word(w))
        .or_else(|| level_of_line(&entry.line));
    Some(LogRecord {
        at: DateTime::from_timestamp_nanos(entry.at_ns),
        service,
        message: entry.line.clone(),
        level,
        trace_id: find(&TRACE_LABELS),
        span_id: find(&SPAN_LABELS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logql_selects_the_service_and_filters_escaped_text() {
        assert_eq!(
            logql("service_name", Some("cart"), Some("Timeout")),
            r#"{service_name="cart"} |~ "(?i)Timeout""#
        );
        assert_eq!(logql("job", None, None), r#"{job=~".+"}"#);
        assert_eq!(
            logql("pod", Some("a.b"), Some("")),
            r#"{pod=~"a\\.b(-.+)?"}"#
        );
        assert_eq!(
            logql("app", Some(r#"x"} or {y=""#), Some(r#"") |= "a.*"#)),
            r#"{app="x\"} or {y=\""} |~ "(?i)\"\\) \\|= \"a\\.\\*""#
        );
    }

    #[test]
    fn levels_come_from_the_line_when_no_label_says() {
        assert_eq!(
            level_of_line("2024 ERROR cannot connect"),
            Some(LogLevel::Error)
        );
        assert_eq!(
            level_of_line(r#"{"level":"warning","msg":"x"}"#),
            Some(LogLevel::Warn)
        );
        assert_eq!(
            level_of_line("ts=1 level=info msg=ok"),
            Some(LogLevel::Info)
        );
        assert_eq!(
            level_of_line("[FATAL] out of memory"),
            Some(LogLevel::Fatal)
        );
        assert_eq!(level_of_line("no error here"), None);
        assert_eq!(level_word("CRITICAL"), Some(LogLevel::Fatal));
    }

    #[test]
    fn label_names_are_checked() {
        assert!(is_label_name("service_name"));
        assert!(!is_label_name("a-b"));
        assert!(!is_label_name("9x"));
    }
}
