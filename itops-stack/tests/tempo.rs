//! The Tempo source against a fixture server (`fixture`): its answers are written from
//! Tempo's documented HTTP API (`/api/search`, `/api/traces/<id>` in OTLP JSON, the v1 and
//! v2 tag values), because Tempo cannot be installed on the test machines. The server also
//! checks what the source asks: the TraceQL or tags, the range in seconds, the limit, the
//! tenant header and the bearer token.
//!
//! `real_tempo_lists_services_and_reads_the_last_hour` runs against a real Tempo when
//! `ITOPS_TEST_TEMPO_URL` is set.
#![allow(clippy::unwrap_used, clippy::panic)]

mod fixture;

use fixture::{range, serve, Seen};
use itops_core::breaker::BreakerState;
use itops_core::telemetry::{SpanQuery, SpanStatus, TimeRange};
use itops_core::{Error, TelemetrySource};
use itops_stack::{TempoConfig, TempoSearch, TempoSource};
use serde_json::json;

const T0: i64 = 1_709_287_200;
const NS: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

const TRACE_A: &str = "0af7651916cd43dd8448eb211c80319c";
const TRACE_B: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn ns(offset_ms: u64) -> u64 {
    T0 as u64 * NS + offset_ms * MS
}

/// Trace A as Tempo 2's `/api/traces/<id>` writes it: `batches`, base64 ids, times as
/// strings, one batch in the older `instrumentationLibrarySpans` form.
fn trace_a() -> serde_json::Value {
    json!({"batches": [
        {
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "frontend"}},
                {"key": "k8s.pod.name", "value": {"stringValue": "frontend-6c8f9d7b4d-9zt2m"}}
            ]},
            "scopeSpans": [{
                "scope": {"name": "opentelemetry.instrumentation.http"},
                "spans": [{
                    "traceId": "CvdlGRbNQ92ESOshHIAxnA==",
                    "spanId": "t61rcWkgMzE=",
                    "name": "GET /checkout",
                    "kind": "SPAN_KIND_SERVER",
                    "startTimeUnixNano": ns(10_000).to_string(),
                    "endTimeUnixNano": ns(10_250).to_string(),
                    "status": {}
                }]
            }]
        },
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "instrumentationLibrarySpans": [{
                "spans": [{
                    "traceId": "CvdlGRbNQ92ESOshHIAxnA==",
                    "spanId": "APBnqgupArc=",
                    "parentSpanId": "t61rcWkgMzE=",
                    "name": "charge card",
                    "startTimeUnixNano": ns(10_050).to_string(),
                    "endTimeUnixNano": ns(10_170).to_string(),
                    "status": {"code": 2, "message": "card declined"}
                }]
            }]
        }
    ]})
}

/// Trace B in the OTLP form (`resourceSpans`, hex ids, numbers, named status codes).
fn trace_b() -> serde_json::Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": TRACE_B.to_uppercase(),
            "spanId": "53995c3f42cd8ad8",
            "parentSpanId": "",
            "name": "GET /cart",
            "startTimeUnixNano": ns(20_000),
            "endTimeUnixNano": ns(20_030),
            "status": {"code": "STATUS_CODE_OK"}
        }]}]
    }]})
}

fn found(ids: &[&str]) -> (u16, String) {
    let traces: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({"traceID": id, "rootServiceName": "frontend", "rootTraceName": "GET /checkout", "startTimeUnixNano": ns(10_000).to_string(), "durationMs": 250}))
        .collect();
    (
        200,
        json!({"traces": traces, "metrics": {"inspectedBytes": "1024"}}).to_string(),
    )
}

