//! `scripts/demo-stack --check` on this machine: the simulated shop scraped by a real
//! Prometheus, whose rule fires; a real Alertmanager posts the alert to an itops watching
//! the shop over PromQL; the action runs in the shop through the command executor and
//! the fix is verified over PromQL. Prometheus and Alertmanager are the Debian packages
//! (`scripts/setup-test-deps`); the test is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// A base port whose next three are free too.
fn four_free_ports() -> u16 {
    for base in (24_000..60_000).step_by(97) {
        let all_free = (0..4).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no four consecutive free ports");
}

#[test]
fn the_demo_stack_resolves_an_alert_end_to_end() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(root.join("scripts/demo-stack"))
        .arg("--check")
        .env("ITOPS_BIN", env!("CARGO_BIN_EXE_itops"))
        .env("ITOPS_DEMO_PORT", four_free_ports().to_string())
        .env("ITOPS_DEMO_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The story, in the incident's own timeline: the alert, a finding on the service the
    // fault was in, an action that ran in the shop, and the verdict.
    assert!(stdout.contains("[created]"), "{stdout}");
    assert!(stdout.contains("checkout"), "{stdout}");
    assert!(
        stdout.contains("[action]") && stdout.contains("succeeded"),
        "{stdout}"
    );
    assert!(stdout.contains(": resolved"), "{stdout}");
}
