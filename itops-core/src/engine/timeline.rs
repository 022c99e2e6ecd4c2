//! A hook that writes every step of a run on the incident's timeline as it happens: the
//! model's thoughts, each tool call and each observation.

use crate::text::clip;
use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::domain::{Actor, TimelineEntry, TimelineKind};
use crate::engine::hook::{StepHook, StepInfo, ToolAction};
use crate::engine::transcript::Observation;
use crate::error::Result;
use crate::id::IncidentId;
use crate::model::{ModelResponse, ToolCall};
use crate::store::StateStore;

/// Longest text a timeline entry keeps of a thought or an observation.
pub const TIMELINE_TEXT_CHARS: usize = 4000;

/// Records a run's steps on one incident's timeline, authored by one actor (the agent).
pub struct TimelineHook {
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    incident_id: IncidentId,
    actor: Actor,
}

impl std::fmt::Debug for TimelineHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimelineHook")
            .field("incident_id", &self.incident_id)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl TimelineHook {
    /// A hook writing to `incident_id`'s timeline as `actor`.
    pub fn new(
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        incident_id: IncidentId,
        actor: Actor,
    ) -> Self {
        Self {
            store,
            clock,
            incident_id,
            actor,
        }
    }

    async fn append(
        &self,
        kind: TimelineKind,
        summary: String,
        payload: serde_json::Value,
    ) -> Result<()> {
        let entry = TimelineEntry::new(
            self.incident_id,
            self.clock.now(),
            self.actor.clone(),
            kind,
            summary,
        )
        .with_payload(payload);
        self.store.append_timeline(&entry).await.map(|_| ())
    }
}

#[async_trait]
impl StepHook for TimelineHook {
    async fn after_model(&self, info: &StepInfo, response: &ModelResponse) -> Result<()> {
        let text = response.message.text();
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        self.append(
            TimelineKind::Thought,
            clip(text, TIMELINE_TEXT_CHARS),
            serde_json::json!({ "step": info.step, "tokens": info.usage }),
        )
        .await
    }

    async fn before_tool(&self, info: &StepInfo, call: &ToolCall) -> Result<ToolAction> {
        self.append(
            TimelineKind::ToolCall,
            format!("{}({})", call.name, clip(&call.input.to_string(), 300)),
            serde_json::json!({ "step": info.step, "tool": call.name, "input": call.input }),
        )
        .await?;
        Ok(ToolAction::Run)
    }

    async fn after_tool(
        &self,
        info: &StepInfo,
        call: &ToolCall,
        observation: &Observation,
    ) -> Result<()> {
        let kind = if observation.is_error {
            TimelineKind::Error
        } else {
            TimelineKind::Observation
        };
        self.append(
            kind,
            clip(&observation.content, TIMELINE_TEXT_CHARS),
            serde_json::json!({
                "step": info.step,
                "tool": call.name,
                "disposition": observation.disposition,
                "truncated": observation.truncated,
                "duration_ms": observation.duration.as_millis() as u64,
            }),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{NewIncident, Severity};
    use crate::engine::ReactEngine;
    use crate::store::{IncidentStore, MemoryStore, TimelineStore};
    #[cfg(feature = "test-utils")]
    use crate::testing::{ScriptedModel, ScriptedTurn};
    use crate::tool::Tool;

    /// Hands its arguments back.
    struct Echo;

    #[async_trait]
    impl Tool for Echo {
        type Args = serde_json::Value;
        type Output = serde_json::Value;
        fn name(&self) -> &str {
            "echo"
        }
        fn description(&self) -> &str {
            "echo"
        }
        async fn call(&self, args: serde_json::Value) -> Result<serde_json::Value> {
            Ok(args)
        }
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("héllo", 2), "h…");
        assert_eq!(clip("hi", 5), "hi");
    }

    #[cfg(feature = "test-utils")]
    #[tokio::test]
    async fn every_step_lands_on_the_timeline() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
        let incident = store
            .create_incident(
                &NewIncident::new("t", Severity::Low)
                    .into_incident(clock.now())
                    .unwrap(),
            )
            .await
            .unwrap();
        let model = Arc::new(ScriptedModel::new(vec![
            ScriptedTurn::tool_call("echo", serde_json::json!({"x": 1})),
            ScriptedTurn::text("done"),
        ]));
        let engine = ReactEngine::builder(model).tool(Echo).build().unwrap();
        let hook: Arc<dyn StepHook> = Arc::new(TimelineHook::new(
            store.clone(),
            clock,
            incident.id,
            Actor::Agent("test".into()),
        ));
        engine
            .run_with_hooks(vec![crate::model::Message::user("go")], &[hook])
            .await;
        let kinds: Vec<TimelineKind> = store
            .timeline(incident.id, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                TimelineKind::ToolCall,
                TimelineKind::Observation,
                TimelineKind::Thought
            ]
        );
    }
}
