//! The command executor against real programs: shell scripts written into a temporary
//! directory and configured as the programs of catalogue actions.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use itops_core::environment::{ActionExecutor, ActionReport};
use itops_core::{ActionId, ActionPhase, Error, IncidentId, RemediationAction, RiskLevel};
use itops_stack::command::{OUTPUT_TAIL_BYTES, SAFE_PATH};
use itops_stack::{CommandConfig, CommandExecutor, CommandSpec};

/// An executable `#!/bin/sh` script `name` in `dir` running `body`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn action(catalogue_id: &str, target: &str) -> RemediationAction {
    let parameters = serde_json::json!({ "replicas": 3, "reason": "p99 latency" });
    RemediationAction {
        id: ActionId::new(),
        catalogue_id: catalogue_id.into(),
        target: target.into(),
        parameters: parameters.as_object().unwrap().clone(),
        risk: RiskLevel::Low,
        reversible: true,
        expected_effect: "latency back under the SLO".into(),
        phase: ActionPhase::Immediate,
    }
}

/// An executor running `program` for `restart_service`.
fn executor(spec: CommandSpec) -> CommandExecutor {
    CommandExecutor::new(CommandConfig::new().action("restart_service", spec)).unwrap()
}

async fn run(spec: CommandSpec, action: &RemediationAction) -> ActionReport {
    executor(spec).execute(action).await.unwrap()
}

#[tokio::test]
async fn the_program_reads_the_action_as_json_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let program = script(
        dir.path(),
        "restart.sh",
        &format!("cat > '{d}/stdin.json'\necho restarted the service"),
    );
    let action = action("restart_service", "cart");
    let report = run(CommandSpec::new(&program), &action).await;

    assert!(report.applied, "{}", report.detail);
    assert_eq!(
        (
            report.action_id,
            report.catalogue_id.as_str(),
            report.target.as_str()
        ),
        (action.id, "restart_service", "cart")
    );
    assert!(
        report.detail.contains("exited with status 0"),
        "{}",
        report.detail
    );
    assert!(
        report.detail.contains("restarted the service"),
        "{}",
        report.detail
    );
    let input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stdin.json")).unwrap()).unwrap();
    assert_eq!(input["dry_run"], false);
    assert_eq!(input["id"], action.id.to_string());
    let mut received = input.clone();
    received.as_object_mut().unwrap().remove("dry_run");
    let received: RemediationAction = serde_json::from_value(received).unwrap();
    assert_eq!(received, action);
    assert_eq!(received.parameters["replicas"], 3);
}

#[tokio::test]
async fn a_target_that_looks_like_shell_is_never_interpreted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let targets = [
        format!("\"; touch {d}/pwned1 #"),
        format!("'; touch {d}/pwned2 #"),
        format!("$(touch {d}/pwned3)"),
        format!("`touch {d}/pwned4`"),
        format!("cart && touch {d}/pwned5"),
    ];
    // The operator's script passes the target on as one word, as it should.
    let program = script(
        dir.path(),
        "restart.sh",
        &format!(
            "cat > \"{d}/stdin-$ITOPS_ACTION_ID\"\n\
             echo \"$# $*\" > \"{d}/argv-$ITOPS_ACTION_ID\"\n\
             printf '%s' \"$ITOPS_TARGET\" > \"{d}/target-$ITOPS_ACTION_ID\""
        ),
    );
    let exec = executor(CommandSpec::new(&program).args(["--fixed"]));
    for target in &targets {
        let mut action = action("restart_service", target);
        action
            .parameters
            .insert("note".into(), format!("$(touch {d}/pwned6)").into());
        let report = exec.execute(&action).await.unwrap();
        assert!(report.applied, "{}", report.detail);
        let read = |name: &str| {
            std::fs::read_to_string(dir.path().join(format!("{name}-{}", action.id))).unwrap()
        };
        let json: serde_json::Value = serde_json::from_str(&read("stdin")).unwrap();
        assert_eq!(json["target"], target.as_str());
        assert_eq!(json["parameters"]["note"], format!("$(touch {d}/pwned6)"));
        // Only the configured argument reaches the command line.
        assert_eq!(read("argv"), "1 --fixed\n");
        assert_eq!(read("target"), *target);
    }
    for n in 1..=6 {
        assert!(
            !dir.path().join(format!("pwned{n}")).exists(),
            "pwned{n} was created"
        );
    }
}

