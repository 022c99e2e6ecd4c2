#![doc = include_str!("../README.md")]

mod http;
pub mod loki;
pub mod prometheus;
#[cfg(feature = "test-utils")]
pub mod testing;

pub use loki::{LokiConfig, LokiSource};
pub use prometheus::{service_of_workload, PrometheusConfig, PrometheusSource};
