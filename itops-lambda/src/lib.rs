#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod app;
pub mod cli;
mod error;
#[cfg(feature = "aws")]
pub mod lambda;
mod stack;
pub mod state_machine;
#[doc(hidden)]
pub mod testing;

pub use error::{Error, Result};
