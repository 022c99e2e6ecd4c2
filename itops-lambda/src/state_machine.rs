//! The AWS Step Functions state machine, generated from the core workflow definition, so the
//! deployed workflow and the local one cannot drift apart (a test compares the checked-in
//! `deploy/statemachine.asl.json` with what this module generates).
//!
//! Each state with a step becomes a Lambda `Task` (Retry with full jitter on Lambda's
//! transient errors, Catch → escalate) whose output, the step's `StepOutcome` JSON (plus,
//! after triage, the assessed `severity`), goes to `$.step.payload`; the transitions leaving
//! the state become a `Choice` on it, one branch per guard. The approval step waits for a human with `.waitForTaskToken` (the decision
//! function resumes it with `SendTaskSuccess`), bounded by `TimeoutSeconds` (expiry →
//! escalate). Terminal states notify and end. After triage a `Choice` on the assessed
//! severity notifies people of critical and high incidents (a page for critical) before the
//! investigation goes on. Before verification a `Wait` state lets executed actions settle.
//! Function ARNs are `${...FunctionArn}` placeholders filled by the template's
//! `DefinitionSubstitutions`.

use itops_core::workflow::{Guard, StepKind, WorkflowDefinition};
use itops_core::IncidentStatus;
use serde_json::{json, Map, Value};

/// Deployment choices that are not part of the workflow itself.
#[derive(Clone, Debug, PartialEq)]
pub struct AslOptions {
    /// How long a human has to decide an approval.
    pub approval_timeout_seconds: u64,
    /// Longest a step's Lambda call may take.
    pub step_timeout_seconds: u64,
    /// How long executed actions settle before verification reads telemetry (a `Wait`
    /// state, so no function is billed for the wait; the verify function waits only for
    /// what is left of `ITOPS_SETTLE_SECS`).
    pub settle_seconds: u64,
}

impl Default for AslOptions {
    fn default() -> Self {
        Self {
            approval_timeout_seconds: 3600,
            step_timeout_seconds: 300,
            settle_seconds: 300,
        }
    }
}

/// The Amazon States Language name of a workflow state.
fn state_name(status: IncidentStatus) -> String {
    status
        .as_str()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or(String::new(), |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            })
        })
        .collect()
}

/// The placeholder of the function that runs a step.
fn function_of(step: StepKind) -> &'static str {
    match step {
        StepKind::Triage => "${TriageFunctionArn}",
        StepKind::Investigate => "${RootCauseFunctionArn}",
        StepKind::Plan => "${RemediationFunctionArn}",
        StepKind::Approval => "${ApprovalRequestFunctionArn}",
        StepKind::Execute => "${ExecuteFunctionArn}",
        StepKind::Verify => "${VerifyFunctionArn}",
    }
}

/// Where a step's outcome lands in the execution's state.
const OUTCOME: &str = "$.step.payload";

/// A comparison of an outcome field that is false (not an error) when the field is absent.
fn compare(field: &str, op: &str, value: Value) -> Value {
    let variable = format!("{OUTCOME}.{field}");
    let mut c = Map::new();
    c.insert("Variable".into(), json!(variable));
    c.insert(op.into(), value);
    json!({ "And": [{ "Variable": variable, "IsPresent": true }, Value::Object(c)] })
}

/// The Choice condition of a guard over the step's outcome (`None` for `always`).
fn condition(guard: Guard) -> Option<Value> {
    let s = |field: &str, value: &str| compare(field, "StringEquals", json!(value));
    let n = |field: &str, op: &str, value: u64| compare(field, op, json!(value));
    let b = |field: &str, value: bool| compare(field, "BooleanEquals", json!(value));
    Some(match guard {
        Guard::Always => return None,
        Guard::StepFailed => s("outcome", "failed"),
        Guard::RouteEscalate => s("route", "escalate"),
        Guard::RouteInvestigate => s("route", "investigate"),
        Guard::PlanEmpty => n("actions", "NumericEquals", 0),
        Guard::NeedsApproval => {
            json!({ "And": [n("actions", "NumericGreaterThan", 0), b("needs_approval", true)] })
        }
        Guard::AutoApproved => {
            json!({ "And": [n("actions", "NumericGreaterThan", 0), b("needs_approval", false)] })
        }
        Guard::Approved => s("status", "approved"),
        Guard::RejectedOrExpired => {
            json!({ "Or": [s("status", "rejected"), s("status", "expired")] })
        }
        Guard::ActionsSucceeded => n("failed", "NumericEquals", 0),
        Guard::ActionFailed => n("failed", "NumericGreaterThan", 0),
        Guard::Resolved => b("resolved", true),
        Guard::NotResolved => b("resolved", false),
    })
}

/// Retries of Lambda's own transient failures. A timeout is not retried: an approval nobody
/// decided in time escalates at once, and a step that ran out of time goes to humans.
fn retry() -> Value {
    json!([{
        "ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL"
    }])
}