/// A Tempo holding traces A and B; its search finds `ids` (Tempo drops leading zeros).
fn tempo(ids: &'static [&'static str]) -> impl Fn(&Seen) -> (u16, String) {
    move |seen: &Seen| {
        match seen.path.as_str() {
        "/api/search" => found(ids),
        "/api/traces/af7651916cd43dd8448eb211c80319c" | "/api/traces/0af7651916cd43dd8448eb211c80319c" => {
            (200, trace_a().to_string())
        }
        "/api/traces/4bf92f3577b34da6a3ce929d0e0e4736" => (200, trace_b().to_string()),
        "/api/search/tag/service.name/values" => {
            (200, json!({"tagValues": ["frontend", "checkout"]}).to_string())
        }
        "/api/v2/search/tag/resource.service.name/values" => (
            200,
            json!({"tagValues": [{"type": "string", "value": "frontend"}, {"type": "string", "value": "checkout"}], "metrics": {}}).to_string(),
        ),
        _ => (404, "trace not found".into()),
    }
    }
}

const BOTH: &[&str] = &["af7651916cd43dd8448eb211c80319c", TRACE_B];

/// Trace, span, parent, service, operation, start (ns after T0), duration, status.
type Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    &'a str,
    i64,
    u64,
    SpanStatus,
);

fn query(range: TimeRange, service: Option<&str>) -> SpanQuery {
    SpanQuery {
        range,
        service: service.map(str::to_string),
        trace_id: None,
        errors_only: false,
        limit: 100,
    }
}

#[tokio::test]
async fn spans_are_found_fetched_and_mapped() {
    std::env::set_var("ITOPS_TEST_TEMPO_TOKEN_1", "t0ken");
    let server = serve(tempo(BOTH)).await;
    let config = TempoConfig::new(&server.url)
        .tenant("team-b")
        .bearer_token_from_env("ITOPS_TEST_TEMPO_TOKEN_1");
    let source = TempoSource::new(config).unwrap();
    let window = range(T0, T0 + 3600);
    let spans = source.spans(&query(window, None)).await.unwrap();
    let got: Vec<Row<'_>> = spans
        .iter()
        .map(|s| {
            (
                s.trace_id.as_str(),
                s.span_id.as_str(),
                s.parent_span_id.as_deref(),
                s.service.as_str(),
                s.operation.as_str(),
                s.start.timestamp_nanos_opt().unwrap() - T0 * NS as i64,
                s.duration_ns,
                s.status,
            )
        })
        .collect();
    let ms = |n: i64| n * MS as i64;
    assert_eq!(
        got,
        vec![
            (
                TRACE_A,
                "b7ad6b7169203331",
                None,
                "frontend",
                "GET /checkout",
                ms(10_000),
                250 * MS,
                SpanStatus::Unset
            ),
            (
                TRACE_A,
                "00f067aa0ba902b7",
                Some("b7ad6b7169203331"),
                "checkout",
                "charge card",
                ms(10_050),
                120 * MS,
                SpanStatus::Error
            ),
            (
                TRACE_B,
                "53995c3f42cd8ad8",
                None,
                "checkout",
                "GET /cart",
                ms(20_000),
                30 * MS,
                SpanStatus::Ok
            ),
        ]
    );
    let search = &server.requests_to("/api/search")[0];
    assert_eq!(search.param("q"), Some("{}"));
    assert_eq!(search.param("start"), Some(T0.to_string().as_str()));
    assert_eq!(search.param("end"), Some((T0 + 3600).to_string().as_str()));
    assert_eq!(search.param("limit"), Some("201"));
    for seen in server.requests() {
        assert_eq!(seen.header("x-scope-orgid"), Some("team-b"), "{seen:?}");
        assert_eq!(
            seen.header("authorization"),
            Some("Bearer t0ken"),
            "{seen:?}"
        );
    }
    // One service: its spans only, and the search says so in TraceQL.
    let checkout = source
        .spans(&query(window, Some("checkout")))
        .await
        .unwrap();
    let ids: Vec<&str> = checkout.iter().map(|s| s.span_id.as_str()).collect();
    assert_eq!(ids, vec!["00f067aa0ba902b7", "53995c3f42cd8ad8"]);
    assert_eq!(
        server.requests_to("/api/search")[1].param("q"),
        Some(r#"{resource.service.name="checkout"}"#)
    );
    // Errors only: asked of Tempo, and checked on the spans.
    let mut errors = query(window, Some("checkout"));
    errors.errors_only = true;
    let failed = source.spans(&errors).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status, SpanStatus::Error);
    assert_eq!(
        server.requests_to("/api/search")[2].param("q"),
        Some(r#"{resource.service.name="checkout" && status=error}"#)
    );
    // The range is by span start.
    let late = source
        .spans(&query(range(T0 + 15, T0 + 60), None))
        .await
        .unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].trace_id, TRACE_B);
}

