#![doc = include_str!("../README.md")]

#[cfg(unix)]
pub mod command;
mod http;
pub mod jaeger;
pub mod loki;
mod merge;
pub mod otlp;
pub mod prometheus;
pub mod tempo;
#[cfg(feature = "test-utils")]
pub mod testing;
mod traces;

#[cfg(unix)]
pub use command::{CommandConfig, CommandExecutor, CommandSpec};
pub use http::Connection;
pub use jaeger::{JaegerConfig, JaegerSource};
pub use loki::{LokiConfig, LokiSource};
pub use otlp::{OtlpStore, OtlpStoreConfig, OtlpStoreStats};
pub use prometheus::{service_of_workload, PrometheusConfig, PrometheusSource};
pub use tempo::{TempoConfig, TempoSearch, TempoSource};
