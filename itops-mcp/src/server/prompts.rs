//! MCP prompts: named message templates a client offers its user.

use async_trait::async_trait;
use rmcp::model::{GetPromptResult, JsonObject, Prompt};

/// A source of prompts.
#[async_trait]
pub trait PromptProvider: Send + Sync {
    /// The prompts, with their arguments.
    fn list(&self) -> Vec<Prompt>;

    /// The prompt `name` filled with `arguments`; `None` when there is no such prompt.
    /// A missing or bad argument is an [`itops_core::Error::Invalid`].
    async fn get(
        &self,
        name: &str,
        arguments: JsonObject,
    ) -> itops_core::Result<Option<GetPromptResult>>;

    /// Suggested values for `argument` of prompt `prompt`, given what the user has typed so
    /// far (`value`).
    async fn complete(
        &self,
        prompt: &str,
        argument: &str,
        value: &str,
    ) -> itops_core::Result<Vec<String>> {
        let _ = (prompt, argument, value);
        Ok(Vec::new())
    }
}
