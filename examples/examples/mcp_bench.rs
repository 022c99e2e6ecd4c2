//! Benchmark of MCP `tools/call` round trips: an itops server (rmcp) against an equivalent
//! server written with the official Python SDK, over stdio and streamable HTTP, both
//! answering the same query (`metric_summary`) over the same telemetry bundle.
//!
//! ```text
//! scripts/setup-test-deps      # the Python SDK in .venv
//! cargo run --release -p itops-examples --example mcp_bench -- [--calls 2000] [--concurrency 8]
//! ```
//!
//! The client is the itops client bridge (rmcp) in every case. Prints a Markdown table:
//! latency percentiles of sequential calls, and calls/s sequential and concurrent.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use itops_core::telemetry::bundle::{load_bundle, LoadOptions};
use itops_core::telemetry::{MetricQuery, TelemetryIndex, TimeRange};
use itops_core::TelemetrySource;
use itops_mcp::{
    serve_http, serve_stdio, ClientOptions, HttpOptions, McpClient, McpServer, ServerTarget,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Arguments of `metric_summary`.
#[derive(Deserialize, JsonSchema)]
struct SummaryArgs {
    /// The service.
    service: String,
    /// Only this metric.
    metric: Option<String>,
}

/// Samples, min, max, mean and last value of each metric of a service.
struct MetricSummary {
    index: Arc<dyn TelemetrySource>,
}

#[async_trait]
impl itops_core::Tool for MetricSummary {
    type Args = SummaryArgs;
    type Output = Value;
    fn name(&self) -> &str {
        "metric_summary"
    }
    fn description(&self) -> &str {
        "Samples, min, max, mean and last value of each metric of a service."
    }
    async fn call(&self, args: SummaryArgs) -> itops_core::Result<Value> {
        let Some(bounds) = self.index.time_bounds().await? else {
            return Ok(json!({"service": args.service, "metrics": []}));
        };
        let range = TimeRange {
            start: bounds.start,
            end: bounds.end + chrono::Duration::nanoseconds(1),
        };
        let mut series = self
            .index
            .metrics(&MetricQuery {
                range,
                service: Some(args.service.clone()),
                metric: args.metric,
            })
            .await?;
        if series.is_empty() && !self.index.services().await?.contains(&args.service) {
            return Err(itops_core::Error::not_found("service", &args.service));
        }
        series.sort_by(|a, b| a.metric.cmp(&b.metric));
        let metrics: Vec<Value> = series
            .iter()
            .filter(|s| !s.points.is_empty())
            .map(|s| {
                let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
                json!({
                    "metric": s.metric,
                    "samples": values.len(),
                    "min": values.iter().copied().fold(f64::INFINITY, f64::min),
                    "max": values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    "mean": values.iter().sum::<f64>() / values.len() as f64,
                    "last": values[values.len() - 1],
                })
            })
            .collect();
        Ok(json!({"service": args.service, "metrics": metrics}))
    }
}

fn rust_server(bundle: &Path) -> Result<McpServer, BoxError> {
    let index: Arc<TelemetryIndex> =
        Arc::new(load_bundle(bundle, &LoadOptions::default())?.into_index());
    Ok(McpServer::builder("itops-bench", "0")
        .tool(Arc::new(MetricSummary { index }))
        .build()?)
}

/// Latency percentiles and rates of one server and transport.
struct Measured {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    sequential_per_s: f64,
    concurrent_per_s: f64,
    answer: Value,
}

async fn measure(
    client: &McpClient,
    calls: usize,
    concurrency: usize,
) -> Result<Measured, BoxError> {
    let args = json!({"service": "checkout"});
    let answer = client.call_tool("metric_summary", args.clone()).await?;
    for _ in 0..calls / 10 {
        client.call_tool("metric_summary", args.clone()).await?;
    }
    let mut latencies = Vec::with_capacity(calls);
    let started = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        client.call_tool("metric_summary", args.clone()).await?;
        latencies.push(t.elapsed());
    }
    let sequential_per_s = calls as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let args = args.clone();
        let share = calls / concurrency;
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                client.call_tool("metric_summary", args.clone()).await?;
            }
            Ok::<_, itops_core::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let concurrent_per_s =
        (calls / concurrency * concurrency) as f64 / started.elapsed().as_secs_f64();
    Ok(Measured {
        p50: at(0.50),
        p95: at(0.95),
        p99: at(0.99),
        sequential_per_s,
        concurrent_per_s,
        answer,
    })
}

