//! MCP resources: read-only data a client can list, read and subscribe to.

use async_trait::async_trait;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

/// URIs of resources that changed, for subscriptions (a broadcast channel's receiver).
pub type ResourceUpdates = tokio::sync::broadcast::Receiver<String>;

/// A source of resources. Implement `list` and `read`; the rest is optional.
#[async_trait]
pub trait ResourceProvider: Send + Sync {
    /// The concrete resources (templates are listed separately).
    async fn list(&self) -> itops_core::Result<Vec<Resource>>;

    /// URI templates (RFC 6570) of resources addressed by parameters.
    async fn templates(&self) -> itops_core::Result<Vec<ResourceTemplate>> {
        Ok(Vec::new())
    }

    /// The contents at `uri` (a listed resource or a template's expansion); `None` when
    /// there is no resource at that URI.
    async fn read(&self, uri: &str) -> itops_core::Result<Option<Vec<ResourceContents>>>;

    /// Suggested values for `argument` of the template `template`, given what the user has
    /// typed so far (`value`).
    async fn complete(
        &self,
        template: &str,
        argument: &str,
        value: &str,
    ) -> itops_core::Result<Vec<String>> {
        let _ = (template, argument, value);
        Ok(Vec::new())
    }

    /// A new receiver of changed-resource URIs, when resources change over time. Returning
    /// `Some` turns on `resources/subscribe`: subscribed clients get
    /// `notifications/resources/updated`.
    fn updates(&self) -> Option<ResourceUpdates> {
        None
    }
}
