#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

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
