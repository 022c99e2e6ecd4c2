//! Store backends against the shared conformance suites, plus backend-specific tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod counts;
mod durability;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;
mod suite;
