//! The ReAct engine's bounds, refusals, truncation and hooks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use itops_core::engine::{
    ModelAction, Observation, ReactEngine, StepHook, StepInfo, StopReason, ToolAction,
    ToolDisposition,
};
use itops_core::testing::{ScriptedModel, ScriptedTurn};
use itops_core::{Error, Message, ModelRequest, ModelResponse, Result, Tool, ToolCall};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// Text to echo.
    text: String,
}

#[derive(Serialize)]
struct EchoOut {
    echoed: String,
}

/// Echoes its input and counts calls.
#[derive(Default, Clone)]
struct Echo {
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl Tool for Echo {
    type Args = EchoArgs;
    type Output = EchoOut;
    fn name(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Echo the text back."
    }
    async fn call(&self, args: EchoArgs) -> Result<EchoOut> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(EchoOut { echoed: args.text })
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Empty {}

/// Sleeps for a configured time.
struct Slow(Duration);

#[async_trait]
impl Tool for Slow {
    type Args = Empty;
    type Output = String;
    fn name(&self) -> &str {
        "slow"
    }
    fn description(&self) -> &str {
        "Takes a while."
    }
    async fn call(&self, _: Empty) -> Result<String> {
        tokio::time::sleep(self.0).await;
        Ok("done".into())
    }
}

/// Always fails.
struct Broken;

#[async_trait]
impl Tool for Broken {
    type Args = Empty;
    type Output = String;
    fn name(&self) -> &str {
        "broken"
    }
    fn description(&self) -> &str {
        "Always fails."
    }
    async fn call(&self, _: Empty) -> Result<String> {
        Err(Error::Tool {
            tool: "broken".into(),
            message: "backend unreachable".into(),
            retryable: true,
        })
    }
}

/// Returns a large output.
struct Big(usize);

#[async_trait]
impl Tool for Big {
    type Args = Empty;
    type Output = String;
    fn name(&self) -> &str {
        "big"
    }
    fn description(&self) -> &str {
        "Returns a lot."
    }
    async fn call(&self, _: Empty) -> Result<String> {
        Ok("x".repeat(self.0))
    }
}

fn model(turns: Vec<ScriptedTurn>) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::new(turns))
}

fn task() -> Vec<Message> {
    vec![Message::user("find the root cause")]
}

#[tokio::test]
async fn completes_when_the_model_answers_and_feeds_observations_back() {
    let echo = Echo::default();
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "hello"})).with_thought("I will echo."),
        ScriptedTurn::text("The answer is hello."),
    ]);
    let engine = ReactEngine::builder(m.clone())
        .system("sys")
        .tool(echo.clone())
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::Completed);
    assert_eq!(t.final_answer.as_deref(), Some("The answer is hello."));
    assert_eq!(t.steps.len(), 2);
    assert_eq!(t.steps[0].thought, "I will echo.");
    let obs = &t.steps[0].tool_calls[0].observation;
    assert_eq!(obs.disposition, ToolDisposition::Executed);
    assert_eq!(obs.content, r#"{"echoed":"hello"}"#);
    assert_eq!(echo.calls.load(Ordering::SeqCst), 1);
    assert_eq!(t.usage.total(), 40);
    // The second request carried the tool result back to the model, plus system and tools.
    let reqs = m.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].system.as_deref(), Some("sys"));
    assert_eq!(reqs[1].tools.len(), 1);
    assert!(reqs[1].tools[0].input_schema["properties"]["text"].is_object());
    let last = reqs[1].messages.last().unwrap();
    assert!(
        matches!(&last.content[0], itops_core::ContentBlock::ToolResult { content, is_error: false, .. } if content.contains("hello"))
    );
}

#[tokio::test]
async fn stops_at_max_steps() {
    let turns = (0..10)
        .map(|i| ScriptedTurn::tool_call("echo", json!({"text": i.to_string()})))
        .collect();
    let engine = ReactEngine::builder(model(turns))
        .tool(Echo::default())
        .max_steps(3)
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::MaxSteps);
    assert_eq!(t.steps.len(), 3);
    assert_eq!(t.final_answer, None);
}

