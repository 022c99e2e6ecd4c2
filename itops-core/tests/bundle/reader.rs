//! Loading bundles: absent files, empty bundles, timestamp forms, order, field forms.

use chrono::Duration;
use itops_core::telemetry::bundle::load_bundle;
use itops_core::telemetry::{LogLevel, SpanStatus};
use itops_core::Error;

use crate::support::*;

#[test]
fn an_empty_directory_is_an_empty_bundle() {
    let dir = bundle_dir(&[]);
    let bundle = load_bundle(dir.path(), &strict()).unwrap();
    let index = bundle.index();
    assert!(index.services().is_empty());
    assert_eq!(index.time_bounds(), None);
    assert!(index.metrics(&metric_query(all())).is_empty());
    assert!(index.logs(&log_query(all())).is_empty());
    assert!(index.spans(&span_query(all())).is_empty());
    assert!(index.changes(all(), None).is_empty());
    assert!(bundle.files().iter().all(|f| !f.present && f.rows == 0));
    assert_eq!(bundle.files().len(), 4);
}

#[test]
fn empty_files_and_a_header_alone_hold_nothing() {
    let dir = bundle_dir(&[
        ("metrics.csv", "timestamp,service,metric,value\n"),
        ("logs.jsonl", ""),
        ("traces.jsonl", "\n\n  \n"),
        ("events.jsonl", ""),
    ]);
    let bundle = load_bundle(dir.path(), &strict()).unwrap();
    assert_eq!(bundle.index().counts(), Default::default());
    assert!(bundle.files().iter().all(|f| f.present && f.rows == 0));
    let dir = bundle_dir(&[("metrics.csv", "")]);
    assert_eq!(
        load_bundle(dir.path(), &strict()).unwrap().files()[0].rows,
        0
    );
}

#[test]
fn any_file_may_be_absent() {
    let dir = bundle_dir(&[(
        "logs.jsonl",
        r#"{"timestamp":"2024-03-01T12:00:00Z","service":"api","message":"hello"}"#,
    )]);
    let bundle = load_bundle(dir.path(), &strict()).unwrap();
    assert_eq!(bundle.index().services(), ["api"]);
    let present: Vec<bool> = bundle.files().iter().map(|f| f.present).collect();
    assert_eq!(present, [false, true, false, false]);
}

#[test]
fn a_missing_path_or_a_file_is_a_clear_error() {
    let dir = bundle_dir(&[("metrics.csv", "timestamp,service,metric,value\n")]);
    let missing = dir.path().join("nope");
    let error = load_bundle(&missing, &strict()).unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    assert!(error.to_string().contains("telemetry bundle directory"));

    let error = load_bundle(&dir.path().join("metrics.csv"), &strict()).unwrap_err();
    assert!(error.to_string().contains("is not a directory"), "{error}");
}

#[test]
fn rfc3339_and_unix_forms_are_the_same_instant() {
    let dir = bundle_dir(&[
        (
            "metrics.csv",
            "timestamp,service,metric,value\n\
             2024-03-01T12:00:00.250Z,rfc,cpu,1\n\
             2024-03-01T13:00:00.25+01:00,offset,cpu,1\n\
             1709294400.25,fractional,cpu,1\n\
             1709294400250,millis,cpu,1\n\
             1709294400250000000,nanos,cpu,1\n",
        ),
        (
            "logs.jsonl",
            "{\"timestamp\":1709294400.25,\"service\":\"number\",\"message\":\"m\"}\n\
             {\"timestamp\":\"1709294400.25\",\"service\":\"text\",\"message\":\"m\"}\n\
             {\"timestamp\":1709294400,\"service\":\"integer\",\"message\":\"m\"}\n",
        ),
    ]);
    let index = load_bundle(dir.path(), &strict()).unwrap().into_index();
    let expected = t(0) + Duration::milliseconds(250);
    let series = index.metrics(&metric_query(all()));
    assert_eq!(series.len(), 5);
    for s in &series {
        assert_eq!(s.points[0].at, expected, "{}", s.service);
    }
    let logs = index.logs(&log_query(all()));
    assert_eq!(logs[0].at, t(0));
    assert_eq!(logs[0].service, "integer");
    assert!(logs[1..].iter().all(|l| l.at == expected));
}

