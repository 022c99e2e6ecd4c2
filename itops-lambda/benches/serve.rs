//! Benchmarks of the local system, each against a baseline measured in the same run:
//!
//! 1. **API latency and throughput** under a bounded closed-loop loopback load (C clients,
//!    each sending its next request when the last one answered, for D seconds):
//!    `GET /api/incidents/{id}` and `POST /api/incidents` on `itops serve`'s router (auth,
//!    rate limit, metrics, SQLite) against a bare axum route answering the same incident
//!    JSON from memory on the same runtime and HTTP stack.
//! 2. **End-to-end incidents per minute** through the full workflow (simulated fault →
//!    monitoring → incident → triage → root cause → plan → auto-approved execution →
//!    verification) with the offline planner, the simulator and SQLite, against the same
//!    workflow runner with steps that do nothing (what the durable workflow alone costs).
//!
//! Run: `cargo bench -p itops-lambda --bench serve` (options: `-- --clients 16 --seconds 5
//! --incidents 12`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use itops_core::clock::SystemClock;
use itops_core::store::{IncidentStore, SqliteStore};
use itops_core::workflow::{
    ActionRecord, LocalRunner, Progress, VerificationReport, WorkflowSteps,
};
use itops_core::{
    IncidentContext, NewIncident, RemediationAction, RemediationPlan, RootCauseFinding, Severity,
    TriageAssessment,
};
use itops_lambda::app::config::{PolicyMode, ServeConfig};
use itops_lambda::app::App;
use serde_json::{json, Value};

const TOKEN: &str = "bench-token-0123456789abcdef";

struct Options {
    clients: usize,
    seconds: u64,
    incidents: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Options {
        clients: get("--clients", 16) as usize,
        seconds: get("--seconds", 5),
        incidents: get("--incidents", 12) as usize,
    }
}

/// Latencies of one load run.
struct Load {
    name: String,
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Load {
    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let i = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[i]
    }

    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self) {
        println!(
            "  {:<44} {:>8.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   errors {}",
            self.name,
            self.throughput(),
            self.quantile(0.5).as_secs_f64() * 1000.0,
            self.quantile(0.99).as_secs_f64() * 1000.0,
            self.errors
        );
    }
}

