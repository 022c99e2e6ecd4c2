//! Logs: `FilterLogEvents` with a server-side pre-filter, then the exact core rules.

use std::collections::BTreeSet;

use aws_sdk_cloudwatchlogs::error::SdkError;
use itops_core::telemetry::{LogLevel, LogQuery, LogRecord};

use super::{to_millis, CloudWatchTelemetry};
use crate::error::Result;
use crate::sdk::classify;

/// Most events one `FilterLogEvents` page returns.
const PAGE_LIMIT: i32 = 10_000;
/// Longest filter pattern CloudWatch Logs accepts.
const MAX_PATTERN_CHARS: usize = 1024;

/// The `FilterLogEvents` pattern that pre-selects events containing `text`, ignoring case.
///
/// CloudWatch filter patterns are case-sensitive and their regular expressions accept only
/// ASCII letters, digits and `: _ # = @ / ; , -`. So the longest run of such characters in
/// `text` becomes a regex with each letter as a two-case class (`timeout` →
/// `%[tT][iI][mM][eE][oO][uU][tT]%`). `None` when no run of three or more such characters
/// exists; the exact, case-insensitive check on the whole text always runs afterwards
/// on the events returned.
pub fn filter_pattern(text: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":_#=@/;,-".contains(c);
    let term = text
        .split(|c: char| !allowed(c))
        .max_by_key(|run| run.len())
        // One or two characters select almost everything: not worth a pattern.
        .filter(|run| run.len() >= 3)?;
    let mut pattern = String::from("%");
    for c in term.chars() {
        if c.is_ascii_alphabetic() {
            pattern.push('[');
            pattern.push(c.to_ascii_lowercase());
            pattern.push(c.to_ascii_uppercase());
            pattern.push(']');
        } else {
            pattern.push(c);
        }
    }
    pattern.push('%');
    (pattern.len() <= MAX_PATTERN_CHARS).then_some(pattern)
}

/// Guesses a log line's level: a JSON `level`/`severity`/`levelname` field, or the first
/// level word in the text (`ERROR`, `[warn]`, `level=info`).
pub fn guess_level(message: &str) -> Option<LogLevel> {
    let trimmed = message.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed) {
            for key in ["level", "severity", "levelname", "log.level", "lvl"] {
                if let Some(serde_json::Value::String(word)) = map.get(key) {
                    if let Some(level) = level_word(word) {
                        return Some(level);
                    }
                }
            }
        }
    }
    message
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 4 && w.len() <= 8)
        // Level words are written in capitals, or stand alone as `level=info`.
        .find_map(|w| {
            if w.chars().all(|c| c.is_ascii_uppercase()) || message.contains(&format!("={w}")) {
                level_word(w)
            } else {
                None
            }
        })
}

fn level_word(word: &str) -> Option<LogLevel> {
    match word.to_ascii_lowercase().as_str() {
        "debug" | "trace" => Some(LogLevel::Debug),
        "info" | "notice" => Some(LogLevel::Info),
        "warn" | "warning" => Some(LogLevel::Warn),
        "error" | "err" => Some(LogLevel::Error),
        "fatal" | "critical" | "crit" | "panic" | "emerg" | "alert" => Some(LogLevel::Fatal),
        _ => None,
    }
}

/// A JSON log line's trace and span ids, when it carries them.
fn correlation(message: &str) -> (Option<String>, Option<String>) {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return (None, None);
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed) else {
        return (None, None);
    };
    let field = |names: &[&str]| {
        names.iter().find_map(|n| match map.get(*n) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    };
    (
        field(&["trace_id", "traceId", "traceid"]),
        field(&["span_id", "spanId", "spanid"]),
    )
}

/// Whether a record passes the core query's text and level rules.
pub(super) fn passes(query: &LogQuery, record: &LogRecord) -> bool {
    let text_ok = query.contains.as_ref().is_none_or(|needle| {
        record
            .message
            .to_lowercase()
            .contains(&needle.to_lowercase())
    });
    let level_ok = query.min_level.is_none_or(|min| {
        record
            .level
            .is_some_and(|level| level_rank(level) >= level_rank(min))
    });
    text_ok && level_ok
}

fn level_rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Info => 1,
        LogLevel::Warn => 2,
        LogLevel::Error => 3,
        LogLevel::Fatal => 4,
    }
}

/// A record for a raw log line.
pub(super) fn record(
    service: &str,
    at: chrono::DateTime<chrono::Utc>,
    message: String,
) -> LogRecord {
    let level = guess_level(&message);
    let (trace_id, span_id) = correlation(&message);
    LogRecord {
        at,
        service: service.to_string(),
        message,
        level,
        trace_id,
        span_id,
    }
}

impl CloudWatchTelemetry {
    /// The services and log groups a log query covers.
    pub(super) async fn log_targets(&self, service: Option<&str>) -> Result<Vec<(String, String)>> {
        match service {
            Some(service) => Ok(self
                .log_group_of(service)
                .map(|group| vec![(service.to_string(), group)])
                .unwrap_or_default()),
            None => {
                let mut services: BTreeSet<String> =
                    self.settings.log_groups.keys().cloned().collect();
                services.extend(self.log_group_services().await?);
                Ok(services
                    .into_iter()
                    .filter_map(|s| self.log_group_of(&s).map(|g| (s, g)))
                    .collect())
            }
        }
    }

