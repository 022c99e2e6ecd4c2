//! Tests of the configuration: files, environment overrides and what is refused.

use super::*;

#[test]
fn a_file_and_env_overrides_combine() {
    let mut config: ServeConfig = toml::from_str(
        r#"
        listen = "127.0.0.1:9000"
        [policy]
        mode = "always_ask"
        [notifications]
        slack_webhook_url = "https://hooks.example/x"
        [[auth.tokens]]
        name = "alice"
        role = "operator"
        token = "s3cret"
        "#,
    )
    .unwrap();
    let env = BTreeMap::from([
        ("ITOPS_LISTEN".to_string(), "127.0.0.1:9100".to_string()),
        ("ITOPS_APPROVAL_TTL_SECS".to_string(), "60".to_string()),
    ]);
    config.apply_env(&env).unwrap();
    config.validate().unwrap();
    assert_eq!(config.listen().port(), 9100);
    assert_eq!(config.approval_ttl(), Duration::from_secs(60));
    assert!(!config.policy.policy().auto_approve);
    assert_eq!(config.auth.tokens[0].name, "alice");
}

#[test]
fn the_otlp_endpoint_comes_from_the_file_or_the_environment() {
    let mut config: ServeConfig =
        toml::from_str("[observability]\notlp_endpoint = \"http://127.0.0.1:4318/\"").unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.observability.otlp_traces_url().as_deref(),
        Some("http://127.0.0.1:4318/v1/traces")
    );
    let standard = BTreeMap::from([(
        "OTEL_EXPORTER_OTLP_ENDPOINT".to_string(),
        "http://collector:4318".to_string(),
    )]);
    config.apply_env(&standard).unwrap();
    assert_eq!(
        config.observability.otlp_traces_url().as_deref(),
        Some("http://collector:4318/v1/traces")
    );
    let mut both = standard.clone();
    both.insert(
        "ITOPS_OTLP_ENDPOINT".to_string(),
        "https://otel.example/v1/traces".to_string(),
    );
    config.apply_env(&both).unwrap();
    assert_eq!(
        config.observability.otlp_traces_url().as_deref(),
        Some("https://otel.example/v1/traces")
    );
    assert_eq!(ServeConfig::default().observability.otlp_traces_url(), None);
    config.observability.otlp_endpoint = Some("127.0.0.1:4318".to_string());
    assert!(config.validate().is_err());
}

#[test]
fn mistakes_are_named() {
    let err = toml::from_str::<ServeConfig>("lisen = \"x\"").unwrap_err();
    assert!(err.to_string().contains("lisen"), "{err}");
    let mut config = ServeConfig::default();
    let env = BTreeMap::from([("ITOPS_POLICY".to_string(), "yolo".to_string())]);
    let err = config.apply_env(&env).unwrap_err();
    assert!(err.to_string().contains("ITOPS_POLICY"), "{err}");
    config.telemetry.source = Some(TelemetrySourceKind::Bundle);
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("bundle_dir"));
}

#[test]
fn bedrock_needs_a_model_id_and_an_itops_built_with_aws() {
    let mut config = ServeConfig::default();
    let env = BTreeMap::from([("ITOPS_MODEL_PROVIDER".to_string(), "bedrock".to_string())]);
    config.apply_env(&env).unwrap();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("ITOPS_BEDROCK_MODEL_ID"), "{err}");

    let env = BTreeMap::from([(
        "ITOPS_BEDROCK_MODEL_ID".to_string(),
        "us.anthropic.claude-3-5-haiku-20241022-v1:0".to_string(),
    )]);
    config.apply_env(&env).unwrap();
    let checked = config.validate();
    #[cfg(feature = "aws")]
    checked.unwrap();
    #[cfg(not(feature = "aws"))]
    {
        let err = checked.unwrap_err().to_string();
        assert!(
            err.contains("built without the `aws` feature") && err.contains("--features aws"),
            "{err}"
        );
    }
}

