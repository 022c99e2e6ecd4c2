//! The OpenAI-compatible model client against a local fake chat-completions server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use itops_agents::openai::{OpenAiModel, OpenAiSettings, TokenLimitParam, DEFAULT_BASE_URL};
use itops_core::breaker::{BreakerConfig, RetryPolicy};
use itops_core::engine::{ReactEngine, StopReason, ToolDisposition};
use itops_core::{
    ContentBlock, Error, LanguageModel, Message, ModelRequest, ModelStopReason, Role, TokenUsage,
    Tool, ToolSpec,
};
use serde::Deserialize;
use serde_json::{json, Value};

// ---- The fake server ----

/// One scripted answer.
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
    headers: Vec<(&'static str, &'static str)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self::raw(status, body.to_string())
    }

    fn raw(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    fn ok(body: Value) -> Self {
        Self::json(200, body)
    }
}

/// One request the fake received.
struct Received {
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Fake {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    fn headers(&self, index: usize) -> HeaderMap {
        self.received.lock().unwrap()[index].headers.clone()
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

async fn chat(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let parsed = serde_json::from_str(&body).unwrap_or(Value::String(body));
    fake.received.lock().unwrap().push(Received {
        headers,
        body: parsed,
    });
    let reply = fake.replies.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no scripted reply left").into_response();
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Starts a fake on 127.0.0.1:0 answering `POST /v1/chat/completions` with `replies` in
/// order; returns it and its base URL.
async fn serve(replies: Vec<Reply>) -> (Fake, String) {
    let fake = Fake {
        replies: Arc::new(Mutex::new(replies.into())),
        ..Fake::default()
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, format!("http://{addr}/v1"))
}

fn settings(base_url: &str) -> OpenAiSettings {
    OpenAiSettings::new("test-model")
        .base_url(base_url)
        .timeout(Duration::from_secs(5))
}

fn model(base_url: &str) -> OpenAiModel {
    OpenAiModel::new(settings(base_url)).unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        multiplier: 2.0,
        jitter: false,
    }
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    })
}

fn text_answer(text: &str) -> Value {
    completion(json!({"role": "assistant", "content": text}), "stop")
}

fn tool_call_answer(id: &str, name: &str, arguments: &str) -> Value {
    completion(
        json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{"id": id, "type": "function",
                            "function": {"name": name, "arguments": arguments}}]
        }),
        "tool_calls",
    )
}

fn error_rate_spec() -> ToolSpec {
    ToolSpec {
        name: "error_rate".into(),
        description: "Error rate of a service over the last minutes.".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"service": {"type": "string"}},
            "required": ["service"]
        }),
    }
}

fn ask(text: &str) -> ModelRequest {
    ModelRequest {
        system: Some("You investigate incidents.".into()),
        messages: vec![Message::user(text)],
        ..ModelRequest::default()
    }
}

// ---- Turns ----

#[tokio::test]
async fn a_plain_text_answer() {
    let (fake, url) = serve(vec![Reply::ok(text_answer("The database is down."))]).await;
    let response = model(&url).converse(&ask("What broke?")).await.unwrap();

    assert_eq!(response.message.role, Role::Assistant);
    assert_eq!(response.message.text(), "The database is down.");
    assert!(response.message.tool_calls().is_empty());
    assert_eq!(response.stop_reason, ModelStopReason::EndTurn);

    let sent = &fake.received()[0];
    assert_eq!(sent["model"], "test-model");
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "You investigate incidents."},
            {"role": "user", "content": "What broke?"}
        ])
    );
    assert!(sent.get("tools").is_none(), "no tools, no tools field");
}

