//! The Jaeger source against a fixture server (`fixture`): its answers are written from
//! the Jaeger query service's documented HTTP API (`/api/services`, `/api/traces`,
//! `/api/traces/<id>`: `data`, `errors`, spans with `references`, `tags` and `processID`),
//! because Jaeger cannot be installed on the test machines. The server also checks what
//! the source asks: the service, the range in microseconds, the limit, the error tag, the
//! tenant header and the bearer token.
//!
//! `real_jaeger_lists_services_and_reads_the_last_hour` runs against a real Jaeger when
//! `ITOPS_TEST_JAEGER_URL` is set.
#![allow(clippy::unwrap_used, clippy::panic)]

mod fixture;

use fixture::{range, serve, Seen};
use itops_core::breaker::BreakerState;
use itops_core::telemetry::{SpanQuery, SpanStatus, TimeRange};
use itops_core::{Error, TelemetrySource};
use itops_stack::{JaegerConfig, JaegerSource};
use serde_json::json;

const T0: i64 = 1_709_287_200;
const US: i64 = 1_000_000;
const T1: &str = "0af7651916cd43dd8448eb211c80319c";
const T2: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn us(offset_ms: i64) -> i64 {
    T0 * US + offset_ms * 1_000
}

fn answer(data: serde_json::Value) -> (u16, String) {
    let total = data.as_array().map_or(0, Vec::len);
    (
        200,
        json!({"data": data, "total": total, "limit": 0, "offset": 0, "errors": null}).to_string(),
    )
}

/// Trace 1: frontend calls checkout; one checkout span failed (`error=true`), one follows
/// it and failed the OpenTelemetry way, one frontend span succeeded.
fn trace_1() -> serde_json::Value {
    let span = |id: &str,
                op: &str,
                refs: serde_json::Value,
                start_ms: i64,
                dur_us: i64,
                tags: serde_json::Value,
                process: &str| {
        json!({"traceID": T1, "spanID": id, "operationName": op, "references": refs,
               "startTime": us(start_ms), "duration": dur_us, "tags": tags, "logs": [],
               "processID": process, "warnings": null, "flags": 1})
    };
    let child_of = |id: &str| json!([{"refType": "CHILD_OF", "traceID": T1, "spanID": id}]);
    json!({
        "traceID": T1,
        "spans": [
            span("b7ad6b7169203331", "GET /checkout", json!([]), 10_000, 250_000,
                 json!([{"key": "span.kind", "type": "string", "value": "server"}]), "p1"),
            span("00f067aa0ba902b7", "charge card", child_of("b7ad6b7169203331"), 10_050, 120_000,
                 json!([{"key": "error", "type": "bool", "value": true}]), "p2"),
            span("53995c3f42cd8ad8", "SELECT orders",
                 json!([{"refType": "FOLLOWS_FROM", "traceID": T1, "spanID": "00f067aa0ba902b7"}]),
                 10_180, 15_000,
                 json!([{"key": "otel.status_code", "type": "string", "value": "ERROR"}]), "p2"),
            span("1111111111111111", "render", child_of("b7ad6b7169203331"), 10_300, 5_000,
                 json!([{"key": "otel.status_code", "type": "string", "value": "OK"}]), "p1"),
        ],
        "processes": {
            "p1": {"serviceName": "frontend", "tags": [{"key": "hostname", "type": "string", "value": "web-1"}]},
            "p2": {"serviceName": "checkout", "tags": []}
        },
        "warnings": null
    })
}

fn trace_2() -> serde_json::Value {
    json!({
        "traceID": T2,
        "spans": [{"traceID": T2, "spanID": "2222222222222222", "operationName": "GET /cart",
                   "references": [], "startTime": us(20_000), "duration": 30_000,
                   "tags": [{"key": "error", "type": "string", "value": "false"}], "processID": "p1"}],
        "processes": {"p1": {"serviceName": "checkout"}}
    })
}

fn jaeger(seen: &Seen) -> (u16, String) {
    match (seen.path.as_str(), seen.param("service")) {
        ("/api/services", _) => answer(json!(["frontend", "checkout", "jaeger-all-in-one"])),
        ("/api/traces", Some("frontend")) => answer(json!([trace_1()])),
        ("/api/traces", Some("checkout")) => answer(json!([trace_1(), trace_2()])),
        ("/api/traces", Some(_)) => answer(json!([])),
        ("/api/traces/4bf92f3577b34da6a3ce929d0e0e4736", _) => answer(json!([trace_2()])),
        _ => (
            404,
            json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "trace not found"}]})
                .to_string(),
        ),
    }
}

fn query(range: TimeRange, service: Option<&str>) -> SpanQuery {
    SpanQuery {
        range,
        service: service.map(str::to_string),
        trace_id: None,
        errors_only: false,
        limit: 100,
    }
}

type Row<'a> = (
    &'a str,
    Option<&'a str>,
    &'a str,
    &'a str,
    i64,
    u64,
    SpanStatus,
);

