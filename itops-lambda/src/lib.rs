#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod cli;
pub mod deploy;
pub mod error;
pub mod lambda;
pub mod server;
pub mod stack;

pub use error::{Error, Result};
