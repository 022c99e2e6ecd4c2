//! [`CommandExecutor`]: runs remediation actions as allow-listed local programs (Unix).
//!
//! The operator maps catalogue ids to programs ([`CommandConfig`]); an action whose
//! catalogue id has no program is not run. A program runs directly (never through a
//! shell) with its configured arguments only: the action itself (target and parameters
//! are untrusted) arrives as one JSON document on stdin. Its environment is scrubbed, it
//! runs in a process group of its own that is killed on timeout, and the tails of its
//! stdout and stderr become the report's detail, so they land on the timeline.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use itops_core::environment::{ActionExecutor, ActionLedger, ActionReport};
use itops_core::{ActionId, Clock, Error, RemediationAction, Result, SystemClock};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

mod config;
pub use config::{CommandConfig, CommandSpec};

/// The `PATH` every program runs with.
pub const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";
/// Seconds an action may run when its spec names no timeout.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 60;
/// The longest timeout accepted: a day.
pub const MAX_TIMEOUT_SECONDS: u64 = 86_400;
/// Most bytes kept of each of stdout and stderr: the last ones.
pub const OUTPUT_TAIL_BYTES: usize = 4096;
/// How long output is still read once the program has exited (a background child may
/// hold the pipe open), and how long a killed program is waited for.
const GRACE: Duration = Duration::from_secs(2);
/// Variables the executor sets itself, which `pass_env` may not name.
const RESERVED_ENV: [&str; 4] = ["PATH", "ITOPS_ACTION_ID", "ITOPS_ACTION", "ITOPS_TARGET"];

