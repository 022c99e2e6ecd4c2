//! The chain a self-hosted team runs, live and end to end, with the real servers (Debian's
//! `prometheus` and `prometheus-alertmanager`, installed by `scripts/setup-test-deps`): a
//! Prometheus scrapes the simulated shop of one `itops serve` as it runs, evaluates an
//! alert rule and sends the alert to an Alertmanager, which posts it to a second `itops
//! serve` configured with the Prometheus source; that itops opens the incident and
//! investigates over PromQL. (`scripts/demo-stack --check` runs the same chain on to the
//! action and its verification, which takes a quarter of an hour of live data.) Never
//! skipped: without Prometheus or Alertmanager it fails saying what to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use itops_stack::testing::{free_address, Alertmanager, Prometheus};

/// How long Prometheus scrapes the healthy shop before the fault.
const BASELINE: Duration = Duration::from_secs(60);
/// How long the alert, the incident and its finding may take after the fault.
const CHAIN: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scraping_the_live_shop_alerts_and_itops_finds_the_cause_over_promql() {
    let logs = tempfile::tempdir().unwrap();
    let (shop_data, itops_data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (shop_token, itops_token, alert_token) = (
        support::random_token(),
        support::random_token(),
        support::random_token(),
    );
    // The shop: itops serve with its live simulator, which exposes its services' metrics
    // at /api/simulator/metrics.
    let shop = support::Server::start(shop_data.path(), logs.path(), "shop", &shop_token, &[]);
    // The itops under test, its metrics from a Prometheus that is not running yet.
    let prometheus_host = free_address().unwrap();
    let config = itops_data.path().join("itops.toml");
    std::fs::write(
        &config,
        format!(
            "[[telemetry.sources]]\nkind = \"prometheus\"\nurl = \"http://{prometheus_host}\"\n\
             service_label = \"service\"\n\n[[auth.tokens]]\nname = \"alertmanager\"\n\
             role = \"operator\"\ntoken = \"{alert_token}\"\n"
        ),
    )
    .unwrap();
    let itops = support::Server::start_with(
        itops_data.path(),
        logs.path(),
        "itops",
        &itops_token,
        &[],
        &["--config", config.to_str().unwrap()],
    );
    let alertmanager = Alertmanager::start(
        &format!("{}/api/alerts/alertmanager", itops.url),
        &alert_token,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let shop_host = shop.url.trim_start_matches("http://");
    let alertmanager_host = alertmanager.url().trim_start_matches("http://");
    let prometheus_config = format!(
        "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nrule_files: [rules.yml]\n\
         alerting:\n  alertmanagers:\n    - static_configs: [{{targets: [\"{alertmanager_host}\"]}}]\n\
         scrape_configs:\n  - job_name: shop\n    metrics_path: /api/simulator/metrics\n    \
         authorization: {{credentials: \"{shop_token}\"}}\n    \
         static_configs: [{{targets: [\"{shop_host}\"]}}]\n"
    );
    let rules = "groups:\n  - name: shop\n    rules:\n      - alert: ServiceErrors\n        \
                 expr: error_rate > 0.05\n        for: 10s\n        \
                 labels: {severity: critical}\n        annotations:\n          \
                 summary: \"{{ $labels.service }}: requests failing\"\n";
    let _prometheus = Prometheus::start_scraping(
        &prometheus_host,
        &prometheus_config,
        &[("rules.yml", rules)],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    tokio::time::sleep(BASELINE).await;
    let http = reqwest::Client::new();
    let injected = http
        .post(format!("{}/api/simulator/faults", shop.url))
        .bearer_auth(&shop_token)
        .json(
            &json!({"kind": "connection_pool_exhaustion", "service": "checkout", "severity": 0.8}),
        )
        .send()
        .await
        .unwrap();
    assert!(
        injected.status().is_success(),
        "{}",
        injected.text().await.unwrap()
    );

    // The alert reaches itops through Alertmanager and opens an incident for checkout.
    let started = Instant::now();
    let id = loop {
        let incidents: Value = http
            .get(format!("{}/api/incidents?service=checkout", itops.url))
            .bearer_auth(&itops_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let opened = incidents["items"].as_array().and_then(|items| {
            items
                .iter()
                .find(|i| i["source"] == "alertmanager")
                .and_then(|i| i["id"].as_str().map(str::to_string))
        });
        if let Some(id) = opened {
            break id;
        }
        assert!(
            started.elapsed() < CHAIN,
            "no incident from Alertmanager for checkout within {CHAIN:?}: {incidents:#}\n{}",
            itops.output()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    // Investigated over PromQL: checkout first, on the metrics Prometheus scraped.
    let finding = itops.wait_for_entry(&itops_token, &id, "finding").await;
    let top = &finding["payload"]["candidates"][0];
    assert_eq!(top["service"], "checkout", "{finding:#}");
    assert!(
        top["evidence"].to_string().contains("error_rate")
            || top["evidence"].to_string().contains("pool"),
        "{finding:#}"
    );
}