#[test]
fn listed_sources_make_a_stack_and_actions_need_one() {
    let config: ServeConfig = toml::from_str(
        r#"
        [[telemetry.sources]]
        kind = "prometheus"
        url = "http://prometheus:9090"
        [[telemetry.sources]]
        kind = "tempo"
        url = "http://tempo:3200"
        [actions]
        webhook_url = "https://automation.example/itops"
        [actions.command.restart_service]
        program = "/opt/itops/restart"
        pass_env = ["KUBECONFIG"]
        "#,
    )
    .unwrap();
    assert_eq!(config.telemetry.kind(), TelemetrySourceKind::Stack);
    config.validate().unwrap();
    assert_eq!(
        config.actions.command["restart_service"].pass_env,
        ["KUBECONFIG"]
    );

    let refused = |text: &str, says: &str| {
        let error = toml::from_str::<ServeConfig>(text)
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map_err(|e| e.to_string()))
            .unwrap_err();
        assert!(error.contains(says), "{error}");
    };
    refused("[telemetry]\nsource = \"stack\"\n", "needs at least one");
    refused(
        "[telemetry]\nsource = \"simulator\"\n[[telemetry.sources]]\nkind = \"loki\"\nurl = \"http://loki\"\n",
        "only with telemetry.source = \"stack\"",
    );
    refused(
        "[actions.command.scale_out]\nprogram = \"/bin/true\"\n",
        "the simulator runs its actions itself",
    );
    refused(
        "[actions.command.scale_out]\nprogram = \"/bin/true\"\ntimout_seconds = 5\n",
        "timout_seconds",
    );
    refused(
        "[[telemetry.sources]]\nkind = \"loki\"\nurl = \"http://loki\"\npassword = \"x\"\n",
        "password",
    );
}

#[test]
fn the_simulator_export_is_configured_in_its_own_section() {
    let mut config: ServeConfig = toml::from_str(
        "[simulator]\notlp_endpoint = \"http://127.0.0.1:4318/\"\notlp_interval_secs = 5\n",
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!(config.simulator.otlp_base(), Some("http://127.0.0.1:4318"));
    assert_eq!(config.simulator.otlp_interval(), Duration::from_secs(5));
    let env = BTreeMap::from([(
        SIMULATOR_OTLP_ENDPOINT_ENV.to_string(),
        "http://collector:4318".to_string(),
    )]);
    config.apply_env(&env).unwrap();
    assert_eq!(config.simulator.otlp_base(), Some("http://collector:4318"));
    assert_eq!(
        ServeConfig::default().simulator.otlp_interval(),
        DEFAULT_OTLP_INTERVAL
    );
}

#[test]
fn a_bad_simulator_export_is_refused_naming_the_setting() {
    for (file, named) in [
        (
            "[simulator]\notlp_endpoint = \"grpc://collector:4317\"",
            "simulator.otlp_endpoint",
        ),
        (
            "[simulator]\notlp_endpoint = \"http://c:4318\"\notlp_interval_secs = 0",
            "simulator.otlp_interval_secs",
        ),
        (
            "[simulator]\notlp_endpoint = \"http://c:4318\"\notlp_token_env = \"Bearer abc\"",
            "simulator.otlp_token_env",
        ),
        (
            "[simulator]\notlp_interval_secs = 5",
            "simulator.otlp_endpoint",
        ),
        (
            "[telemetry]\nsource = \"prometheus\"\nprometheus_url = \"http://p:9090\"\n\
             [simulator]\notlp_endpoint = \"http://c:4318\"",
            "[simulator]",
        ),
    ] {
        let config: ServeConfig = toml::from_str(file).unwrap();
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains(named), "{file}: {error}");
    }
    let error = toml::from_str::<ServeConfig>("[simulator]\notlp_endpont = \"http://c:4318\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("otlp_endpont"), "{error}");
}