/// C clients in a closed loop for `seconds`, each request built by `make`.
async fn load(
    name: &str,
    clients: usize,
    seconds: u64,
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Load {
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match make(&client).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Load {
        name: name.to_string(),
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.latencies.extend(l);
        all.errors += e;
    }
    all.elapsed = started.elapsed();
    all
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    format!("http://{addr}")
}

async fn app(data: &std::path::Path, policy: PolicyMode) -> (App, String) {
    let mut config = ServeConfig {
        data_dir: Some(data.to_path_buf()),
        ..ServeConfig::default()
    };
    config.policy.mode = policy;
    config.auth.admin_token = Some(TOKEN.into());
    config.http.requests_per_minute = Some(100_000_000);
    let app = App::build(config).await.unwrap();
    app.start_background().await.unwrap();
    let url = serve(app.router()).await;
    (app, url)
}

async fn api(opts: &Options) {
    println!(
        "API under a closed-loop load: {} clients, {} s each",
        opts.clients, opts.seconds
    );
    let data = tempfile::tempdir().unwrap();
    let (_app, url) = app(data.path(), PolicyMode::Default).await;
    let client = reqwest::Client::new();
    let incident: Value = client
        .post(format!("{url}/api/incidents"))
        .bearer_auth(TOKEN)
        .json(&json!({"title": "Checkout latency above 2 s", "description": "p99 rose to 2.4 s",
                      "severity": "high", "affected_services": ["checkout"], "detected_by": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = incident["id"].as_str().unwrap().to_string();

    // The baseline: the same JSON from memory through the same HTTP stack.
    let body = incident.to_string();
    let bare = axum::Router::new().route(
        "/static",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let bare_url = serve(bare).await;
    let base = load(
        "baseline: bare axum route, same JSON",
        opts.clients,
        opts.seconds,
        move |c| c.get(format!("{bare_url}/static")),
    )
    .await;
    base.print();
    let get_url = format!("{url}/api/incidents/{id}");
    let get = load(
        "GET /api/incidents/{id}",
        opts.clients,
        opts.seconds,
        move |c| c.get(&get_url).bearer_auth(TOKEN),
    )
    .await;
    get.print();
    let post_url = format!("{url}/api/incidents");
    let post = load(
        "POST /api/incidents",
        opts.clients,
        opts.seconds,
        move |c| {
            c.post(&post_url).bearer_auth(TOKEN).json(&json!({
                "title": "Checkout latency above 2 s", "severity": "high",
                "affected_services": ["checkout"], "detected_by": "bench"}))
        },
    )
    .await;
    post.print();
    println!(
        "  ratios to the baseline: GET throughput {:.2}x, p50 {:.2}x, p99 {:.2}x; POST throughput {:.2}x, p50 {:.2}x",
        get.throughput() / base.throughput(),
        get.quantile(0.5).as_secs_f64() / base.quantile(0.5).as_secs_f64(),
        get.quantile(0.99).as_secs_f64() / base.quantile(0.99).as_secs_f64(),
        post.throughput() / base.throughput(),
        post.quantile(0.5).as_secs_f64() / base.quantile(0.5).as_secs_f64(),
    );
}

/// Steps that do nothing: one no-op action, verified at once.
struct NoopSteps;

#[async_trait]
impl WorkflowSteps for NoopSteps {
    async fn triage(&self, c: &IncidentContext) -> itops_core::Result<TriageAssessment> {
        Ok(serde_json::from_value(json!({
            "incident_id": c.incident.id, "severity": "high", "urgency": 5, "route": "investigate",
            "reasoning": "bench", "next_steps": []
        }))
        .map_err(|e| itops_core::Error::serialization("triage", e))?)
    }
    async fn investigate(&self, _: &IncidentContext) -> itops_core::Result<RootCauseFinding> {
        Ok(serde_json::from_value(json!({
            "candidates": [{"service": "checkout", "fault": "memory_leak", "confidence": 0.9, "evidence": [
                {"type": "metric", "service": "checkout", "metric": "memory_usage_mb", "summary": "up"}]}],
            "contributing_factors": [], "summary": "bench"
        }))
        .map_err(|e| itops_core::Error::serialization("finding", e))?)
    }
    async fn plan(&self, c: &IncidentContext) -> itops_core::Result<RemediationPlan> {
        let action: RemediationAction = serde_json::from_value(json!({
            "id": itops_core::ActionId::new(), "catalogue_id": "restart_service", "target": "checkout",
            "risk": "low", "reversible": true, "expected_effect": "memory back to baseline"
        }))
        .map_err(|e| itops_core::Error::serialization("action", e))?;
        Ok(RemediationPlan {
            incident_id: c.incident.id,
            actions: vec![action],
            rationale: "bench".into(),
        })
    }
    fn requires_approval(&self, _: &RemediationPlan) -> bool {
        false
    }
    async fn execute(
        &self,
        _: &IncidentContext,
        _: &RemediationAction,
    ) -> itops_core::Result<String> {
        Ok("done".into())
    }
    async fn verify(
        &self,
        _: &IncidentContext,
        _: &[ActionRecord],
    ) -> itops_core::Result<VerificationReport> {
        Ok(VerificationReport::new(true, "bench", Value::Null))
    }
}

async fn end_to_end(opts: &Options) {
    println!(
        "End to end: {} incidents through the whole workflow, one after another",
        opts.incidents
    );
    // Baseline: the durable workflow alone (SQLite checkpoints, timeline), no-op steps.
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(SystemClock);
    let store = Arc::new(SqliteStore::open(data.path().join("b.sqlite3"), clock.clone()).unwrap());
    let runner = LocalRunner::new(
        store.clone(),
        store.clone(),
        Arc::new(NoopSteps),
        clock.clone(),
    );
    let started = Instant::now();
    for i in 0..opts.incidents {
        let incident = NewIncident::new(format!("bench {i}"), Severity::High)
            .into_incident(chrono::Utc::now())
            .unwrap();
        let incident = store.create_incident(&incident).await.unwrap();
        runner.start(incident.id).await.unwrap();
        let progress = runner.advance(incident.id).await.unwrap();
        assert!(matches!(progress, Progress::Finished(_)));
    }
    let base = started.elapsed();
    let base_rate = opts.incidents as f64 / base.as_secs_f64() * 60.0;
    println!(
        "  baseline: workflow runner, no-op steps, SQLite   {base_rate:>10.0} incidents/min ({:.1} ms each)",
        base.as_secs_f64() * 1000.0 / opts.incidents as f64
    );

    // The real thing, through the API: inject a fault, wait until its incident ends.
    let data = tempfile::tempdir().unwrap();
    let (app, url) = app(data.path(), PolicyMode::AutoApprove).await;
    let live = app.simulator().cloned().unwrap();
    let client = reqwest::Client::new();
    let status: Value = client
        .get(format!("{url}/api/simulator"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<(String, String)> = status["fault_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| {
            let kind = k["kind"].as_str().unwrap().to_string();
            k["services"]
                .as_array()
                .unwrap()
                .iter()
                .take(1)
                .map(move |s| (kind.clone(), s.as_str().unwrap().to_string()))
        })
        .collect();
    let started = Instant::now();
    let mut resolved = 0;
    let mut ended = 0;
    for i in 0..opts.incidents {
        let (kind, service) = &kinds[i % kinds.len()];
        // An hour of quiet between incidents, so one's aftermath is not the next one's noise.
        let quiet = live.clone();
        tokio::task::spawn_blocking(move || quiet.advance(Duration::from_secs(3600)))
            .await
            .unwrap()
            .unwrap();
        let injected: Value = client
            .post(format!("{url}/api/simulator/faults"))
            .bearer_auth(TOKEN)
            // Unfixed faults stop within the hour of quiet before the next one.
            .json(
                &json!({"kind": kind, "service": service, "severity": 0.9, "duration_minutes": 45}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let Some(id) = injected["incident"]["id"].as_str() else {
            continue;
        };
        loop {
            let incident: Value = client
                .get(format!("{url}/api/incidents/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match incident["status"].as_str() {
                Some("resolved") => {
                    resolved += 1;
                    break;
                }
                Some("escalated") => {
                    let checkpoint: Value = client
                        .get(format!("{url}/api/incidents/{id}/workflow"))
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let reason = checkpoint["data"]["escalation_reason"]
                        .as_str()
                        .unwrap_or("");
                    println!(
                        "    {kind} on {service}: escalated: {}",
                        reason.chars().take(160).collect::<String>()
                    );
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        ended += 1;
    }
    let full = started.elapsed();
    let rate = ended as f64 / full.as_secs_f64() * 60.0;
    println!(
        "  itops: fault → incident → agents → execution → verification {rate:>6.0} incidents/min ({:.0} ms each; {ended} ended, {resolved} resolved)",
        full.as_secs_f64() * 1000.0 / ended.max(1) as f64
    );
    println!("  ratio to the baseline: {:.3}x the rate", rate / base_rate);
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        api(&opts).await;
        end_to_end(&opts).await;
    });
}
