//! [`ReactAgent`]: the one body of the ReAct-backed agents. A [`Role`] says what differs
//! (the prompt, the task, the bounds, tools and hooks of one run, and how the finished run
//! becomes the outcome); the agent runs the engine with the caller's [`RunContext`] and
//! hands the transcript back to the role.
//!
//! Triage, root cause and remediation are roles ([`TriageRole`](super::triage::TriageRole),
//! [`RootCauseRole`](super::root_cause::RootCauseRole),
//! [`RemediationRole`](super::remediation::RemediationRole)); so can yours be.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use itops_core::engine::{EngineConfig, ReactEngine, StepHook, Transcript};
use itops_core::{
    Agent, DynTool, IncidentContext, IncidentId, LanguageModel, Message, Result, RunContext,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::agents::structured::{final_text, parse_with_repair};

/// The part of a ReAct agent that is its own: prompt, bounds, the task of each run, and how
/// a finished run becomes the outcome.
#[async_trait]
pub trait Role: Send + Sync + 'static {
    /// What the agent returns.
    type Outcome: Serialize + DeserializeOwned + Send;
    /// What one run keeps from its [`brief`](Self::brief) to its
    /// [`conclude`](Self::conclude) (e.g. what a run-only tool collected); `()` if nothing.
    type Scratch: Send;

    /// The agent's name, for the timeline.
    fn name(&self) -> &str;

    /// The workflow step errors name (`triage`, `investigate`, `plan`).
    fn step(&self) -> &str;

    /// The system prompt.
    fn system_prompt(&self) -> String;

    /// The engine's bounds unless the agent is given others.
    fn config(&self) -> EngineConfig {
        EngineConfig::default()
    }

    /// Sets one run up: its task, and the tools and hooks only this run has.
    async fn brief(
        &self,
        context: &IncidentContext,
        run: &RunContext,
    ) -> Result<Brief<Self::Scratch>>;

    /// Turns the finished run into the outcome (see [`Finished::answer`] for the usual
    /// reading of a JSON answer).
    async fn conclude(
        &self,
        context: &IncidentContext,
        finished: Finished<'_>,
        scratch: Self::Scratch,
    ) -> Result<Self::Outcome>;
}

/// One run's set-up, from [`Role::brief`].
pub struct Brief<S> {
    /// The conversation the run starts from (usually one user message stating the task).
    pub task: Vec<Message>,
    /// Tools for this run only, beside the agent's own.
    pub tools: Vec<Arc<dyn DynTool>>,
    /// Hooks for this run only; they see each step before the caller's hooks do.
    pub hooks: Vec<Arc<dyn StepHook>>,
    /// What [`Role::conclude`] gets back.
    pub scratch: S,
}

impl<S> Brief<S> {
    /// A run whose task is one user message.
    pub fn new(task: impl Into<String>, scratch: S) -> Self {
        Self {
            task: vec![Message::user(task)],
            tools: Vec::new(),
            hooks: Vec::new(),
            scratch,
        }
    }
}

/// A finished run, handed to [`Role::conclude`].
pub struct Finished<'a> {
    /// Every step of the run.
    pub transcript: Transcript,
    model: &'a dyn LanguageModel,
    system: &'a str,
    step: &'a str,
    incident: IncidentId,
}

impl Finished<'_> {
    /// The model's final answer as a `T` that passes `validate`: a run that failed or was
    /// stopped is an error; an invalid answer (or none, when the run ran out of budget) gets
    /// one repair turn. Returns the answer and whether it needed the repair.
    pub async fn answer<T: DeserializeOwned + Send>(
        &self,
        validate: impl Fn(&T) -> Result<()> + Send,
    ) -> Result<(T, bool)> {
        let answer = final_text(&self.transcript, self.step, self.incident)?;
        parse_with_repair::<T>(
            self.model,
            Some(self.system.to_string()),
            self.transcript.messages.clone(),
            &answer,
            validate,
        )
        .await
    }
}

/// An [`Agent`] on the bounded ReAct engine: a model, tools, and a [`Role`].
pub struct ReactAgent<R> {
    model: Arc<dyn LanguageModel>,
    tools: Vec<Arc<dyn DynTool>>,
    config: EngineConfig,
    system: String,
    role: R,
}

impl<R: Role> std::fmt::Debug for ReactAgent<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReactAgent")
            .field("role", &self.role.name())
            .field("model", &self.model.name())
            .field("tools", &self.tools.len())
            .field("config", &self.config)
            .finish()
    }
}

impl<R: Role> ReactAgent<R> {
    /// `role` played by `model` with `tools`, within the role's bounds. The engine is built
    /// for each run, so a tool set the engine refuses fails the run (see
    /// [`Self::checked`] to fail now).
    pub fn from_role(role: R, model: Arc<dyn LanguageModel>, tools: Vec<Arc<dyn DynTool>>) -> Self {
        Self {
            config: role.config(),
            system: role.system_prompt(),
            model,
            tools,
            role,
        }
    }

    /// Replaces the engine bounds.
    pub fn bounded(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    /// The agent, once the engine accepts its tools and bounds.
    pub fn checked(self) -> Result<Self> {
        self.engine(Vec::new(), None)?;
        Ok(self)
    }

    /// The engine bounds.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The role.
    pub fn role(&self) -> &R {
        &self.role
    }

    pub(crate) fn role_mut(&mut self) -> &mut R {
        &mut self.role
    }

    /// The system prompt.
    pub fn system_prompt(&self) -> &str {
        &self.system
    }

    fn engine(
        &self,
        extra: Vec<Arc<dyn DynTool>>,
        remaining: Option<Duration>,
    ) -> Result<ReactEngine> {
        let mut config = self.config.clone();
        if let Some(remaining) = remaining {
            // The caller's deadline, if sooner; a passed one still lets the engine say so.
            config.deadline = config.deadline.min(remaining.max(Duration::from_millis(1)));
        }
        let mut tools = self.tools.clone();
        tools.extend(extra);
        ReactEngine::builder(self.model.clone())
            .system(self.system.clone())
            .tools(tools)
            .config(config)
            .build()
    }
}

#[async_trait]
impl<R: Role> Agent for ReactAgent<R> {
    type Outcome = R::Outcome;

    fn name(&self) -> &str {
        self.role.name()
    }

    async fn run(&self, context: &IncidentContext, run: &RunContext) -> Result<R::Outcome> {
        let Brief {
            task,
            tools,
            mut hooks,
            scratch,
        } = self.role.brief(context, run).await?;
        let engine = self.engine(tools, run.remaining())?;
        hooks.extend(run.hooks().iter().cloned());
        let transcript = engine.run_with_hooks(task, &hooks).await;
        let finished = Finished {
            transcript,
            model: self.model.as_ref(),
            system: &self.system,
            step: self.role.step(),
            incident: context.incident.id,
        };
        self.role.conclude(context, finished, scratch).await
    }
}
