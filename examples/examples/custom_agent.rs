//! Write a custom agent: its own prompt, its own tool beside a standard one, and its own
//! typed outcome, on the bounded ReAct engine, with whatever model you choose; then put it
//! in the durable workflow's root-cause role.
//!
//! `cargo run -p itops-examples --example custom_agent`
//!
//! The agent (`DeployBlameAgent`) answers "was it the last deploy?": it may call the
//! standard `rank_anomalies` tool and its own `recent_deploys` tool, and answers with a
//! `DeployVerdict` it checks against what the tools returned. It runs on a simulated bad
//! deploy, first on its own, then as the root-cause agent of the workflow
//! (`Responders::with_root_cause`): the built-in agents triage and plan, yours
//! investigates, and every step of it lands on the incident's timeline. Offline (the
//! default), a small rule-based model plays the LLM's part; with `ITOPS_OPENAI_MODEL` set
//! (and `ITOPS_OPENAI_BASE_URL`, `ITOPS_OPENAI_API_KEY` as needed; a local Ollama works) an
//! OpenAI-compatible model does. The agent does not change.

use std::sync::Arc;

use async_trait::async_trait;
use itops_agents::agents::Investigation;
use itops_agents::openai::{OpenAiModel, OpenAiSettings};
use itops_agents::planner::OfflinePlanner;
use itops_agents::policy::ActionPolicy;
use itops_agents::responders::Responders;
use itops_agents::tools::ranking::RankAnomalies;
use itops_agents::verify::Verifier;
use itops_core::breaker::{BreakerConfig, RetryPolicy};
use itops_core::engine::{ReactEngine, StepHook, TimelineHook, Transcript};
use itops_core::environment::ActionExecutor;
use itops_core::store::MemoryStore;
use itops_core::telemetry::{TelemetrySource, TimeRange};
use itops_core::tool::input_schema_for;
use itops_core::workflow::{
    ActionRecord, LocalRunner, StepKind, VerificationReport, WorkflowSteps,
};
use itops_core::{
    Actor, Agent, CheckpointStore, Clock, ContentBlock, Error, Evidence, FaultKind,
    IncidentContext, IncidentStore, LanguageModel, Message, ModelRequest, ModelResponse,
    ModelStopReason, RemediationAction, RemediationPlan, Result, Role, RootCauseCandidate,
    RootCauseFinding, RunContext, StateStore, TimelineStore, TokenUsage, Tool, TriageAssessment,
};
use itops_sim::SimEnvironment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// The tool

/// Arguments of `recent_deploys`.
#[derive(Deserialize, JsonSchema)]
struct RecentDeploysArgs {
    /// Minutes to look back from the end of the data (default 60).
    minutes: Option<u32>,
}

/// One deploy.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Deploy {
    service: String,
    at: String,
    description: String,
}

/// Deploys in the telemetry's change events.
struct RecentDeploys {
    source: Arc<dyn TelemetrySource>,
}

#[async_trait]
impl Tool for RecentDeploys {
    type Args = RecentDeploysArgs;
    type Output = Vec<Deploy>;

    fn name(&self) -> &str {
        "recent_deploys"
    }

    fn description(&self) -> &str {
        "Deploys in the last N minutes of the data, oldest first."
    }

