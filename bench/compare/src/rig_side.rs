//! The task on rig: `rig_agent::Agent` (the classic agent loop) over rig-core's scripted
//! wire (`MockScript`, from its `test-utils` feature) with a stateless transport that
//! answers from the conversation it is sent, as the itops model does.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rig_agent::{Agent as RigAgent, AgentBuilder};
use rig_core::completion::{AssistantContent, CompletionRequest, CompletionResponse, Usage};
use rig_core::driver::{Exchange, Model, Opened, Opening, Transport};
use rig_core::error::ProviderError;
use rig_core::message::{
    Message, Origin, ToolCall, ToolFunction, ToolName, ToolResultContent, UserContent,
};
use rig_core::test_utils::{MockFrame, MockScript, MOCK_API, MOCK_PROVIDER};
use rig_core::tool::{args_schema, Tool, ToolContext};
use rig_core::wire::Mode;
use serde_json::Value;

use crate::script::{self, Counter, Gate, LookupArgs, LookupOutput, NoopArgs};

#[derive(Clone)]
struct ScriptTransport {
    n: usize,
    gate: Option<Arc<Gate>>,
}

fn result_text(content: &[ToolResultContent]) -> String {
    let mut out = String::new();
    for part in content {
        match part {
            ToolResultContent::Text(t) => out.push_str(t.text()),
            ToolResultContent::Json { value } => out.push_str(&value.to_string()),
            _ => {}
        }
    }
    out
}

impl ScriptTransport {
    fn respond(&self, request: &CompletionRequest) -> Result<CompletionResponse, ProviderError> {
        let mut k = 0;
        let mut last = None;
        for message in &request.chat_history {
            if let Message::User { content } = message.as_ref() {
                for part in content {
                    if let UserContent::ToolResult(result) = part {
                        if result.is_error {
                            return Err(ProviderError::Provider(format!(
                                "tool result {k} is an error: {:?}",
                                result.content
                            )));
                        }
                        k += 1;
                        last = Some(&result.content);
                    }
                }
            }
        }
        if let Some(content) = last {
            let text = result_text(content);
            if !text.contains(script::expected_in_result(k - 1)) {
                return Err(ProviderError::Provider(format!(
                    "tool result {} unexpected: {text}",
                    k - 1
                )));
            }
        }
        let choice = if k < self.n {
            let (name, input) = script::call_for(k);
            let name = ToolName::new(name).map_err(|e| ProviderError::Provider(e.to_string()))?;
            vec![AssistantContent::ToolCall(ToolCall::from_wire(
                format!("call_{k}"),
                ToolFunction::new(name, input),
            ))]
        } else {
            vec![AssistantContent::text(script::answer(self.n))]
        };
        Ok(CompletionResponse::new(
            choice,
            Usage::default(),
            Origin::new(MOCK_API, MOCK_PROVIDER, ""),
            Value::Null,
        ))
    }

    fn tool_results(request: &CompletionRequest) -> usize {
        request
            .chat_history
            .iter()
            .map(|m| match m.as_ref() {
                Message::User { content } => content
                    .iter()
                    .filter(|p| matches!(p, UserContent::ToolResult(_)))
                    .count(),
                _ => 0,
            })
            .sum()
    }
}

impl Transport<MockScript> for ScriptTransport {
    fn send(&self, request: CompletionRequest, exchange: Exchange) -> Opening<MockFrame> {
        if !matches!(exchange.mode, Mode::Unary) {
            return Opening::failed(ProviderError::Provider("only unary turns".into()));
        }
        let k = Self::tool_results(&request);
        let response = self.respond(&request);
        let gate = self.gate.clone();
        Opening::new(async move {
            if let Some(gate) = gate {
                gate.pass(k).await;
            }
            let response = response?;
            Ok(
                Opened::new(futures::stream::iter([Ok(MockFrame::Response(Box::new(
                    response,
                )))]))
                .with_document(Value::Null),
            )
        })
    }
}

struct Noop(Counter);

impl Tool for Noop {
    const NAME: &'static str = script::NOOP;
    type Args = NoopArgs;
    type Output = String;
    type Error = Infallible;
    fn description(&self) -> String {
        "Does nothing.".to_string()
    }
    fn parameters(&self) -> Value {
        args_schema::<NoopArgs>()
    }
    async fn call(&self, _: &mut ToolContext, _: NoopArgs) -> Result<String, Infallible> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok("ok".to_string())
    }
}

struct Lookup(Counter);

impl Tool for Lookup {
    const NAME: &'static str = script::LOOKUP;
    type Args = LookupArgs;
    type Output = LookupOutput;
    type Error = Infallible;
    fn description(&self) -> String {
        "Health of a service: status, p99 latency and error rate.".to_string()
    }
    fn parameters(&self) -> Value {
        args_schema::<LookupArgs>()
    }
    async fn call(
        &self,
        _: &mut ToolContext,
        args: LookupArgs,
    ) -> Result<LookupOutput, Infallible> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(script::lookup(args))
    }
}

/// A rig agent for the task with `n` tool calls.
pub struct Agent {
    agent: RigAgent,
    n: usize,
    executed: Counter,
}

impl Agent {
    pub fn new(n: usize, gate: Option<Arc<Gate>>) -> Agent {
        let executed = Counter::default();
        let model = Model::new(MockScript::default(), ScriptTransport { n, gate });
        let agent = AgentBuilder::new(model)
            .tool(Noop(executed.clone()))
            .tool(Lookup(executed.clone()))
            .build();
        Agent { agent, n, executed }
    }

    /// Tool calls executed by this agent's tools so far.
    pub fn executed(&self) -> usize {
        self.executed.load(Ordering::Relaxed)
    }

    /// Runs the task once and checks that it really ran: the answer, N executed calls
    /// (checked per run unless other runs share this agent at the same time: `shared`).
    pub async fn run(&self, shared: bool) {
        let before = self.executed.load(Ordering::Relaxed);
        let response = self
            .agent
            .prompt(script::TASK)
            // rig's budget counts model calls (default 1): N tool-call turns + the answer.
            .max_turns(self.n + 1)
            .await
            .unwrap_or_else(|e| panic!("rig run failed: {e}"));
        let executed = self.executed.load(Ordering::Relaxed) - before;
        assert_eq!(
            response.output(),
            script::answer(self.n),
            "rig: final answer"
        );
        if !shared {
            assert_eq!(executed, self.n, "rig: tools executed");
        }
        assert_eq!(response.requests(), self.n + 1, "rig: model turns");
    }
}
