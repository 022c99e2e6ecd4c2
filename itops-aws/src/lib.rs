#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod bedrock;
pub mod cloudwatch;
mod config;
mod dynamodb;
mod error;
pub mod metrics;
mod sdk;
#[cfg(feature = "test-utils")]
pub mod testing;

pub use bedrock::{BedrockModel, BedrockSettings};
pub use cloudwatch::{
    CloudWatchSettings, CloudWatchTelemetry, LogSearch, MetricSource, MetricSpec,
};
pub use config::AwsSettings;
pub use dynamodb::{
    approval_of_keys, DedupClaims, DynamoDbApprovalGate, DynamoDbStateStore, DynamoDbTable,
    TaskTokens, DEFAULT_APPROVAL_RETENTION,
};
pub use error::{Error, Result};
pub use metrics::{EmfSink, MetricsHook, MetricsSink, PutMetricDataSink};
