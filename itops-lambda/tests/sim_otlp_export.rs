//! The live simulator's logs and traces sent over OTLP (`[simulator] otlp_endpoint`) to a
//! second `itops serve` that ingests OTLP: what the shop does is what the second server's
//! agents investigate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use serde_json::json;

const ADMIN: &str = "sim-export-admin-token-0123456789";
const INGEST: &str = "sim-export-ingest-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_traces_and_logs_reach_an_otlp_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let receiver_config = dir.path().join("receiver.toml");
    std::fs::write(
        &receiver_config,
        format!(
            "[[telemetry.sources]]\nkind = \"otlp\"\n\
             [[auth.tokens]]\nname = \"shop\"\nrole = \"ingest\"\ntoken = \"{INGEST}\"\n"
        ),
    )
    .unwrap();
    let receiver = support::Server::start_with(
        &dir.path().join("receiver-data"),
        dir.path(),
        "receiver",
        ADMIN,
        &[],
        &["--config", receiver_config.to_str().unwrap()],
    );
    let shop_config = dir.path().join("shop.toml");
    std::fs::write(
        &shop_config,
        format!(
            "[simulator]\notlp_endpoint = \"{}\"\notlp_token_env = \"SHOP_OTLP_TOKEN\"\n\
             otlp_interval_secs = 1\n",
            receiver.url
        ),
    )
    .unwrap();
    let shop = support::Server::start_with(
        &dir.path().join("shop-data"),
        dir.path(),
        "shop",
        ADMIN,
        &[("SHOP_OTLP_TOKEN", INGEST)],
        &["--config", shop_config.to_str().unwrap()],
    );
    // The receiver takes the shop's traces and logs, authenticated by the ingest token.
    let taken = |metrics: &str, route: &str| {
        metrics.lines().any(|l| {
            l.starts_with("itops_http_requests")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains("status=\"200\"")
                && l.contains("POST")
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let metrics = receiver.metrics_text(ADMIN).await;
        if taken(&metrics, "/v1/traces") && taken(&metrics, "/v1/logs") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the receiver took no traces and logs within 60 s\n{metrics}\n{}\n{}",
            receiver.output(),
            shop.output()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // The shop's traffic is what the receiver's agents read: an incident there finds data.
    let finding = receiver
        .investigate(
            ADMIN,
            json!({"title": "Checkout is slow", "severity": "high",
                   "affected_services": ["checkout"]}),
        )
        .await;
    let text = finding.to_string();
    assert!(
        !text.contains("no telemetry") && text.contains("of data before the incident"),
        "{finding:#}"
    );
    assert!(
        !shop.output().contains("WARN"),
        "the shop warned about its export: {}",
        shop.output()
    );
}