#[tokio::test]
async fn stops_when_the_token_budget_is_spent_without_running_the_calls() {
    let echo = Echo::default();
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})).with_usage(400, 100),
        ScriptedTurn::tool_call("echo", json!({"text": "b"})).with_usage(600, 100),
        ScriptedTurn::text("never reached"),
    ]);
    let engine = ReactEngine::builder(m.clone())
        .tool(echo.clone())
        .max_total_tokens(1_000)
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::TokenBudget);
    assert_eq!(t.usage.total(), 1_200);
    assert_eq!(
        echo.calls.load(Ordering::SeqCst),
        1,
        "the over-budget turn's call must not run"
    );
    // Each request asks for no more output tokens than the budget has left.
    let reqs = m.requests();
    assert_eq!(reqs[1].max_tokens, Some(500));
}

#[tokio::test(start_paused = true)]
async fn a_slow_tool_times_out_and_the_model_is_told() {
    let m = model(vec![
        ScriptedTurn::tool_call("slow", json!({})),
        ScriptedTurn::text("gave up on slow"),
    ]);
    let engine = ReactEngine::builder(m.clone())
        .tool(Slow(Duration::from_secs(60)))
        .tool_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::Completed);
    let obs = &t.steps[0].tool_calls[0].observation;
    assert_eq!(obs.disposition, ToolDisposition::TimedOut);
    assert!(obs.is_error);
    assert!(
        obs.content.contains("timed out after 2000 ms"),
        "{}",
        obs.content
    );
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_ends_the_run() {
    // Each model turn takes 40 s; the deadline is 100 s: the third turn cannot finish.
    let turns = (0..5)
        .map(|i| {
            ScriptedTurn::tool_call("echo", json!({"text": i.to_string()}))
                .with_delay(Duration::from_secs(40))
        })
        .collect();
    let engine = ReactEngine::builder(model(turns))
        .tool(Echo::default())
        .deadline(Duration::from_secs(100))
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::Deadline);
    assert_eq!(t.steps.len(), 2);
    assert!(t.elapsed <= Duration::from_secs(101), "{:?}", t.elapsed);
}