#[test]
fn unsorted_input_still_queries_in_time_order() {
    let mut metrics = String::from("timestamp,service,metric,value\n");
    let mut logs = String::new();
    let mut traces = String::new();
    let mut events = String::new();
    // A fixed shuffle of 0..100.
    for i in (0..100_i64).map(|i| (i * 37) % 100) {
        let at = 1_709_294_400 + i;
        metrics.push_str(&format!("{at},api,cpu,{i}\n{at},db,cpu,{i}\n"));
        logs.push_str(&format!(
            "{{\"timestamp\":{at},\"service\":\"{}\",\"message\":\"m{i}\"}}\n",
            if i % 2 == 0 { "api" } else { "db" }
        ));
        traces.push_str(&format!(
            "{{\"trace_id\":\"t{}\",\"span_id\":\"s{i}\",\"service\":\"api\",\"operation\":\"op\",\"start_unix_nano\":{},\"duration_ns\":1}}\n",
            i % 3,
            at * 1_000_000_000
        ));
        events.push_str(&format!(
            "{{\"timestamp\":{at},\"service\":\"db\",\"kind\":\"flag\",\"description\":\"d{i}\"}}\n"
        ));
    }
    let dir = bundle_dir(&[
        ("metrics.csv", &metrics),
        ("logs.jsonl", &logs),
        ("traces.jsonl", &traces),
        ("events.jsonl", &events),
    ]);
    let index = load_bundle(dir.path(), &strict()).unwrap().into_index();
    for series in index.metrics(&metric_query(all())) {
        let values: Vec<f64> = series.points.iter().map(|p| p.value).collect();
        assert_eq!(values, (0..100).map(f64::from).collect::<Vec<_>>());
    }
    let messages: Vec<String> = index
        .logs(&log_query(all()))
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert_eq!(
        messages,
        (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    let spans = index.spans(&span_query(all()));
    assert!(spans.windows(2).all(|w| w[0].start < w[1].start));
    let mut query = span_query(all());
    query.trace_id = Some("t1".into());
    let trace = index.spans(&query);
    assert_eq!(trace.len(), 33);
    assert!(trace.windows(2).all(|w| w[0].start < w[1].start));
    let changes = index.changes(all(), Some("db"));
    assert!(changes.windows(2).all(|w| w[0].at < w[1].at));
    assert_eq!(changes.len(), 100);
    assert_eq!(index.time_bounds().unwrap().start, t(0));
}

#[test]
fn csv_columns_in_any_order_with_extras_quotes_bom_and_crlf() {
    let dir = bundle_dir(&[(
        "metrics.csv",
        "\u{feff}Value, host ,Metric,Timestamp,Service\r\n\
         0.5,h1,cpu,2024-03-01T12:00:00Z,api\r\n\
         \"1e3\",h1,\"latency, p99\",1709294401,\"api\"\r\n",
    )]);
    let index = load_bundle(dir.path(), &strict()).unwrap().into_index();
    let series = index.metrics(&metric_query(all()));
    let found: Vec<(&str, f64)> = series
        .iter()
        .map(|s| (s.metric.as_str(), s.points[0].value))
        .collect();
    assert_eq!(found, [("cpu", 0.5), ("latency, p99", 1000.0)]);
}

#[test]
fn log_fields_levels_and_ids() {
    let dir = bundle_dir(&[(
        "logs.jsonl",
        "{\"timestamp\":\"2024-03-01T12:00:00Z\",\"service\":\" api \",\"message\":\"a\",\"level\":\"WARNING\",\"trace_id\":\"abc\",\"span_id\":\"\",\"extra\":{\"x\":1}}\n\
         {\"timestamp\":\"2024-03-01T12:00:01Z\",\"service\":\"api\",\"message\":\"b\\nline two\",\"level\":\"Err\"}\n\
         {\"timestamp\":\"2024-03-01T12:00:02Z\",\"service\":\"api\",\"message\":\"c\",\"level\":\"critical\"}\n\
         {\"timestamp\":\"2024-03-01T12:00:03Z\",\"service\":\"api\",\"message\":\"d\",\"level\":\"chatty\"}\n\
         {\"timestamp\":\"2024-03-01T12:00:04Z\",\"service\":\"api\",\"message\":\"e\",\"level\":null}\n",
    )]);
    let logs = load_bundle(dir.path(), &strict())
        .unwrap()
        .index()
        .logs(&log_query(all()));
    let levels: Vec<Option<LogLevel>> = logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            Some(LogLevel::Warn),
            Some(LogLevel::Error),
            Some(LogLevel::Fatal),
            None,
            None
        ]
    );
    assert_eq!(logs[0].service, "api");
    assert_eq!(logs[0].trace_id.as_deref(), Some("abc"));
    assert_eq!(logs[0].span_id, None, "empty is absent");
    assert_eq!(logs[1].message, "b\nline two");
}

