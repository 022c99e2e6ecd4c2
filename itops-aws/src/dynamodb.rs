//! DynamoDB: [`DynamoDbStateStore`] and [`DynamoDbApprovalGate`] over one table
//! ([`DynamoDbTable`]).
//!
//! Single-table design (partition key `pk`, sort key `sk`, two overloaded global secondary
//! indexes `gsi1` and `gsi2`); the table layout is documented in the crate README.

mod approval;
mod dedup;
mod item;
mod keys;
mod store;
mod table;
mod task_token;

pub use approval::{DynamoDbApprovalGate, DEFAULT_APPROVAL_RETENTION};
pub use dedup::DedupClaims;
pub use store::DynamoDbStateStore;
pub use table::DynamoDbTable;
pub use task_token::{approval_of_keys, TaskTokens};
