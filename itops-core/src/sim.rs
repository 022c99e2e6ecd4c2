//! The simulated microservice environment: faults, propagation, actions, scenarios.
//!
//! A web shop of 14 services ([`Topology::web_shop`]) runs on a simulated clock far faster
//! than real time. [`SimEnvironment`] is both a [`TelemetrySource`](crate::TelemetrySource)
//! (metrics, logs, traces and change events written into a
//! [`TelemetryIndex`](crate::telemetry::TelemetryIndex) as the clock advances) and an
//! [`ActionExecutor`](crate::environment::ActionExecutor) (catalogue actions change the
//! system). Faults ([`FaultSpec`]) are injected at a time, on a service, with a severity;
//! what callers see follows from the model, not from the fault. The ground truth is
//! available from [`SimEnvironment::ground_truth`] and from generated cases, never
//! through the telemetry.
//!
//! For data sets, the [scenario catalogue](scenarios) builds whole cases:
//!
//! ```no_run
//! # fn main() -> itops_core::Result<()> {
//! use itops_core::sim;
//! for s in sim::scenarios() {
//!     println!("{:24} {}", s.name, s.description);
//! }
//! let case = sim::generate("memory_leak", 7)?;
//! case.write(std::path::Path::new("out/memory_leak-7"))?; // bundle + ground_truth.json
//! let suite = sim::suite(1); // the RCA test set: 60 case specs
//! # Ok(()) }
//! ```

mod actions;
mod faults;
mod live;
mod load;
mod logs;
mod model;
mod noise;
mod reports;
mod rng;
mod scenarios;
mod signals;
mod simulator;
mod topology;
mod traces;

pub use faults::{curing_actions, eligible_services, injectable_kinds, FaultSpec, FaultVariant};
pub use live::{LiveSim, DEFAULT_RETENTION};
pub use noise::{Distraction, DistractionKind};
pub use reports::IncidentReport;
pub use scenarios::{
    generate, generate_case, scenario, scenarios, suite, CaseSpec, GeneratedCase, GroundTruth,
    ScenarioInfo, GROUND_TRUTH_FILE, INCIDENT_FILE, SUITE_SIZE,
};
pub use signals::MetricNaming;
pub use simulator::{
    InjectedFault, ServiceHealth, SignalSet, SimConfig, SimEnvironment, TelemetryProfile,
};
pub use topology::{
    Dependency, DiskSpec, OnError, Operation, PoolSpec, Runtime, ServiceKind, ServiceNaming,
    ServiceSpec, Topology,
};
