//! `MemoryStore` against the conformance suites.

use std::sync::Arc;

use itops_core::store::MemoryStore;
use itops_core::testing::{approval_gate_conformance, state_store_conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_state_store_suite() {
    let report = state_store_conformance(|| async { MemoryStore::default() }).await;
    println!("{report}");
    report.ensure_passed().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_passes_the_approval_gate_suite() {
    let report =
        approval_gate_conformance(|clock| async move { MemoryStore::new(Arc::new(clock)) }).await;
    println!("{report}");
    report.ensure_passed().unwrap();
}

#[tokio::test]
async fn suites_run_on_a_current_thread_runtime() {
    state_store_conformance(|| async { MemoryStore::default() })
        .await
        .ensure_passed()
        .unwrap();
}
