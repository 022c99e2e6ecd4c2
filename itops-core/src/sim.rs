//! The simulated microservice environment: faults, propagation, actions, scenarios.
