//! Not public API: what the crate's own integration tests (`itops-lambda/tests/`) reach
//! that no user should rely on. It may change in any release.

pub use crate::cli::sweep::{run_case, Outcome, SweepCase, SweepOptions};
