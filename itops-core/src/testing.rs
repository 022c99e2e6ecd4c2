//! Test utilities (feature `test-utils`): a scripted model, and conformance suites that any
//! `StateStore` or `ApprovalGate` backend can run.

mod conformance;
mod scripted;

pub use conformance::*;
pub use scripted::*;
