//! Tests of the DynamoDB, CloudWatch and CloudWatch Logs adapters against a real local AWS
//! emulator (moto), started by the harness in `moto.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cloudwatch;
mod dynamodb;
mod moto;
mod requests;
