//! [`MetricsHook`]: per-tool-call metrics from inside a ReAct run.

use std::sync::Arc;

use async_trait::async_trait;
use itops_core::engine::{Observation, StepHook, StepInfo, ToolDisposition};
use itops_core::{Clock, SystemClock, ToolCall};

use super::{MetricDatum, MetricUnit, MetricsSink};

/// A [`StepHook`] that reports every tool call (`ToolCalls`, `ToolErrors`, `ToolDuration`,
/// with `Agent` and `Tool` dimensions) as it happens.
///
/// A metrics failure never stops an investigation: it is logged and the run goes on.
pub struct MetricsHook {
    agent: String,
    sink: Arc<dyn MetricsSink>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MetricsHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsHook")
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl MetricsHook {
    /// A hook reporting `agent`'s tool calls to `sink`.
    pub fn new(agent: impl Into<String>, sink: Arc<dyn MetricsSink>) -> Self {
        Self {
            agent: agent.into(),
            sink,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl StepHook for MetricsHook {
    async fn after_tool(
        &self,
        _info: &StepInfo,
        call: &ToolCall,
        observation: &Observation,
    ) -> itops_core::Result<()> {
        let at = self.clock.now();
        let failed = matches!(
            observation.disposition,
            ToolDisposition::Failed | ToolDisposition::TimedOut | ToolDisposition::UnknownTool
        );
        let dimensions = vec![
            ("Agent".to_string(), self.agent.clone()),
            ("Tool".to_string(), call.name.clone()),
        ];
        let datum = |name: &str, unit, value| MetricDatum {
            name: name.to_string(),
            unit,
            value,
            dimensions: dimensions.clone(),
            at,
        };
        let data = [
            datum("ToolCalls", MetricUnit::Count, 1.0),
            datum(
                "ToolErrors",
                MetricUnit::Count,
                if failed { 1.0 } else { 0.0 },
            ),
            datum(
                "ToolDuration",
                MetricUnit::Milliseconds,
                observation.duration.as_secs_f64() * 1_000.0,
            ),
        ];
        if let Err(e) = self.sink.emit(&data).await {
            tracing::warn!(agent = %self.agent, tool = %call.name, error = %e, "tool metrics were not recorded");
        }
        Ok(())
    }
}