fn catch_to(escalate: &str) -> Value {
    json!([{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": escalate }])
}

/// Generates the state machine for `definition`.
pub fn state_machine(definition: &WorkflowDefinition, options: &AslOptions) -> Value {
    let escalate = state_name(IncidentStatus::Escalated);
    let mut states = Map::new();
    for state in &definition.states {
        let name = state_name(state.status);
        if state.terminal {
            // Notify (a failure to notify must not undo the outcome), then end.
            states.insert(
                name.clone(),
                json!({
                    "Type": "Task",
                    "Comment": state.description,
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": "${NotifyFunctionArn}",
                        "Payload": { "incident_id.$": "$.incident_id", "status": state.status.as_str() }
                    },
                    "ResultPath": null,
                    "Retry": retry(),
                    "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.notify_error", "Next": format!("{name}End") }],
                    "Next": format!("{name}End")
                }),
            );
            let end = if state.status == IncidentStatus::Escalated {
                json!({ "Type": "Succeed", "Comment": "Handed to humans (a terminal state of the incident, not a failure of the machine)." })
            } else {
                json!({ "Type": "Succeed" })
            };
            states.insert(format!("{name}End"), end);
            continue;
        }
        let transitions: Vec<_> = definition.transitions_from(state.status).collect();
        let choice_name = format!("After{name}");
        let next_of = |t: &itops_core::workflow::Transition| -> String {
            // Paging for critical incidents sits between triage and investigation.
            if state.step == Some(StepKind::Triage) && t.to == IncidentStatus::Investigating {
                "RouteBySeverity".to_string()
            } else if definition.step_for(t.to) == Some(StepKind::Verify) {
                format!("SettleBefore{}", state_name(t.to))
            } else {
                state_name(t.to)
            }
        };
        let Some(step) = state.step else {
            // A state without a step passes straight on.
            let next = transitions
                .iter()
                .find(|t| t.guard == Guard::Always)
                .map_or(escalate.clone(), |t| next_of(t));
            states.insert(
                name,
                json!({ "Type": "Pass", "Comment": state.description, "Next": next }),
            );
            continue;
        };
        let task = if step == StepKind::Approval {
            json!({
                "Type": "Task",
                "Comment": state.description,
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": function_of(step),
                    "Payload": { "incident_id.$": "$.incident_id", "task_token.$": "$$.Task.Token" }
                },
                "ResultSelector": { "payload.$": "$" },
                "ResultPath": "$.step",
                "TimeoutSeconds": options.approval_timeout_seconds,
                "Retry": retry(),
                "Catch": [
                    { "ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": escalate },
                    { "ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": escalate }
                ],
                "Next": choice_name
            })
        } else {
            json!({
                "Type": "Task",
                "Comment": state.description,
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": { "FunctionName": function_of(step), "Payload.$": "$" },
                "ResultSelector": { "payload.$": "$.Payload" },
                "ResultPath": "$.step",
                "TimeoutSeconds": options.step_timeout_seconds,
                "Retry": retry(),
                "Catch": catch_to(&escalate),
                "Next": choice_name
            })
        };
        if step == StepKind::Verify {
            states.insert(
                format!("SettleBefore{name}"),
                json!({
                    "Type": "Wait",
                    "Comment": "Executed actions take effect before verification reads telemetry.",
                    "Seconds": options.settle_seconds,
                    "Next": name
                }),
            );
        }
        states.insert(name.clone(), task);
        let mut choices = Vec::new();
        let mut default = escalate.clone();
        for t in &transitions {
            match condition(t.guard) {
                Some(mut c) => {
                    if let Value::Object(map) = &mut c {
                        map.insert("Next".into(), json!(next_of(t)));
                    }
                    choices.push(c);
                }
                None => default = next_of(t),
            }
        }
        states.insert(
            choice_name,
            json!({
                "Type": "Choice",
                "Comment": format!("The transitions out of '{}'.", state.status),
                "Choices": choices,
                "Default": default
            }),
        );
    }
    // Critical and high incidents reach people at once (a page for critical, by the
    // notification levels); the investigation goes on either way.
    let investigate = state_name(IncidentStatus::Investigating);
    let severity_is = |word: &str| {
        json!({ "And": [
            { "Variable": format!("{OUTCOME}.severity"), "IsPresent": true },
            { "Variable": format!("{OUTCOME}.severity"), "StringEquals": word }
        ] })
    };
    states.insert(
        "RouteBySeverity".into(),
        json!({
            "Type": "Choice",
            "Choices": [{
                "Or": [severity_is("critical"), severity_is("high")],
                "Next": "NotifyPeople"
            }],
            "Default": investigate
        }),
    );
    states.insert(
        "NotifyPeople".into(),
        json!({
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${NotifyFunctionArn}",
                "Payload": { "incident_id.$": "$.incident_id", "status": "triaged" }
            },
            "ResultPath": null,
            "Retry": retry(),
            "Catch": [{ "ErrorEquals": ["States.ALL"], "ResultPath": "$.notify_error", "Next": investigate }],
            "Next": investigate
        }),
    );
    json!({
        "Comment": "The itops incident workflow, generated from itops_core::workflow::WorkflowDefinition::standard() by `itops deploy asl`. Start one execution per incident, named after the incident id, so a duplicate start is refused.",
        "StartAt": state_name(definition.initial),
        "States": states
    })
}

/// `value` with every object's keys in sorted order, whatever order `serde_json`'s map keeps
/// (it keeps insertion order when a crate in the build enables `preserve_order`).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The standard workflow's state machine as pretty JSON (keys sorted) with a trailing
/// newline, as checked in.
pub fn standard_asl() -> String {
    let value = sorted(state_machine(
        &WorkflowDefinition::standard(),
        &AslOptions::default(),
    ));
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