struct Child(tokio::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

async fn spawn_http(program: &Path, args: &[String]) -> Result<(Child, String), BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let child = Child(command.spawn()?);
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            return Err(format!("{} did not listen on {addr}", program.display()).into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, format!("http://{addr}/mcp")))
}

fn same_answer(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_answer(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_answer(v, w)))
        }
        _ => a == b,
    }
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Server modes, started by the benchmark itself.
    if let Some(bundle) = option(&args, "--serve-stdio") {
        serve_stdio(&rust_server(Path::new(&bundle))?).await?;
        return Ok(());
    }
    if let Some(bundle) = option(&args, "--serve-http") {
        let port: u16 = args.last().ok_or("--serve-http DIR PORT")?.parse()?;
        let options = HttpOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            // A benchmark fixture on loopback; its clients send no token.
            no_auth: true,
            ..HttpOptions::default()
        };
        serve_http(&rust_server(Path::new(&bundle))?, options)
            .await?
            .wait()
            .await?;
        return Ok(());
    }

    let calls: usize = option(&args, "--calls").map_or(Ok(2000), |c| c.parse())?;
    let concurrency: usize = option(&args, "--concurrency").map_or(Ok(8), |c| c.parse())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("workspace root")?;
    let python = root.join(".venv/bin/python");
    let python_server = root.join("itops-mcp/tests/python/bench_server.py");
    let bundle_dir = tempdir()?;
    itops_sim::generate("cascade_failure", 1)?.write(&bundle_dir)?;
    let bundle = bundle_dir.display().to_string();
    let me = std::env::current_exe()?;
    let options = ClientOptions {
        call_timeout: Duration::from_secs(30),
        ..ClientOptions::default()
    };

    println!("| server | transport | p50 | p95 | p99 | calls/s (sequential) | calls/s ({concurrency} concurrent) |");
    println!("|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for (server, transport) in [
        ("itops (rmcp)", "stdio"),
        ("itops (rmcp)", "http"),
        ("Python SDK", "stdio"),
        ("Python SDK", "http"),
    ] {
        let rust = server.starts_with("itops");
        let (program, mut server_args): (PathBuf, Vec<String>) = if rust {
            (
                me.clone(),
                vec![format!("--serve-{transport}"), bundle.clone()],
            )
        } else {
            (
                python.clone(),
                vec![python_server.display().to_string(), bundle.clone()],
            )
        };
        let (_child, client) = if transport == "stdio" {
            let target = ServerTarget::stdio(program.display().to_string(), server_args);
            (
                None,
                McpClient::connect(server, &target, options.clone()).await?,
            )
        } else {
            if !rust {
                server_args.push("--http".into());
            }
            let (child, url) = spawn_http(&program, &server_args).await?;
            (
                Some(child),
                McpClient::connect(server, &ServerTarget::http(url), options.clone()).await?,
            )
        };
        let m = measure(&client, calls, concurrency).await?;
        println!(
            "| {server} | {transport} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} | {:.0} |",
            m.p50.as_secs_f64() * 1e6,
            m.p95.as_secs_f64() * 1e6,
            m.p99.as_secs_f64() * 1e6,
            m.sequential_per_s,
            m.concurrent_per_s
        );
        rows.push((transport, m));
    }
    for transport in ["stdio", "http"] {
        let of: Vec<&Measured> = rows
            .iter()
            .filter(|(t, _)| *t == transport)
            .map(|(_, m)| m)
            .collect();
        let (itops, py) = (of[0], of[1]);
        if !same_answer(&itops.answer, &py.answer) {
            return Err(format!("the two servers answered differently over {transport}").into());
        }
        println!(
            "\n{transport}: itops answers in {:.1}x less time at p50 and serves {:.1}x (sequential) / {:.1}x (concurrent) the calls/s of the Python SDK; both answers are equal",
            py.p50.as_secs_f64() / itops.p50.as_secs_f64(),
            itops.sequential_per_s / py.sequential_per_s,
            itops.concurrent_per_s / py.concurrent_per_s
        );
    }
    let _ = std::fs::remove_dir_all(&bundle_dir);
    Ok(())
}

fn tempdir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("itops-mcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
