//! The task on the itops engine: `ReactEngine` with a stateless scripted `LanguageModel`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use itops_core::engine::{ReactEngine, ToolDisposition};
use itops_core::{
    ContentBlock, Error, LanguageModel, Message, ModelRequest, ModelResponse, ModelStopReason,
    Result, Role, TokenUsage, Tool,
};

use crate::script::{self, Counter, Gate, LookupArgs, LookupOutput, NoopArgs};

struct Model {
    n: usize,
    gate: Option<Arc<Gate>>,
}

#[async_trait]
impl LanguageModel for Model {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse> {
        let mut k = 0;
        let mut last: Option<&str> = None;
        for message in &request.messages {
            for block in &message.content {
                if let ContentBlock::ToolResult {
                    content, is_error, ..
                } = block
                {
                    if *is_error {
                        return Err(fail(format!("tool result {k} is an error: {content}")));
                    }
                    k += 1;
                    last = Some(content);
                }
            }
        }
        if let Some(content) = last {
            if !content.contains(script::expected_in_result(k - 1)) {
                return Err(fail(format!("tool result {} unexpected: {content}", k - 1)));
            }
        }
        if let Some(gate) = &self.gate {
            gate.pass(k).await;
        }
        let (content, stop_reason) = if k < self.n {
            let (name, input) = script::call_for(k);
            (
                vec![ContentBlock::ToolUse {
                    id: format!("call_{k}"),
                    name: name.to_string(),
                    input,
                }],
                ModelStopReason::ToolUse,
            )
        } else {
            (
                vec![ContentBlock::text(script::answer(self.n))],
                ModelStopReason::EndTurn,
            )
        };
        Ok(ModelResponse {
            message: Message {
                role: Role::Assistant,
                content,
            },
            stop_reason,
            usage: TokenUsage {
                input_tokens: 10,
                output_tokens: 10,
            },
        })
    }
}

fn fail(message: String) -> Error {
    Error::Model {
        model: "scripted".into(),
        message,
        retryable: false,
    }
}

struct Noop(Counter);

#[async_trait]
impl Tool for Noop {
    type Args = NoopArgs;
    type Output = &'static str;
    fn name(&self) -> &str {
        script::NOOP
    }
    fn description(&self) -> &str {
        "Does nothing."
    }
    async fn call(&self, _: NoopArgs) -> Result<&'static str> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok("ok")
    }
}

struct Lookup(Counter);

#[async_trait]
impl Tool for Lookup {
    type Args = LookupArgs;
    type Output = LookupOutput;
    fn name(&self) -> &str {
        script::LOOKUP
    }
    fn description(&self) -> &str {
        "Health of a service: status, p99 latency and error rate."
    }
    async fn call(&self, args: LookupArgs) -> Result<LookupOutput> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(script::lookup(args))
    }
}

/// An itops agent for the task with `n` tool calls.
pub struct Agent {
    engine: ReactEngine,
    n: usize,
    executed: Counter,
}

impl Agent {
    pub fn new(n: usize, gate: Option<Arc<Gate>>) -> Agent {
        let executed = Counter::default();
        let engine = ReactEngine::builder(Arc::new(Model { n, gate }))
            .tool(Noop(executed.clone()))
            .tool(Lookup(executed.clone()))
            .max_steps(n as u32 + 1)
            .build()
            .unwrap_or_else(|e| panic!("itops engine: {e}"));
        Agent {
            engine,
            n,
            executed,
        }
    }

    /// Tool calls executed by this agent's tools so far.
    pub fn executed(&self) -> usize {
        self.executed.load(Ordering::Relaxed)
    }

    /// Runs the task once and checks that it really ran: the answer, N executed calls
    /// (checked per run unless other runs share this agent at the same time: `shared`).
    pub async fn run(&self, shared: bool) {
        let before = self.executed.load(Ordering::Relaxed);
        let transcript = self.engine.run(vec![Message::user(script::TASK)]).await;
        let executed = self.executed.load(Ordering::Relaxed) - before;
        let recorded = transcript
            .tool_calls()
            .filter(|c| c.observation.disposition == ToolDisposition::Executed)
            .count();
        assert!(
            transcript.stop_reason.is_completed(),
            "itops run did not complete: {:?}",
            transcript.stop_reason
        );
        assert_eq!(
            transcript.final_answer.as_deref(),
            Some(script::answer(self.n).as_str())
        );
        if !shared {
            assert_eq!(executed, self.n, "itops: tools executed");
        }
        assert_eq!(recorded, self.n, "itops: tool calls in the transcript");
        assert_eq!(transcript.steps.len(), self.n + 1, "itops: model turns");
    }
}