    /// Services found by listing the log groups that fit the pattern.
    pub(super) async fn log_group_services(&self) -> Result<BTreeSet<String>> {
        let Some(pattern) = &self.settings.log_group_pattern else {
            return Ok(BTreeSet::new());
        };
        let Some((prefix, suffix)) = pattern.split_once("{service}") else {
            return Ok(BTreeSet::new());
        };
        let mut services = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = self.logs.describe_log_groups().set_next_token(token.take());
            if !prefix.is_empty() {
                request = request.log_group_name_prefix(prefix);
            }
            let out = request.send().await.map_err(|e| {
                classify(
                    self.call("CloudWatch Logs", "DescribeLogGroups", pattern),
                    e,
                )
            })?;
            for group in out.log_groups() {
                if let Some(service) = group
                    .log_group_name()
                    .and_then(|name| name.strip_prefix(prefix))
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .filter(|s| !s.is_empty() && !s.contains('/'))
                {
                    services.insert(service.to_string());
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(services),
            }
        }
    }

    /// `FilterLogEvents` on each log group, paginated, then the exact core rules; oldest
    /// first, at most `query.limit`.
    pub(super) async fn filter_logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        let pattern = query.contains.as_deref().and_then(filter_pattern);
        let mut records = Vec::new();
        for (service, group) in self.log_targets(query.service.as_deref()).await? {
            let mut found = Vec::new();
            let mut scanned = 0usize;
            let mut token: Option<String> = None;
            'pages: loop {
                let result = self
                    .logs
                    .filter_log_events()
                    .log_group_name(&group)
                    .start_time(to_millis(query.range.start))
                    // The Logs API's end time is inclusive; the core range is not.
                    .end_time(to_millis(query.range.end).saturating_sub(1))
                    .set_filter_pattern(pattern.clone())
                    .limit(PAGE_LIMIT)
                    .set_next_token(token.take())
                    .send()
                    .await;
                let out = match result {
                    Ok(out) => out,
                    // A service without a log group has no logs, not a broken source.
                    Err(SdkError::ServiceError(e)) if e.err().is_resource_not_found_exception() => {
                        tracing::debug!(%group, "log group not found; no logs for {service}");
                        break;
                    }
                    Err(e) => {
                        return Err(classify(
                            self.call("CloudWatch Logs", "FilterLogEvents", &group),
                            e,
                        ))
                    }
                };
                for event in out.events() {
                    scanned += 1;
                    let (Some(ms), Some(message)) = (event.timestamp(), event.message()) else {
                        continue;
                    };
                    let Some(at) = chrono::DateTime::from_timestamp_millis(ms) else {
                        continue;
                    };
                    let record = record(&service, at, message.to_string());
                    if query.range.contains(at) && passes(query, &record) {
                        found.push(record);
                        if found.len() >= query.limit {
                            break 'pages;
                        }
                    }
                    if scanned >= self.settings.max_log_events_scanned {
                        tracing::debug!(%group, scanned, "log scan limit reached");
                        break 'pages;
                    }
                }
                match out.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_string()),
                    _ => break,
                }
            }
            records.extend(found);
        }
        records.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.service.cmp(&b.service)));
        records.truncate(query.limit);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_case_insensitive_regexes_of_the_longest_safe_run() {
        assert_eq!(
            filter_pattern("Timeout").as_deref(),
            Some("%[tT][iI][mM][eE][oO][uU][tT]%")
        );
        assert_eq!(
            filter_pattern("pool exhausted after 30s").as_deref(),
            Some("%[eE][xX][hH][aA][uU][sS][tT][eE][dD]%")
        );
        assert_eq!(
            filter_pattern("db-1:5432").as_deref(),
            Some("%[dD][bB]-1:5432%")
        );
        assert_eq!(filter_pattern("!!!"), None);
        assert_eq!(filter_pattern("ünïcödé"), None);
        assert_eq!(filter_pattern(&"a".repeat(300)), None);
    }

    #[test]
    fn levels_are_guessed_from_json_and_text() {
        assert_eq!(
            guess_level(r#"{"level":"error","msg":"x"}"#),
            Some(LogLevel::Error)
        );
        assert_eq!(
            guess_level(r#"{"severity":"WARNING"}"#),
            Some(LogLevel::Warn)
        );
        assert_eq!(
            guess_level("2024-05-01 ERROR pool exhausted"),
            Some(LogLevel::Error)
        );
        assert_eq!(guess_level("[WARN] slow query"), Some(LogLevel::Warn));
        assert_eq!(guess_level("ts=1 level=info msg=ok"), Some(LogLevel::Info));
        assert_eq!(guess_level("the error budget is fine"), None);
    }

    #[test]
    fn records_carry_json_correlation_ids() {
        let r = record(
            "api",
            chrono::DateTime::UNIX_EPOCH,
            r#"{"level":"error","trace_id":"t1","spanId":"s1"}"#.to_string(),
        );
        assert_eq!(r.trace_id.as_deref(), Some("t1"));
        assert_eq!(r.span_id.as_deref(), Some("s1"));
        assert_eq!(r.level, Some(LogLevel::Error));
    }
}
