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

pub use bedrock::{BedrockModel, BedrockSettings};
pub use cloudwatch::{
    CloudWatchSettings, CloudWatchTelemetry, LogSearch, MetricSource, MetricSpec,
};
pub use config::AwsSettings;
pub use dynamodb::{
    DynamoDbApprovalGate, DynamoDbStateStore, DynamoDbTable, DEFAULT_APPROVAL_RETENTION,
};
pub use error::{Error, Result};
pub use metrics::{EmfSink, MetricsHook, MetricsSink, PutMetricDataSink};
