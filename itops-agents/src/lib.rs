#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod agents;
pub mod analysis;
pub mod knowledge;
pub mod openai;
pub mod planner;
pub mod policy;
pub mod responders;
pub mod tools;
pub mod verify;
