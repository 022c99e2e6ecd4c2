//! Telemetry as MCP resources, over a simulated incident.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use itops_core::TelemetrySource;
use itops_mcp::rmcp::model::{ErrorCode, ReadResourceRequestParams, ResourceContents};
use itops_mcp::rmcp::{ServiceError, ServiceExt};
use itops_mcp::{McpServer, TelemetryResources};
use serde_json::Value;

fn text(contents: &[ResourceContents]) -> Value {
    match &contents[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str(text).unwrap()
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_simulated_incident_reads_as_resources() {
    let scenario = itops_sim::scenarios()[0].name;
    let case = itops_sim::generate(scenario, 7).unwrap();
    let root = case.ground_truth.root_service.clone();
    let source: Arc<dyn TelemetrySource> = Arc::new(case.environment);
    let services = source.services().await.unwrap();
    let server = McpServer::builder("monitoring", "0")
        .resources(Arc::new(TelemetryResources::new(source)))
        .build()
        .unwrap();
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let (r, w) = tokio::io::split(server_io);
        let _ = itops_mcp::serve_io(&server, r, w).await;
    });
    let client = ().serve(client_io).await.unwrap();

    let listed = client.list_all_resources().await.unwrap();
    assert_eq!(listed.len(), 2 + services.len());
    let overview = client
        .read_resource(ReadResourceRequestParams::new("itops://telemetry/overview"))
        .await
        .unwrap();
    let overview = text(&overview.contents);
    assert_eq!(
        overview["services"].as_array().unwrap().len(),
        services.len()
    );
    assert!(overview["time_range"]["start"].is_string());

    let uri = format!("itops://telemetry/services/{root}");
    let service = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    let service = text(&service.contents);
    assert_eq!(service["service"], root.as_str());
    assert!(
        !service["metrics"].as_array().unwrap().is_empty(),
        "{service}"
    );

    let changes = client
        .read_resource(ReadResourceRequestParams::new("itops://telemetry/changes"))
        .await
        .unwrap();
    assert!(text(&changes.contents).is_array());

    let prefix: String = root.chars().take(2).collect();
    let completed = client
        .complete_resource_simple("itops://telemetry/services/{service}", "service", &prefix)
        .await
        .unwrap();
    assert!(completed.contains(&root), "{completed:?}");

    let missing = client
        .read_resource(ReadResourceRequestParams::new(
            "itops://telemetry/services/no-such-service",
        ))
        .await
        .unwrap_err();
    match missing {
        ServiceError::McpError(e) => assert_eq!(e.code, ErrorCode::RESOURCE_NOT_FOUND),
        other => panic!("{other}"),
    }
}
