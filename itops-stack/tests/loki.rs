//! The Loki source against a fixture server (`fixture`): its answers are written from
//! Loki's documented HTTP API (`/loki/api/v1/query_range` streams, `/labels`,
//! `/label/<name>/values`, plain-text errors), because Loki cannot be installed on the
//! test machines. The server also checks what the source asks: the LogQL, the escaped
//! filter, the nanosecond range, the tenant header and the bearer token.
//!
//! `real_loki_lists_services_and_reads_the_last_hour` runs against a real Loki when
//! `ITOPS_TEST_LOKI_URL` is set.
#![allow(clippy::unwrap_used, clippy::panic)]

mod fixture;

use fixture::{range, serve, Seen};
use itops_core::breaker::BreakerState;
use itops_core::telemetry::{LogLevel, LogQuery, TimeRange};
use itops_core::{Error, TelemetrySource};
use itops_stack::{LokiConfig, LokiSource};
use serde_json::json;

const T0: i64 = 1_709_287_200;
const NS: i64 = 1_000_000_000;

fn ns(offset_s: i64) -> i64 {
    (T0 + offset_s) * NS
}

fn success(data: serde_json::Value) -> (u16, String) {
    (200, json!({"status": "success", "data": data}).to_string())
}

fn streams(result: serde_json::Value) -> (u16, String) {
    success(json!({"resultType": "streams", "result": result, "stats": {}}))
}

fn query(range: TimeRange, service: Option<&str>, limit: usize) -> LogQuery {
    LogQuery {
        range,
        service: service.map(str::to_string),
        contains: None,
        min_level: None,
        limit,
    }
}

