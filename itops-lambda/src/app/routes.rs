//! The API's handlers, one module per resource.

pub(crate) mod alerts;
pub(crate) mod approvals;
pub(crate) mod charts;
pub(crate) mod exposition;
pub(crate) mod incidents;
pub(crate) mod otlp;
pub(crate) mod simulator;
pub(crate) mod system;
