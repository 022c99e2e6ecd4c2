//! Conformance suites for store backends.
