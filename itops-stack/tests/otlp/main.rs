//! OTLP/HTTP ingest: decoding protobuf and JSON requests (plain and gzip) into itops's
//! telemetry, refusing bad input, and the retention-bounded store the ranking reads.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

mod bad_input;
mod logs;
mod metrics;
mod ranking;
mod store;
mod support;
mod traces;
