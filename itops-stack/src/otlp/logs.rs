//! `POST /v1/logs`: an `ExportLogsServiceRequest` into log records.

use itops_core::telemetry::{LogLevel, LogRecord};
use itops_core::Result;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLogRecord;

use super::common::{any_text, hex_id, instant, service_of};
use super::{decode_message, Decoded, Format, Rejections, Signal};

/// Decodes the body of `POST /v1/logs` (an `ExportLogsServiceRequest`, in `format`, at
/// most `max_bytes` once decompressed) into log records.
///
/// The time is `timeUnixNano`, else `observedTimeUnixNano`; a record with neither (or
/// one past 2262) is rejected. The message is the body: a string as it is, a structured
/// value as JSON text, the record's event name when it has no body. The level is read
/// from `severityNumber` (1–8 debug, itops having no trace level; 9–12 info; 13–16
/// warn; 17–20 error; 21–24 fatal), else from `severityText` (`trace`, `debug`, `info`,
/// `notice`, `warn`, `warning`, `error`, `critical`, `fatal`, ... in any case), else
/// unknown. Trace and span ids that are not valid (16 and 8 bytes, not all zero) are left
/// out; the record is kept.
///
/// Errors as for [`decode_traces`](super::decode_traces).
pub fn decode_logs(body: &[u8], format: Format, max_bytes: usize) -> Result<Decoded<LogRecord>> {
    let request: ExportLogsServiceRequest = decode_message(body, format, max_bytes)?;
    Ok(logs_of(request))
}

/// The log records of a decoded request.
pub(crate) fn logs_of(request: ExportLogsServiceRequest) -> Decoded<LogRecord> {
    let mut rejections = Rejections::default();
    let mut records = Vec::new();
    for resource_logs in request.resource_logs {
        let service = service_of(resource_logs.resource.as_ref());
        for scope_logs in resource_logs.scope_logs {
            records.reserve(scope_logs.log_records.len());
            for record in scope_logs.log_records {
                match to_record(record, &service) {
                    Some(record) => records.push(record),
                    None => rejections
                        .add("without a valid time (timeUnixNano or observedTimeUnixNano)"),
                }
            }
        }
    }
    let accepted = records.len() as u64;
    rejections.finish(Signal::Logs, records, accepted)
}

/// One record; `None` when it has no usable time.
fn to_record(record: OtlpLogRecord, service: &str) -> Option<LogRecord> {
    let at = instant(record.time_unix_nano).or_else(|| instant(record.observed_time_unix_nano))?;
    let level =
        level_of_number(record.severity_number).or_else(|| level_of_text(&record.severity_text));
    let message = match &record.body {
        Some(body) if body.value.is_some() => any_text(body),
        _ => record.event_name,
    };
    Some(LogRecord {
        at,
        service: service.to_owned(),
        message,
        level,
        trace_id: hex_id(&record.trace_id, 16),
        span_id: hex_id(&record.span_id, 8),
    })
}

/// The level of an OTLP severity number; `None` when unset or out of range.
pub(crate) fn level_of_number(number: i32) -> Option<LogLevel> {
    Some(match number {
        1..=8 => LogLevel::Debug,
        9..=12 => LogLevel::Info,
        13..=16 => LogLevel::Warn,
        17..=20 => LogLevel::Error,
        21..=24 => LogLevel::Fatal,
        _ => return None,
    })
}

/// The level a severity text names (`INFO`, `Warning`, `err`, `TRACE2`, ...).
pub(crate) fn level_of_text(text: &str) -> Option<LogLevel> {
    let word = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_ascii_lowercase();
    Some(match word.as_str() {
        "trace" | "debug" | "dbg" | "verbose" | "fine" | "finer" | "finest" => LogLevel::Debug,
        "info" | "information" | "informational" | "notice" => LogLevel::Info,
        "warn" | "warning" => LogLevel::Warn,
        "error" | "err" | "severe" => LogLevel::Error,
        "fatal" | "critical" | "crit" | "alert" | "emergency" | "emerg" | "panic" => {
            LogLevel::Fatal
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_numbers_map_in_blocks_of_four() {
        let levels: Vec<Option<LogLevel>> = [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25]
            .into_iter()
            .map(level_of_number)
            .collect();
        use LogLevel::*;
        assert_eq!(
            levels,
            vec![
                None,
                Some(Debug),
                Some(Debug),
                Some(Debug),
                Some(Debug),
                Some(Info),
                Some(Info),
                Some(Warn),
                Some(Warn),
                Some(Error),
                Some(Error),
                Some(Fatal),
                Some(Fatal),
                None
            ]
        );
    }

    #[test]
    fn severity_texts_are_read_in_any_case() {
        assert_eq!(level_of_text("Information"), Some(LogLevel::Info));
        assert_eq!(level_of_text("WARN"), Some(LogLevel::Warn));
        assert_eq!(level_of_text("ERROR3"), Some(LogLevel::Error));
        assert_eq!(level_of_text("critical"), Some(LogLevel::Fatal));
        assert_eq!(level_of_text("Trace"), Some(LogLevel::Debug));
        assert_eq!(level_of_text(""), None);
        assert_eq!(level_of_text("loud"), None);
    }
}