#[tokio::test]
async fn the_environment_is_scrubbed() {
    // Set once, before any program here runs; no other test reads these names.
    std::env::set_var("ITOPS_ADMIN_TOKEN", "s3cret-admin-token");
    std::env::set_var("ITOPS_TEST_KUBECONFIG", "/etc/itops/kube.conf");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let program = script(dir.path(), "restart.sh", &format!("env > '{d}/env.txt'"));
    let spec = CommandSpec::new(&program).pass_env(["ITOPS_TEST_KUBECONFIG", "ITOPS_TEST_UNSET"]);
    let action = action("restart_service", "cart");
    let report = run(spec, &action).await;
    assert!(report.applied, "{}", report.detail);

    let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
    assert!(!env.contains("s3cret"), "{env}");
    let lines: Vec<&str> = env.lines().collect();
    for expected in [
        format!("ITOPS_ACTION_ID={}", action.id),
        "ITOPS_ACTION=restart_service".to_string(),
        "ITOPS_TARGET=cart".to_string(),
        format!("PATH={SAFE_PATH}"),
        "ITOPS_TEST_KUBECONFIG=/etc/itops/kube.conf".to_string(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "{expected} missing from:\n{env}"
        );
    }
    // Nothing else of the test's environment (CARGO_*, RUST_*, the token): only what the
    // executor sets, plus what the shell sets itself.
    let allowed = [
        "PATH",
        "HOME",
        "LANG",
        "ITOPS_ACTION_ID",
        "ITOPS_ACTION",
        "ITOPS_TARGET",
        "ITOPS_TEST_KUBECONFIG",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
    ];
    for line in lines {
        let name = line.split('=').next().unwrap();
        assert!(
            allowed.contains(&name),
            "{name} reached the program:\n{env}"
        );
    }
}

#[tokio::test]
async fn a_failing_program_is_not_applied_and_its_stderr_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(
        dir.path(),
        "restart.sh",
        "echo 'trying'\necho 'kubectl: deployments.apps \"cart\" is forbidden' >&2\nexit 3",
    );
    let action = action("restart_service", "cart");
    let report = run(CommandSpec::new(&program), &action).await;
    assert!(!report.applied);
    assert!(
        report.detail.contains("exited with status 3"),
        "{}",
        report.detail
    );
    assert!(report.detail.contains("is forbidden"), "{}", report.detail);
    assert!(report.into_applied(IncidentId::new()).is_err());
}

#[tokio::test]
async fn a_program_that_runs_too_long_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let program = script(
        dir.path(),
        "restart.sh",
        &format!("(sleep 3; touch '{d}/survived') &\necho started\nsleep 30"),
    );
    let started = Instant::now();
    let report = run(
        CommandSpec::new(&program).timeout_seconds(1),
        &action("restart_service", "cart"),
    )
    .await;
    let took = started.elapsed();
    assert!(!report.applied);
    assert!(
        report.detail.contains("timed out after 1s"),
        "{}",
        report.detail
    );
    assert!(report.detail.contains("started"), "{}", report.detail);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // The background child would have touched the file 3 s after it started.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !dir.path().join("survived").exists(),
        "the child outlived the timeout"
    );
}

#[tokio::test]
async fn a_background_child_holding_the_output_does_not_hold_the_report() {
    let dir = tempfile::tempdir().unwrap();
    // A program that starts something long-lived (a daemon) and exits at once.
    let program = script(dir.path(), "restart.sh", "sleep 20 &\necho restarted");
    let started = Instant::now();
    let report = run(
        CommandSpec::new(&program),
        &action("restart_service", "cart"),
    )
    .await;
    assert!(report.applied, "{}", report.detail);
    assert!(report.detail.contains("restarted"), "{}", report.detail);
    assert!(report.detail.contains("still open"), "{}", report.detail);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn huge_output_is_bounded_to_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(
        dir.path(),
        "restart.sh",
        "head -c 5000000 /dev/zero | tr '\\0' x\necho END-OF-STDOUT\n\
         head -c 3000000 /dev/zero | tr '\\0' y >&2\necho END-OF-STDERR >&2",
    );
    let report = run(
        CommandSpec::new(&program),
        &action("restart_service", "cart"),
    )
    .await;
    assert!(
        report.applied,
        "{}",
        &report.detail[..200.min(report.detail.len())]
    );
    assert!(
        report.detail.len() < 2 * OUTPUT_TAIL_BYTES + 500,
        "{} bytes",
        report.detail.len()
    );
    assert!(
        report
            .detail
            .contains("stdout (last 4096 of 5000014 bytes)"),
        "{}",
        report.detail
    );
    assert!(
        report
            .detail
            .contains("stderr (last 4096 of 3000014 bytes)"),
        "{}",
        report.detail
    );
    assert!(report.detail.contains("END-OF-STDOUT"));
    assert!(report.detail.contains("END-OF-STDERR"));
}

