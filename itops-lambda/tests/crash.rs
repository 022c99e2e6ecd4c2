//! The local system survives `kill -9`: `itops serve` runs incident workflows (raised by
//! the simulator's monitor after fault injection, and posted through the API), is killed
//! with SIGKILL at varied points — agents running, an incident being raised, waiting for
//! approval, right after a decision, executing, verifying — and restarted on the same data
//! directory, cycle after cycle. In the last life every waiting plan is approved and every
//! workflow is let finish, then a few fresh faults run start to end (so that resolved
//! incidents are audited too), and every incident is audited:
//!
//! - each ends (resolved or escalated) exactly once: one terminal `status_changed` on its
//!   timeline, and its checkpoint agrees with its status;
//! - no action ran twice (**duplicated**: more than one execution record, in the checkpoint
//!   or on the timeline) and none was skipped by a resolved incident (**lost**: a planned
//!   action with no execution record);
//!
//! both counts must be 0 and are printed with the rest (`--nocapture`).
//!
//! The simulator is not persisted: each restart starts it afresh, so a fix verified after a
//! restart may find nothing to confirm and escalate. Such escalations are legitimate; they
//! are counted, by reason, not hidden.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const TOKEN: &str = "crash-test-admin-token-0123456789abcdef";
/// How long one kill point may take to come about (every SQLite commit is synced to disk,
/// which slows ten workflows resuming at once on a small machine).
const TRIGGER_LIMIT: Duration = Duration::from_secs(60);
/// How long the workflows may take to finish once the kills are over.
const FINISH_LIMIT: Duration = Duration::from_secs(60);
/// How often states are polled while waiting for a kill point.
const POLL: Duration = Duration::from_millis(3);

/// Statuses in which a workflow is running (or about to).
const BUSY: &[&str] = &[
    "open",
    "triaging",
    "investigating",
    "planning",
    "executing",
    "verifying",
];
const TERMINAL: &[&str] = &["resolved", "escalated"];

/// `itops serve` on a free port, for one life; killed with SIGKILL when dropped.
struct Server(support::Server);

impl std::ops::Deref for Server {
    type Target = support::Server;

    fn deref(&self) -> &support::Server {
        &self.0
    }
}

impl Server {
    /// Starts the server on `data`, its `life`-th run, with the action policy `policy`.
    fn start(data: &Path, logs: &Path, life: usize, policy: &str) -> Self {
        Self(support::Server::start(
            data,
            logs,
            &format!("life-{life}"),
            TOKEN,
            &[
                ("ITOPS_POLICY", policy),
                // A queue, so that workflows wait in every state for a while.
                ("ITOPS_MAX_CONCURRENT", "2"),
                // The simulated clock runs far ahead (faults develop, fixes settle): no expiry.
                ("ITOPS_APPROVAL_TTL_SECS", "31536000"),
                ("ITOPS_RATE_LIMIT_PER_MINUTE", "10000000"),
            ],
        ))
    }