#[tokio::test(start_paused = true)]
async fn a_tool_call_is_bounded_by_the_remaining_deadline() {
    let m = model(vec![
        ScriptedTurn::tool_call("slow", json!({})),
        ScriptedTurn::text("unreachable"),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(Slow(Duration::from_secs(600)))
        .tool_timeout(Duration::from_secs(300))
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::Deadline);
    assert_eq!(
        t.steps[0].tool_calls[0].observation.disposition,
        ToolDisposition::TimedOut
    );
    assert!(t.elapsed <= Duration::from_secs(11));
}

#[tokio::test]
async fn an_identical_repeated_call_is_refused_but_a_different_one_runs() {
    let echo = Echo::default();
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::tool_call("echo", json!({"text": "b"})),
        ScriptedTurn::text("done"),
    ]);
    let engine = ReactEngine::builder(m).tool(echo.clone()).build().unwrap();
    let t = engine.run(task()).await;
    let dispositions: Vec<_> = t.tool_calls().map(|c| c.observation.disposition).collect();
    assert_eq!(
        dispositions,
        vec![
            ToolDisposition::Executed,
            ToolDisposition::Refused,
            ToolDisposition::Executed
        ]
    );
    let refused = &t.steps[1].tool_calls[0].observation;
    assert!(
        refused.content.contains("already made at step 1"),
        "{}",
        refused.content
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn oversized_output_is_truncated_with_a_note() {
    let m = model(vec![
        ScriptedTurn::tool_call("big", json!({})),
        ScriptedTurn::text("ok"),
    ]);
    let engine = ReactEngine::builder(m.clone())
        .tool(Big(100_000))
        .max_observation_bytes(1_000)
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    let obs = &t.steps[0].tool_calls[0].observation;
    assert!(obs.truncated);
    assert!(obs.content.len() <= 1_000);
    assert!(obs.content.contains("of 100000 bytes"), "{}", obs.content);
    // The model saw the truncated text, not the original.
    let sent = serde_json::to_string(&m.requests()[1].messages).unwrap();
    assert!(sent.len() < 5_000);
}

#[tokio::test]
async fn tool_errors_unknown_tools_and_bad_arguments_become_observations() {
    let m = model(vec![
        ScriptedTurn::tool_calls(vec![
            ("broken".into(), json!({})),
            ("nope".into(), json!({})),
            ("echo".into(), json!({"wrong": 1})),
        ]),
        ScriptedTurn::text("I could not check."),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(Broken)
        .tool(Echo::default())
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::Completed);
    let calls: Vec<_> = t.steps[0]
        .tool_calls
        .iter()
        .map(|c| &c.observation)
        .collect();
    assert_eq!(calls[0].disposition, ToolDisposition::Failed);
    assert!(calls[0].content.contains("backend unreachable"));
    assert_eq!(calls[1].disposition, ToolDisposition::UnknownTool);
    assert!(
        calls[1].content.contains("available tools: broken, echo"),
        "{}",
        calls[1].content
    );
    assert_eq!(calls[2].disposition, ToolDisposition::Failed);
    assert!(
        calls[2].content.contains("invalid arguments"),
        "{}",
        calls[2].content
    );
    assert!(calls.iter().all(|o| o.is_error));
}

#[tokio::test]
async fn a_model_failure_ends_the_run_and_keeps_the_transcript() {
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::fail("throttled", true),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(Echo::default())
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert!(
        matches!(&t.stop_reason, StopReason::ModelFailed { message } if message.contains("throttled"))
    );
    assert_eq!(t.steps.len(), 1);
}

/// A hook that applies one action to calls of one tool and records what it saw.
struct Policy {
    tool: &'static str,
    action: ToolAction,
    seen: Mutex<Vec<String>>,
}

#[async_trait]
impl StepHook for Policy {
    async fn before_tool(&self, _: &StepInfo, call: &ToolCall) -> Result<ToolAction> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("before:{}:{}", call.name, call.input));
        Ok(if call.name == self.tool {
            self.action.clone()
        } else {
            ToolAction::Run
        })
    }
    async fn after_tool(&self, _: &StepInfo, call: &ToolCall, obs: &Observation) -> Result<()> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("after:{}:{:?}", call.name, obs.disposition));
        Ok(())
    }
}

fn policy(tool: &'static str, action: ToolAction) -> Arc<Policy> {
    Arc::new(Policy {
        tool,
        action,
        seen: Mutex::new(Vec::new()),
    })
}

#[tokio::test]
async fn hook_run_lets_the_call_through_and_sees_the_result() {
    let hook = policy("echo", ToolAction::Run);
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::text("ok"),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(Echo::default())
        .hook(hook.clone())
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(t.stop_reason, StopReason::Completed);
    assert_eq!(
        *hook.seen.lock().unwrap(),
        vec![r#"before:echo:{"text":"a"}"#, "after:echo:Executed"]
    );
}

#[tokio::test]
async fn hook_rewrite_changes_the_input_and_keeps_the_original() {
    let hook = policy(
        "echo",
        ToolAction::Rewrite {
            input: json!({"text": "safe"}),
        },
    );
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "rm -rf"})),
        ScriptedTurn::text("ok"),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(Echo::default())
        .hook(hook)
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    let rec = &t.steps[0].tool_calls[0];
    assert_eq!(rec.call.input, json!({"text": "safe"}));
    assert_eq!(rec.rewritten_from, Some(json!({"text": "rm -rf"})));
    assert!(rec.observation.content.contains("safe"));
}

