//! Configuration mistakes are errors, not panics: `itops serve` started with each of a list
//! of bad settings exits with code 2 and a message naming the setting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `itops serve` with only `env` of the ITOPS_*, OTEL_* and RUST_LOG settings and `args`:
/// its exit code and stderr (it is killed, and the test fails, if it is still running
/// after 60 s: a bad setting it did not notice).
fn serve(data: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_itops"));
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("ITOPS_") || name.starts_with("OTEL_") || name == "RUST_LOG" {
            command.env_remove(var);
        }
    }
    let stderr_path = data.join(format!("stderr-{}", env.len() + args.len()));
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.join("data"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "itops serve kept running with {env:?} {args:?}:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}

fn assert_refused(code: Option<i32>, stderr: &str, setting: &str, what: &str) {
    assert!(
        !stderr.contains("panicked"),
        "{what}: itops panicked:\n{stderr}"
    );
    assert_eq!(code, Some(2), "{what}: exit code\n{stderr}");
    assert!(
        stderr.contains(setting),
        "{what}: the message does not name {setting}:\n{stderr}"
    );
}

#[test]
fn each_bad_setting_is_refused_at_start_with_exit_code_2_and_its_name() {
    const BAD: &[(&str, &str)] = &[
        ("ITOPS_CORS_ORIGINS", "*"),
        ("ITOPS_CORS_ORIGINS", "https://ops.example.com/console"),
        ("ITOPS_CORS_ORIGINS", "ops.example.com"),
        ("ITOPS_CORS_ORIGINS", "https://ops.example.com,null"),
        ("ITOPS_LISTEN", "localhost"),
        ("ITOPS_RATE_LIMIT_PER_MINUTE", "0"),
        ("ITOPS_RATE_LIMIT_PER_MINUTE", "many"),
        ("ITOPS_POLICY", "yolo"),
        ("ITOPS_MODEL_PROVIDER", "gpt"),
        ("ITOPS_ADMIN_TOKEN", "short"),
        ("ITOPS_ADMIN_TOKEN_SHA256", "xyz"),
        ("ITOPS_WEBHOOK_URL", "ftp://hooks.example.com/x"),
        ("ITOPS_SLACK_WEBHOOK_URL", "https://"),
        ("ITOPS_PUBLIC_URL", "javascript:alert(1)"),
        ("ITOPS_OTLP_ENDPOINT", "collector:4318"),
        ("ITOPS_LOG_FORMAT", "xml"),
        ("ITOPS_MAX_CONCURRENT", "0"),
        ("ITOPS_APPROVAL_TTL_SECS", "0"),
        ("ITOPS_SETTLE_SECS", "-1"),
        ("ITOPS_ALERT_CORRELATION_WINDOW_SECS", "10m"),
        ("ITOPS_ALERT_CORRELATION_WINDOW_SECS", "90000"),
        ("ITOPS_SIMULATOR_SEED", "abc"),
        ("ITOPS_METRICS_PUBLIC", "maybe"),
        ("ITOPS_METRICS_TOKEN", "short"),
        ("ITOPS_TELEMETRY_BUNDLE", "/nonexistent/itops-bundle"),
        ("ITOPS_PROMETHEUS_URL", "prometheus:9090"),
        ("RUST_LOG", "info,[broken"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (setting, value)) in BAD.iter().enumerate() {
        let case = dir.path().join(format!("case-{i}"));
        std::fs::create_dir_all(&case).unwrap();
        let (code, stderr) = serve(&case, &[(setting, value)], &[]);
        assert_refused(code, &stderr, setting, &format!("{setting}={value}"));
    }

    // Settings that are fine alone but not together.
    let case = dir.path().join("bedrock");
    std::fs::create_dir_all(&case).unwrap();
    let (code, stderr) = serve(&case, &[("ITOPS_MODEL_PROVIDER", "bedrock")], &[]);
    assert_refused(
        code,
        &stderr,
        "ITOPS_BEDROCK_MODEL_ID",
        "bedrock without a model",
    );
    // Bedrock needs the AWS SDK, which only an itops built with the `aws` feature has.
    #[cfg(not(feature = "aws"))]
    {
        let case = dir.path().join("bedrock-without-aws");
        std::fs::create_dir_all(&case).unwrap();
        let (code, stderr) = serve(
            &case,
            &[
                ("ITOPS_MODEL_PROVIDER", "bedrock"),
                (
                    "ITOPS_BEDROCK_MODEL_ID",
                    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                ),
            ],
            &[],
        );
        assert_refused(
            code,
            &stderr,
            "--features aws",
            "bedrock in an itops built without the aws feature",
        );
    }
    let case = dir.path().join("openai");
    std::fs::create_dir_all(&case).unwrap();
    let (code, stderr) = serve(&case, &[("ITOPS_MODEL_PROVIDER", "openai")], &[]);
    assert_refused(
        code,
        &stderr,
        "ITOPS_OPENAI_MODEL",
        "openai without a model",
    );
}

#[test]
fn a_bad_configuration_file_is_refused_with_exit_code_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, key)) in [
        ("[http]\ncors_origins = [\"*\"]\n", "http.cors_origins"),
        ("[http]\nmax_body_bytes = 0\n", "http.max_body_bytes"),
        ("[policy]\ndenied = [\"rollback\"]\n", "policy.denied"),
        (
            "[observability]\nlog_filter = \"info,[x\"\n",
            "observability.log_filter",
        ),
        ("[htpp]\ncors_origins = []\n", "htpp"),
    ]
    .iter()
    .enumerate()
    {
        let case = dir.path().join(format!("file-{i}"));
        std::fs::create_dir_all(&case).unwrap();
        let file = case.join("itops.toml");
        std::fs::write(&file, text).unwrap();
        let (code, stderr) = serve(&case, &[], &["--config", file.to_str().unwrap()]);
        assert_refused(code, &stderr, key, text);
    }
}