fn rows(spans: &[itops_core::telemetry::Span]) -> Vec<Row<'_>> {
    spans
        .iter()
        .map(|s| {
            (
                s.span_id.as_str(),
                s.parent_span_id.as_deref(),
                s.service.as_str(),
                s.operation.as_str(),
                s.start.timestamp_millis() - T0 * 1000,
                s.duration_ns,
                s.status,
            )
        })
        .collect()
}

#[tokio::test]
async fn a_services_spans_map_with_parents_status_and_durations() {
    std::env::set_var("ITOPS_TEST_JAEGER_TOKEN_1", "j-token");
    let server = serve(jaeger).await;
    let config = JaegerConfig::new(&server.url)
        .bearer_token_from_env("ITOPS_TEST_JAEGER_TOKEN_1")
        .tenant("team-c");
    let source = JaegerSource::new(config).unwrap();
    assert_eq!(
        source.services().await.unwrap(),
        vec!["checkout", "frontend", "jaeger-all-in-one"]
    );
    let window = range(T0, T0 + 3600);
    let checkout = source
        .spans(&query(window, Some("checkout")))
        .await
        .unwrap();
    assert_eq!(
        rows(&checkout),
        vec![
            (
                "00f067aa0ba902b7",
                Some("b7ad6b7169203331"),
                "checkout",
                "charge card",
                10_050,
                120_000_000,
                SpanStatus::Error
            ),
            (
                "53995c3f42cd8ad8",
                Some("00f067aa0ba902b7"),
                "checkout",
                "SELECT orders",
                10_180,
                15_000_000,
                SpanStatus::Error
            ),
            (
                "2222222222222222",
                None,
                "checkout",
                "GET /cart",
                20_000,
                30_000_000,
                SpanStatus::Unset
            ),
        ]
    );
    assert!(checkout.iter().take(2).all(|s| s.trace_id == T1));
    let frontend = source
        .spans(&query(window, Some("frontend")))
        .await
        .unwrap();
    assert_eq!(
        rows(&frontend),
        vec![
            (
                "b7ad6b7169203331",
                None,
                "frontend",
                "GET /checkout",
                10_000,
                250_000_000,
                SpanStatus::Unset
            ),
            (
                "1111111111111111",
                Some("b7ad6b7169203331"),
                "frontend",
                "render",
                10_300,
                5_000_000,
                SpanStatus::Ok
            ),
        ]
    );
    let search = &server.requests_to("/api/traces")[0];
    assert_eq!(search.param("service"), Some("checkout"));
    assert_eq!(search.param("start"), Some((T0 * US).to_string().as_str()));
    assert_eq!(
        search.param("end"),
        Some(((T0 + 3600) * US).to_string().as_str())
    );
    assert_eq!(search.param("limit"), Some("201"));
    assert_eq!(search.param("tags"), None);
    for seen in server.requests() {
        assert_eq!(
            seen.header("authorization"),
            Some("Bearer j-token"),
            "{seen:?}"
        );
        assert_eq!(seen.header("x-tenant"), Some("team-c"), "{seen:?}");
    }
}

#[tokio::test]
async fn errors_only_asks_for_the_error_tag_and_keeps_failed_spans() {
    let server = serve(jaeger).await;
    let source = JaegerSource::new(JaegerConfig::new(&server.url)).unwrap();
    let mut q = query(range(T0, T0 + 3600), Some("checkout"));
    q.errors_only = true;
    let failed = source.spans(&q).await.unwrap();
    let ids: Vec<&str> = failed.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids, vec!["00f067aa0ba902b7", "53995c3f42cd8ad8"]);
    assert_eq!(
        server.requests()[0].param("tags"),
        Some(r#"{"error":"true"}"#)
    );
}

#[tokio::test]
async fn every_service_is_searched_each_trace_read_once_and_max_traces_cuts() {
    let server = serve(jaeger).await;
    let source = JaegerSource::new(JaegerConfig::new(&server.url)).unwrap();
    let window = range(T0, T0 + 3600);
    let all = source.spans(&query(window, None)).await.unwrap();
    // Trace 1 comes back for frontend and for checkout: its spans once.
    assert_eq!(all.len(), 5);
    let searched: Vec<String> = server
        .requests_to("/api/traces")
        .iter()
        .map(|s| s.param("service").unwrap().to_string())
        .collect();
    assert_eq!(searched, vec!["checkout", "frontend", "jaeger-all-in-one"]);

    let server = serve(jaeger).await;
    let source = JaegerSource::new(JaegerConfig::new(&server.url).max_traces(1)).unwrap();
    let cut = source.spans(&query(window, None)).await.unwrap();
    // One trace (trace 1, checkout's first), and the other services not searched.
    assert_eq!(cut.len(), 4);
    assert!(cut.iter().all(|s| s.trace_id == T1));
    let searches = server.requests_to("/api/traces");
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].param("limit"), Some("2"));
}

