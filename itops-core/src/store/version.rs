//! Optimistic concurrency, the same in every backend (memory and SQLite here, DynamoDB in
//! itops-aws, and stores outside the project), so that they cannot drift.
//!
//! A write carries the version its writer read (0 for a new record); the store refuses it
//! with [`Error::Conflict`] when the stored version differs, and otherwise stores it as
//! version + 1.

use super::AgentState;
use crate::domain::Incident;
use crate::error::{Error, Result};
use crate::knowledge::KnowledgeDocument;
use crate::workflow::WorkflowCheckpoint;

/// A record stored under optimistic concurrency.
pub trait Versioned: Clone {
    /// The version its writer read (0: not stored yet).
    fn version(&self) -> u64;

    /// Sets the version.
    fn set_version(&mut self, version: u64);
}

macro_rules! versioned {
    ($($record:ty),* $(,)?) => {$(
        impl Versioned for $record {
            fn version(&self) -> u64 {
                self.version
            }

            fn set_version(&mut self, version: u64) {
                self.version = version;
            }
        }
    )*};
}

versioned!(Incident, AgentState, WorkflowCheckpoint, KnowledgeDocument);

/// The conflict of a write that expected version `expected` of a record stored at `actual`.
pub fn version_conflict(
    entity: &'static str,
    id: impl ToString,
    expected: u64,
    actual: u64,
) -> Error {
    Error::Conflict {
        entity,
        id: id.to_string(),
        expected,
        actual,
    }
}

/// Checks an optimistic-concurrency version: `stored` is `None` when there is no record,
/// which counts as version 0.
pub fn check_version(
    entity: &'static str,
    id: impl ToString,
    expected: u64,
    stored: Option<u64>,
) -> Result<()> {
    let actual = stored.unwrap_or(0);
    if actual == expected {
        Ok(())
    } else {
        Err(version_conflict(entity, id, expected, actual))
    }
}

/// Refuses to create a record whose version is not 0.
pub fn check_new(entity: &'static str, version: u64) -> Result<()> {
    if version == 0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "version",
            format!("a new {entity} must have version 0, not {version}"),
        ))
    }
}

/// The next version after `version`.
pub fn next_version(version: u64) -> u64 {
    version.saturating_add(1)
}

/// `record` as a store keeps it when it is created: refused unless its version is 0, else a
/// copy at version 1.
pub fn new_stored<T: Versioned>(entity: &'static str, record: &T) -> Result<T> {
    check_new(entity, record.version())?;
    let mut stored = record.clone();
    stored.set_version(1);
    Ok(stored)
}

/// `record` as a store keeps it when the write is accepted: a copy at the next version (the
/// backend checks the version itself, as it must, atomically with the write).
pub fn next_stored<T: Versioned>(record: &T) -> T {
    let mut stored = record.clone();
    stored.set_version(next_version(record.version()));
    stored
}

/// `record` as a store keeps it after checking its version against `stored` (`None`: there
/// is no record): a [`version_conflict`] when they differ, else [`next_stored`].
pub fn checked_next<T: Versioned>(
    entity: &'static str,
    id: impl ToString,
    record: &T,
    stored: Option<u64>,
) -> Result<T> {
    check_version(entity, id, record.version(), stored)?;
    Ok(next_stored(record))
}