#[tokio::test]
async fn a_tool_call_round_trip() {
    let (fake, url) = serve(vec![
        Reply::ok(tool_call_answer(
            "call_abc",
            "error_rate",
            r#"{"service":"checkout"}"#,
        )),
        Reply::ok(text_answer("checkout fails 40% of requests")),
    ])
    .await;
    let model = model(&url);
    let mut request = ask("Why is checkout failing?");
    request.tools = vec![error_rate_spec()];

    let first = model.converse(&request).await.unwrap();
    assert_eq!(first.stop_reason, ModelStopReason::ToolUse);
    let calls = first.message.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_abc");
    assert_eq!(calls[0].name, "error_rate");
    assert_eq!(calls[0].input, json!({"service": "checkout"}));

    request.messages.push(first.message);
    request.messages.push(Message {
        role: Role::User,
        content: vec![ContentBlock::ToolResult {
            tool_use_id: "call_abc".into(),
            content: "error rate 0.4".into(),
            is_error: false,
        }],
    });
    let second = model.converse(&request).await.unwrap();
    assert_eq!(second.message.text(), "checkout fails 40% of requests");
    assert_eq!(second.stop_reason, ModelStopReason::EndTurn);

    let received = fake.received();
    assert_eq!(
        received[0]["tools"],
        json!([{
            "type": "function",
            "function": {
                "name": "error_rate",
                "description": "Error rate of a service over the last minutes.",
                "parameters": {
                    "type": "object",
                    "properties": {"service": {"type": "string"}},
                    "required": ["service"]
                }
            }
        }])
    );
    let messages = received[1]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(messages[2]["content"], Value::Null);
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_abc");
    assert_eq!(messages[2]["tool_calls"][0]["type"], "function");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["name"],
        "error_rate"
    );
    let arguments = messages[2]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .expect("arguments are sent as a JSON string");
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        json!({"service": "checkout"})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_abc", "content": "error rate 0.4"})
    );
    assert_eq!(received[1]["tools"], received[0]["tools"]);
}

#[tokio::test]
async fn usage_and_stop_reasons_are_mapped() {
    let (_fake, url) = serve(vec![
        Reply::ok(text_answer("done")),
        Reply::ok(completion(
            json!({"role": "assistant", "content": "cut he"}),
            "length",
        )),
        Reply::ok(completion(
            json!({"role": "assistant", "content": ""}),
            "content_filter",
        )),
        Reply::ok(json!({"choices": [{"message": {"content": "no usage"}}]})),
    ])
    .await;
    let model = model(&url);

    let done = model.converse(&ask("a")).await.unwrap();
    assert_eq!(
        done.usage,
        TokenUsage {
            input_tokens: 12,
            output_tokens: 5
        }
    );
    assert_eq!(done.usage.total(), 17);
    let cut = model.converse(&ask("b")).await.unwrap();
    assert_eq!(cut.stop_reason, ModelStopReason::MaxTokens);
    let filtered = model.converse(&ask("c")).await.unwrap();
    assert_eq!(filtered.stop_reason, ModelStopReason::ContentFiltered);
    let bare = model.converse(&ask("d")).await.unwrap();
    assert_eq!(bare.usage, TokenUsage::default());
    assert_eq!(bare.stop_reason, ModelStopReason::EndTurn);
}

#[tokio::test]
async fn token_cap_and_temperature_are_sent() {
    let (fake, url) = serve(vec![
        Reply::ok(text_answer("a")),
        Reply::ok(text_answer("b")),
        Reply::ok(text_answer("c")),
    ])
    .await;
    let mut with_defaults = settings(&url);
    with_defaults.max_tokens = Some(256);
    with_defaults.temperature = Some(0.5);
    let model = OpenAiModel::new(with_defaults.clone()).unwrap();
    model.converse(&ask("settings")).await.unwrap();
    let mut request = ask("request wins");
    request.max_tokens = Some(64);
    request.temperature = Some(0.0);
    model.converse(&request).await.unwrap();
    with_defaults.token_limit_param = Some(TokenLimitParam::MaxCompletionTokens);
    OpenAiModel::new(with_defaults)
        .unwrap()
        .converse(&ask("other field"))
        .await
        .unwrap();

    let received = fake.received();
    assert_eq!(received[0]["max_tokens"], 256);
    assert_eq!(received[0]["temperature"], 0.5);
    assert_eq!(received[1]["max_tokens"], 64);
    assert_eq!(received[1]["temperature"], 0.0);
    assert_eq!(received[2]["max_completion_tokens"], 256);
    assert!(received[2].get("max_tokens").is_none());
}

// ---- Errors ----

