//! The exporter against a receiver in the test: what it sends, what it keeps, what it drops.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use itops_core::telemetry::{LogLevel, SpanStatus, TelemetryIndex};
use itops_core::ManualClock;
use itops_stack::otlp::{decode_logs, decode_traces, Format, DEFAULT_MAX_BODY_BYTES};

use super::*;

/// What the receiver got, and the status it answers with.
#[derive(Default)]
struct Receiver {
    spans: Mutex<Vec<Span>>,
    logs: Mutex<Vec<LogRecord>>,
    authorizations: Mutex<Vec<String>>,
    status: AtomicU16,
}

impl Receiver {
    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn span_ids(&self) -> Vec<String> {
        let spans = self.spans.lock().unwrap();
        spans.iter().map(|s| s.span_id.clone()).collect()
    }

    fn messages(&self) -> Vec<String> {
        let logs = self.logs.lock().unwrap();
        logs.iter().map(|l| l.message.clone()).collect()
    }
}

fn check(receiver: &Receiver, headers: &HeaderMap) -> (StatusCode, Format) {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    receiver
        .authorizations
        .lock()
        .unwrap()
        .push(auth.to_string());
    let status = StatusCode::from_u16(receiver.status.load(Ordering::SeqCst)).unwrap();
    (status, Format::from_headers(content_type, None).unwrap())
}