    /// How many unfinished workflows the server said it resumed (in the lines it prints
    /// after the listening line, up to the closing "open …" line).
    fn resumed(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.stdout_text();
            let banner_done = out.lines().any(|l| l.trim().starts_with("open "));
            if banner_done || Instant::now() > deadline {
                return out
                    .lines()
                    .find_map(|l| {
                        l.trim()
                            .strip_prefix("resumed ")
                            .and_then(|rest| rest.split_whitespace().next())
                            .and_then(|n| n.parse().ok())
                    })
                    .unwrap_or(0);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `kill -9` (dropping the process kills it).
    fn kill(self) {}
}

/// The API as an operator calls it; errors are strings (a killed server is expected).
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("HTTP client"),
            url: url.to_string(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Every incident.
    async fn incidents(&self) -> Result<Vec<Value>, String> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/incidents?limit=100&cursor={c}"),
                None => "/api/incidents?limit=100".to_string(),
            };
            let page = self.get(&path).await?;
            all.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(all),
            }
        }
    }

    /// Every incident's status, by id.
    async fn statuses(&self) -> Result<BTreeMap<String, String>, String> {
        Ok(self
            .incidents()
            .await?
            .iter()
            .map(|i| (text(&i["id"]), text(&i["status"])))
            .collect())
    }

    async fn checkpoint(&self, id: &str) -> Result<Option<Value>, String> {
        match self.get(&format!("/api/incidents/{id}/workflow")).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.contains("404") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The incident's whole timeline.
    async fn timeline(&self, id: &str) -> Result<Vec<Value>, String> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let after = all.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
            let page = self
                .get(&format!(
                    "/api/incidents/{id}/timeline?after_seq={after}&limit=1000"
                ))
                .await?;
            let page = page.as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }

    async fn pending_approvals(&self) -> Result<Vec<String>, String> {
        Ok(self
            .get("/api/approvals?status=pending")
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| text(&a["id"]))
            .collect())
    }

    async fn approve(&self, approval_id: &str) -> Result<Value, String> {
        self.post(
            &format!("/api/approvals/{approval_id}/decision"),
            json!({ "decision": "approve", "comment": "crash test" }),
        )
        .await
    }

    /// Injects a fault; the incident monitoring raised for it, if any.
    async fn inject(&self, kind: &str, service: &str) -> Result<Option<String>, String> {
        let injected = self
            .post(
                "/api/simulator/faults",
                json!({ "kind": kind, "service": service, "severity": 0.9 }),
            )
            .await?;
        Ok(injected["incident"]["id"].as_str().map(str::to_string))
    }

    /// Reports an incident about `service` and starts its workflow.
    async fn report(&self, service: &str, n: usize) -> Result<String, String> {
        let incident = self
            .post(
                "/api/incidents",
                json!({
                    "title": format!("{service}: latency and errors up ({n})"),
                    "description": format!("users of {service} see slow responses and some errors"),
                    "severity": "medium",
                    "affected_services": [service],
                }),
            )
            .await?;
        let id = text(&incident["id"]);
        self.post(&format!("/api/incidents/{id}/workflow"), json!({}))
            .await?;
        Ok(id)
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// What a cycle does before its kill point.
#[derive(Clone, Copy, Debug)]
enum Work {
    /// Injects these faults (kind, service) and reports incidents about these services.
    Raise(
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    ),
    /// Injects this fault while the kill comes (the incident is being raised).
    RaiseInFlight(&'static str, &'static str),
    /// Approves this many waiting plans (all of them with `usize::MAX`).
    Approve(usize),
}

/// When a cycle kills the server.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// As soon as any incident is in one of these statuses.
    Status(&'static [&'static str]),
    /// As soon as an incident appears that was not there before the work.
    NewIncident,
    /// As soon as a watched workflow has recorded an action as started.
    ActionStarted,
    /// As soon as a watched workflow has stored its final checkpoint.
    FinalCheckpoint,
    /// This long after the work.
    After(Duration),
    /// Once every workflow waits for a human or has ended (the restart resumed them all).
    Quiet,
}

