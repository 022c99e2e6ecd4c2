//! What the tests that run the `itops` binary share: the workspace root, the
//! missing-component rule, and `itops serve` started on a free port with its output in files.

#![allow(dead_code)]

#[cfg(feature = "aws")]
pub(crate) mod aws;

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the server may take to say where it listens.
const SERVER_START: Duration = Duration::from_secs(60);
const LISTENING: &str = "itops listening on ";

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    itops_core::testing::workspace_root()
}

/// Reports a missing component: a failure under `ITOPS_REQUIRE_REAL_CLIENTS`, else a skip.
pub(crate) fn missing(what: &str) {
    if std::env::var_os("ITOPS_REQUIRE_REAL_CLIENTS").is_some() {
        panic!("{what} is missing; run scripts/setup-test-deps to install it");
    }
    eprintln!("SKIPPED: {what} is missing (run scripts/setup-test-deps, or scripts/test)");
}

/// The installed tool at `relative` (under the workspace root), or `None` after
/// [`missing`] said so.
pub(crate) fn tool(relative: &str) -> Option<PathBuf> {
    let path = root().join(relative);
    if path.exists() {
        return Some(path);
    }
    missing(relative);
    None
}

/// A child process killed when dropped.
pub(crate) struct Spawned(pub(crate) Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `itops serve` with its output in files.
pub(crate) struct Server {
    /// The process.
    pub(crate) process: Spawned,
    /// Where it listens, e.g. `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Server {
    /// Starts `itops serve` on a free loopback port over `data`, with `token` as the admin
    /// token and only `env` of the `ITOPS_*` and `OTEL_*` settings (none inherited from the
    /// test's environment); its output goes to `logs/NAME.stdout` and `.stderr`. Waits until
    /// it listens.
    pub(crate) fn start(
        data: &Path,
        logs: &Path,
        name: &str,
        token: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::start_with(data, logs, name, token, env, &[])
    }

    /// [`start`](Self::start) with more command-line arguments (`--config FILE`).
    pub(crate) fn start_with(
        data: &Path,
        logs: &Path,
        name: &str,
        token: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> Self {
        let stdout = logs.join(format!("{name}.stdout"));
        let stderr = logs.join(format!("{name}.stderr"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_itops"));
        for (var, _) in std::env::vars_os() {
            let var_str = var.to_string_lossy();
            if var_str.starts_with("ITOPS_") || var_str.starts_with("OTEL_") {
                command.env_remove(var);
            }
        }
        let child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .env("ITOPS_ADMIN_TOKEN", token)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("server stdout file"))
            .stderr(File::create(&stderr).expect("server stderr file"))
            .spawn()
            .expect("start itops serve");
        let mut server = Self {
            process: Spawned(child),
            url: String::new(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + SERVER_START;
        loop {
            let out = std::fs::read_to_string(&server.stdout).unwrap_or_default();
            if let Some(url) = out.lines().find_map(|l| {
                l.trim().strip_prefix(LISTENING).and_then(|rest| {
                    rest.split_whitespace()
                        .next()
                        .map(|u| u.trim_end_matches('/').to_string())
                })
            }) {
                server.url = url;
                return server;
            }
            if let Ok(Some(status)) = server.process.0.try_wait() {
                panic!(
                    "itops serve exited ({status}) before listening\n{}",
                    server.output()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "itops serve printed no '{LISTENING}URL' line within {SERVER_START:?}\n{}",
                    server.output()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the server printed on stdout so far.
    pub(crate) fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The first entry of `kind` on incident `id`'s timeline, read with `token`; waits up
    /// to two minutes for it (the workflow runs on its own), then fails showing the
    /// timeline and the server's output.
    pub(crate) async fn wait_for_entry(
        &self,
        token: &str,
        id: &str,
        kind: &str,
    ) -> serde_json::Value {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let timeline: serde_json::Value = http
                .get(format!(
                    "{}/api/incidents/{id}/timeline?limit=1000",
                    self.url
                ))
                .bearer_auth(token)
                .send()
                .await
                .expect("read the timeline")
                .json()
                .await
                .expect("a timeline as JSON");
            if let Some(entry) = timeline
                .as_array()
                .and_then(|t| t.iter().find(|e| e["kind"] == kind))
            {
                return entry.clone();
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no {kind} within two minutes: {timeline:#}\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Opens the incident `body` describes, starts its workflow and waits for the
    /// root-cause finding on its timeline.
    pub(crate) async fn investigate(
        &self,
        token: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let http = reqwest::Client::new();
        let created: serde_json::Value = http
            .post(format!("{}/api/incidents", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("open the incident")
            .json()
            .await
            .expect("the incident as JSON");
        let id = created["id"]
            .as_str()
            .expect("the incident's id")
            .to_string();
        http.post(format!("{}/api/incidents/{id}/workflow", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("start the workflow");
        self.wait_for_entry(token, &id, "finding").await
    }

    /// The server's `/metrics` scrape.
    pub(crate) async fn metrics_text(&self, token: &str) -> String {
        reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("scrape /metrics")
            .text()
            .await
            .expect("the scrape as text")
    }

    /// The server's output so far, for failure messages.
    pub(crate) fn output(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- server stdout ---\n{}\n--- server stderr (last 60 lines) ---\n{}",
            read(&self.stdout),
            tail(&read(&self.stderr), 60)
        )
    }
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A token no one guesses, without a random-number crate.
pub(crate) fn random_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (0..3u8)
        .map(|i| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u128(nanos);
            hasher.write_u32(std::process::id());
            hasher.write_u8(i);
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

/// Two hours of metrics on a 15 s grid from `t0` (Unix seconds), backfilled into a real
/// Prometheus: four services, each with a cpu and a p99 latency series labelled `job`;
/// cart's cpu saturates at sample 400 and its latency follows. Returns the server and the
/// detection time, 20 samples after the fault.
pub(crate) fn cart_saturates_from(t0: i64) -> (itops_stack::testing::Prometheus, i64) {
    use itops_stack::testing::{openmetrics, Prometheus};
    let services = ["frontend", "cart", "catalog", "payments"];
    let labels: Vec<Vec<(&str, &str)>> = services
        .iter()
        .map(|s| vec![("job", *s), ("instance", "10.0.0.1:8080")])
        .collect();
    let mut samples = Vec::new();
    for (k, _) in services.iter().enumerate() {
        for i in 0..480_i64 {
            let at = t0 + i * 15;
            let wobble = (((i * 7919 + k as i64 * 104_729) % 13) as f64 - 6.0) / 6.0;
            let hot = k == 1 && i >= 400;
            let cpu = if hot { 95.0 } else { 30.0 } + wobble;
            let latency = if hot { 0.9 } else { 0.05 } + wobble / 1000.0;
            samples.push(("process_cpu_usage_percent", labels[k].as_slice(), at, cpu));
            samples.push((
                "http_latency_p99_seconds",
                labels[k].as_slice(),
                at,
                latency,
            ));
        }
    }
    let server = Prometheus::start(&openmetrics(&samples)).unwrap_or_else(|e| panic!("{e}"));
    (server, t0 + 420 * 15)
}

/// Serves `app`'s router on `listener` in the background, with each request's peer
/// address (the rate limiter and the audit trail read it), as `itops serve` does.
pub(crate) fn serve_app(listener: tokio::net::TcpListener, app: &itops_lambda::app::App) {
    let router = app.router();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
}
