//! The `itops` binary as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

fn itops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_itops"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn version_prints_the_crate_version() {
    let out = itops(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("itops {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_commands() {
    let out = itops(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: itops"), "{text}");
    assert!(text.contains("workflow"), "{text}");
}

#[test]
fn workflow_prints_the_definition_as_json() {
    let out = itops(&["workflow"]);
    assert!(out.status.success());
    let def: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = def["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    for expected in [
        "open",
        "triaging",
        "awaiting_approval",
        "resolved",
        "escalated",
    ] {
        assert!(states.contains(&expected), "{states:?}");
    }
    assert_eq!(def["initial"], "open");
}

#[test]
fn an_unknown_command_fails_with_a_clear_message() {
    let out = itops(&["frobnicate"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unrecognized subcommand 'frobnicate'"),
        "{err}"
    );
}
