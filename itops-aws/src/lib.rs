#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod bedrock;
mod config;
mod dynamodb;
mod error;
mod sdk;

pub use bedrock::{BedrockModel, BedrockSettings};
pub use config::AwsSettings;
pub use dynamodb::{
    DynamoDbApprovalGate, DynamoDbStateStore, DynamoDbTable, DEFAULT_APPROVAL_RETENTION,
};
pub use error::{Error, Result};