/// One life of the server, ended by `kill -9`.
struct Cycle {
    point: &'static str,
    policy: &'static str,
    work: Work,
    kill_at: KillAt,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The kill points, in order. What they wait for is deterministic; where exactly in a step
/// the timed ones land varies from run to run, which is the point.
const CYCLES: &[Cycle] = &[
    Cycle {
        point: "agents running",
        policy: "always_ask",
        work: Work::Raise(
            &[("memory_leak", "checkout"), ("bad_deploy", "payments")],
            &["checkout", "payments"],
        ),
        kill_at: KillAt::Status(&["investigating", "planning"]),
    },
    Cycle {
        point: "incident being raised by the monitor",
        policy: "always_ask",
        work: Work::RaiseInFlight("cpu_contention", "inventory"),
        kill_at: KillAt::NewIncident,
    },
    Cycle {
        point: "agents running after a resume",
        policy: "always_ask",
        work: Work::Raise(&[("exception_burst", "cart")], &["cart", "inventory"]),
        kill_at: KillAt::Status(&["triaging", "investigating"]),
    },
    Cycle {
        point: "awaiting approval",
        policy: "always_ask",
        work: Work::Raise(&[("memory_leak", "shipping")], &["shipping"]),
        kill_at: KillAt::Quiet,
    },
    Cycle {
        point: "right after a decision (+0 ms)",
        policy: "always_ask",
        work: Work::Approve(1),
        kill_at: KillAt::After(ms(0)),
    },
    Cycle {
        point: "action started",
        policy: "always_ask",
        work: Work::Approve(1),
        kill_at: KillAt::ActionStarted,
    },
    Cycle {
        point: "final checkpoint written",
        policy: "always_ask",
        work: Work::Approve(1),
        kill_at: KillAt::FinalCheckpoint,
    },
    Cycle {
        point: "action started",
        policy: "always_ask",
        work: Work::Approve(1),
        kill_at: KillAt::ActionStarted,
    },
    Cycle {
        point: "action started",
        policy: "always_ask",
        work: Work::Approve(1),
        kill_at: KillAt::ActionStarted,
    },
    Cycle {
        point: "action started",
        policy: "always_ask",
        work: Work::Approve(1),
        kill_at: KillAt::ActionStarted,
    },
    Cycle {
        point: "executing or verifying",
        policy: "auto_approve",
        work: Work::Raise(&[("bad_deploy", "catalog")], &["catalog", "checkout"]),
        kill_at: KillAt::Status(&["executing", "verifying"]),
    },
    Cycle {
        point: "incident being raised by the monitor",
        policy: "auto_approve",
        work: Work::RaiseInFlight("memory_leak", "cart"),
        kill_at: KillAt::NewIncident,
    },
    Cycle {
        point: "verifying",
        policy: "always_ask",
        work: Work::Approve(usize::MAX),
        kill_at: KillAt::Status(&["verifying"]),
    },
    Cycle {
        point: "final checkpoint written",
        policy: "auto_approve",
        work: Work::Raise(&[("memory_leak", "payments")], &[]),
        kill_at: KillAt::FinalCheckpoint,
    },
    Cycle {
        point: "anywhere (+150 ms)",
        policy: "auto_approve",
        work: Work::Raise(&[("exception_burst", "shipping")], &["shipping"]),
        kill_at: KillAt::After(ms(150)),
    },
    Cycle {
        point: "right after a decision (+5 ms)",
        policy: "default",
        work: Work::Approve(2),
        kill_at: KillAt::After(ms(5)),
    },
    Cycle {
        point: "anywhere (+400 ms)",
        policy: "default",
        work: Work::Raise(&[("cpu_contention", "checkout")], &["checkout"]),
        kill_at: KillAt::After(ms(400)),
    },
];

/// What the last life (which is not killed) raises, one after the other.
const FINAL_WORK: &[Work] = &[
    Work::Raise(&[("memory_leak", "checkout")], &["checkout"]),
    Work::Raise(&[("bad_deploy", "payments")], &[]),
];

/// Raised one at a time after [`FINAL_WORK`] until an incident is resolved.
const EXTRA_WORK: &[Work] = &[
    Work::Raise(&[("memory_leak", "cart")], &["cart"]),
    Work::Raise(&[("memory_leak", "shipping")], &["shipping"]),
    Work::Raise(&[("memory_leak", "payments")], &["payments"]),
];

fn count_by_status(statuses: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for status in statuses.values() {
        *counts.entry(status.clone()).or_insert(0) += 1;
    }
    counts
}

fn quiet(statuses: &BTreeMap<String, String>) -> bool {
    statuses.values().all(|s| !BUSY.contains(&s.as_str()))
}

/// What a cycle's work left behind for its kill point.
#[derive(Default)]
struct Worked {
    /// Incidents whose workflows the kill point watches.
    watch: Vec<String>,
    /// Incidents there before the work.
    before: Vec<String>,
    /// A request that is still running when the kill comes.
    in_flight: Option<tokio::task::JoinHandle<()>>,
}

/// Does the cycle's work.
async fn work(api: &Api, work: Work, reported: &mut usize) -> Worked {
    let mut worked = Worked {
        before: api
            .statuses()
            .await
            .expect("incidents")
            .into_keys()
            .collect(),
        ..Worked::default()
    };
    match work {
        Work::Raise(faults, services) => {
            for (kind, service) in faults {
                if let Some(id) = api.inject(kind, service).await.expect("inject a fault") {
                    worked.watch.push(id);
                }
            }
            for service in services {
                *reported += 1;
                let id = api
                    .report(service, *reported)
                    .await
                    .expect("report an incident");
                worked.watch.push(id);
            }
        }
        Work::RaiseInFlight(kind, service) => {
            let api = api.clone();
            worked.in_flight = Some(tokio::spawn(async move {
                let _ = api.inject(kind, service).await;
            }));
        }
        Work::Approve(n) => {
            let pending = api
                .get("/api/approvals?status=pending")
                .await
                .expect("approvals");
            for approval in pending.as_array().into_iter().flatten().take(n) {
                api.approve(&text(&approval["id"])).await.expect("approve");
                worked.watch.push(text(&approval["incident_id"]));
            }
        }
    }
    worked
}

/// Waits for the kill point; says what it saw.
async fn wait_for(api: &Api, kill_at: KillAt, worked: &Worked, server: &Server) -> String {
    let deadline = Instant::now() + TRIGGER_LIMIT;
    let missed = |what: &str| format!("missed ({what})");
    match kill_at {
        KillAt::After(delay) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            "timed".to_string()
        }
        KillAt::Status(wanted) => loop {
            let statuses = api.statuses().await.expect("incident statuses");
            if statuses.values().any(|s| wanted.contains(&s.as_str())) {
                return format!("{:?}", count_by_status(&statuses));
            }
            if Instant::now() > deadline || quiet(&statuses) {
                return missed(&format!(
                    "never {wanted:?}: {:?}",
                    count_by_status(&statuses)
                ));
            }
            tokio::time::sleep(POLL).await;
        },
        KillAt::NewIncident => loop {
            let statuses = api.statuses().await.expect("incident statuses");
            if let Some((id, status)) = statuses.iter().find(|(id, _)| !worked.before.contains(id))
            {
                return format!("{id} just opened ({status})");
            }
            if Instant::now() > deadline
                || worked.in_flight.as_ref().is_none_or(|t| t.is_finished())
            {
                return missed("no incident was raised");
            }
        },
        KillAt::ActionStarted | KillAt::FinalCheckpoint => {
            if worked.watch.is_empty() {
                return missed("nothing to watch");
            }
            loop {
                let mut past = 0;
                for id in &worked.watch {
                    let Some(checkpoint) = api.checkpoint(id).await.expect("checkpoint") else {
                        continue;
                    };
                    let state = text(&checkpoint["state"]);
                    let started = checkpoint["data"]["actions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|r| r["state"] == "started");
                    match kill_at {
                        KillAt::ActionStarted if started => {
                            return format!("{id}: an action started")
                        }
                        KillAt::FinalCheckpoint if TERMINAL.contains(&state.as_str()) => {
                            return format!("{id}: checkpoint '{state}'")
                        }
                        KillAt::ActionStarted
                            if state == "verifying" || TERMINAL.contains(&state.as_str()) =>
                        {
                            past += 1;
                        }
                        _ => {}
                    }
                }
                if past == worked.watch.len() {
                    return missed("the watched workflows went past it");
                }
                if Instant::now() > deadline {
                    return missed("the watched workflows did not get there");
                }
            }
        }
        KillAt::Quiet => loop {
            let statuses = api.statuses().await.expect("incident statuses");
            if quiet(&statuses) {
                return format!("{:?}", count_by_status(&statuses));
            }
            assert!(
                Instant::now() < deadline,
                "the restarted server did not bring every workflow to a wait or an end within \
                 {TRIGGER_LIMIT:?}: {statuses:?}\n{}",
                server.output()
            );
            tokio::time::sleep(POLL).await;
        },
    }
}

/// Approves every waiting plan until every incident has ended.
async fn finish_all(api: &Api, server: &Server) {
    let deadline = Instant::now() + FINISH_LIMIT;
    loop {
        let statuses = api.statuses().await.expect("incident statuses");
        if statuses.values().all(|s| TERMINAL.contains(&s.as_str())) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every incident ended within {FINISH_LIMIT:?}: {:?}\n{}",
            statuses
                .iter()
                .filter(|(_, s)| !TERMINAL.contains(&s.as_str()))
                .collect::<Vec<_>>(),
            server.output()
        );
        for approval in api.pending_approvals().await.expect("pending approvals") {
            api.approve(&approval).await.expect("approve");
        }
        tokio::time::sleep(ms(50)).await;
    }
}

