//! Test support (feature `test-utils`): one moto server (the AWS emulator from PyPI) per test
//! process on a free loopback port, stopped when the process exits, so that tests of code
//! using these adapters run against a real DynamoDB, CloudWatch and Step Functions API.
//!
//! The workspace's `scripts/setup-test-deps` installs moto into its `.venv`. Set
//! `ITOPS_TEST_AWS_ENDPOINT` to use an emulator that is already running instead.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::AwsSettings;

/// A running emulator.
struct Moto {
    endpoint: String,
    // Held so that the server's stdin stays open for the life of the test process.
    process: Option<Mutex<(Child, ChildStdin)>>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(process) = self.process.take() {
            if let Ok((mut child, _stdin)) = process.into_inner() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

/// The emulator's endpoint URL, starting it on first use; what to do when it cannot be
/// started.
pub fn moto_endpoint() -> Result<&'static str, String> {
    match MOTO.get_or_init(start) {
        Ok(moto) => Ok(&moto.endpoint),
        Err(message) => Err(message.clone()),
    }
}

/// Settings for the emulator (fixed region, dummy credentials), starting it on first use.
pub fn moto_settings() -> Result<AwsSettings, String> {
    moto_endpoint().map(AwsSettings::emulator)
}

fn start() -> Result<Moto, String> {
    if let Ok(endpoint) = std::env::var("ITOPS_TEST_AWS_ENDPOINT") {
        return Ok(Moto {
            endpoint,
            process: None,
        });
    }
    let root = itops_core::testing::workspace_root();
    let venv = root.join(".venv/bin");
    let python = venv.join("python");
    if !python.exists() || !venv.join("moto_server").exists() {
        return Err(format!(
            "the AWS emulator is not installed (no moto in {}); run scripts/setup-test-deps \
             (or set ITOPS_TEST_AWS_ENDPOINT to a running emulator)",
            venv.display()
        ));
    }
    let script = root.join("itops-aws/testing/serve_moto.py");
    // Its request log goes to a file, shown when it fails to start.
    let log_path = std::env::temp_dir().join(format!("itops-moto-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let log_tail = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("starting {} {}: {e}", python.display(), script.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin for the emulator")?;
    let stdout = child.stdout.take().ok_or("no stdout from the emulator")?;
    // The first line says which port it bound.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| {
        format!(
            "the AWS emulator did not report its port within 60s:\n{}",
            log_tail()
        )
    })?;
    let port: u16 = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("the AWS emulator did not start:\n{}", log_tail()))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_ready(addr, &mut child, Duration::from_secs(60))?;
    Ok(Moto {
        endpoint: format!("http://{addr}"),
        process: Some(Mutex::new((child, stdin))),
    })
}

/// Waits until moto answers HTTP on `addr`.
fn wait_ready(addr: SocketAddr, child: &mut Child, limit: Duration) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the emulator exited early ({status})"));
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = "GET /moto-api/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut head = [0u8; 12];
                if stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                    return Ok(());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no answer on {addr} within {}s", limit.as_secs()))
}
