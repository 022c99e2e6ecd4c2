//! The functions' handlers: plain async methods taking the event as JSON, so that tests
//! call them with sample events exactly as Lambda would.

use itops_aws::approval_of_keys;
use itops_core::incidents::{add_note, edit_incident, IncidentEdit};
use itops_core::workflow::{StepKind, StepOutcome};
use itops_core::{Actor, ApprovalStatus, IncidentId, IncidentStatus};
use serde_json::{json, Value};

use super::deployment::Deployment;
use super::Function;
use crate::app::alerts::parse_cloudwatch;
use crate::app::notify::Notice;
use crate::app::scheduler::announce_end;
use crate::error::{Error, Result};

/// The incident an event is about (`incident_id`).
fn incident_of(event: &Value) -> Result<IncidentId> {
    let text = event
        .get("incident_id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Usage("the event has no 'incident_id' string".into()))?;
    text.parse()
        .map_err(|e| Error::Usage(format!("the event's incident_id '{text}': {e}")))
}

fn to_json<T: serde::Serialize>(value: &T, what: &'static str) -> Result<Value> {
    serde_json::to_value(value).map_err(|source| Error::Render { what, source })
}

fn aws(error: itops_aws::Error) -> Error {
    Error::Core(error.into())
}

impl Deployment {
    /// Handles one event of `function` (every function but the API and the authorizer,
    /// which have their own entry points).
    pub async fn handle(&self, function: Function, event: Value) -> Result<Value> {
        match function {
            Function::Triage => self.step(StepKind::Triage, &event).await,
            Function::RootCause => self.step(StepKind::Investigate, &event).await,
            Function::Remediation => self.step(StepKind::Plan, &event).await,
            Function::Execute => self.step(StepKind::Execute, &event).await,
            Function::Verify => self.step(StepKind::Verify, &event).await,
            Function::ApprovalRequest => self.approval_request(&event).await,
            Function::ApprovalDecision => self.approval_decision(&event).await,
            Function::Notify => self.notify(&event).await,
            Function::AlarmIntake => self.alarm(&event).await,
            Function::Api | Function::Authorizer => Err(Error::Usage(format!(
                "the {function:?} function does not take workflow events"
            ))),
        }
    }

    /// A workflow step's task (`{"incident_id": …}` and whatever else the state carries):
    /// runs the step once and answers its outcome, which the state machine's choices read
    /// (`outcome`, `route`, `actions`, `needs_approval`, `failed`, `resolved`; after triage
    /// also `severity`), plus `state`, where the workflow now is.
    pub(crate) async fn step(&self, step: StepKind, event: &Value) -> Result<Value> {
        let incident_id = incident_of(event)?;
        let report = self.runner.step(incident_id, step).await?;
        let outcome = report.outcome.ok_or_else(|| {
            Error::Usage(format!(
                "step '{step}' waits for a decision: it belongs to the approval task"
            ))
        })?;
        let mut answer = to_json(&outcome, "step outcome")?;
        answer["state"] = to_json(&report.state, "status")?;
        if step == StepKind::Triage {
            let triage = self
                .store
                .get_checkpoint(incident_id)
                .await?
                .and_then(|c| c.data.triage);
            if let Some(triage) = triage {
                answer["severity"] = to_json(&triage.severity, "severity")?;
            }
        }
        Ok(answer)
    }

    /// The approval task (`{"incident_id", "task_token"}`), which the state machine waits
    /// on: keeps the task token, then asks for the decision. When the decision is there
    /// already (a redelivery, or an early decision), the task is completed at once.
    pub(crate) async fn approval_request(&self, event: &Value) -> Result<Value> {
        let incident_id = incident_of(event)?;
        let token = event
            .get("task_token")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::Usage("the event has no 'task_token'".into()))?;
        let keep_until = self.clock.now()
            + chrono::Duration::from_std(self.task_token_ttl()).unwrap_or(chrono::Duration::zero());
        // Kept before the request, so that a decision arriving at once finds it.
        self.task_tokens
            .put(incident_id, token, keep_until)
            .await
            .map_err(aws)?;
        let report = self.runner.step(incident_id, StepKind::Approval).await?;
        match report.outcome {
            Some(outcome) => {
                let resumed = self
                    .executions
                    .resume(token, &to_json(&outcome, "step outcome")?)
                    .await?;
                self.task_tokens.remove(incident_id).await.map_err(aws)?;
                Ok(json!({ "waiting": false, "resumed": resumed, "outcome": outcome }))
            }
            None => Ok(json!({ "waiting": true, "progress": report.progress })),
        }
    }

    /// The table's stream: for each approval record that was decided, completes the
    /// waiting approval task with the decision (`{"outcome": "decided", "status": …}`).
    /// Records of anything else are ignored. An error makes Lambda retry the batch;
    /// completing a task twice is harmless.
    pub(crate) async fn approval_decision(&self, event: &Value) -> Result<Value> {
        let records = event
            .get("Records")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Usage("not a DynamoDB stream event (no 'Records')".into()))?;
        let mut handled = Vec::new();
        for record in records {
            let name = record.get("eventName").and_then(Value::as_str);
            if !matches!(name, Some("MODIFY" | "INSERT")) {
                continue;
            }
            let keys = &record["dynamodb"]["Keys"];
            let (Some(pk), Some(sk)) = (keys["pk"]["S"].as_str(), keys["sk"]["S"].as_str()) else {
                continue;
            };
            let Some(approval_id) = approval_of_keys(pk, sk) else {
                continue;
            };
            let approval = self.gate.get(approval_id).await?;
            if approval.status == ApprovalStatus::Pending {
                continue;
            }
            let incident_id = approval.incident_id;
            let Some(token) = self.task_tokens.get(incident_id).await.map_err(aws)? else {
                tracing::info!(%approval_id, %incident_id, "no execution waits for this decision");
                continue;
            };
            let outcome = StepOutcome::Decided {
                status: approval.status,
            };
            let resumed = self
                .executions
                .resume(&token, &to_json(&outcome, "step outcome")?)
                .await?;
            self.task_tokens.remove(incident_id).await.map_err(aws)?;
            tracing::info!(%approval_id, %incident_id, status = %approval.status, resumed, "approval decision delivered");
            handled.push(json!({
                "approval_id": approval_id,
                "incident_id": incident_id,
                "status": approval.status,
                "resumed": resumed,
            }));
        }
        Ok(json!({ "decisions": handled }))
    }

    /// Notifications (`{"incident_id", "status"}`): `triaged` tells people of a critical or
    /// high incident while the investigation goes on; `resolved` or `escalated` ends the
    /// workflow (catching the checkpoint up with the state machine) and announces the end.
    pub(crate) async fn notify(&self, event: &Value) -> Result<Value> {
        let incident_id = incident_of(event)?;
        let status = event.get("status").and_then(Value::as_str).unwrap_or("");
        if status == "triaged" {
            let incident = self.store.get_incident(incident_id).await?;
            let triage = self
                .store
                .get_checkpoint(incident_id)
                .await?
                .and_then(|c| c.data.triage);
            let (urgency, reasoning) =
                triage.map_or((0, String::new()), |t| (t.urgency, t.reasoning));
            self.notifier
                .notify(&incident, Notice::Triaged { urgency, reasoning })
                .await;
            return Ok(json!({ "notified": "triaged" }));
        }
        let ended = self.finish(incident_id).await?;
        announce_end(
            self.store.as_ref(),
            &self.notifier,
            self.clock.as_ref(),
            incident_id,
            ended,
        )
        .await;
        Ok(json!({ "notified": ended }))
    }

    /// Brings the checkpoint to the end the state machine reached: a decided (or expired)
    /// approval is taken; a workflow the state machine escalated without the checkpoint
    /// knowing (a task failed after its retries) is escalated by hand. Returns how the
    /// incident ended.
    async fn finish(&self, incident_id: IncidentId) -> Result<IncidentStatus> {
        let checkpoint = self
            .store
            .get_checkpoint(incident_id)
            .await?
            .ok_or_else(|| itops_core::Error::not_found("workflow checkpoint", incident_id))?;
        if !checkpoint.is_finished() && checkpoint.state == IncidentStatus::AwaitingApproval {
            // The state machine stops waiting when the approval's time is up.
            self.gate.expire_due().await?;
            self.runner.step(incident_id, StepKind::Approval).await?;
        }
        let checkpoint = self.store.get_checkpoint(incident_id).await?;
        if checkpoint.as_ref().is_some_and(|c| !c.is_finished()) {
            let incident = self.store.get_incident(incident_id).await?;
            if !incident.status.is_terminal() {
                add_note(
                    self.store.as_ref(),
                    self.clock.now(),
                    &Actor::System,
                    incident_id,
                    "the state machine escalated: a step failed after its retries or timed out",
                )
                .await?;
                edit_incident(
                    self.store.as_ref(),
                    self.clock.now(),
                    &Actor::System,
                    incident_id,
                    IncidentEdit {
                        status: Some(IncidentStatus::Escalated),
                        ..IncidentEdit::default()
                    },
                )
                .await?;
            }
            self.runner.advance(incident_id).await?;
        }
        Ok(self.store.get_incident(incident_id).await?.status)
    }

    /// A CloudWatch alarm, from EventBridge ("CloudWatch Alarm State Change") or SNS (each
    /// record's message): opens (or adds to) an incident and starts its execution; an `OK`
    /// state notes the recovery on the open incident.
    pub(crate) async fn alarm(&self, event: &Value) -> Result<Value> {
        let mut results = Vec::new();
        let records = event.get("Records").and_then(Value::as_array);
        let alarms: Vec<&Value> = match records {
            Some(records) => records
                .iter()
                .filter_map(|r| r.get("Sns").or_else(|| r.get("sns")))
                .collect(),
            None => vec![event],
        };
        if alarms.is_empty() {
            return Err(Error::Usage(
                "neither an EventBridge alarm event nor SNS records".into(),
            ));
        }
        for alarm in alarms {
            let parsed = parse_cloudwatch(alarm)?;
            let result = self.intake.handle("cloudwatch", parsed).await?;
            results.push(to_json(&result, "intake result")?);
        }
        Ok(json!({ "alarms": results }))
    }
}
