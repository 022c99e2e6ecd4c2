//! Circuit breaking and retries around model and tool calls.
