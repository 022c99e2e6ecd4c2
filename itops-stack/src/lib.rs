#![doc = include_str!("../README.md")]

#[cfg(unix)]
pub mod command;
pub mod prometheus;
#[cfg(feature = "test-utils")]
pub mod testing;

#[cfg(unix)]
pub use command::{CommandConfig, CommandExecutor, CommandSpec};
pub use prometheus::{service_of_workload, PrometheusConfig, PrometheusSource};