    async fn call(&self, args: RecentDeploysArgs) -> Result<Vec<Deploy>> {
        let Some(bounds) = self.source.time_bounds().await? else {
            return Ok(Vec::new());
        };
        let minutes = i64::from(args.minutes.unwrap_or(60).clamp(1, 24 * 60));
        let start = (bounds.end - chrono::Duration::minutes(minutes)).max(bounds.start);
        let changes = self
            .source
            .changes(TimeRange::new(start, bounds.end)?, None)
            .await?;
        Ok(changes
            .into_iter()
            .filter(|c| c.kind == "deploy")
            .map(|c| Deploy {
                service: c.service,
                at: c.at.to_rfc3339(),
                description: c.description,
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------
// The agent

/// The agent's typed outcome; its schema goes into the prompt.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct DeployVerdict {
    /// The service whose deploy to roll back, or null when no deploy is to blame.
    blamed_service: Option<String>,
    /// Why, citing what the tools returned.
    reasoning: String,
}

/// Was it the last deploy? A ReAct agent with two tools and a typed answer.
struct DeployBlameAgent {
    engine: ReactEngine,
}

impl DeployBlameAgent {
    fn new(model: Arc<dyn LanguageModel>, telemetry: Arc<dyn TelemetrySource>) -> Result<Self> {
        let system = format!(
            "You decide whether a recent deploy caused an incident. Call rank_anomalies to see \
             which services changed, and recent_deploys to see what was deployed. Blame a \
             deploy only if its service is among the most anomalous. Answer with one JSON \
             object matching this schema and nothing else:\n{}",
            input_schema_for::<DeployVerdict>()
        );
        let engine = ReactEngine::builder(model)
            .system(system)
            .tool(RankAnomalies::new(telemetry.clone()))
            .tool(RecentDeploys { source: telemetry })
            .max_steps(6) // every run is bounded: steps, tokens, tool timeouts, a deadline
            .build()?;
        Ok(Self { engine })
    }
}

impl DeployBlameAgent {
    /// Runs the agent; the verdict, and every step that led to it. The run's hooks (the
    /// incident's timeline, in the workflow) see every step.
    async fn judge(
        &self,
        context: &IncidentContext,
        run: &RunContext,
    ) -> Result<(DeployVerdict, Transcript)> {
        let incident = &context.incident;
        let task = format!(
            "Incident: {}\n{}\nAffected services: {}",
            incident.title,
            incident.description,
            incident.affected_services.join(", ")
        );
        let transcript = self
            .engine
            .run_with_hooks(vec![Message::user(task)], run.hooks())
            .await;
        let answer = transcript
            .final_answer
            .as_deref()
            .ok_or_else(|| Error::Model {
                model: self.engine.model_name().to_string(),
                message: format!(
                    "no answer: the run stopped with {:?}",
                    transcript.stop_reason
                ),
                retryable: false,
            })?;
        let verdict: DeployVerdict = serde_json::from_str(json_object_in(answer))
            .map_err(|e| Error::serialization("the deploy verdict", e))?;
        // Never act on a claim the tools did not show.
        if let Some(service) = &verdict.blamed_service {
            if !deploys_seen(&transcript)
                .iter()
                .any(|d| &d.service == service)
            {
                return Err(Error::invalid(
                    "blamed_service",
                    format!("{service} was not among the deploys recent_deploys returned"),
                ));
            }
        }
        Ok((verdict, transcript))
    }
}

#[async_trait]
impl Agent for DeployBlameAgent {
    type Outcome = DeployVerdict;

    fn name(&self) -> &str {
        "deploy_blame"
    }

    async fn run(&self, context: &IncidentContext, run: &RunContext) -> Result<DeployVerdict> {
        Ok(self.judge(context, run).await?.0)
    }
}

// ---------------------------------------------------------------------------------------
// The agent in the workflow's root-cause role

/// The deploy-blame agent as a root-cause agent: the role's outcome is an
/// [`Investigation`], so the verdict becomes a finding (the blamed deploy as the one
/// candidate, its change as the evidence).
struct DeployRootCause(DeployBlameAgent);

#[async_trait]
impl Agent for DeployRootCause {
    type Outcome = Investigation;

    fn name(&self) -> &str {
        "deploy_blame"
    }

    async fn run(&self, context: &IncidentContext, run: &RunContext) -> Result<Investigation> {
        let (verdict, transcript) = self.0.judge(context, run).await?;
        let deploy = verdict.blamed_service.as_ref().and_then(|service| {
            deploys_seen(&transcript)
                .into_iter()
                .rev()
                .find(|d| &d.service == service)
        });
        let candidates = deploy
            .map(|d| {
                let at = chrono::DateTime::parse_from_rfc3339(&d.at)
                    .map(|at| at.to_utc())
                    .unwrap_or_else(|_| run.clock().now());
                RootCauseCandidate {
                    service: d.service.clone(),
                    fault: FaultKind::BadDeploy,
                    confidence: 0.8,
                    evidence: vec![Evidence::Change {
                        service: d.service,
                        kind: "deploy".into(),
                        at,
                        summary: d.description,
                    }],
                }
            })
            .into_iter()
            .collect();
        Ok(Investigation {
            finding: RootCauseFinding {
                candidates,
                contributing_factors: Vec::new(),
                summary: verdict.reasoning,
            },
            transcript,
            repaired: false,
        })
    }
}

/// The workflow's steps for this example: the agents of `responders` for triage,
/// investigation and planning, each step written on the incident's timeline; actions and
/// verification in the simulated system.
struct Steps {
    responders: Responders,
    environment: Arc<SimEnvironment>,
    store: Arc<dyn StateStore>,
}

impl Steps {
    /// A step's run: its steps on the incident's timeline, by the agent in the role.
    fn run(&self, context: &IncidentContext, step: StepKind) -> RunContext {
        let clock: Arc<dyn Clock> = self.environment.clone();
        let timeline: Arc<dyn StepHook> = Arc::new(TimelineHook::new(
            self.store.clone(),
            clock.clone(),
            context.incident.id,
            self.responders.actor(step),
        ));
        RunContext::new(clock).with_hooks([timeline])
    }
}

#[async_trait]
impl WorkflowSteps for Steps {
    async fn triage(&self, context: &IncidentContext) -> Result<TriageAssessment> {
        let run = self.run(context, StepKind::Triage);
        Ok(self
            .responders
            .triage()
            .run(context, &run)
            .await?
            .assessment)
    }

    async fn investigate(&self, context: &IncidentContext) -> Result<RootCauseFinding> {
        let run = self.run(context, StepKind::Investigate);
        Ok(self
            .responders
            .root_cause()
            .run(context, &run)
            .await?
            .finding)
    }

    async fn plan(&self, context: &IncidentContext) -> Result<RemediationPlan> {
        let run = self.run(context, StepKind::Plan);
        Ok(self.responders.remediation().run(context, &run).await?.plan)
    }

    fn requires_approval(&self, plan: &RemediationPlan) -> bool {
        self.responders.policy().requires_approval(plan)
    }

    async fn execute(
        &self,
        context: &IncidentContext,
        action: &RemediationAction,
    ) -> Result<String> {
        self.environment
            .execute(action)
            .await?
            .into_applied(context.incident.id)
    }

    async fn verify(
        &self,
        context: &IncidentContext,
        actions: &[ActionRecord],
    ) -> Result<VerificationReport> {
        let now = self.environment.now();
        let fixed_at = actions.iter().filter_map(|a| a.finished_at).max();
        Verifier::new(self.environment.clone())
            .verify_incident(context, actions, fixed_at.unwrap_or(now), now)
            .await
    }

    fn actor(&self, step: StepKind) -> Actor {
        self.responders.actor(step)
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

/// The `{...}` in a model's answer (models like to wrap JSON in prose or code fences).
fn json_object_in(text: &str) -> &str {
    match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start < end => &text[start..=end],
        _ => text,
    }
}

/// Every deploy `recent_deploys` returned during the run.
fn deploys_seen(transcript: &Transcript) -> Vec<Deploy> {
    transcript
        .tool_calls()
        .filter(|c| c.call.name == "recent_deploys" && !c.observation.is_error)
        .filter_map(|c| serde_json::from_str::<Vec<Deploy>>(&c.observation.content).ok())
        .flatten()
        .collect()
}

// ---------------------------------------------------------------------------------------
// The offline model

/// A rule-based stand-in for an LLM: it reads the tool results in the conversation and
/// decides the next call or the answer, the way the offline planner does for the standard
/// agents. Writing one is implementing `LanguageModel::converse`.
struct RuleModel;

impl RuleModel {
    /// The JSON result of the first call to `tool` in the conversation, if answered.
    fn result_of(request: &ModelRequest, tool: &str) -> Option<Value> {
        let blocks = || request.messages.iter().flat_map(|m| m.content.iter());
        let id = blocks().find_map(|b| match b {
            ContentBlock::ToolUse { id, name, .. } if name == tool => Some(id.clone()),
            _ => None,
        })?;
        blocks().find_map(|b| match b {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error: false,
            } if *tool_use_id == id => serde_json::from_str(content).ok(),
            _ => None,
        })
    }

    fn turn(content: Vec<ContentBlock>, stop_reason: ModelStopReason) -> ModelResponse {
        ModelResponse {
            message: Message {
                role: Role::Assistant,
                content,
            },
            stop_reason,
            usage: TokenUsage::default(),
        }
    }

    fn call(thought: &str, tool: &str, input: Value) -> ModelResponse {
        let content = vec![
            ContentBlock::text(thought),
            ContentBlock::ToolUse {
                id: format!("rule_{tool}"),
                name: tool.into(),
                input,
            },
        ];
        Self::turn(content, ModelStopReason::ToolUse)
    }
}

#[async_trait]
impl LanguageModel for RuleModel {
    fn name(&self) -> &str {
        "rule-model"
    }

    async fn converse(&self, request: &ModelRequest) -> Result<ModelResponse> {
        let Some(ranking) = Self::result_of(request, "rank_anomalies") else {
            return Ok(Self::call(
                "Which services changed?",
                "rank_anomalies",
                json!({"max_candidates": 3}),
            ));
        };
        let Some(deploys) = Self::result_of(request, "recent_deploys") else {
            return Ok(Self::call(
                "What was deployed?",
                "recent_deploys",
                json!({"minutes": 60}),
            ));
        };
        let anomalous: Vec<&str> = ranking["candidates"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["service"].as_str()).collect())
            .unwrap_or_default();
        let deployed: Vec<Deploy> = serde_json::from_value(deploys).unwrap_or_default();
        // The most anomalous service with a deploy is blamed.
        let blamed = anomalous
            .iter()
            .find_map(|s| deployed.iter().rev().find(|d| d.service == *s));
        let verdict = match blamed {
            Some(d) => DeployVerdict {
                blamed_service: Some(d.service.clone()),
                reasoning: format!(
                    "{} was deployed at {} ({}) and is among the most anomalous services {anomalous:?}",
                    d.service, d.at, d.description
                ),
            },
            None => DeployVerdict {
                blamed_service: None,
                reasoning: format!("no recent deploy touches the anomalous services {anomalous:?}"),
            },
        };
        let answer =
            serde_json::to_string(&verdict).map_err(|e| Error::serialization("the verdict", e))?;
        Ok(Self::turn(
            vec![ContentBlock::text(answer)],
            ModelStopReason::EndTurn,
        ))
    }
}

// ---------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let model: Arc<dyn LanguageModel> = if std::env::var_os("ITOPS_OPENAI_MODEL").is_some() {
        let settings = OpenAiSettings::from_env()?;
        Arc::new(OpenAiModel::resilient(
            settings,
            BreakerConfig::default(),
            RetryPolicy::default(),
        )?)
    } else {
        Arc::new(RuleModel)
    };

    // A simulated bad deploy; the ground truth stays with the simulator.
    let case = itops_sim::generate("bad_deploy", 11)?;
    let truth = case.ground_truth.root_service.clone();
    let incident = case
        .incident
        .to_new_incident()
        .into_incident(case.incident.detected_at)?;
    println!("incident: {}\nmodel:    {}", incident.title, model.name());

    let environment = Arc::new(case.environment);
    let agent = DeployBlameAgent::new(model.clone(), environment.clone())?;
    let context = IncidentContext::new(incident.clone());
    let verdict = agent.run(&context, &RunContext::default()).await?;
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    println!("simulated bad deploy: {truth}");
    assert_eq!(verdict.blamed_service.as_deref(), Some(truth.as_str()));

    // The same agent in the durable workflow's root-cause role; the built-in agents triage
    // and plan (the offline planner thinks for them unless a model is configured).
    let builtin: Arc<dyn LanguageModel> = if std::env::var_os("ITOPS_OPENAI_MODEL").is_some() {
        model.clone()
    } else {
        Arc::new(OfflinePlanner::new())
    };
    let responders = Responders::new(
        builtin,
        environment.clone(),
        Vec::new(),
        ActionPolicy::always_ask(), // every plan waits for a person
    )
    .with_root_cause(DeployRootCause(DeployBlameAgent::new(
        model,
        environment.clone(),
    )?));
    let clock: Arc<dyn Clock> = environment.clone();
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let steps = Steps {
        responders,
        environment,
        store: store.clone(),
    };
    let runner = LocalRunner::new(store.clone(), store.clone(), Arc::new(steps), clock);
    let incident = store.create_incident(&incident).await?;
    runner.start(incident.id).await?;
    let progress = runner.advance(incident.id).await?;

    println!("\nworkflow timeline:");
    for entry in store.timeline(incident.id, 0, 1000).await? {
        let summary = itops_core::text::clip(&entry.summary, 100);
        let (actor, kind) = (entry.actor.to_string(), entry.kind.to_string());
        println!("  {actor:<19} {kind:<15} {summary}");
    }
    let checkpoint = store
        .get_checkpoint(incident.id)
        .await?
        .ok_or("the workflow kept no checkpoint")?;
    let top = checkpoint
        .data
        .finding
        .as_ref()
        .and_then(|f| f.top().cloned());
    println!("\nroot cause in the workflow: {top:?}");
    println!("workflow: {}", serde_json::to_string(&progress)?);
    assert_eq!(top.map(|c| c.service), Some(truth));
    Ok(())
}
