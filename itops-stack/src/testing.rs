//! Test support (feature `test-utils`): a real Prometheus server on a free loopback port,
//! its data backfilled from OpenMetrics text with `promtool tsdb create-blocks-from
//! openmetrics`, stopped when dropped. The workspace's `scripts/setup-test-deps` installs
//! Prometheus (Debian package `prometheus`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus server with its own configuration and data directory.
pub struct Prometheus {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let output = Command::new(program).args(args).output().map_err(|e| {
        format!("cannot run {program} ({e}): install Prometheus with scripts/setup-test-deps")
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn ready(url_host: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(url_host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /-/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

impl Prometheus {
    /// Backfills `openmetrics` (OpenMetrics text ending in `# EOF`, samples with Unix-second
    /// timestamps) into a fresh data directory and starts Prometheus on it; waits until it
    /// is ready (up to a minute). What to do, when it cannot.
    pub fn start(openmetrics: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let input = dir.path().join("data.om");
        let data = dir.path().join("tsdb");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&input, openmetrics).map_err(|e| format!("write: {e}"))?;
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1m\nscrape_configs: []\n",
        )
        .map_err(|e| format!("write: {e}"))?;
        run(
            "promtool",
            &[
                "tsdb".as_ref(),
                "create-blocks-from".as_ref(),
                "openmetrics".as_ref(),
                input.as_os_str(),
                data.as_os_str(),
            ],
        )?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let host = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            // Backfilled data may be old: keep it.
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address={host}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir(dir.path())
            .spawn()
            .map_err(|e| {
                format!("cannot start prometheus ({e}): install it with scripts/setup-test-deps")
            })?;
        let server = Self {
            url: format!("http://{host}"),
            child,
            _dir: dir,
        };
        let started = Instant::now();
        while !ready(&host) {
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "prometheus on {host} was not ready within a minute"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// One sample: metric name, labels, Unix seconds, value.
pub type Sample<'a> = (&'a str, &'a [(&'a str, &'a str)], i64, f64);

/// OpenMetrics text for `samples`, grouped by metric (each family once, as the format
/// requires), ending in `# EOF`. Counters are metrics whose name ends in `_total`.
pub fn openmetrics(samples: &[Sample<'_>]) -> String {
    let mut families: Vec<&str> = samples.iter().map(|s| s.0).collect();
    families.sort_unstable();
    families.dedup();
    let mut out = String::new();
    for family in families {
        let (kind, base) = match family.strip_suffix("_total") {
            Some(base) => ("counter", base),
            None => ("gauge", family),
        };
        out.push_str(&format!("# TYPE {base} {kind}\n"));
        for (metric, labels, at, value) in samples.iter().filter(|s| s.0 == family) {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            out.push_str(&format!("{metric}{{{}}} {value} {at}\n", labels.join(",")));
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Whether `program` is on the PATH.
pub fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(program).is_file())
    })
}
