//! SQLite `StateStore` and `ApprovalGate`.

/// Placeholder until the SQLite backend lands.
#[derive(Debug, Default)]
pub struct SqliteStore;
