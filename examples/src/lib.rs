//! Runnable itops examples: see `examples/` and the workspace README.
