//! The scripted behaviour both engines are given: N tool calls, then an answer.
//!
//! The model is stateless: it counts the tool results in the conversation it is sent
//! (k), checks that the last one is what the tool returns, and asks for call k while
//! k < N, then answers. An engine that does not run the tool or does not feed its
//! result back never reaches the answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::watch;

/// The user's task.
pub const TASK: &str = "Checkout p99 latency rose to 2.4 s. Investigate.";

/// Names of the two tools.
pub const NOOP: &str = "noop";
pub const LOOKUP: &str = "lookup";

/// The call the model asks for at step `k` (0-based): the tools alternate, and the
/// arguments differ on each step (itops refuses an identical repeated call).
pub fn call_for(k: usize) -> (&'static str, Value) {
    if k % 2 == 0 {
        (NOOP, json!({ "i": k }))
    } else {
        (LOOKUP, json!({ "service": "checkout", "i": k }))
    }
}

/// What the result of call `k` must contain.
pub fn expected_in_result(k: usize) -> &'static str {
    if k % 2 == 0 {
        "ok"
    } else {
        "healthy"
    }
}

/// The final answer after `n` calls.
pub fn answer(n: usize) -> String {
    format!("done after {n} tool calls")
}

/// Arguments of the no-op tool.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct NoopArgs {
    /// Step number.
    #[allow(dead_code)] // parsed, not used: the tool does nothing
    pub i: u64,
}

/// Arguments of the JSON tool.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct LookupArgs {
    /// Service name.
    pub service: String,
    /// Step number.
    pub i: u64,
}

/// What the JSON tool returns.
#[derive(serde::Serialize)]
pub struct LookupOutput {
    pub service: String,
    pub status: &'static str,
    pub p99_ms: u32,
    pub error_rate: f64,
    pub i: u64,
}

/// The JSON tool's work: a small JSON object from its parsed arguments.
pub fn lookup(args: LookupArgs) -> LookupOutput {
    LookupOutput {
        service: args.service,
        status: "healthy",
        p99_ms: 212,
        error_rate: 0.002,
        i: args.i,
    }
}

/// Holds every agent at one model turn until released, so all are alive mid-task at once.
pub struct Gate {
    /// The model turn (number of tool results seen) at which agents wait.
    pub at: usize,
    arrived: AtomicUsize,
    open: watch::Receiver<bool>,
}

impl Gate {
    pub fn new(at: usize) -> (Arc<Gate>, watch::Sender<bool>) {
        let (tx, rx) = watch::channel(false);
        (
            Arc::new(Gate {
                at,
                arrived: AtomicUsize::new(0),
                open: rx,
            }),
            tx,
        )
    }

    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    /// Waits here if `k` is the gate's turn.
    pub async fn pass(&self, k: usize) {
        if k != self.at {
            return;
        }
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let mut rx = self.open.clone();
        // The sender lives until every agent is released.
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// Counts the tool calls a tool actually executed.
pub type Counter = Arc<AtomicUsize>;