#[tokio::test]
async fn a_dry_run_runs_nothing_and_says_what_would_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let program = script(dir.path(), "restart.sh", &format!("touch '{d}/ran'"));
    let config = CommandConfig::new().dry_run(true).action(
        "restart_service",
        CommandSpec::new(&program).args(["--graceful"]),
    );
    let exec = CommandExecutor::new(config).unwrap();
    let action = action("restart_service", "cart");
    let report = exec.execute(&action).await.unwrap();

    assert!(!report.applied);
    assert!(report.detail.starts_with("dry run:"), "{}", report.detail);
    assert!(
        report
            .detail
            .contains(&format!("{} \"--graceful\"", program.display())),
        "{}",
        report.detail
    );
    assert!(
        report.detail.contains("\"target\":\"cart\""),
        "{}",
        report.detail
    );
    assert!(
        report.detail.contains(&action.id.to_string()),
        "{}",
        report.detail
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!dir.path().join("ran").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_action_id_runs_once_even_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let program = script(
        dir.path(),
        "restart.sh",
        &format!("echo run >> '{d}/count'\nsleep 1\necho done"),
    );
    let exec = Arc::new(executor(CommandSpec::new(&program)));
    let restart = action("restart_service", "cart");
    let (a, b) = tokio::join!(
        {
            let (e, x) = (exec.clone(), restart.clone());
            tokio::spawn(async move { e.execute(&x).await })
        },
        {
            let (e, x) = (exec.clone(), restart.clone());
            tokio::spawn(async move { e.execute(&x).await })
        },
    );
    let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
    let again = exec.execute(&restart).await.unwrap();
    let count = || {
        std::fs::read_to_string(dir.path().join("count"))
            .unwrap()
            .lines()
            .count()
    };

    assert!(a.applied, "{}", a.detail);
    assert_eq!(a, b);
    assert_eq!(a, again);
    assert_eq!(count(), 1);
    // Another id is another action: it runs.
    let other = exec
        .execute(&action("restart_service", "cart"))
        .await
        .unwrap();
    assert!(other.applied);
    assert_eq!(count(), 2);
    assert_eq!(exec.reports().len(), 2);
}

#[tokio::test]
async fn an_action_without_a_program_is_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "restart.sh", "exit 0");
    let report = run(CommandSpec::new(&program), &action("scale_out", "cart")).await;
    assert!(!report.applied);
    assert!(
        report
            .detail
            .contains("no executor is configured for 'scale_out'"),
        "{}",
        report.detail
    );
}

#[test]
fn bad_configs_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let good = script(dir.path(), "restart.sh", "exit 0");
    let plain = dir.path().join("plain.sh");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (
            CommandSpec::new("bin/restart.sh"),
            "program",
            "is not an absolute path",
        ),
        (
            CommandSpec::new(dir.path().join("missing.sh")),
            "program",
            "does not exist",
        ),
        (CommandSpec::new(&plain), "program", "is not executable"),
        (CommandSpec::new(dir.path()), "program", "is not a file"),
        (
            CommandSpec::new(&good).timeout_seconds(0),
            "timeout_seconds",
            "between 1 and",
        ),
        (
            CommandSpec::new(&good).pass_env(["PATH"]),
            "pass_env",
            "set by the executor",
        ),
        (
            CommandSpec::new(&good).pass_env(["A=B"]),
            "pass_env",
            "not a variable name",
        ),
    ];
    for (spec, field_end, words) in cases {
        let config = CommandConfig::new().action("restart_service", spec);
        match CommandExecutor::new(config) {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, format!("actions.restart_service.{field_end}"));
                assert!(message.contains(words), "{message}");
            }
            other => panic!("expected Error::Invalid ({words}), got {other:?}"),
        }
    }
    assert!(CommandExecutor::new(
        CommandConfig::new().action("restart_service", CommandSpec::new(&good))
    )
    .is_ok());
}

#[test]
fn the_config_reads_from_its_file_shape() {
    let config: CommandConfig = serde_json::from_value(serde_json::json!({
        "actions": {
            "restart_service": { "program": "/opt/itops/bin/restart.sh" },
            "scale_out": {
                "program": "/usr/local/bin/kubectl-scale",
                "args": ["--replicas=+1"],
                "timeout_seconds": 120,
                "pass_env": ["KUBECONFIG"]
            }
        }
    }))
    .unwrap();
    assert!(!config.dry_run);
    assert_eq!(
        config.actions["restart_service"],
        CommandSpec::new("/opt/itops/bin/restart.sh")
    );
    assert_eq!(config.actions["restart_service"].timeout_seconds, 60);
    assert_eq!(
        config.actions["scale_out"],
        CommandSpec::new("/usr/local/bin/kubectl-scale")
            .args(["--replicas=+1"])
            .timeout_seconds(120)
            .pass_env(["KUBECONFIG"])
    );
}

#[tokio::test]
async fn a_program_still_open_for_writing_is_run_once_its_writer_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let program = script(dir.path(), "restart.sh", "echo restarted");
    // Someone (a deploy of the script, a process forked while it was written) still holds
    // it open for writing: running it fails with "text file busy" until they let go.
    let writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&program)
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        drop(writer);
    });
    let report = run(
        CommandSpec::new(&program),
        &action("restart_service", "cart"),
    )
    .await;
    release.join().unwrap();
    assert!(report.applied, "{}", report.detail);
    assert!(report.detail.contains("restarted"), "{}", report.detail);
}

#[test]
fn a_misspelt_setting_is_refused() {
    let error = serde_json::from_value::<CommandConfig>(serde_json::json!({
        "actions": {"scale_out": {"program": "/bin/true", "timout_seconds": 5}}
    }))
    .unwrap_err();
    assert!(error.to_string().contains("timout_seconds"), "{error}");
}
