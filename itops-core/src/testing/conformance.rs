//! Conformance suites for store backends.
//!
//! Every [`StateStore`](crate::store::StateStore) and
//! [`ApprovalGate`](crate::approval::ApprovalGate) must behave the same way: same errors, same
//! ordering, same optimistic-concurrency rules. Run these suites against a backend to check
//! it. Each case gets a fresh store from the `make` function, so cases are independent.
//!
//! ```no_run
//! use std::sync::Arc;
//! use itops_core::store::MemoryStore;
//! use itops_core::testing::{approval_gate_conformance, state_store_conformance};
//!
//! // In a test of your backend, inside a Tokio runtime:
//! async fn memory_store_conforms() -> Result<(), String> {
//!     state_store_conformance(|| async { MemoryStore::default() })
//!         .await
//!         .ensure_passed()?;
//!     approval_gate_conformance(|clock| async move { MemoryStore::new(Arc::new(clock)) })
//!         .await
//!         .ensure_passed()
//! }
//! ```
//!
//! Concurrency cases spawn tasks with `tokio::spawn`, so the suites must run inside a Tokio
//! runtime.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Utc};
use futures::FutureExt;

use crate::error::Error;

/// How many tasks race in the concurrency cases.
const RACERS: usize = 8;

/// The outcome of one conformance case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseOutcome {
    /// What the case checks.
    pub name: &'static str,
    /// `None` when the case passed, else what went wrong.
    pub failure: Option<String>,
}

impl CaseOutcome {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// What a conformance suite found: one outcome per named case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformanceReport {
    /// The suite's name.
    pub suite: &'static str,
    /// Every case, in the order run.
    pub cases: Vec<CaseOutcome>,
}

impl ConformanceReport {
    fn new(suite: &'static str) -> Self {
        Self {
            suite,
            cases: Vec::new(),
        }
    }

    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(CaseOutcome::passed)
    }

    /// The failed cases.
    pub fn failures(&self) -> impl Iterator<Item = &CaseOutcome> {
        self.cases.iter().filter(|c| !c.passed())
    }

    /// `Ok` when every case passed, else the whole report as the error, for
    /// `report.ensure_passed().unwrap()` in a test.
    pub fn ensure_passed(&self) -> Result<(), String> {
        if self.passed() {
            Ok(())
        } else {
            Err(self.to_string())
        }
    }

    async fn run<Fut>(&mut self, name: &'static str, case: Fut)
    where
        Fut: Future<Output = CaseResult>,
    {
        // A panicking backend fails its case instead of hiding the rest of the report.
        let failure = match AssertUnwindSafe(case).catch_unwind().await {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(payload) => Some(format!("panicked: {}", panic_message(payload.as_ref()))),
        };
        self.cases.push(CaseOutcome { name, failure });
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let passed = self.cases.iter().filter(|c| c.passed()).count();
        writeln!(
            f,
            "{} conformance: {passed} of {} cases passed",
            self.suite,
            self.cases.len()
        )?;
        for case in &self.cases {
            match &case.failure {
                None => writeln!(f, "  ok    {}", case.name)?,
                Some(message) => writeln!(f, "  FAIL  {}: {message}", case.name)?,
            }
        }
        Ok(())
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_string()
    }
}

type CaseResult = Result<(), String>;

/// Fails the case with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Fails the case unless both sides are equal, showing both.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!("{}: expected {:?}, got {:?}", $what, right, left));
        }
    }};
}

/// Fails the case unless the result is an error matching the pattern.
macro_rules! ensure_err {
    ($result:expr, $pattern:pat, $what:expr) => {
        match $result {
            Err($pattern) => {}
            Err(other) => {
                return Err(format!(
                    "{}: expected {}, got error: {other:?}",
                    $what,
                    stringify!($pattern)
                ))
            }
            Ok(value) => {
                return Err(format!(
                    "{}: expected {}, got Ok({value:?})",
                    $what,
                    stringify!($pattern)
                ))
            }
        }
    };
}

// The suites; declared after the macros above so that they can use them.
mod approval_gate;
mod approval_paging;
mod state_store;

pub use approval_gate::approval_gate_conformance;
pub use state_store::state_store_conformance;

/// Turns a store error into a case failure that says what was being done.
trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T> Context<T> for crate::Result<T> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error: {e} ({e:?})"))
    }
}

impl<T> Context<T> for std::result::Result<T, tokio::task::JoinError> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: task failed: {e}"))
    }
}

fn expect_conflict<T: fmt::Debug>(
    result: crate::Result<T>,
    expected: u64,
    actual: u64,
    what: &str,
) -> CaseResult {
    match result {
        Err(Error::Conflict {
            expected: e,
            actual: a,
            ..
        }) if e == expected && a == actual => Ok(()),
        Err(Error::Conflict {
            expected: e,
            actual: a,
            ..
        }) => Err(format!(
            "{what}: expected Conflict {{ expected: {expected}, actual: {actual} }}, got Conflict {{ expected: {e}, actual: {a} }}"
        )),
        Err(other) => Err(format!("{what}: expected Conflict, got error: {other:?}")),
        Ok(value) => Err(format!("{what}: expected Conflict, got Ok({value:?})")),
    }
}

/// 2024-05-01T12:00:00Z: a fixed, readable start time.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_564_800, 0).unwrap_or(DateTime::UNIX_EPOCH)
}