#[tokio::test]
async fn throttling_then_success_through_the_resilient_wrapper() {
    let mut throttled = Reply::json(
        429,
        json!({"error": {"message": "Rate limit reached for requests", "type": "requests"}}),
    );
    throttled.headers.push(("retry-after", "1"));
    let (fake, url) = serve(vec![throttled, Reply::ok(text_answer("recovered"))]).await;

    let direct = model(&url).converse(&ask("x")).await.unwrap_err();
    assert!(direct.is_retryable(), "429 is retryable: {direct}");
    let text = direct.to_string();
    assert!(text.contains("429"), "{text}");
    assert!(text.contains("Rate limit reached for requests"), "{text}");
    assert!(text.contains("retry after 1s"), "{text}");

    // The same again, now through the core's breaker and retries.
    let (fake2, url2) = serve(vec![
        Reply::json(429, json!({"error": {"message": "slow down"}})),
        Reply::ok(text_answer("recovered")),
    ])
    .await;
    let resilient =
        OpenAiModel::resilient(settings(&url2), BreakerConfig::default(), fast_retries()).unwrap();
    assert_eq!(resilient.name(), "test-model");
    let response = resilient.converse(&ask("x")).await.unwrap();
    assert_eq!(response.message.text(), "recovered");
    assert_eq!(fake2.count(), 2);
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn server_errors_are_retryable_and_retried() {
    let (fake, url) = serve(vec![
        Reply::json(500, json!({"error": {"message": "internal failure"}})),
        Reply::raw(502, "<html>Bad Gateway</html>"),
        Reply::json(504, json!({"error": {"message": "gateway timeout"}})),
        Reply::json(503, json!({"error": {"message": "overloaded"}})),
    ])
    .await;
    let err = model(&url).converse(&ask("x")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Model {
                retryable: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("internal failure"), "{err}");

    let resilient =
        OpenAiModel::resilient(settings(&url), BreakerConfig::default(), fast_retries()).unwrap();
    let err = resilient.converse(&ask("x")).await.unwrap_err();
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("overloaded"),
        "last error wins: {err}"
    );
    assert_eq!(fake.count(), 4, "one direct call, then three attempts");
}

#[tokio::test]
async fn unauthorised_is_not_retryable_and_quotes_the_server() {
    let (fake, url) = serve(vec![
        Reply::json(
            401,
            json!({"error": {"message": "Incorrect API key provided: sk-wro***ong.",
                             "type": "invalid_request_error", "code": "invalid_api_key"}}),
        ),
        Reply::ok(text_answer("never reached")),
    ])
    .await;
    let resilient = OpenAiModel::resilient(
        settings(&url).api_key("sk-wrong"),
        BreakerConfig::default(),
        fast_retries(),
    )
    .unwrap();
    let err = resilient.converse(&ask("x")).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(matches!(err, Error::Model { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(text.contains("ITOPS_OPENAI_API_KEY"), "{text}");
    assert_eq!(fake.count(), 1, "not retried");
}

#[tokio::test]
async fn client_errors_are_not_retryable_and_long_messages_are_cut() {
    let long = format!("context length exceeded {}", "x".repeat(5_000));
    let (_fake, url) = serve(vec![
        Reply::json(400, json!({"error": {"message": long}})),
        Reply::json(403, json!({"error": "forbidden for this project"})),
        Reply::json(
            404,
            json!({"error": {"message": "model 'test-model' not found"}}),
        ),
    ])
    .await;
    let model = model(&url);

    let bad = model.converse(&ask("x")).await.unwrap_err();
    assert!(!bad.is_retryable());
    let text = bad.to_string();
    assert!(text.contains("context length exceeded"), "{text}");
    assert!(
        text.len() < 1_500,
        "server message truncated: {} bytes",
        text.len()
    );

    let forbidden = model.converse(&ask("x")).await.unwrap_err();
    assert!(!forbidden.is_retryable());
    assert!(forbidden.to_string().contains("forbidden for this project"));

    let missing = model.converse(&ask("x")).await.unwrap_err();
    assert!(!missing.is_retryable());
    assert!(missing.to_string().contains("not found"), "{missing}");
}

#[tokio::test]
async fn malformed_answers_are_clear_non_retryable_errors() {
    let cases = vec![
        (Reply::raw(200, "<html>proxy login</html>"), "not JSON"),
        (Reply::raw(200, ""), "not JSON"),
        (
            Reply::ok(json!({"id": "x", "choices": []})),
            "`choices` is empty",
        ),
        (Reply::ok(json!({"id": "x"})), "no `choices`"),
        (
            Reply::ok(json!({"choices": "many"})),
            "not a chat completion",
        ),
        (
            Reply::ok(tool_call_answer(
                "c1",
                "error_rate",
                "{\"service\": \"check",
            )),
            "arguments of the call to tool 'error_rate' are not valid JSON",
        ),
        (
            Reply::ok(completion(
                json!({"tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}]}),
                "tool_calls",
            )),
            "no function name",
        ),
        (
            Reply::ok(json!({"error": {"message": "upstream exploded"}})),
            "upstream exploded",
        ),
    ];
    let expected: Vec<&str> = cases.iter().map(|(_, e)| *e).collect();
    let (fake, url) = serve(cases.into_iter().map(|(r, _)| r).collect()).await;
    let model = model(&url);
    for want in expected {
        let err = model.converse(&ask("x")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Model {
                    retryable: false,
                    ..
                }
            ),
            "{want}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(want), "expected '{want}' in: {text}");
        assert!(
            text.contains("unusable chat-completions response"),
            "{text}"
        );
    }
    assert_eq!(fake.count(), 8);
}

#[tokio::test]
async fn timeouts_are_retryable_timeout_errors() {
    let mut slow = Reply::ok(text_answer("too late"));
    slow.delay = Duration::from_secs(3);
    let (_fake, url) = serve(vec![slow]).await;
    let model = OpenAiModel::new(settings(&url).timeout(Duration::from_millis(200))).unwrap();
    let started = std::time::Instant::now();
    let err = model.converse(&ask("x")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind, learn the port, close: nothing listens there any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = model(&format!("http://{addr}/v1"))
        .converse(&ask("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Model {
                retryable: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("could not connect"), "{err}");
}

// ---- Authorisation and settings ----

#[tokio::test]
async fn the_api_key_is_sent_as_a_bearer_token_only_when_set() {
    let (fake, url) = serve(vec![
        Reply::ok(text_answer("a")),
        Reply::ok(text_answer("b")),
    ])
    .await;
    OpenAiModel::new(settings(&url).api_key("sk-test-123"))
        .unwrap()
        .converse(&ask("x"))
        .await
        .unwrap();
    model(&url).converse(&ask("x")).await.unwrap();

    assert_eq!(
        fake.headers(0).get(header::AUTHORIZATION).unwrap(),
        "Bearer sk-test-123"
    );
    assert_eq!(
        fake.headers(0).get(header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    assert!(fake.headers(1).get(header::AUTHORIZATION).is_none());
}

#[test]
fn the_api_key_never_shows_in_debug_output() {
    let settings = OpenAiSettings::new("gpt-4o-mini").api_key("sk-secret-value");
    let debug = format!("{settings:?}");
    assert!(!debug.contains("sk-secret-value"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    let model = OpenAiModel::new(settings).unwrap();
    let debug = format!("{model:?}");
    assert!(!debug.contains("sk-secret-value"), "{debug}");
    assert!(debug.contains("gpt-4o-mini"), "{debug}");
}

#[test]
fn settings_come_from_the_environment() {
    let env = |vars: &[(&str, &str)]| {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    };

    let err = OpenAiSettings::from_lookup(env(&[])).unwrap_err();
    assert!(err.to_string().contains("ITOPS_OPENAI_MODEL"), "{err}");
    let err = OpenAiSettings::from_lookup(env(&[("ITOPS_OPENAI_MODEL", "  ")])).unwrap_err();
    assert!(err.to_string().contains("ITOPS_OPENAI_MODEL"), "{err}");

    let defaults =
        OpenAiSettings::from_lookup(env(&[("ITOPS_OPENAI_MODEL", "gpt-4o-mini")])).unwrap();
    assert_eq!(defaults.model, "gpt-4o-mini");
    assert_eq!(defaults.base_url, DEFAULT_BASE_URL);
    assert_eq!(defaults.api_key, None);

    let fallback = OpenAiSettings::from_lookup(env(&[
        ("ITOPS_OPENAI_MODEL", "llama3.1:8b"),
        ("ITOPS_OPENAI_BASE_URL", "http://localhost:11434/v1"),
        ("OPENAI_API_KEY", "sk-fallback"),
    ]))
    .unwrap();
    assert_eq!(fallback.base_url, "http://localhost:11434/v1");
    assert_eq!(fallback.api_key.as_deref(), Some("sk-fallback"));

    let own = OpenAiSettings::from_lookup(env(&[
        ("ITOPS_OPENAI_MODEL", "m"),
        ("ITOPS_OPENAI_API_KEY", "sk-own"),
        ("OPENAI_API_KEY", "sk-fallback"),
    ]))
    .unwrap();
    assert_eq!(own.api_key.as_deref(), Some("sk-own"));
}

#[test]
fn settings_deserialise_from_a_config_table() {
    let settings: OpenAiSettings = serde_json::from_value(json!({
        "base_url": "http://localhost:8000/v1",
        "model": "qwen2.5",
        "api_key": "sk-local",
        "timeout_secs": 30
    }))
    .unwrap();
    assert_eq!(settings.base_url, "http://localhost:8000/v1");
    assert_eq!(settings.model, "qwen2.5");
    assert_eq!(settings.api_key.as_deref(), Some("sk-local"));
    assert_eq!(settings.timeout, Duration::from_secs(30));

    let minimal: OpenAiSettings = serde_json::from_value(json!({"model": "gpt-4o-mini"})).unwrap();
    assert_eq!(minimal, OpenAiSettings::new("gpt-4o-mini"));

    let typo = serde_json::from_value::<OpenAiSettings>(json!({"model": "m", "timeout": 3}));
    assert!(typo.is_err(), "unknown fields are refused");
    let zero = serde_json::from_value::<OpenAiSettings>(json!({"model": "m", "timeout_secs": 0}));
    assert!(zero.unwrap_err().to_string().contains("timeout_secs"));
}

#[test]
fn invalid_settings_are_refused_before_any_call() {
    let base = |url: &str| OpenAiModel::new(OpenAiSettings::new("m").base_url(url));
    assert!(base("not a url").is_err());
    assert!(base("ftp://example.com/v1").is_err());
    assert!(base("localhost:11434/v1").is_err());
    let ok = base("http://localhost:11434/v1/").unwrap();
    assert_eq!(ok.endpoint(), "http://localhost:11434/v1/chat/completions");
    assert!(OpenAiModel::new(OpenAiSettings::new("  ")).is_err());
    assert!(OpenAiModel::new(OpenAiSettings::new("m").api_key("sk-bad\nkey")).is_err());
    assert!(OpenAiModel::new(OpenAiSettings::new("m").timeout(Duration::ZERO)).is_err());
}

// ---- The ReAct engine over the client ----

struct ErrorRate;

/// Arguments of `error_rate`.
#[derive(Deserialize, schemars::JsonSchema)]
struct ErrorRateArgs {
    /// The service.
    service: String,
}

#[async_trait]
impl Tool for ErrorRate {
    type Args = ErrorRateArgs;
    type Output = Value;

    fn name(&self) -> &str {
        "error_rate"
    }

    fn description(&self) -> &str {
        "Error rate of a service."
    }

    async fn call(&self, args: ErrorRateArgs) -> itops_core::Result<Value> {
        Ok(json!({"service": args.service, "error_rate": 0.4}))
    }
}

#[tokio::test]
async fn the_react_engine_runs_end_to_end_over_the_client() {
    let (fake, url) = serve(vec![
        Reply::ok(tool_call_answer(
            "call_1",
            "error_rate",
            r#"{"service":"checkout"}"#,
        )),
        Reply::ok(text_answer("checkout is failing: error rate 0.4")),
    ])
    .await;
    let model =
        OpenAiModel::resilient(settings(&url), BreakerConfig::default(), fast_retries()).unwrap();
    let engine = ReactEngine::builder(Arc::new(model))
        .system("You investigate incidents.")
        .tool(ErrorRate)
        .max_steps(4)
        .build()
        .unwrap();
    let transcript = engine
        .run(vec![Message::user("Why is checkout failing?")])
        .await;

    assert_eq!(transcript.stop_reason, StopReason::Completed);
    assert_eq!(
        transcript.final_answer.as_deref(),
        Some("checkout is failing: error rate 0.4")
    );
    let calls: Vec<_> = transcript.tool_calls().collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call.name, "error_rate");
    assert_eq!(calls[0].observation.disposition, ToolDisposition::Executed);
    assert_eq!(transcript.usage.total(), 34);

    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["tools"][0]["function"]["name"], "error_rate");
    assert_eq!(
        received[0]["tools"][0]["function"]["parameters"]["properties"]["service"]["type"],
        "string"
    );
    assert!(received[0]["max_tokens"].as_u64().is_some());
    let messages = received[1]["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let tool = messages.last().unwrap();
    assert_eq!(tool["role"], "tool");
    assert_eq!(tool["tool_call_id"], "call_1");
    assert!(tool["content"].as_str().unwrap().contains("0.4"), "{tool}");
}