#[tokio::test]
async fn a_trace_id_is_fetched_directly() {
    let server = serve(tempo(BOTH)).await;
    let source = TempoSource::new(TempoConfig::new(&server.url)).unwrap();
    let mut q = query(range(T0, T0 + 3600), None);
    q.trace_id = Some(TRACE_B.to_uppercase());
    let spans = source.spans(&q).await.unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_id, "53995c3f42cd8ad8");
    assert!(server.requests_to("/api/search").is_empty());
    // A trace Tempo does not have: none.
    q.trace_id = Some("ffffffffffffffff".into());
    assert!(source.spans(&q).await.unwrap().is_empty());
    // Not a trace id: refused before any request.
    q.trace_id = Some("../api/search?q=x".into());
    let err = source.spans(&q).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(source.requests_sent(), 2);
}

#[tokio::test]
async fn no_more_than_max_traces_are_fetched() {
    static FIVE: &[&str] = &[
        "af7651916cd43dd8448eb211c80319c",
        TRACE_B,
        "1111111111111111",
        "2222222222222222",
        "3333333333333333",
    ];
    let server = serve(tempo(FIVE)).await;
    let source = TempoSource::new(TempoConfig::new(&server.url).max_traces(2)).unwrap();
    let spans = source
        .spans(&query(range(T0, T0 + 3600), None))
        .await
        .unwrap();
    assert_eq!(spans.len(), 3);
    assert_eq!(
        server.requests_to("/api/search")[0].param("limit"),
        Some("3")
    );
    let fetched = server
        .requests()
        .iter()
        .filter(|s| s.path.starts_with("/api/traces/"))
        .count();
    assert_eq!(fetched, 2);
}

#[tokio::test]
async fn services_come_from_the_v2_or_v1_tag_values_and_tags_search_names_the_service() {
    let server = serve(tempo(BOTH)).await;
    let v2 = TempoSource::new(TempoConfig::new(&server.url)).unwrap();
    assert_eq!(v2.services().await.unwrap(), vec!["checkout", "frontend"]);
    let v1 = TempoSource::new(TempoConfig::new(&server.url).search(TempoSearch::Tags)).unwrap();
    assert_eq!(v1.services().await.unwrap(), vec!["checkout", "frontend"]);
    let spans = v1
        .spans(&query(range(T0, T0 + 3600), Some("checkout")))
        .await
        .unwrap();
    assert_eq!(spans.len(), 2);
    let search = &server.requests_to("/api/search")[0];
    assert_eq!(search.param("tags"), Some("service.name=checkout"));
    assert_eq!(search.param("q"), None);
}

