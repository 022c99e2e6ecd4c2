//! The engine's spans carry the OpenTelemetry GenAI attribute names and values.
//!
//! The span tests have this test binary to themselves, with one global subscriber installed
//! before any of the engine's call sites is met, so that tracing's per-call-site interest
//! cache can never hold a "no subscriber wants this" from another test (which made them
//! fail now and then when they shared a binary with every other test). They run one at a
//! time and each starts from an empty recording.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Instrument;
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use itops_core::engine::ReactEngine;
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{Error, Message, Result, Tool};

/// One span as a subscriber saw it: name, parent's name, fields (created and recorded).
#[derive(Clone, Debug, Default)]
struct SeenSpan {
    name: String,
    parent: Option<String>,
    fields: BTreeMap<String, String>,
}

impl SeenSpan {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl Visit for SeenSpan {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields
            .insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.fields
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

/// Records every span, in creation order.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<(Id, SeenSpan)>>>,
}

impl Recorder {
    fn spans(&self) -> Vec<SeenSpan> {
        self.spans
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = if let Some(parent) = attrs.parent() {
            ctx.span(parent)
        } else if attrs.is_contextual() {
            ctx.lookup_current()
        } else {
            None
        };
        let mut seen = SeenSpan {
            name: attrs.metadata().name().to_string(),
            parent: parent.map(|p| p.name().to_string()),
            ..SeenSpan::default()
        };
        attrs.record(&mut seen);
        self.spans.lock().unwrap().push((id.clone(), seen));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, seen)) = spans.iter_mut().rev().find(|(i, _)| i == id) {
            values.record(seen);
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct NoArgs {}

/// Succeeds, inside a span of its own (which must nest under the tool call's span).
struct Rank;

#[async_trait]
impl Tool for Rank {
    type Args = NoArgs;
    type Output = String;
    fn name(&self) -> &str {
        "rank_anomalies"
    }
    fn description(&self) -> &str {
        "Ranks services."
    }
    async fn call(&self, _: NoArgs) -> Result<String> {
        let _inside = tracing::info_span!("ranking").entered();
        Ok("checkout first".into())
    }
}

/// Always fails.
struct Broken;

#[async_trait]
impl Tool for Broken {
    type Args = NoArgs;
    type Output = String;
    fn name(&self) -> &str {
        "query_logs"
    }
    fn description(&self) -> &str {
        "Always fails."
    }
    async fn call(&self, _: NoArgs) -> Result<String> {
        Err(Error::Tool {
            tool: "query_logs".into(),
            message: "backend unreachable".into(),
            retryable: true,
        })
    }
}

/// The one recorder, installed as the global subscriber the first time it is asked for.
fn global_recorder() -> &'static Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = Recorder::default();
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(recorder.clone()),
        )
        .expect("the span tests' binary has no other subscriber");
        tracing::callsite::rebuild_interest_cache();
        recorder
    })
}

/// Span tests run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The recorder, emptied, and the lock that keeps other span tests out until it drops.
async fn record_spans() -> (&'static Recorder, tokio::sync::MutexGuard<'static, ()>) {
    let guard = ONE_AT_A_TIME.lock().await;
    let recorder = global_recorder();
    recorder.spans.lock().unwrap().clear();
    (recorder, guard)
}

