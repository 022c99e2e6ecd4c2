//! Reading one field of a bundle row: text, names, timestamps, integers, levels, status.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::super::check_name;
use super::super::timestamp::parse_timestamp;
use crate::error::Error;
use crate::telemetry::{LogLevel, SpanStatus};

/// What is wrong with one row; the reader adds the file and line.
#[derive(Debug)]
pub(crate) struct RowError {
    field: Option<&'static str>,
    message: String,
}

impl RowError {
    /// A problem with one field.
    pub(crate) fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            message: message.into(),
        }
    }

    /// A problem with the row as a whole.
    pub(crate) fn row(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }

    /// The error, placed at `line` of `file`.
    pub(crate) fn at(self, file: &str, line: u64) -> Error {
        Error::Bundle {
            file: file.to_owned(),
            line,
            field: self.field.map(str::to_owned),
            message: self.message,
        }
    }
}

/// A value for an error message: quoted, and cut short when long (rows are untrusted).
pub(crate) fn quote(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("'{}…'", value.get(..cut).unwrap_or_default()),
        None => format!("'{value}'"),
    }
}

/// A name field (service, metric, ids, kind): present, not blank; surrounding blanks dropped.
pub(crate) fn name<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, RowError> {
    let value = value
        .ok_or_else(|| RowError::field(field, "missing"))?
        .trim();
    check_name(field, value).map_err(|message| RowError::field(field, message))?;
    Ok(value)
}

/// A timestamp field given as text.
pub(crate) fn timestamp(field: &'static str, value: Option<&str>) -> Result<i64, RowError> {
    let value = value.ok_or_else(|| RowError::field(field, "missing"))?;
    parse_timestamp(value).map_err(|message| RowError::field(field, message))
}

/// A metric value: a finite number.
pub(crate) fn finite_number(field: &'static str, value: Option<&str>) -> Result<f64, RowError> {
    let text = value
        .ok_or_else(|| RowError::field(field, "missing"))?
        .trim();
    let number: f64 = text
        .parse()
        .map_err(|_| RowError::field(field, format!("{} is not a number", quote(text))))?;
    if !number.is_finite() {
        return Err(RowError::field(
            field,
            format!("{} is not a finite number", quote(text)),
        ));
    }
    Ok(number)
}

/// A whole number (JSON number or text), such as nanoseconds.
pub(crate) fn integer(field: &'static str, text: &str) -> Result<i128, RowError> {
    let text = text.trim();
    let not_whole = || RowError::field(field, format!("{} is not a whole number", quote(text)));
    if let Ok(value) = text.parse::<i128>() {
        return Ok(value);
    }
    // `1.5e9` or `1500.0`: whole numbers in float clothing.
    let value: f64 = text.parse().map_err(|_| not_whole())?;
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e18 {
        Ok(value as i128)
    } else {
        Err(not_whole())
    }
}

/// A log level, case-insensitive with the usual aliases; an unknown word is no level.
///
/// `trace`, `debug`, `verbose`, `fine` → debug; `info`, `information`, `notice` → info;
/// `warn`, `warning` → warn; `error`, `err`, `severe` → error; `fatal`, `critical`,
/// `crit`, `alert`, `emergency`, `emerg`, `panic` → fatal.
pub(crate) fn log_level(text: &str) -> Option<LogLevel> {
    let word = text.trim().to_ascii_lowercase();
    Some(match word.as_str() {
        "trace" | "debug" | "dbg" | "verbose" | "fine" | "finer" | "finest" => LogLevel::Debug,
        "info" | "information" | "informational" | "notice" => LogLevel::Info,
        "warn" | "warning" | "wrn" => LogLevel::Warn,
        "error" | "err" | "severe" => LogLevel::Error,
        "fatal" | "critical" | "crit" | "alert" | "emergency" | "emerg" | "panic" => {
            LogLevel::Fatal
        }
        _ => return None,
    })
}

/// A span status: `OK`, `ERROR`, `UNSET` in any case, OTLP's `STATUS_CODE_*` names, or
/// OTLP's numbers (0 unset, 1 ok, 2 error); empty is unset.
pub(crate) fn span_status(field: &'static str, text: &str) -> Result<SpanStatus, RowError> {
    let word = text.trim().to_ascii_uppercase();
    let word = word.strip_prefix("STATUS_CODE_").unwrap_or(&word);
    match word {
        "" | "UNSET" | "0" => Ok(SpanStatus::Unset),
        "OK" | "1" => Ok(SpanStatus::Ok),
        "ERROR" | "2" => Ok(SpanStatus::Error),
        _ => Err(RowError::field(
            field,
            format!(
                "{} is not a span status; expected OK, ERROR or UNSET",
                quote(text)
            ),
        )),
    }
}

/// The text of a raw JSON value: a string's contents, or a number's or boolean's literal.
/// `None` for null.
pub(crate) fn json_text<'a>(
    field: &'static str,
    raw: Option<&'a RawValue>,
) -> Result<Option<Cow<'a, str>>, RowError> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => {
            let inner = text
                .get(1..text.len().saturating_sub(1))
                .filter(|inner| !inner.contains('\\'));
            match inner {
                Some(inner) => Ok(Some(Cow::Borrowed(inner))),
                None => serde_json::from_str::<String>(text)
                    .map(|s| Some(Cow::Owned(s)))
                    .map_err(|e| RowError::field(field, format!("bad string: {e}"))),
            }
        }
        Some(b'n') => Ok(None),
        Some(b'{' | b'[') => Err(RowError::field(
            field,
            format!("expected a string or number, found {}", quote(text)),
        )),
        _ => Ok(Some(Cow::Borrowed(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_cuts_long_values_on_a_char_boundary() {
        assert_eq!(quote("abc"), "'abc'");
        let long = "é".repeat(50);
        assert_eq!(quote(&long), format!("'{}…'", "é".repeat(40)));
    }

    #[test]
    fn levels_and_statuses() {
        assert_eq!(log_level("WARNING"), Some(LogLevel::Warn));
        assert_eq!(log_level(" Critical "), Some(LogLevel::Fatal));
        assert_eq!(log_level("chatty"), None);
        assert_eq!(
            span_status("s", "status_code_error").ok(),
            Some(SpanStatus::Error)
        );
        assert_eq!(span_status("s", "1").ok(), Some(SpanStatus::Ok));
        assert!(span_status("s", "MAYBE").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(integer("d", "42").ok(), Some(42));
        assert_eq!(integer("d", "1.5e3").ok(), Some(1500));
        assert!(integer("d", "1.5").is_err());
        assert!(integer("d", "NaN").is_err());
    }
}