#[test]
fn span_roots_statuses_and_numbers_as_text() {
    let dir = bundle_dir(&[(
        "traces.jsonl",
        "{\"trace_id\":\"t\",\"span_id\":\"a\",\"service\":\"api\",\"operation\":\"GET /\",\"start_unix_nano\":\"1709294400000000000\",\"duration_ns\":\"10\"}\n\
         {\"trace_id\":\"t\",\"span_id\":\"b\",\"parent_span_id\":null,\"service\":\"api\",\"operation\":\"x\",\"start_unix_nano\":1709294400000000001,\"duration_ns\":0,\"status_code\":\"error\"}\n\
         {\"trace_id\":\"t\",\"span_id\":\"c\",\"parent_span_id\":\"\",\"service\":\"api\",\"operation\":\"x\",\"start_unix_nano\":1709294400000000002,\"duration_ns\":2e3,\"status_code\":\"STATUS_CODE_OK\"}\n\
         {\"trace_id\":\"t\",\"span_id\":\"d\",\"parent_span_id\":\"a\",\"service\":\"db\",\"operation\":\"x\",\"start_unix_nano\":1709294400000000003,\"duration_ns\":1,\"status_code\":2}\n",
    )]);
    let spans = load_bundle(dir.path(), &strict())
        .unwrap()
        .index()
        .spans(&span_query(all()));
    let parents: Vec<Option<&str>> = spans.iter().map(|s| s.parent_span_id.as_deref()).collect();
    assert_eq!(parents, [None, None, None, Some("a")]);
    let statuses: Vec<SpanStatus> = spans.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            SpanStatus::Unset,
            SpanStatus::Error,
            SpanStatus::Ok,
            SpanStatus::Error
        ]
    );
    assert_eq!(spans[0].start, t(0));
    assert_eq!(spans[0].duration_ns, 10);
    assert_eq!(spans[2].duration_ns, 2000);
}

#[test]
fn change_events_with_optional_fields() {
    let dir = bundle_dir(&[(
        "events.jsonl",
        "{\"timestamp\":\"2024-03-01T12:00:00Z\",\"service\":\"api\",\"kind\":\"deploy\",\"description\":\"v2 rollout\",\"version\":\"2.0.1\",\"actor\":\"ci\"}\n\
         {\"timestamp\":\"2024-03-01T12:05:00Z\",\"service\":\"db\",\"kind\":\"failover\",\"description\":\"\"}\n",
    )]);
    let bundle = load_bundle(dir.path(), &strict()).unwrap();
    let changes = bundle.index().changes(all(), None);
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].version.as_deref(), Some("2.0.1"));
    assert_eq!(changes[0].actor.as_deref(), Some("ci"));
    assert_eq!(changes[1].kind, "failover");
    assert_eq!(changes[1].version, None);
    assert_eq!(bundle.index().services(), ["api", "db"]);
}

#[tokio::test]
async fn a_loaded_bundle_is_a_telemetry_source() {
    use itops_core::telemetry::TelemetrySource;
    let dir = tempfile::tempdir().unwrap();
    itops_core::telemetry::bundle::write_bundle(dir.path(), &sample_index()).unwrap();
    let bundle = load_bundle(dir.path(), &strict()).unwrap();
    let source: &dyn TelemetrySource = &bundle;
    assert_eq!(source.services().await.unwrap(), ["api", "db", "queue"]);
    assert_eq!(source.logs(&log_query(all())).await.unwrap().len(), 5);
    assert_eq!(source.changes(all(), Some("api")).await.unwrap().len(), 1);
    assert_eq!(source.spans(&span_query(all())).await.unwrap().len(), 3);
    assert_eq!(source.metrics(&metric_query(all())).await.unwrap().len(), 3);
    assert!(source.time_bounds().await.unwrap().is_some());
}
