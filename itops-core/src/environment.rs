//! Environments: telemetry to read plus an executor for remediation actions.