/// An [`ActionExecutor`] that runs each action as the program configured for its catalogue
/// id. Idempotent by action id: a repeat, or a concurrent call, returns the first report
/// without running the program again. Failures (no program, non-zero exit, timeout, the
/// program could not start) are reports with `applied: false`, not errors.
#[derive(Debug)]
pub struct CommandExecutor {
    config: CommandConfig,
    clock: Arc<dyn Clock>,
    ledger: ActionLedger,
    in_flight: Mutex<HashMap<ActionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl CommandExecutor {
    /// An executor over a validated `config` ([`CommandConfig::validate`]) on the wall
    /// clock; a bad config is an [`Error::Invalid`].
    pub fn new(config: CommandConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            clock: Arc::new(SystemClock),
            ledger: ActionLedger::new(),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// With reports stamped by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Every report so far, oldest first.
    pub fn reports(&self) -> Vec<ActionReport> {
        self.ledger.reports()
    }

    fn turn(&self, id: ActionId) -> Turn<'_> {
        let gate = lock(&self.in_flight).entry(id).or_default().clone();
        Turn {
            map: &self.in_flight,
            id,
            gate,
        }
    }

    /// Whether the action was applied, and the detail saying what happened.
    async fn run(&self, action: &RemediationAction) -> Result<(bool, String)> {
        let Some(spec) = self.config.actions.get(&action.catalogue_id) else {
            return Ok((
                false,
                format!(
                    "no executor is configured for '{}'; nothing was run, the action stays \
                     a proposal",
                    action.catalogue_id
                ),
            ));
        };
        let input = stdin_document(action)?;
        if self.config.dry_run {
            return Ok((
                false,
                format!(
                    "dry run: would run {} with on stdin: {}",
                    spec.shown(),
                    String::from_utf8_lossy(&input)
                ),
            ));
        }
        Ok(run_program(spec, action, &input).await)
    }
}

#[async_trait]
impl ActionExecutor for CommandExecutor {
    async fn execute(&self, action: &RemediationAction) -> Result<ActionReport> {
        if let Some(report) = self.ledger.get(&action.id) {
            return Ok(report);
        }
        let turn = self.turn(action.id);
        let _held = turn.gate.lock().await;
        if let Some(report) = self.ledger.get(&action.id) {
            return Ok(report);
        }
        let (applied, detail) = self.run(action).await?;
        Ok(self.ledger.record(ActionReport {
            action_id: action.id,
            catalogue_id: action.catalogue_id.clone(),
            target: action.target.clone(),
            applied,
            at: self.clock.now(),
            detail,
        }))
    }
}

/// One caller's place in the queue of an action id; the last one out removes the gate.
struct Turn<'a> {
    map: &'a Mutex<HashMap<ActionId, Arc<tokio::sync::Mutex<()>>>>,
    id: ActionId,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut map = lock(self.map);
        // Clones are taken and dropped only under the map's lock: two are the map's and ours.
        let gate = std::mem::take(&mut self.gate);
        if map.get(&self.id).is_some_and(|g| Arc::ptr_eq(g, &gate)) && Arc::strong_count(&gate) == 2
        {
            map.remove(&self.id);
        }
        drop(gate);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned map of gates is still a valid map.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The action as the program reads it: the `RemediationAction` plus `"dry_run": false`.
fn stdin_document(action: &RemediationAction) -> Result<Vec<u8>> {
    let mut doc =
        serde_json::to_value(action).map_err(|e| Error::serialization("the action", e))?;
    if let Some(object) = doc.as_object_mut() {
        object.insert("dry_run".into(), serde_json::Value::Bool(false));
    }
    serde_json::to_vec(&doc).map_err(|e| Error::serialization("the action", e))
}

/// How a run ended.
enum Ending {
    Exited(std::io::Result<ExitStatus>),
    TimedOut,
}

async fn run_program(
    spec: &CommandSpec,
    action: &RemediationAction,
    input: &[u8],
) -> (bool, String) {
    let shown = spec.shown();
    let mut command = Command::new(&spec.program);
    command.args(&spec.args).env_clear().env("PATH", SAFE_PATH);
    for name in ["HOME", "LANG"]
        .into_iter()
        .chain(spec.pass_env.iter().map(String::as_str))
    {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .env("ITOPS_ACTION_ID", action.id.to_string())
        .env("ITOPS_ACTION", &action.catalogue_id)
        .env("ITOPS_TARGET", &action.target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match spawn(&mut command).await {
        Ok(child) => child,
        Err(e) => return (false, format!("could not start {shown}: {e}")),
    };
    tracing::info!(action = %action.id, program = %shown, "running {}", action.catalogue_id);
    let mut group = Group::of(child.id());
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let (mut out, mut err) = (Tail::default(), Tail::default());
    let timeout = Duration::from_secs(spec.timeout_seconds);
    let deadline = tokio::time::Instant::now() + timeout;
    let (ending, output_cut) = {
        let pumps = async { tokio::join!(pump(stdout, &mut out), pump(stderr, &mut err)) };
        let process = async {
            if let Some(mut stdin) = stdin {
                // A program that exits without reading its input is its own business.
                let _ = stdin.write_all(input).await;
            }
            child.wait().await
        };
        tokio::pin!(pumps, process);
        let mut pumped = false;
        let ending = loop {
            tokio::select! {
                status = &mut process => break Ending::Exited(status),
                _ = &mut pumps, if !pumped => pumped = true,
                () = tokio::time::sleep_until(deadline) => break Ending::TimedOut,
            }
        };
        if let Ending::TimedOut = ending {
            group.kill();
            // Reap it; kill_on_drop covers a program that outlives this.
            let _ = tokio::time::timeout(GRACE, &mut process).await;
        }
        group.armed = false;
        let cut = !pumped && tokio::time::timeout(GRACE, &mut pumps).await.is_err();
        (ending, cut)
    };
    let mut detail = match &ending {
        Ending::TimedOut => format!(
            "{shown} timed out after {}s; it and its process group were killed",
            timeout.as_secs()
        ),
        Ending::Exited(Err(e)) => format!("{shown} could not be waited for: {e}"),
        Ending::Exited(Ok(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("{shown} exited with status {code}"),
            (None, Some(signal)) => format!("{shown} was killed by signal {signal}"),
            (None, None) => format!("{shown} ended ({status})"),
        },
    };
    if output_cut {
        detail.push_str(" (its output was still open after it exited; stopped reading)");
    }
    out.append_to(&mut detail, "stdout");
    err.append_to(&mut detail, "stderr");
    let applied = matches!(ending, Ending::Exited(Ok(status)) if status.success());
    if !applied {
        tracing::warn!(action = %action.id, "{} not applied: {detail}", action.catalogue_id);
    }
    (applied, detail)
}

/// The program's process group, killed on drop while armed (a cancelled run).
struct Group {
    id: Option<rustix::process::Pid>,
    armed: bool,
}

impl Group {
    fn of(pid: Option<u32>) -> Self {
        let id = pid
            .and_then(|p| i32::try_from(p).ok())
            .and_then(rustix::process::Pid::from_raw);
        Self { id, armed: true }
    }

    fn kill(&self) {
        if let Some(id) = self.id {
            // Fails only if the group is already gone.
            let _ = rustix::process::kill_process_group(id, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.armed {
            self.kill();
        }
    }
}

/// The last [`OUTPUT_TAIL_BYTES`] of a stream, and how many bytes it had.
#[derive(Default)]
struct Tail {
    kept: Vec<u8>,
    total: u64,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        self.kept.extend_from_slice(bytes);
        if self.kept.len() > 2 * OUTPUT_TAIL_BYTES {
            let excess = self.kept.len() - OUTPUT_TAIL_BYTES;
            self.kept.drain(..excess);
        }
    }

    fn append_to(&self, detail: &mut String, name: &str) {
        let start = self.kept.len().saturating_sub(OUTPUT_TAIL_BYTES);
        let text = String::from_utf8_lossy(&self.kept[start..]);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let kept = self.kept.len() - start;
        if self.total > kept as u64 {
            detail.push_str(&format!(
                "\n{name} (last {kept} of {} bytes):\n",
                self.total
            ));
        } else {
            detail.push_str(&format!("\n{name}:\n"));
        }
        detail.push_str(text);
    }
}

/// Reads `stream` to its end into `tail`.
async fn pump<R: AsyncRead + Unpin>(stream: Option<R>, tail: &mut Tail) {
    let Some(mut stream) = stream else { return };
    let mut buf = [0u8; 8192];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        tail.push(&buf[..n]);
    }
}

/// Starts `command`, again a few times while its file is busy: a program being replaced
/// (or just written, its descriptor held a moment by a process forking meanwhile) cannot
/// be run until the writer lets go.
async fn spawn(command: &mut Command) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 10 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}
