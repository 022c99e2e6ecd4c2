//! Starts one `moto_server` (the AWS emulator from PyPI) per test binary on a free loopback
//! port, and stops it when the binary exits.
//!
//! `scripts/setup-test-deps` installs moto into the workspace's `.venv`. Set
//! `ITOPS_TEST_AWS_ENDPOINT` to use an emulator that is already running instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use itops_aws::AwsSettings;

/// Runs moto and stops it when its stdin closes, i.e. when this test process ends for any
/// reason (statics are never dropped, so a `Drop` impl alone would leak the server).
const WATCHDOG: &str = r#"
import subprocess, sys
server = subprocess.Popen([sys.argv[1], "-H", "127.0.0.1", "-p", sys.argv[2]],
                          stdout=subprocess.DEVNULL, stderr=open(sys.argv[3], "w"))
try:
    sys.stdin.read()
finally:
    server.terminate()
    try:
        server.wait(5)
    except Exception:
        server.kill()
"#;

/// A running emulator.
pub(crate) struct Moto {
    endpoint: String,
    // Held so that the watchdog's stdin stays open for the life of the process.
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

/// The emulator's endpoint URL, starting it on first use. Fails the test with what to do
/// when the emulator cannot be started: these tests are never skipped.
pub(crate) fn endpoint() -> &'static str {
    match MOTO.get_or_init(start) {
        Ok(moto) => &moto.endpoint,
        Err(message) => panic!("{message}"),
    }
}

/// Emulator settings (fixed region, dummy credentials).
pub(crate) fn settings() -> AwsSettings {
    AwsSettings::emulator(endpoint())
}

fn start() -> Result<Moto, String> {
    if let Ok(endpoint) = std::env::var("ITOPS_TEST_AWS_ENDPOINT") {
        return Ok(Moto {
            endpoint,
            process: None,
        });
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin");
    let server = venv.join("moto_server");
    let python = venv.join("python");
    if !server.exists() || !python.exists() {
        return Err(format!(
            "the AWS emulator is not installed ({} is missing); run scripts/setup-test-deps \
             (or set ITOPS_TEST_AWS_ENDPOINT to a running emulator)",
            server.display()
        ));
    }
    let mut last_error = String::new();
    // A port found free can be taken before moto binds it; try a few.
    for _ in 0..5 {
        let port = free_port().map_err(|e| format!("finding a free port: {e}"))?;
        let log = std::env::temp_dir().join(format!("itops-moto-{port}.log"));
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(WATCHDOG)
            .arg(&server)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", python.display()))?;
        let stdin = child
            .stdin
            .take()
            .ok_or("no stdin for the emulator watchdog")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match wait_ready(addr, &mut child, Duration::from_secs(60)) {
            Ok(()) => {
                return Ok(Moto {
                    endpoint: format!("http://{addr}"),
                    process: Some(Mutex::new((child, stdin))),
                })
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                last_error = format!("{e}; emulator output:\n{output}");
            }
        }
    }
    Err(format!("the AWS emulator did not start: {last_error}"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
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
