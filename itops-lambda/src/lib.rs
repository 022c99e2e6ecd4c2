#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod app;
pub mod cli;
pub mod error;
pub mod lambda;
pub mod stack;
pub mod state_machine;

pub use error::{Error, Result};
