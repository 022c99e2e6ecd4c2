//! A real Alertmanager (the Debian package `prometheus-alertmanager`, installed by
//! `scripts/setup-test-deps`) on a free loopback port, posting every alert to one webhook.

use std::process::{Child, Command, Stdio};

use super::{free_host, installed, request, wait_until};

/// A running Alertmanager with its own configuration and storage, clustering off, that
/// sends every alert group to one webhook with a bearer token: at once (`group_wait`
/// 1 s), again every few seconds while it fires (`group_interval` 1 s, `repeat_interval`
/// 3 s), and once more when it resolves (`send_resolved`). Stopped when dropped.
pub struct Alertmanager {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        let host = free_host()?;
        let program = program();
        let child = Command::new(program)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={host}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir(dir.path())
            .spawn()
            .map_err(|e| {
                format!("cannot start {program} ({e}): install it with scripts/setup-test-deps")
            })?;
        let server = Self {
            url: format!("http://{host}"),
            child,
            _dir: dir,
        };
        wait_until(&host, "/-/ready", "alertmanager")?;
        Ok(server)
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Posts `alerts` (a JSON array of alerts: `labels`, `annotations`, optional
    /// `startsAt` and `endsAt`) to its v2 API, as Prometheus does.
    pub fn post(&self, alerts: &serde_json::Value) -> Result<(), String> {
        let host = self.url.trim_start_matches("http://");
        if request(host, "POST", "/api/v2/alerts", &alerts.to_string()) {
            Ok(())
        } else {
            Err(format!(
                "alertmanager on {host} refused the alerts {alerts}"
            ))
        }
    }
}