#[tokio::test]
async fn services_come_from_the_first_service_label_loki_has() {
    std::env::set_var("ITOPS_TEST_LOKI_TOKEN_1", "s3cret");
    let server = serve(|seen: &Seen| match seen.path.as_str() {
        "/loki/api/v1/labels" => success(json!(["filename", "job", "pod", "app"])),
        "/loki/api/v1/label/app/values" => success(json!(["checkout", "cart"])),
        "/loki/api/v1/label/pod/values" => success(json!([
            "checkout-7d9f8b6c5-x2k4q",
            "checkout-7d9f8b6c5-b7mzq",
            "orders-db-0"
        ])),
        _ => (404, "404 page not found".into()),
    })
    .await;
    let config = LokiConfig::new(&server.url)
        .tenant("team-a")
        .bearer_token_from_env("ITOPS_TEST_LOKI_TOKEN_1");
    let source = LokiSource::new(config).unwrap();
    // `app` comes before `job` and `pod` in the labels tried.
    assert_eq!(source.services().await.unwrap(), vec!["cart", "checkout"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for seen in &requests {
        assert_eq!(seen.header("x-scope-orgid"), Some("team-a"));
        assert_eq!(seen.header("authorization"), Some("Bearer s3cret"));
        let start: i64 = seen.param("start").unwrap().parse().unwrap();
        let end: i64 = seen.param("end").unwrap().parse().unwrap();
        assert_eq!((end - start) / NS, 24 * 3600, "{seen:?}");
    }
    // A workload label: replicas become their service.
    let pods =
        LokiSource::new(LokiConfig::new(&server.url).service_label(Some("pod".into()))).unwrap();
    assert_eq!(
        pods.services().await.unwrap(),
        vec!["checkout", "orders-db"]
    );
}

#[tokio::test]
async fn lines_map_to_records_with_their_service_level_and_trace() {
    let server = serve(|_: &Seen| {
        streams(json!([
            {
                "stream": {"service_name": "cart", "level": "error", "trace_id": "4bf92f3577b34da6"},
                "values": [[ns(20).to_string(), "payment failed"]]
            },
            {
                "stream": {"service_name": "cart", "filename": "/var/log/cart.log"},
                "values": [
                    [ns(10).to_string(), "2024-03-01 WARN slow response from db"],
                    [ns(30).to_string(), "{\"level\":\"info\",\"msg\":\"ok\"}"],
                    [ns(40).to_string(), "INFO but metadata says otherwise", {"detected_level": "fatal", "span_id": "00f067aa0ba902b7"}],
                    [ns(50).to_string(), "no level word here"]
                ]
            }
        ]))
    })
    .await;
    let source =
        LokiSource::new(LokiConfig::new(&server.url).service_label(Some("service_name".into())))
            .unwrap();
    let window = range(T0, T0 + 3600);
    let records = source
        .logs(&query(window, Some("cart"), 100))
        .await
        .unwrap();
    let got: Vec<(i64, &str, Option<LogLevel>)> = records
        .iter()
        .map(|r| (r.at.timestamp() - T0, r.service.as_str(), r.level))
        .collect();
    assert_eq!(
        got,
        vec![
            (10, "cart", Some(LogLevel::Warn)),
            (20, "cart", Some(LogLevel::Error)),
            (30, "cart", Some(LogLevel::Info)),
            (40, "cart", Some(LogLevel::Fatal)),
            (50, "cart", None),
        ]
    );
    assert_eq!(records[1].message, "payment failed");
    assert_eq!(records[1].trace_id.as_deref(), Some("4bf92f3577b34da6"));
    assert_eq!(records[3].span_id.as_deref(), Some("00f067aa0ba902b7"));
    let seen = &server.requests_to("/loki/api/v1/query_range")[0];
    assert_eq!(seen.param("query"), Some(r#"{service_name="cart"}"#));
    assert_eq!(seen.param("start"), Some(ns(0).to_string().as_str()));
    assert_eq!(seen.param("end"), Some(ns(3600).to_string().as_str()));
    assert_eq!(seen.param("direction"), Some("forward"));
    assert_eq!(seen.param("limit"), Some("100"));
    // The level filter leaves out the lower levels and the unknown.
    let mut warn_up = query(window, Some("cart"), 100);
    warn_up.min_level = Some(LogLevel::Warn);
    let levels: Vec<Option<LogLevel>> = source
        .logs(&warn_up)
        .await
        .unwrap()
        .iter()
        .map(|r| r.level)
        .collect();
    assert_eq!(
        levels,
        vec![
            Some(LogLevel::Warn),
            Some(LogLevel::Error),
            Some(LogLevel::Fatal)
        ]
    );
}

#[tokio::test]
async fn user_text_cannot_break_out_of_the_logql_string() {
    let server = serve(|_: &Seen| streams(json!([]))).await;
    let source =
        LokiSource::new(LokiConfig::new(&server.url).service_label(Some("app".into()))).unwrap();
    let mut q = query(range(T0, T0 + 60), Some(r#"cart"} or {app=~".+"#), 10);
    q.contains = Some(r#"") |= "x" # .*\"#.to_string());
    assert!(source.logs(&q).await.unwrap().is_empty());
    let seen = &server.requests()[0];
    // Every quote and backslash of the user's text is escaped, and the filter's regex
    // characters too: the selector and the filter each stay one string.
    assert_eq!(
        seen.param("query"),
        Some(r#"{app="cart\"} or {app=~\".+"} |~ "(?i)\"\\) \\|= \"x\" # \\.\\*\\\\""#)
    );
    // All services: any value of the label.
    let mut all = query(range(T0, T0 + 60), None, 10);
    all.contains = Some("Timeout".into());
    source.logs(&all).await.unwrap();
    assert_eq!(
        server.requests()[1].param("query"),
        Some(r#"{app=~".+"} |~ "(?i)Timeout""#)
    );
}

/// A Loki holding one stream's lines: it answers each page as Loki does, the lines from
/// `start` (inclusive) to `end` (exclusive), oldest first, at most `limit`.
fn paged_loki(lines: Vec<(i64, &'static str)>) -> impl Fn(&Seen) -> (u16, String) {
    move |seen: &Seen| {
        let param = |k: &str| seen.param(k).unwrap().parse::<i64>().unwrap();
        let (start, end, limit) = (param("start"), param("end"), param("limit"));
        let values: Vec<serde_json::Value> = lines
            .iter()
            .filter(|(at, _)| *at >= start && *at < end)
            .take(limit as usize)
            .map(|(at, line)| json!([at.to_string(), line]))
            .collect();
        streams(json!([{"stream": {"service_name": "cart"}, "values": values}]))
    }
}

fn eight_lines() -> Vec<(i64, &'static str)> {
    vec![
        (ns(10), "l1"),
        (ns(20), "l2"),
        (ns(30), "l3a"),
        (ns(30), "l3b"),
        (ns(40), "l4"),
        (ns(50), "l5"),
        (ns(60), "l6"),
        (ns(70), "l7"),
    ]
}

#[tokio::test]
async fn full_pages_are_followed_forward_until_the_range_is_covered() {
    let server = serve(paged_loki(eight_lines())).await;
    let mut config = LokiConfig::new(&server.url).service_label(Some("service_name".into()));
    config.lines_per_request = 3;
    let source = LokiSource::new(config).unwrap();
    let records = source
        .logs(&query(range(T0, T0 + 3600), None, 100))
        .await
        .unwrap();
    let messages: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
    // Each line once, the two at the page boundary's instant included.
    assert_eq!(
        messages,
        vec!["l1", "l2", "l3a", "l3b", "l4", "l5", "l6", "l7"]
    );
    let starts: Vec<i64> = server
        .requests()
        .iter()
        .map(|s| s.param("start").unwrap().parse::<i64>().unwrap() / NS - T0)
        .collect();
    // Each page starts at the previous page's last instant.
    assert_eq!(starts, vec![0, 30, 40, 60]);
}

#[tokio::test]
async fn max_lines_and_the_query_limit_cut_the_read() {
    let server = serve(paged_loki(eight_lines())).await;
    let mut config = LokiConfig::new(&server.url).service_label(Some("service_name".into()));
    config.lines_per_request = 3;
    config.max_lines = 5;
    let source = LokiSource::new(config).unwrap();
    let window = range(T0, T0 + 3600);
    let records = source.logs(&query(window, None, 100)).await.unwrap();
    let messages: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
    // 3 lines, then 2 (one read again): the cap of 5 lines read is reached.
    assert_eq!(messages, vec!["l1", "l2", "l3a", "l3b"]);
    assert_eq!(source.requests_sent(), 2);
    let limits: Vec<String> = server
        .requests()
        .iter()
        .map(|s| s.param("limit").unwrap().to_string())
        .collect();
    assert_eq!(limits, vec!["3", "2"]);
    // The caller's limit: one page of exactly that many lines.
    let two = source.logs(&query(window, None, 2)).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(server.requests().last().unwrap().param("limit"), Some("2"));
    assert_eq!(source.requests_sent(), 3);
}

#[tokio::test]
async fn a_query_loki_refuses_is_invalid_with_lokis_message() {
    let server = serve(|_: &Seen| {
        (
            400,
            "parse error at line 1, col 15: syntax error: unexpected IDENTIFIER".into(),
        )
    })
    .await;
    let source =
        LokiSource::new(LokiConfig::new(&server.url).service_label(Some("app".into()))).unwrap();
    let err = source
        .logs(&query(range(T0, T0 + 60), Some("cart"), 10))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(
        text.contains("syntax error: unexpected IDENTIFIER"),
        "{text}"
    );
    // Not retried, and no mark against the backend's health.
    assert_eq!(source.requests_sent(), 1);
    assert_eq!(source.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_5xx_is_retried_and_the_retry_succeeds() {
    let ok = |_: &Seen| {
        streams(json!([{"stream": {"app": "cart"}, "values": [[ns(5).to_string(), "ERROR boom"]]}]))
    };
    let server = serve(fixture::failing_first(
        1,
        503,
        "too many outstanding requests",
        ok,
    ))
    .await;
    let mut config = LokiConfig::new(&server.url).service_label(Some("app".into()));
    config.connection.retry = fixture::quick_retries(3);
    let source = LokiSource::new(config).unwrap();
    let records = source
        .logs(&query(range(T0, T0 + 60), Some("cart"), 10))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].level, Some(LogLevel::Error));
    assert_eq!(source.requests_sent(), 2);
}

#[tokio::test]
async fn a_dead_loki_opens_the_breaker_and_calls_are_then_refused_at_once() {
    let mut config = LokiConfig::new(fixture::DEAD_URL).service_label(Some("app".into()));
    config.connection.retry = fixture::quick_retries(1);
    config.connection.breaker = fixture::touchy_breaker(2);
    let source = LokiSource::new(config).unwrap();
    let q = query(range(T0, T0 + 60), None, 10);
    for _ in 0..2 {
        let err = source.logs(&q).await.unwrap_err();
        assert!(err.to_string().contains("cannot reach"), "{err}");
    }
    let err = source.logs(&q).await.unwrap_err();
    assert!(matches!(err, Error::CircuitOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("circuit 'loki' is open"), "{err}");
    assert_eq!(source.requests_sent(), 2);
}

#[tokio::test]
async fn malformed_or_oversized_answers_are_clear_errors() {
    let server = serve(|seen: &Seen| match seen.param("query") {
        Some(r#"{app="truncated"}"#) => (
            200,
            r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"val"#
                .into(),
        ),
        Some(r#"{app="badvalue"}"#) => {
            streams(json!([{"stream": {"app": "badvalue"}, "values": [["yesterday", "x"]]}]))
        }
        Some(r#"{app="matrix"}"#) => success(json!({"resultType": "matrix", "result": []})),
        _ => streams(
            json!([{"stream": {"app": "big"}, "values": [[ns(1).to_string(), "x".repeat(4096)]]}]),
        ),
    })
    .await;
    let mut config = LokiConfig::new(&server.url).service_label(Some("app".into()));
    config.connection.max_response_bytes = 2048;
    config.connection.retry = fixture::quick_retries(1);
    let source = LokiSource::new(config).unwrap();
    let err = |service: &'static str| {
        let source = &source;
        async move {
            source
                .logs(&query(range(T0, T0 + 60), Some(service), 10))
                .await
                .unwrap_err()
                .to_string()
        }
    };
    let truncated = err("truncated").await;
    assert!(truncated.contains("not a loki API answer"), "{truncated}");
    let bad = err("badvalue").await;
    assert!(bad.contains("is not [\"<ns>\", \"<line>\"]"), "{bad}");
    let matrix = err("matrix").await;
    assert!(
        matrix.contains("expected streams, got a matrix"),
        "{matrix}"
    );
    let big = err("big").await;
    assert!(big.contains("larger than the 2048 bytes allowed"), "{big}");
}

#[tokio::test]
async fn real_loki_lists_services_and_reads_the_last_hour() {
    let Some(url) = fixture::real_server(
        "ITOPS_TEST_LOKI_URL",
        "real_loki_lists_services_and_reads_the_last_hour",
    ) else {
        return;
    };
    let config = LokiConfig::new(url).bearer_token_from_env("ITOPS_TEST_LOKI_TOKEN");
    let config = match std::env::var("ITOPS_TEST_LOKI_TENANT") {
        Ok(tenant) => config.tenant(tenant),
        Err(_) => config,
    };
    let source = LokiSource::new(config).unwrap();
    let services = source.services().await.unwrap();
    println!("loki services: {services:?}");
    let window = fixture::last_hour();
    let records = source.logs(&query(window, None, 50)).await.unwrap();
    assert!(records.len() <= 50);
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
    for record in &records {
        assert!(window.contains(record.at), "{record:?}");
        assert!(services.contains(&record.service), "{record:?}");
    }
    if let Some(service) = services.first() {
        let theirs = source
            .logs(&query(window, Some(service), 20))
            .await
            .unwrap();
        assert!(theirs.iter().all(|r| &r.service == service));
    }
}
