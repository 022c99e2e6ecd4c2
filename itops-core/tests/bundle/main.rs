//! Telemetry index queries and the bundle reader and writer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod index;
mod support;
mod writer;
