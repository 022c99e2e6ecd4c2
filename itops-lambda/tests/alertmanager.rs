//! A real Alertmanager (the Debian package, installed by `scripts/setup-test-deps`) posting
//! to `itops serve`'s Alertmanager intake with an operator's token, as
//! `docs/operations.md` tells to configure it: an alert opens one incident for its
//! service, its repeats land on that incident, and its resolution adds a note to it. Never
//! skipped: without Alertmanager it fails saying what to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use itops_stack::testing::Alertmanager;

const ADMIN: &str = "alertmanager-test-admin-token-0123456789";
const OPERATOR: &str = "alertmanager-test-operator-token-0123456789";

/// `GET path` on the server with the admin token, as JSON.
async fn get(server: &support::Server, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", server.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits up to a minute for `found` to give something, then fails saying `what`.
async fn wait_for<T, F>(server: &support::Server, what: &str, mut found: F) -> T
where
    F: AsyncFnMut() -> Option<T>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = found().await {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} within a minute\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The incidents of `service`.
async fn incidents(server: &support::Server, service: &str) -> Vec<Value> {
    get(server, &format!("/api/incidents?service={service}")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Whether incident `id`'s timeline has a note containing `text`.
async fn has_note(server: &support::Server, id: &str, text: &str) -> bool {
    get(server, &format!("/api/incidents/{id}/timeline?limit=1000"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "note" && e.to_string().contains(text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_opens_one_incident_per_alert_and_notes_its_repeats_and_its_end() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The operator's token for Alertmanager; the workflow is not started, so that the
    // incident stays open whatever the telemetry says.
    let config = dir.path().join("itops.toml");
    std::fs::write(
        &config,
        format!(
            "[[auth.tokens]]\nname = \"alertmanager\"\nrole = \"operator\"\ntoken = \"{OPERATOR}\"\n\
             [workflow]\nauto_start_alerts = false\n"
        ),
    )
    .unwrap();
    let server = support::Server::start_with(
        data.path(),
        dir.path(),
        "alertmanager",
        ADMIN,
        &[],
        &["--config", config.to_str().unwrap()],
    );
    let alertmanager =
        Alertmanager::start(&format!("{}/api/alerts/alertmanager", server.url), OPERATOR)
            .unwrap_or_else(|e| panic!("{e}"));

    // Prometheus posts a firing alert: Alertmanager groups it and calls itops.
    let alert = |ends: Option<chrono::DateTime<chrono::Utc>>| {
        let mut a = json!({
            "labels": {"alertname": "CartErrors", "service": "cart", "severity": "critical"},
            "annotations": {"summary": "cart: 12% of requests fail"},
            "startsAt": (chrono::Utc::now() - chrono::Duration::minutes(2)).to_rfc3339(),
        });
        if let Some(ends) = ends {
            a["endsAt"] = json!(ends.to_rfc3339());
        }
        json!([a])
    };
    alertmanager.post(&alert(None)).unwrap();
    let incident = wait_for(&server, "an incident for cart", async || {
        incidents(&server, "cart").await.into_iter().next()
    })
    .await;
    assert_eq!(
        incident["title"], "cart: 12% of requests fail",
        "{incident:#}"
    );
    assert_eq!(incident["severity"], "critical", "{incident:#}");
    assert_eq!(incident["source"], "alertmanager", "{incident:#}");
    let id = incident["id"].as_str().unwrap().to_string();

    // The same alert again, and Alertmanager repeating it while it fires: notes on the
    // one incident, no second one.
    alertmanager.post(&alert(None)).unwrap();
    wait_for(
        &server,
        "a repeat of the alert on its incident",
        async || {
            has_note(&server, &id, "alert fired again")
                .await
                .then_some(())
        },
    )
    .await;
    let all = incidents(&server, "cart").await;
    assert_eq!(all.len(), 1, "{all:#?}");

    // The alert ends: Alertmanager sends it resolved, and itops notes that on the
    // incident, which stays open for people (or the workflow) to close.
    alertmanager
        .post(&alert(Some(
            chrono::Utc::now() - chrono::Duration::seconds(10),
        )))
        .unwrap();
    wait_for(
        &server,
        "the alert's resolution on its incident",
        async || {
            has_note(&server, &id, "reports the condition cleared")
                .await
                .then_some(())
        },
    )
    .await;
    let all = incidents(&server, "cart").await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["id"], id.as_str());
    assert_eq!(all[0]["status"], "open", "{:#}", all[0]);
}
