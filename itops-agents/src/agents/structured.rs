//! Typed answers from model text: find the JSON, parse it, validate it, and ask once for a
//! repair when it is wrong. A plan or finding that does not validate is never used.

use itops_core::engine::{StopReason, Transcript};
use itops_core::{
    ContentBlock, Error, IncidentId, LanguageModel, Message, ModelRequest, Result, Role,
};
use serde::de::DeserializeOwned;

/// The JSON object in `text`: the whole text, a fenced ```json block, or the outermost braces.
pub fn extract_json(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    if trimmed.starts_with('{') && trimmed.ends_with('}') {
        return Some(trimmed);
    }
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        let body = &after[body_start..];
        if let Some(end) = body.find("```") {
            let block = body[..end].trim();
            if block.starts_with('{') {
                return Some(block);
            }
        }
    }
    let start = trimmed.find('{')?;
    let end = trimmed.rfind('}')?;
    (end > start).then(|| &trimmed[start..=end])
}

/// The model's final text from a run, or the error that ended it (`step` names the workflow
/// step for the error). A run out of budget gives an empty answer, so that the repair turn
/// of [`parse_with_repair`] asks for the answer now.
pub fn final_text(transcript: &Transcript, step: &str, incident: IncidentId) -> Result<String> {
    let failed = |message: String| Error::Step {
        step: step.to_string(),
        incident: incident.to_string(),
        message,
    };
    match &transcript.stop_reason {
        StopReason::Completed => Ok(transcript.final_answer.clone().unwrap_or_default()),
        StopReason::ModelFailed { message } | StopReason::HookFailed { message } => {
            Err(failed(message.clone()))
        }
        StopReason::StoppedByHook { message } => Err(failed(format!("stopped: {message}"))),
        StopReason::MaxSteps | StopReason::TokenBudget | StopReason::Deadline => Ok(String::new()),
    }
}

/// Parses `text` as `T` and checks it with `validate`; the error says what to fix.
pub fn parse_answer<T: DeserializeOwned>(
    text: &str,
    validate: impl Fn(&T) -> Result<()>,
) -> Result<T> {
    let json = extract_json(text).ok_or_else(|| {
        Error::invalid("answer", "no JSON object found; reply with one JSON object")
    })?;
    let value: T = serde_json::from_str(json).map_err(|e| {
        Error::invalid("answer", format!("the JSON does not match the schema: {e}"))
    })?;
    validate(&value)?;
    Ok(value)
}

/// Parses the model's final answer; when it is invalid, asks the model once to repair it
/// (showing the error), and fails clearly if the repair is invalid too.
pub async fn parse_with_repair<T: DeserializeOwned>(
    model: &dyn LanguageModel,
    system: Option<String>,
    mut messages: Vec<Message>,
    answer: &str,
    validate: impl Fn(&T) -> Result<()>,
) -> Result<(T, bool)> {
    let first_error = match parse_answer(answer, &validate) {
        Ok(value) => return Ok((value, false)),
        Err(e) => e,
    };
    if messages.last().is_none_or(|m| m.role != Role::Assistant) {
        messages.push(Message::assistant(answer));
    }
    messages.push(Message::user(format!(
        "Your answer could not be used: {first_error}. Reply with only the corrected JSON object, \
         matching the schema given in the instructions, and nothing else."
    )));
    let request = ModelRequest {
        system,
        messages,
        tools: Vec::new(),
        max_tokens: Some(4_096),
        temperature: Some(0.0),
    };
    let response = model.converse(&request).await?;
    let repaired: String = response
        .message
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    parse_answer(&repaired, &validate).map(|v| (v, true)).map_err(|second| Error::Model {
        model: model.name().to_string(),
        message: format!("the answer was invalid twice (first: {first_error}; after repair: {second}); refusing to use it"),
        retryable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_json_in_common_wrappings() {
        assert_eq!(extract_json(r#"{"a":1}"#), Some(r#"{"a":1}"#));
        assert_eq!(
            extract_json("Here it is:\n```json\n{\"a\":1}\n```\nDone."),
            Some(r#"{"a":1}"#)
        );
        assert_eq!(
            extract_json("The answer is {\"a\": {\"b\": 2}} as requested"),
            Some(r#"{"a": {"b": 2}}"#)
        );
        assert_eq!(extract_json("no json here"), None);
    }

    #[derive(serde::Deserialize, Debug)]
    struct Answer {
        n: u8,
    }

    #[test]
    fn parse_reports_schema_and_validation_errors() {
        let check = |a: &Answer| {
            if a.n > 10 {
                Err(Error::invalid("n", "at most 10"))
            } else {
                Ok(())
            }
        };
        assert_eq!(parse_answer::<Answer>(r#"{"n": 3}"#, check).unwrap().n, 3);
        assert!(parse_answer::<Answer>(r#"{"m": 3}"#, check)
            .unwrap_err()
            .to_string()
            .contains("does not match the schema"));
        assert!(parse_answer::<Answer>(r#"{"n": 30}"#, check)
            .unwrap_err()
            .to_string()
            .contains("at most 10"));
    }
}
