//! The API's handlers, one module per resource.

pub mod alerts;
pub mod approvals;
pub mod charts;
pub mod exposition;
pub mod incidents;
pub mod otlp;
pub mod simulator;
pub mod system;
