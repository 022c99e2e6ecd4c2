//! A real Alertmanager (the Debian package `prometheus-alertmanager`, installed by
//! `scripts/setup-test-deps`) on a free loopback port, posting every alert to one webhook.

use super::{free_address, installed, request, Process};

/// A running Alertmanager with its own configuration and storage, clustering off, that
/// sends every alert group to one webhook with a bearer token: at once (`group_wait`
/// 1 s), again every few seconds while it fires (`group_interval` 1 s, `repeat_interval`
/// 3 s), and once more when it resolves (`send_resolved`). Stopped when dropped.
pub struct Alertmanager {
    server: Process,
}

/// The program: Debian's name, else upstream's.
fn program() -> &'static str {
    if !installed("prometheus-alertmanager") && installed("alertmanager") {
        "alertmanager"
    } else {
        "prometheus-alertmanager"
    }
}

impl Alertmanager {
    /// Starts Alertmanager routing every alert, grouped by `alertname` and `service`, to
    /// `webhook` with `Authorization: Bearer {token}`; waits until it is ready (up to a
    /// minute). What to do, when it cannot.
    pub fn start(webhook: &str, token: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let config = dir.path().join("alertmanager.yml");
        // JSON is YAML: the URL and token quoted whatever they hold.
        let quoted = |s: &str| serde_json::Value::from(s).to_string();
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: webhook\n  group_by: [alertname, service]\n  \
                 group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 3s\n\
                 receivers:\n  - name: webhook\n    webhook_configs:\n      \
                 - url: {}\n        send_resolved: true\n        \
                 http_config:\n          authorization:\n            credentials: {}\n",
                quoted(webhook),
                quoted(token)
            ),
        )
        .map_err(|e| format!("write: {e}"))?;
        let host = free_address()?;
        let args = [
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={host}"),
            "--cluster.listen-address=".to_string(),
        ];
        let server = Process::start(program(), &args, dir, &host, "/-/ready")?;
        Ok(Self { server })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Posts `alerts` (a JSON array of alerts: `labels`, `annotations`, optional
    /// `startsAt` and `endsAt`) to its v2 API, as Prometheus does.
    pub fn post(&self, alerts: &serde_json::Value) -> Result<(), String> {
        let host = self.server.url.trim_start_matches("http://");
        if request(host, "POST", "/api/v2/alerts", &alerts.to_string()) {
            Ok(())
        } else {
            Err(format!(
                "alertmanager on {host} refused the alerts {alerts}"
            ))
        }
    }
}