#[tokio::test]
async fn a_search_tempo_refuses_is_invalid_with_tempos_message() {
    let server = serve(|_: &Seen| {
        (
            400,
            "invalid TraceQL query: parse error at line 1, col 3: syntax error".into(),
        )
    })
    .await;
    let source = TempoSource::new(TempoConfig::new(&server.url)).unwrap();
    let err = source
        .spans(&query(range(T0, T0 + 60), Some("cart")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("invalid TraceQL query"), "{err}");
    assert_eq!(source.requests_sent(), 1);
    assert_eq!(source.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_5xx_is_retried_and_the_retry_succeeds() {
    let server = serve(fixture::failing_first(1, 502, "bad gateway", tempo(BOTH))).await;
    let mut config = TempoConfig::new(&server.url);
    config.connection.retry = fixture::quick_retries(3);
    let source = TempoSource::new(config).unwrap();
    let spans = source
        .spans(&query(range(T0, T0 + 3600), None))
        .await
        .unwrap();
    assert_eq!(spans.len(), 3);
    // The search twice, then the two traces.
    assert_eq!(source.requests_sent(), 4);
}

#[tokio::test]
async fn a_dead_tempo_opens_the_breaker_and_calls_are_then_refused_at_once() {
    let mut config = TempoConfig::new(fixture::DEAD_URL);
    config.connection.retry = fixture::quick_retries(1);
    config.connection.breaker = fixture::touchy_breaker(2);
    let source = TempoSource::new(config).unwrap();
    let q = query(range(T0, T0 + 60), None);
    for _ in 0..2 {
        let err = source.spans(&q).await.unwrap_err();
        assert!(err.to_string().contains("cannot reach"), "{err}");
    }
    let err = source.services().await.unwrap_err();
    assert!(matches!(err, Error::CircuitOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("circuit 'tempo' is open"), "{err}");
    assert_eq!(source.requests_sent(), 2);
}

#[tokio::test]
async fn malformed_answers_are_clear_errors() {
    let server = serve(|seen: &Seen| match seen.path.as_str() {
        "/api/search" => found(&["abcdef0123456789"]),
        "/api/traces/abcdef0123456789" => (
            200,
            json!({"batches": [{"scopeSpans": [{"spans": [{
                "traceId": "not an id!", "spanId": "AAAAAAAAAAE=",
                "startTimeUnixNano": "1", "endTimeUnixNano": "2"
            }]}]}]})
            .to_string(),
        ),
        "/api/traces/0123456789abcdef" => (
            200,
            r#"{"batches": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}"#.into(),
        ),
        _ => (200, "<html>a proxy's login page</html>".into()),
    })
    .await;
    let source = TempoSource::new(TempoConfig::new(&server.url)).unwrap();
    let window = range(T0, T0 + 60);
    let err = source.spans(&query(window, None)).await.unwrap_err();
    assert!(
        err.to_string().contains("neither a hex nor a base64"),
        "{err}"
    );
    let mut q = query(window, None);
    q.trace_id = Some("0123456789abcdef".into());
    let err = source.spans(&q).await.unwrap_err();
    assert!(err.to_string().contains("not a tempo API answer"), "{err}");
    let err = source.services().await.unwrap_err();
    assert!(
        err.to_string().contains("<html>a proxy's login page"),
        "{err}"
    );
}

#[tokio::test]
async fn real_tempo_lists_services_and_reads_the_last_hour() {
    let Some(url) = fixture::real_server(
        "ITOPS_TEST_TEMPO_URL",
        "real_tempo_lists_services_and_reads_the_last_hour",
    ) else {
        return;
    };
    let mut config = TempoConfig::new(url)
        .bearer_token_from_env("ITOPS_TEST_TEMPO_TOKEN")
        .max_traces(20);
    if let Ok(tenant) = std::env::var("ITOPS_TEST_TEMPO_TENANT") {
        config = config.tenant(tenant);
    }
    if std::env::var("ITOPS_TEST_TEMPO_TAGS").is_ok() {
        config = config.search(TempoSearch::Tags);
    }
    let source = TempoSource::new(config).unwrap();
    let services = source.services().await.unwrap();
    println!("tempo services: {services:?}");
    let window = fixture::last_hour();
    let spans = source.spans(&query(window, None)).await.unwrap();
    assert!(spans.len() <= 100);
    assert!(spans.windows(2).all(|w| w[0].start <= w[1].start));
    for span in &spans {
        assert!(window.contains(span.start), "{span:?}");
        assert_eq!(span.trace_id.len(), 32, "{span:?}");
        assert_eq!(span.span_id.len(), 16, "{span:?}");
    }
    if let Some(span) = spans.first() {
        let mut q = query(window, None);
        q.trace_id = Some(span.trace_id.clone());
        let trace = source.spans(&q).await.unwrap();
        assert!(trace.iter().any(|s| s.span_id == span.span_id));
    }
}