#[tokio::test]
async fn hook_skip_does_not_run_the_tool_and_supplies_the_observation() {
    let echo = Echo::default();
    let hook = policy(
        "echo",
        ToolAction::Skip {
            observation: "refused by policy".into(),
        },
    );
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::text("ok"),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(echo.clone())
        .hook(hook)
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    let obs = &t.steps[0].tool_calls[0].observation;
    assert_eq!(obs.disposition, ToolDisposition::Skipped);
    assert_eq!(obs.content, "refused by policy");
    assert_eq!(echo.calls.load(Ordering::SeqCst), 0);
    assert_eq!(t.stop_reason, StopReason::Completed);
}

#[tokio::test]
async fn hook_stop_ends_the_run_without_running_the_tool() {
    let echo = Echo::default();
    let hook = policy(
        "echo",
        ToolAction::Stop {
            reason: "needs approval".into(),
        },
    );
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::text("never"),
    ]);
    let engine = ReactEngine::builder(m.clone())
        .tool(echo.clone())
        .hook(hook)
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(
        t.stop_reason,
        StopReason::StoppedByHook {
            message: "needs approval".into()
        }
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 0);
    assert_eq!(m.requests().len(), 1);
}

struct StopBeforeModel {
    at_step: u32,
}

#[async_trait]
impl StepHook for StopBeforeModel {
    async fn before_model(&self, info: &StepInfo, _: &ModelRequest) -> Result<ModelAction> {
        Ok(if info.step >= self.at_step {
            ModelAction::Stop {
                reason: "operator cancelled".into(),
            }
        } else {
            ModelAction::Continue
        })
    }
}

#[tokio::test]
async fn hook_before_model_can_stop_the_run() {
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::text("never"),
    ]);
    let engine = ReactEngine::builder(m.clone())
        .tool(Echo::default())
        .hook(Arc::new(StopBeforeModel { at_step: 2 }))
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    assert_eq!(
        t.stop_reason,
        StopReason::StoppedByHook {
            message: "operator cancelled".into()
        }
    );
    assert_eq!(m.requests().len(), 1);
}

struct FailingTimeline;

#[async_trait]
impl StepHook for FailingTimeline {
    async fn after_model(&self, _: &StepInfo, _: &ModelResponse) -> Result<()> {
        Err(Error::Storage {
            message: "disk full".into(),
            source: None,
        })
    }
}

#[tokio::test]
async fn a_failing_hook_ends_the_run_rather_than_losing_the_audit_trail() {
    let echo = Echo::default();
    let m = model(vec![ScriptedTurn::tool_call("echo", json!({"text": "a"}))]);
    let engine = ReactEngine::builder(m).tool(echo.clone()).build().unwrap();
    let t = engine
        .run_with_hooks(task(), &[Arc::new(FailingTimeline)])
        .await;
    assert!(
        matches!(&t.stop_reason, StopReason::HookFailed { message } if message.contains("disk full"))
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_builder_refuses_bad_bounds_and_duplicate_tools() {
    let m = model(vec![]);
    assert!(matches!(
        ReactEngine::builder(m.clone()).max_steps(0).build(),
        Err(Error::Invalid { field, .. }) if field == "max_steps"
    ));
    assert!(matches!(
        ReactEngine::builder(m.clone()).deadline(Duration::ZERO).build(),
        Err(Error::Invalid { field, .. }) if field == "deadline"
    ));
    let err = ReactEngine::builder(m)
        .tool(Echo::default())
        .tool(Echo::default())
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("'echo' is registered twice"),
        "{err}"
    );
}

#[tokio::test]
async fn the_transcript_serialises_with_millisecond_durations() {
    let m = model(vec![
        ScriptedTurn::tool_call("echo", json!({"text": "a"})),
        ScriptedTurn::text("ok"),
    ]);
    let engine = ReactEngine::builder(m)
        .tool(Echo::default())
        .build()
        .unwrap();
    let t = engine.run(task()).await;
    let v = serde_json::to_value(&t).unwrap();
    assert_eq!(v["stop_reason"]["reason"], "completed");
    assert!(v["steps"][0]["model_latency_ms"].is_u64());
    assert!(v["steps"][0]["tool_calls"][0]["observation"]["duration_ms"].is_u64());
}
