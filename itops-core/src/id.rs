//! Identifiers: UUIDv7 newtypes, time-ordered and collision-free.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id (UUIDv7: sorts by creation time).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|e| {
                    Error::invalid($what, format!("'{s}' is not a valid id (a UUID is expected): {e}"))
                })
            }
        }
    };
}

define_id!(
    /// Identifies an incident.
    IncidentId,
    "incident id"
);
define_id!(
    /// Identifies a timeline entry.
    TimelineEntryId,
    "timeline entry id"
);
define_id!(
    /// Identifies an approval request.
    ApprovalId,
    "approval id"
);
define_id!(
    /// Identifies one remediation action; also its idempotency key when executed.
    ActionId,
    "action id"
);
