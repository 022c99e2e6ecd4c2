//! Test utilities (feature `test-utils`): a scripted model, and conformance suites that any
//! `StateStore` or `ApprovalGate` backend can run.

mod conformance;
mod scripted;

pub use conformance::*;
pub use scripted::*;

use std::path::PathBuf;

/// The root of the workspace whose tests are running: the parent of the package directory
/// cargo gives a running test (`CARGO_MANIFEST_DIR`; every package of the workspace sits one
/// level below its root), else of this crate's as it was compiled. Read when the tests run,
/// so that one build cache can serve checkouts at different paths.
pub fn workspace_root() -> PathBuf {
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    package.parent().map(PathBuf::from).unwrap_or(package)
}