async fn traces(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let (status, format) = check(&r, &headers);
    if status.is_success() {
        let decoded = decode_traces(&body, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        r.spans.lock().unwrap().extend(decoded.items);
    }
    status
}

async fn logs(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let (status, format) = check(&r, &headers);
    if status.is_success() {
        let decoded = decode_logs(&body, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        r.logs.lock().unwrap().extend(decoded.items);
    }
    status
}

/// A receiver on a free port, and its base URL.
async fn receiver() -> (Arc<Receiver>, String) {
    let receiver = Arc::new(Receiver::default());
    receiver.answer(200);
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/logs", post(logs))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (receiver, url)
}

fn t0() -> DateTime<Utc> {
    "2026-11-24T09:00:00Z".parse().unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(n)
}

/// Spans and log lines at -10 s (before the exporter starts), 5 s and 15 s.
fn telemetry() -> Arc<dyn TelemetrySource> {
    let mut index = TelemetryIndex::new();
    for (n, at) in [(1, -10), (2, 5), (3, 15)] {
        index.add_span(Span {
            trace_id: format!("{n:032x}"),
            span_id: format!("{n:016x}"),
            parent_span_id: None,
            service: "checkout".into(),
            operation: "POST /checkout".into(),
            start: secs(at),
            duration_ns: 2_000_000,
            status: SpanStatus::Error,
        });
        index.add_log(LogRecord {
            at: secs(at),
            service: "checkout".into(),
            message: format!("line {n}"),
            level: Some(LogLevel::Error),
            trace_id: Some(format!("{n:032x}")),
            span_id: Some(format!("{n:016x}")),
        });
    }
    Arc::new(index)
}

fn exporter(url: &str, token: Option<&str>, clock: &ManualClock) -> SimExporter {
    let config = SimulatorConfig {
        otlp_endpoint: Some(format!("{url}/")),
        otlp_token_env: token.map(|_| "SHOP_OTLP_TOKEN".into()),
        otlp_interval_secs: None,
    };
    let target = OtlpTarget::from_config(&config, |_| token.map(String::from))
        .unwrap()
        .unwrap();
    assert_eq!(target.interval(), Duration::from_secs(10));
    SimExporter::new(target, telemetry(), Arc::new(clock.clone()), Duration::ZERO)
}

#[tokio::test]
async fn new_telemetry_reaches_the_receiver_once_and_what_it_missed_goes_later() {
    let (receiver, url) = receiver().await;
    let clock = ManualClock::new(t0());
    let mut exporter = exporter(&url, Some("s3cret-token"), &clock);

    // The receiver is down: the first line and span wait.
    receiver.answer(503);
    clock.set(secs(10));
    exporter.round().await;
    assert_eq!(exporter.pending(), (1, 1));
    assert!(receiver.span_ids().is_empty());

    // Back up: what waited and what is new arrive, the history before the start never.
    receiver.answer(200);
    clock.set(secs(20));
    exporter.round().await;
    assert_eq!(
        receiver.span_ids(),
        [format!("{:016x}", 2), format!("{:016x}", 3)]
    );
    assert_eq!(receiver.messages(), ["line 2", "line 3"]);
    assert_eq!(exporter.pending(), (0, 0));
    assert_eq!(exporter.dropped(), Dropped::default());
    let spans = receiver.spans.lock().unwrap().clone();
    assert!(spans
        .iter()
        .all(|s| s.status == SpanStatus::Error && s.service == "checkout"));

    // Nothing new: nothing is sent again.
    clock.set(secs(30));
    exporter.round().await;
    assert_eq!(receiver.span_ids().len(), 2);
    let auth = receiver.authorizations.lock().unwrap().clone();
    assert!(!auth.is_empty());
    assert!(auth.iter().all(|a| a == "Bearer s3cret-token"), "{auth:?}");
}

#[tokio::test]
async fn a_batch_the_receiver_refuses_as_malformed_is_dropped_and_counted() {
    let (receiver, url) = receiver().await;
    let clock = ManualClock::new(t0());
    let mut exporter = exporter(&url, None, &clock);
    receiver.answer(400);
    clock.set(secs(20));
    exporter.round().await;
    assert_eq!(exporter.pending(), (0, 0));
    assert_eq!(exporter.dropped(), Dropped { spans: 2, logs: 2 });
    receiver.answer(200);
    clock.set(secs(30));
    exporter.round().await;
    assert!(receiver.span_ids().is_empty());
    let auth = receiver.authorizations.lock().unwrap().clone();
    assert!(auth.iter().all(String::is_empty), "{auth:?}");
}

#[tokio::test]
async fn an_unreachable_receiver_loses_nothing_until_it_is_back() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let clock = ManualClock::new(t0());
    let mut exporter = exporter(&dead, None, &clock);
    clock.set(secs(20));
    exporter.round().await;
    assert_eq!(exporter.pending(), (2, 2));
    assert_eq!(exporter.dropped(), Dropped::default());
}

#[test]
fn what_waits_is_capped_dropping_the_oldest() {
    let mut pending: VecDeque<usize> = (0..MAX_PENDING - 1).collect();
    assert_eq!(keep(&mut pending, vec![MAX_PENDING - 1]), 0);
    assert_eq!(pending.len(), MAX_PENDING);
    let dropped = keep(&mut pending, (MAX_PENDING..MAX_PENDING + 3).collect());
    assert_eq!(dropped, 3);
    assert_eq!(pending.len(), MAX_PENDING);
    assert_eq!(pending.front(), Some(&3));
    assert_eq!(pending.back(), Some(&(MAX_PENDING + 2)));
}

#[test]
fn a_token_variable_that_is_not_set_is_refused_naming_the_setting() {
    let config = SimulatorConfig {
        otlp_endpoint: Some("http://127.0.0.1:4318".into()),
        otlp_token_env: Some("SHOP_OTLP_TOKEN".into()),
        otlp_interval_secs: Some(2),
    };
    let error = OtlpTarget::from_config(&config, |_| None).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("simulator.otlp_token_env"), "{text}");
    assert!(text.contains("SHOP_OTLP_TOKEN"), "{text}");
    let target = OtlpTarget::from_config(&config, |_| Some("t".into()))
        .unwrap()
        .unwrap();
    assert_eq!(target.interval(), Duration::from_secs(2));
    assert_eq!(target.traces_url, "http://127.0.0.1:4318/v1/traces");
    assert_eq!(target.logs_url, "http://127.0.0.1:4318/v1/logs");
}