/// What the audit found.
#[derive(Debug, Default)]
struct Audit {
    incidents: usize,
    resolved: usize,
    escalated: usize,
    /// Escalation reasons, by kind.
    escalations: BTreeMap<&'static str, usize>,
    actions_planned: usize,
    actions_succeeded: usize,
    actions_failed: usize,
    actions_interrupted: usize,
    /// Planned actions never started because the workflow ended first (escalations).
    actions_not_run: usize,
    duplicated: usize,
    lost: usize,
    /// Step outputs written more than once (the timeline is at-least-once by design).
    repeated_step_entries: usize,
    problems: Vec<String>,
}

fn escalation_kind(reason: &str) -> &'static str {
    if reason.starts_with("verification") {
        "verification found the problem persists"
    } else if reason.starts_with("triage") {
        "triage routed to humans"
    } else if reason.starts_with("the remediation plan has no actions") {
        "no actions proposed"
    } else if reason.starts_with("step") {
        "a step failed"
    } else if reason.contains(" failed: ") {
        "an action failed"
    } else if reason.starts_with("approval") {
        "approval rejected or expired"
    } else {
        "other"
    }
}

const STEP_OUTPUTS: &[&str] = &[
    "triage",
    "finding",
    "plan",
    "approval_requested",
    "approval_decided",
    "verification",
];

