//! `BedrockModel` over a client whose HTTP layer is `aws-smithy-mocks`.

use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
use aws_sdk_bedrockruntime::types::error::ThrottlingException;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput as Output, Message, StopReason, TokenUsage,
    ToolUseBlock,
};
use aws_sdk_bedrockruntime::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::{Document, Number};
use itops_aws::{BedrockModel, BedrockSettings};
use itops_core::{Error, LanguageModel, ModelRequest, ModelStopReason};

use crate::MODEL;

fn tool_use_output() -> ConverseOutput {
    let call = ToolUseBlock::builder()
        .tool_use_id("tu_9")
        .name("error_rates")
        .input(Document::Object(
            [(
                "window_minutes".to_string(),
                Document::Number(Number::PosInt(15)),
            )]
            .into(),
        ))
        .build()
        .unwrap();
    ConverseOutput::builder()
        .output(Output::Message(
            Message::builder()
                .role(ConversationRole::Assistant)
                .content(ContentBlock::ToolUse(call))
                .build()
                .unwrap(),
        ))
        .stop_reason(StopReason::ToolUse)
        .usage(
            TokenUsage::builder()
                .input_tokens(50)
                .output_tokens(7)
                .total_tokens(57)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn sdk_mocks_drive_the_model() {
    let throttled = mock!(Client::converse).then_error(|| {
        ConverseError::ThrottlingException(
            ThrottlingException::builder().message("slow down").build(),
        )
    });
    let answered = mock!(Client::converse)
        .match_requests(|req| req.model_id() == Some(MODEL))
        .then_output(tool_use_output);
    let client = mock_client!(
        aws_sdk_bedrockruntime,
        RuleMode::Sequential,
        &[&throttled, &answered]
    );
    let model = BedrockModel::from_client(client, &BedrockSettings::new(MODEL));
    let request = ModelRequest {
        messages: vec![itops_core::Message::user("why is checkout failing?")],
        ..ModelRequest::default()
    };

    match model.converse(&request).await {
        Err(Error::Model { retryable, .. }) => assert!(retryable),
        other => panic!("expected a retryable model error, got {other:?}"),
    }
    let response = model.converse(&request).await.unwrap();
    assert_eq!(response.stop_reason, ModelStopReason::ToolUse);
    let calls = response.message.tool_calls();
    assert_eq!(calls[0].name, "error_rates");
    assert_eq!(calls[0].input, serde_json::json!({"window_minutes": 15}));
    assert_eq!(response.usage.total(), 57);
    assert_eq!(throttled.num_calls(), 1);
    assert_eq!(answered.num_calls(), 1);
}