#[tokio::test]
async fn a_trace_id_is_fetched_directly() {
    let server = serve(jaeger).await;
    let source = JaegerSource::new(JaegerConfig::new(&server.url)).unwrap();
    let mut q = query(range(T0, T0 + 3600), None);
    q.trace_id = Some(T2.into());
    let spans = source.spans(&q).await.unwrap();
    assert_eq!(rows(&spans).len(), 1);
    assert_eq!(spans[0].span_id, "2222222222222222");
    assert_eq!(spans[0].trace_id, T2);
    q.trace_id = Some("ffffffffffffffff".into());
    assert!(source.spans(&q).await.unwrap().is_empty());
    q.trace_id = Some("x/../../api/services".into());
    assert!(matches!(
        source.spans(&q).await.unwrap_err(),
        Error::Invalid { .. }
    ));
    assert!(server.requests_to("/api/traces").is_empty());
    assert_eq!(source.requests_sent(), 2);
}

#[tokio::test]
async fn a_request_jaeger_refuses_is_invalid_with_jaegers_message() {
    let server = serve(|_: &Seen| {
        (
            400,
            json!({"data": null, "total": 0, "limit": 0, "offset": 0,
                   "errors": [{"code": 400, "msg": "parameter 'service' is required"}]})
            .to_string(),
        )
    })
    .await;
    let source = JaegerSource::new(JaegerConfig::new(&server.url)).unwrap();
    let err = source
        .spans(&query(range(T0, T0 + 60), Some("cart")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(text.contains("parameter 'service' is required"), "{text}");
    assert_eq!(source.requests_sent(), 1);
    assert_eq!(source.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_5xx_is_retried_and_the_retry_succeeds() {
    let server = serve(fixture::failing_first(
        2,
        503,
        "upstream connect error",
        jaeger,
    ))
    .await;
    let mut config = JaegerConfig::new(&server.url);
    config.connection.retry = fixture::quick_retries(3);
    let source = JaegerSource::new(config).unwrap();
    let spans = source
        .spans(&query(range(T0, T0 + 3600), Some("frontend")))
        .await
        .unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(source.requests_sent(), 3);
}

#[tokio::test]
async fn a_dead_jaeger_opens_the_breaker_and_calls_are_then_refused_at_once() {
    let mut config = JaegerConfig::new(fixture::DEAD_URL);
    config.connection.retry = fixture::quick_retries(1);
    config.connection.breaker = fixture::touchy_breaker(2);
    let source = JaegerSource::new(config).unwrap();
    for _ in 0..2 {
        let err = source.services().await.unwrap_err();
        assert!(err.to_string().contains("cannot reach"), "{err}");
    }
    let err = source
        .spans(&query(range(T0, T0 + 60), Some("cart")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CircuitOpen { .. }), "{err:?}");
    assert!(
        err.to_string().contains("circuit 'jaeger' is open"),
        "{err}"
    );
    assert_eq!(source.requests_sent(), 2);
}

#[tokio::test]
async fn malformed_answers_are_clear_errors() {
    let server = serve(|seen: &Seen| match (seen.path.as_str(), seen.param("service")) {
        ("/api/services", _) => (200, r#"{"data":["frontend","#.into()),
        ("/api/traces", Some("nodata")) => (
            200,
            json!({"data": null, "errors": [{"code": 500, "msg": "storage unavailable"}]}).to_string(),
        ),
        _ => answer(json!([{"traceID": T1, "spans": [{"traceID": T1, "spanID": "1", "duration": 1}], "processes": {}}])),
    })
    .await;
    let source = JaegerSource::new(JaegerConfig::new(&server.url)).unwrap();
    let err = source.services().await.unwrap_err();
    assert!(err.to_string().contains("not a jaeger API answer"), "{err}");
    let window = range(T0, T0 + 60);
    let err = source
        .spans(&query(window, Some("nodata")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("storage unavailable"), "{err}");
    let err = source
        .spans(&query(window, Some("other")))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("missing field `startTime`"),
        "{err}"
    );
}

#[tokio::test]
async fn real_jaeger_lists_services_and_reads_the_last_hour() {
    let Some(url) = fixture::real_server(
        "ITOPS_TEST_JAEGER_URL",
        "real_jaeger_lists_services_and_reads_the_last_hour",
    ) else {
        return;
    };
    let source = JaegerSource::new(
        JaegerConfig::new(url)
            .bearer_token_from_env("ITOPS_TEST_JAEGER_TOKEN")
            .max_traces(20),
    )
    .unwrap();
    let services = source.services().await.unwrap();
    println!("jaeger services: {services:?}");
    let window = fixture::last_hour();
    let Some(service) = services.first() else {
        return;
    };
    let spans = source.spans(&query(window, Some(service))).await.unwrap();
    assert!(spans.windows(2).all(|w| w[0].start <= w[1].start));
    for span in &spans {
        assert_eq!(&span.service, service, "{span:?}");
        assert!(window.contains(span.start), "{span:?}");
    }
    if let Some(span) = spans.first() {
        let mut q = query(window, None);
        q.trace_id = Some(span.trace_id.clone());
        let trace = source.spans(&q).await.unwrap();
        assert!(trace.iter().any(|s| s.span_id == span.span_id));
    }
}
