//! A small, known telemetry set shared by the tests: frontend → checkout → payments, with
//! payments' latency jumping at 12:40 after a config change, and pool errors in its logs.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use itops_core::telemetry::{ChangeEvent, LogLevel, LogRecord, Span, SpanStatus, TelemetryIndex};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
}

/// frontend → checkout → payments; payments' latency jumps at minute 40 and it logs pool errors.
pub fn telemetry() -> TelemetryIndex {
    let mut idx = TelemetryIndex::new();
    for minute in 0..60 {
        let at = t0() + Duration::minutes(minute);
        let jump = minute >= 40;
        idx.add_metric(
            "payments",
            "latency_p99_ms",
            at,
            if jump {
                900.0
            } else {
                40.0 + (minute % 3) as f64
            },
        );
        idx.add_metric(
            "checkout",
            "latency_p99_ms",
            at,
            if jump {
                950.0
            } else {
                60.0 + (minute % 2) as f64
            },
        );
        idx.add_metric("frontend", "cpu", at, 30.0 + (minute % 5) as f64);
        let trace = format!("t{minute}");
        idx.add_span(span(
            &trace,
            "a",
            None,
            "frontend",
            "GET /checkout",
            at,
            10,
            false,
        ));
        idx.add_span(span(
            &trace,
            "b",
            Some("a"),
            "checkout",
            "POST /order",
            at,
            8,
            jump,
        ));
        idx.add_span(span(
            &trace,
            "c",
            Some("b"),
            "payments",
            "charge",
            at,
            if jump { 900 } else { 5 },
            jump,
        ));
        idx.add_log(LogRecord {
            at,
            service: "checkout".into(),
            message: format!("order {minute} placed in {} ms", 20 + minute),
            level: Some(LogLevel::Info),
            trace_id: Some(trace.clone()),
            span_id: None,
        });
        if jump {
            idx.add_log(LogRecord {
                at,
                service: "payments".into(),
                message: format!("connection pool exhausted (active=50, waiting={minute})"),
                level: Some(LogLevel::Error),
                trace_id: Some(trace),
                span_id: None,
            });
        }
    }
    idx.add_change(ChangeEvent {
        at: t0() + Duration::minutes(39),
        service: "payments".into(),
        kind: "config".into(),
        description: "db pool size 100 -> 50".into(),
        version: None,
        actor: Some("ci".into()),
    });
    idx
}

#[allow(clippy::too_many_arguments)]
pub fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    service: &str,
    op: &str,
    at: DateTime<Utc>,
    ms: u64,
    error: bool,
) -> Span {
    Span {
        trace_id: trace.into(),
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        service: service.into(),
        operation: op.into(),
        start: at,
        duration_ns: ms * 1_000_000,
        status: if error {
            SpanStatus::Error
        } else {
            SpanStatus::Ok
        },
    }
}
