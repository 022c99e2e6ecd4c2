//! Telemetry index queries and the bundle reader, writer and summary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod fuzz;
mod index;
mod malformed;
mod reader;
mod round_trip;
mod summary;
mod support;
mod writer;