async fn audit(api: &Api) -> Audit {
    let mut audit = Audit::default();
    for incident in api.incidents().await.expect("incidents") {
        audit.incidents += 1;
        let id = text(&incident["id"]);
        let status = text(&incident["status"]);
        let mut problem = |what: String| audit.problems.push(format!("{id} ({status}): {what}"));
        if !TERMINAL.contains(&status.as_str()) {
            problem("did not end".to_string());
        }
        let timeline = api.timeline(&id).await.expect("timeline");
        let Some(checkpoint) = api.checkpoint(&id).await.expect("checkpoint") else {
            problem("has no workflow".to_string());
            continue;
        };
        if text(&checkpoint["state"]) != status {
            problem(format!(
                "the checkpoint says '{}'",
                text(&checkpoint["state"])
            ));
        }

        let terminal_changes = timeline
            .iter()
            .filter(|e| e["kind"] == "status_changed")
            .filter(|e| TERMINAL.contains(&e["payload"]["to"].as_str().unwrap_or_default()))
            .count();
        if terminal_changes != 1 {
            problem(format!(
                "{terminal_changes} terminal status changes on the timeline"
            ));
        }
        for kind in STEP_OUTPUTS {
            let n = timeline.iter().filter(|e| e["kind"] == *kind).count();
            audit.repeated_step_entries += n.saturating_sub(1);
        }

        let data = &checkpoint["data"];
        let planned: Vec<String> = data["plan"]["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| text(&a["id"]))
            .collect();
        let records: Vec<&Value> = data["actions"].as_array().into_iter().flatten().collect();
        let entries: Vec<&Value> = timeline.iter().filter(|e| e["kind"] == "action").collect();
        audit.actions_planned += planned.len();
        for action in &planned {
            let recorded: Vec<&&Value> = records
                .iter()
                .filter(|r| text(&r["action_id"]) == *action)
                .collect();
            let on_timeline = entries
                .iter()
                .filter(|e| text(&e["payload"]["action_id"]) == *action)
                .count();
            if recorded.len() > 1 || on_timeline > 1 {
                audit.duplicated += 1;
                problem(format!(
                    "action {action} executed more than once: {} checkpoint records, \
                     {on_timeline} timeline entries",
                    recorded.len()
                ));
            }
            match recorded.first().map(|r| text(&r["state"])).as_deref() {
                Some("succeeded") => audit.actions_succeeded += 1,
                Some("failed") => audit.actions_failed += 1,
                Some("interrupted") => audit.actions_interrupted += 1,
                Some(other) => problem(format!("action {action} left '{other}'")),
                None if status == "resolved" => {
                    audit.lost += 1;
                    problem(format!(
                        "planned action {action} never ran, yet the incident is resolved"
                    ));
                }
                None => audit.actions_not_run += 1,
            }
        }
        for record in &records {
            if !planned.contains(&text(&record["action_id"])) {
                problem(format!(
                    "executed action {} is not in the plan",
                    text(&record["action_id"])
                ));
            }
        }

        let reason = data["escalation_reason"].as_str().unwrap_or_default();
        match status.as_str() {
            "resolved" => audit.resolved += 1,
            "escalated" => {
                audit.escalated += 1;
                *audit
                    .escalations
                    .entry(escalation_kind(reason))
                    .or_insert(0) += 1;
            }
            _ => {}
        }
        let title: String = text(&incident["title"]).chars().take(44).collect();
        let actions: Vec<String> = records.iter().map(|r| text(&r["state"])).collect();
        eprintln!(
            "  {id}  {status:<9}  {title:<44}  actions {actions:?}  {}",
            if status == "escalated" {
                escalation_kind(reason)
            } else {
                ""
            }
        );
    }
    audit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_survive_kill_9_without_losing_or_repeating_actions() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");

    let mut reported = 0;
    let mut resumed = Vec::new();
    let mut missed = 0;
    for (life, cycle) in CYCLES.iter().enumerate() {
        let server = Server::start(&data, &logs, life, cycle.policy);
        resumed.push(server.resumed());
        let api = Api::new(&server.url);
        let worked = work(&api, cycle.work, &mut reported).await;
        let seen = wait_for(&api, cycle.kill_at, &worked, &server).await;
        server.kill();
        if let Some(task) = worked.in_flight {
            let _ = task.await;
        }
        missed += usize::from(seen.starts_with("missed"));
        eprintln!(
            "kill {:>2} at {} (policy {}): {seen}",
            life + 1,
            cycle.point,
            cycle.policy
        );
    }

    // The last life: nothing is killed. Whatever the kills left is approved and let finish;
    // then fresh faults, one at a time, run start to end, so that the resolved path is
    // audited too.
    let server = Server::start(&data, &logs, CYCLES.len(), "default");
    resumed.push(server.resumed());
    let api = Api::new(&server.url);
    finish_all(&api, &server).await;
    for work in FINAL_WORK {
        self::work(&api, *work, &mut reported).await;
        finish_all(&api, &server).await;
    }
    // The resolved path must be audited: if none of those was fixed (the agents do not cure
    // every fault, and a loaded machine shifts timing), a few more leaks, which a restart cures.
    let mut audit = audit(&api).await;
    for work in EXTRA_WORK {
        if audit.resolved > 0 {
            break;
        }
        self::work(&api, *work, &mut reported).await;
        finish_all(&api, &server).await;
        audit = self::audit(&api).await;
    }
    drop(server);

    eprintln!("--- crash test ---");
    eprintln!(
        "kills: {} with SIGKILL ({missed} kill point(s) missed, killed anyway); \
         restarts resumed {resumed:?} unfinished workflow(s)",
        CYCLES.len()
    );
    eprintln!(
        "incidents: {} — resolved {}, escalated {} {:?}",
        audit.incidents, audit.resolved, audit.escalated, audit.escalations
    );
    eprintln!(
        "actions planned: {} — succeeded {}, failed {}, interrupted by a kill {}, \
         not run (escalated first) {}",
        audit.actions_planned,
        audit.actions_succeeded,
        audit.actions_failed,
        audit.actions_interrupted,
        audit.actions_not_run
    );
    eprintln!(
        "step outputs written twice (the timeline is at-least-once): {}",
        audit.repeated_step_entries
    );
    eprintln!("duplicated actions: {}", audit.duplicated);
    eprintln!("lost actions: {}", audit.lost);
    eprintln!("took {:.1?}", started.elapsed());

    assert!(
        audit.problems.is_empty(),
        "{} problem(s):\n{}",
        audit.problems.len(),
        audit.problems.join("\n")
    );
    assert_eq!(audit.duplicated, 0, "duplicated actions");
    assert_eq!(audit.lost, 0, "lost actions");
    assert!(
        audit.incidents >= 10,
        "too few incidents to mean anything: {audit:?}"
    );
    assert!(
        audit.resolved > 0,
        "no incident was resolved, so no resolved incident was checked for lost actions: {audit:?}"
    );
}
