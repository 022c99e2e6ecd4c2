//! Which program runs each catalogue action: [`CommandConfig`] and [`CommandSpec`], checked
//! before anything runs.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use itops_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::{DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, RESERVED_ENV};

/// Which program runs each catalogue action. In TOML:
///
/// ```toml
/// dry_run = false
///
/// [actions.restart_service]
/// program = "/opt/itops/bin/restart.sh"
///
/// [actions.scale_out]
/// program = "/usr/local/bin/kubectl-scale"
/// args = ["--replicas=+1"]
/// timeout_seconds = 120
/// pass_env = ["KUBECONFIG"]
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Record what would run (program, arguments, stdin) instead of running anything.
    #[serde(default)]
    pub dry_run: bool,
    /// The program of each catalogue id; an action whose catalogue id is missing is not run.
    #[serde(default)]
    pub actions: BTreeMap<String, CommandSpec>,
}

impl CommandConfig {
    /// No programs; not a dry run.
    pub fn new() -> Self {
        Self::default()
    }

    /// With actions of `catalogue_id` run by `spec`.
    pub fn action(mut self, catalogue_id: impl Into<String>, spec: CommandSpec) -> Self {
        self.actions.insert(catalogue_id.into(), spec);
        self
    }

    /// With dry-run mode on or off.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Checks every spec: the program an absolute path to an executable file, the timeout
    /// within 1 s to a day, the `pass_env` names plain variable names.
    pub fn validate(&self) -> Result<()> {
        for (id, spec) in &self.actions {
            if id.trim().is_empty() {
                return Err(Error::invalid(
                    "actions",
                    "a catalogue id must not be empty",
                ));
            }
            spec.validate(&format!("actions.{id}"))?;
        }
        Ok(())
    }
}

/// The program run for one catalogue action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Absolute path of the program; run directly, never through a shell.
    pub program: PathBuf,
    /// Fixed arguments. Nothing from the action is ever added to them.
    #[serde(default)]
    pub args: Vec<String>,
    /// Seconds before the program and its process group are killed.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Variables of itops's own environment passed through (`KUBECONFIG`, ...); no other
    /// one reaches the program.
    #[serde(default)]
    pub pass_env: Vec<String>,
}

fn default_timeout_seconds() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

impl CommandSpec {
    /// Runs `program` with no arguments, the default timeout and no variables passed.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            pass_env: Vec::new(),
        }
    }

    /// With these fixed arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// With a timeout of `seconds`.
    pub fn timeout_seconds(mut self, seconds: u64) -> Self {
        self.timeout_seconds = seconds;
        self
    }

    /// Passing these variables of itops's environment through.
    pub fn pass_env<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.pass_env = names.into_iter().map(Into::into).collect();
        self
    }

    fn validate(&self, at: &str) -> Result<()> {
        let field = format!("{at}.program");
        let shown = self.program.display();
        if !self.program.is_absolute() {
            return Err(Error::invalid(
                field,
                format!("'{shown}' is not an absolute path; give the program's full path"),
            ));
        }
        let meta = std::fs::metadata(&self.program).map_err(|e| {
            Error::invalid(
                field.clone(),
                match e.kind() {
                    std::io::ErrorKind::NotFound => format!("'{shown}' does not exist"),
                    _ => format!("'{shown}' cannot be read: {e}"),
                },
            )
        })?;
        if !meta.is_file() {
            return Err(Error::invalid(field, format!("'{shown}' is not a file")));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(Error::invalid(
                field,
                format!("'{shown}' is not executable (chmod +x it)"),
            ));
        }
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&self.timeout_seconds) {
            return Err(Error::invalid(
                format!("{at}.timeout_seconds"),
                format!("must be between 1 and {MAX_TIMEOUT_SECONDS}"),
            ));
        }
        for name in &self.pass_env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(Error::invalid(
                    format!("{at}.pass_env"),
                    format!("'{name}' is not a variable name"),
                ));
            }
            if RESERVED_ENV.contains(&name.as_str()) {
                return Err(Error::invalid(
                    format!("{at}.pass_env"),
                    format!("'{name}' is set by the executor itself and cannot be passed"),
                ));
            }
        }
        Ok(())
    }

    /// The program and its arguments, for the timeline.
    pub(super) fn shown(&self) -> String {
        let mut line = self.program.display().to_string();
        for arg in &self.args {
            line.push_str(&format!(" {arg:?}"));
        }
        line
    }
}
