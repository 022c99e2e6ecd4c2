//! Verification through the whole workflow, as `itops serve` runs it on the live simulator:
//! the README's walkthrough, and a slice of the verification sweep (`itops sweep` runs all
//! of it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use itops_core::FaultKind;
use itops_lambda::testing::{run_case, Outcome, SweepOptions};

fn options() -> SweepOptions {
    SweepOptions::new(1, "2026-03-02T10:00:00Z".parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_a_memory_leak_on_checkout_does_not_escalate() {
    let case = run_case(FaultKind::MemoryLeak, "checkout", &options())
        .await
        .unwrap();
    assert!(case.cured, "{case:#?}");
    assert!(
        matches!(case.outcome, Outcome::Resolved | Outcome::Mitigated),
        "{case:#?}"
    );
    if case.outcome == Outcome::Mitigated {
        // A restart only holds a leak off: the lasting fix is proposed.
        let follow_up = case.follow_up.clone().unwrap_or_default();
        assert!(follow_up.contains("rollback_deployment"), "{case:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_of_the_sweep_resolves_what_was_cured_and_escalates_what_was_not() {
    // A rollback of a bad deploy (memory lower than before it afterwards), a pool raised,
    // and a rollback that cannot stop a burst of exceptions behind a feature flag.
    let slice = [
        (FaultKind::BadDeploy, "checkout"),
        (FaultKind::ConnectionPoolExhaustion, "payments"),
        (FaultKind::ExceptionBurst, "cart"),
    ];
    for (kind, service) in slice {
        let case = run_case(kind, service, &options()).await.unwrap();
        if case.cured {
            assert!(!case.outcome.escalated(), "{case:#?}");
        } else {
            assert!(
                !matches!(case.outcome, Outcome::Resolved | Outcome::Mitigated),
                "{case:#?}"
            );
        }
    }
}
