//! Test support (feature `test-utils`): real servers on free loopback ports, stopped when
//! dropped: Prometheus, its data backfilled from OpenMetrics text with
//! `promtool tsdb create-blocks-from openmetrics`, VictoriaMetrics, its data imported over
//! its HTTP API, and Alertmanager posting to a webhook. The workspace's
//! `scripts/setup-test-deps` installs them (Debian packages `prometheus`,
//! `victoria-metrics` and `prometheus-alertmanager`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use itops_core::telemetry::MetricSeries;

mod alertmanager;

pub use alertmanager::Alertmanager;

/// A running Prometheus server with its own configuration and data directory.
pub struct Prometheus {
    server: Process,
}

/// A server program running on a loopback address, in a directory of its own (removed
/// with it), killed when dropped.
struct Process {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts `program` with `args` in `dir`, serving on `host`, and waits until `ready`
    /// answers there (up to a minute). What to do, when it cannot be started.
    fn start(
        program: &str,
        args: &[String],
        dir: tempfile::TempDir,
        host: &str,
        ready: &str,
    ) -> Result<Self, String> {
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir(dir.path())
            .spawn()
            .map_err(|e| {
                format!("cannot start {program} ({e}): install it with scripts/setup-test-deps")
            })?;
        // Built before waiting, so that a server that never gets ready is stopped.
        let process = Self {
            url: format!("http://{host}"),
            child,
            _dir: dir,
        };
        wait_until(host, ready, program)?;
        Ok(process)
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

/// Sends one HTTP/1.0 request to `host`; whether it answered with a 2xx status.
fn request(host: &str, method: &str, path: &str, body: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // Bodies are JSON (Alertmanager's API checks) or text the server reads whatever the type.
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 2") || answer.starts_with("HTTP/1.1 2")
}

fn wait_until(host: &str, path: &str, what: &str) -> Result<(), String> {
    let started = Instant::now();
    while !request(host, "GET", path, "") {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("{what} on {host} was not ready within a minute"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
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
        let host = free_address()?;
        let args = [
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", data.display()),
            // Backfilled data may be old: keep it.
            "--storage.tsdb.retention.time=100y".to_string(),
            format!("--web.listen-address={host}"),
        ];
        let server = Process::start("prometheus", &args, dir, &host, "/-/ready")?;
        Ok(Self { server })
    }

    /// Starts VictoriaMetrics and imports `samples` into it (its Prometheus import API),
    /// flushed so that queries see them; waits until it is ready (up to a minute).
    pub fn start_victoria_metrics(samples: &[Sample<'_>]) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let host = free_address()?;
        let args = [
            format!("-storageDataPath={}", dir.path().join("data").display()),
            format!("-httpListenAddr={host}"),
            // Imported data may be old: keep it.
            "-retentionPeriod=100y".to_string(),
        ];
        let server = Process::start("victoria-metrics", &args, dir, &host, "/health")?;
        let mut text = String::new();
        for (metric, labels, at, value) in samples {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            text.push_str(&format!(
                "{metric}{{{}}} {value} {at}000\n",
                labels.join(",")
            ));
        }
        if !request(&host, "POST", "/api/v1/import/prometheus", &text)
            || !request(&host, "GET", "/internal/force_flush", "")
        {
            return Err(format!("victoria-metrics on {host} refused the import"));
        }
        Ok(Self { server })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Starts Prometheus on `host` (from [`free_address`]) with `config` (its YAML: live
    /// scrape targets, rules, Alertmanagers) and the `files` it names (name, content)
    /// written beside it, on an empty data directory; waits until it is ready (up to a
    /// minute). What to do, when it cannot.
    pub fn start_scraping(
        host: &str,
        config: &str,
        files: &[(&str, &str)],
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(|e| format!("write: {e}"))?;
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).map_err(|e| format!("write: {e}"))?;
        }
        let args = [
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()),
            format!("--web.listen-address={host}"),
        ];
        let server = Process::start("prometheus", &args, dir, host, "/-/ready")?;
        Ok(Self { server })
    }
}

/// A free loopback address (`127.0.0.1:PORT`) to start a server on, for servers that must
/// be named in another's configuration before they start.
pub fn free_address() -> Result<String, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    Ok(format!("127.0.0.1:{port}"))
}

/// One sample: metric name, labels, Unix seconds, value.
pub type Sample<'a> = (&'a str, &'a [(&'a str, &'a str)], i64, f64);

/// OpenMetrics text for `samples`, grouped by metric (each family once, as the format
/// requires), ending in `# EOF`. Counters are metrics whose name ends in `_total`.
pub fn openmetrics(samples: &[Sample<'_>]) -> String {
    let rows: Vec<(&str, String)> = samples
        .iter()
        .map(|(metric, labels, at, value)| {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            (*metric, format!("{{{}}} {value} {at}", labels.join(",")))
        })
        .collect();
    families(&rows)
}

/// OpenMetrics text for whole series, as [`openmetrics`] writes it: each series' samples
/// under its metric name with the label `label` holding its service, timestamps to the
/// millisecond (as a bundle holds them). The metric names must be valid Prometheus names.
pub fn openmetrics_of(series: &[MetricSeries], label: &str) -> String {
    let mut rows = Vec::new();
    for s in series {
        for p in &s.points {
            let millis = p.at.timestamp_millis();
            rows.push((
                s.metric.as_str(),
                format!(
                    "{{{label}=\"{}\"}} {} {}.{:03}",
                    s.service,
                    p.value,
                    millis.div_euclid(1000),
                    millis.rem_euclid(1000)
                ),
            ));
        }
    }
    families(&rows)
}

/// `(metric, "{labels} value timestamp")` rows as OpenMetrics families (each once, rows
/// in their order within it), ending in `# EOF`.
fn families(rows: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = rows.iter().collect();
    sorted.sort_by_key(|r| r.0);
    let mut out = String::new();
    let mut current = None;
    for (family, rest) in sorted {
        if current != Some(*family) {
            current = Some(*family);
            let (kind, base) = match family.strip_suffix("_total") {
                Some(base) => ("counter", base),
                None => ("gauge", *family),
            };
            out.push_str(&format!("# TYPE {base} {kind}\n"));
        }
        out.push_str(&format!("{family}{rest}\n"));
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