#[tokio::test]
async fn model_and_tool_calls_have_gen_ai_spans() {
    let (recorder, _one_at_a_time) = record_spans().await;

    let model = Arc::new(
        ScriptedModel::new([
            ScriptedTurn::tool_calls(vec![
                ("rank_anomalies".into(), json!({})),
                ("query_logs".into(), json!({})),
            ])
            .with_usage(120, 30),
            ScriptedTurn::text("checkout leaks memory").with_usage(200, 15),
        ])
        .named("planner-test"),
    );
    let engine = ReactEngine::builder(model)
        .tool(Rank)
        .tool(Broken)
        .max_steps(4)
        .build()
        .unwrap();
    let transcript = async { engine.run(vec![Message::user("find the root cause")]).await }
        .instrument(tracing::info_span!("workflow_step"))
        .await;
    assert!(transcript.stop_reason.is_completed(), "{transcript:?}");

    let spans = recorder.spans();
    let chats: Vec<&SeenSpan> = spans.iter().filter(|s| s.name == "chat").collect();
    assert_eq!(chats.len(), 2, "{spans:#?}");
    for (chat, (input, output, finish)) in chats
        .iter()
        .zip([("120", "30", "tool_calls"), ("200", "15", "stop")])
    {
        assert_eq!(chat.parent.as_deref(), Some("workflow_step"));
        assert_eq!(chat.field("otel.name"), Some("chat planner-test"));
        assert_eq!(chat.field("otel.kind"), Some("client"));
        assert_eq!(chat.field("gen_ai.operation.name"), Some("chat"));
        assert_eq!(chat.field("gen_ai.request.model"), Some("planner-test"));
        assert_eq!(chat.field("gen_ai.usage.input_tokens"), Some(input));
        assert_eq!(chat.field("gen_ai.usage.output_tokens"), Some(output));
        assert_eq!(chat.field("gen_ai.response.finish_reasons"), Some(finish));
        assert_eq!(chat.field("error.type"), None);
    }

    let tools: Vec<&SeenSpan> = spans.iter().filter(|s| s.name == "execute_tool").collect();
    assert_eq!(tools.len(), 2, "{spans:#?}");
    let (rank, broken) = (tools[0], tools[1]);
    assert_eq!(rank.parent.as_deref(), Some("workflow_step"));
    assert_eq!(rank.field("otel.name"), Some("execute_tool rank_anomalies"));
    assert_eq!(rank.field("gen_ai.operation.name"), Some("execute_tool"));
    assert_eq!(rank.field("gen_ai.tool.name"), Some("rank_anomalies"));
    assert_eq!(rank.field("gen_ai.tool.call.id"), Some("scripted_0"));
    assert_eq!(rank.field("gen_ai.tool.type"), Some("function"));
    assert_eq!(rank.field("itops.tool.disposition"), Some("executed"));
    assert_eq!(rank.field("error.type"), None);
    assert_eq!(rank.field("otel.status_code"), None);

    assert_eq!(broken.field("otel.name"), Some("execute_tool query_logs"));
    assert_eq!(broken.field("gen_ai.tool.name"), Some("query_logs"));
    assert_eq!(broken.field("gen_ai.tool.call.id"), Some("scripted_1"));
    assert_eq!(broken.field("itops.tool.disposition"), Some("failed"));
    assert_eq!(broken.field("error.type"), Some("tool_error"));
    assert_eq!(broken.field("otel.status_code"), Some("error"));

    // The tool's own work nests under its call's span.
    let ranking = spans.iter().find(|s| s.name == "ranking").unwrap();
    assert_eq!(ranking.parent.as_deref(), Some("execute_tool"));
}

#[tokio::test]
async fn a_failed_model_call_has_an_error_type() {
    let (recorder, _one_at_a_time) = record_spans().await;

    let model = Arc::new(ScriptedModel::new([ScriptedTurn::fail("throttled", true)]));
    let engine = ReactEngine::builder(model).build().unwrap();
    let transcript = engine.run(vec![Message::user("go")]).await;
    assert!(!transcript.stop_reason.is_completed());

    let spans = recorder.spans();
    let chat = spans.iter().find(|s| s.name == "chat").unwrap();
    assert_eq!(chat.field("gen_ai.request.model"), Some("scripted"));
    assert_eq!(chat.field("error.type"), Some("model_error"));
    assert_eq!(chat.field("otel.status_code"), Some("error"));
    assert_eq!(chat.field("gen_ai.usage.input_tokens"), None);
}
