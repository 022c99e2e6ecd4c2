//! In-memory `StateStore` and `ApprovalGate`.

/// Placeholder until the in-memory backend lands.
#[derive(Debug, Default)]
pub struct MemoryStore;
