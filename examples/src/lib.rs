//! Runnable itops examples (in `examples/`, each listed in the workspace README), and the
//! user's guide, whose code blocks compile and run as this crate's doc tests.

#[doc = include_str!("../../docs/guide.md")]
pub mod guide {}
