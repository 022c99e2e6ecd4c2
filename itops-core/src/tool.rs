//! Tools: a typed form to write ([`Tool`]) and an erased form the engine holds ([`DynTool`]).

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::ToolSpec;

/// A tool with typed arguments and output; its input schema comes from `Args`.
///
/// Every `Tool` is also a [`DynTool`], so `Arc::new(my_tool)` goes straight into an engine.
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// Arguments, deserialised from the model's JSON; doc comments become the schema's descriptions.
    type Args: DeserializeOwned + JsonSchema + Send;
    /// Output, serialised to JSON for the model.
    type Output: Serialize + Send;

    /// Unique name (`[a-z0-9_]+` reads best for models).
    fn name(&self) -> &str;

    /// What the tool does and when to use it.
    fn description(&self) -> &str;

    /// Runs the tool.
    async fn call(&self, args: Self::Args) -> Result<Self::Output>;
}

/// A tool with JSON in and out: what the ReAct engine, MCP servers and clients hold.
#[async_trait]
pub trait DynTool: Send + Sync {
    /// Name, description and input schema.
    fn spec(&self) -> ToolSpec;

    /// Runs the tool on JSON arguments.
    async fn call_json(&self, input: serde_json::Value) -> Result<serde_json::Value>;
}

/// The JSON schema of `T`, as a tool input schema.
pub fn input_schema_for<T: JsonSchema>() -> serde_json::Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Some(map) = schema.as_object_mut() {
        // The meta-schema key is noise for models and MCP clients.
        map.remove("$schema");
        if !map.contains_key("properties")
            && map.get("type").and_then(|t| t.as_str()) == Some("object")
        {
            map.insert(
                "properties".into(),
                serde_json::Value::Object(Default::default()),
            );
        }
    }
    schema
}

#[async_trait]
impl<T: Tool> DynTool for T {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name().to_string(),
            description: self.description().to_string(),
            input_schema: input_schema_for::<T::Args>(),
        }
    }

    async fn call_json(&self, input: serde_json::Value) -> Result<serde_json::Value> {
        // Models often send `null` for a tool without arguments.
        let input = if input.is_null() {
            serde_json::Value::Object(Default::default())
        } else {
            input
        };
        let args: T::Args = serde_json::from_value(input).map_err(|e| Error::Tool {
            tool: self.name().to_string(),
            message: format!("invalid arguments: {e}; check the tool's input schema"),
            retryable: false,
        })?;
        let output = self.call(args).await?;
        serde_json::to_value(output)
            .map_err(|e| Error::serialization(format!("output of tool '{}'", self.name()), e))
    }
}

/// A shareable erased tool.
pub type SharedTool = Arc<dyn DynTool>;
