#![doc = include_str!("../README.md")]

mod http;
pub mod prometheus;
#[cfg(feature = "test-utils")]
pub mod testing;

pub use prometheus::{service_of_workload, PrometheusConfig, PrometheusSource};
