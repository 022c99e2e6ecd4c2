//! `itops serve`: the local reference system.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::app::config::ServeConfig;
use crate::app::App;
use crate::error::{Error, Result};

/// Arguments of `itops serve`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = SERVE_HELP)]
pub(crate) struct ServeArgs {
    /// Where to listen (default 127.0.0.1:8080; env ITOPS_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The data directory holding the SQLite database (default ./itops-data; env ITOPS_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A TOML configuration file (see below); env ITOPS_* and flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

const SERVE_HELP: &str = "\
Configuration (TOML file; every key optional):
  listen = \"127.0.0.1:8080\"        data_dir = \"itops-data\"       public_url = \"http://host:8080\"
  [model]          provider = \"offline\" | \"openai\" | \"bedrock\"; breaker_failures, breaker_open_secs, attempts
  [model.openai]   base_url, model, api_key, timeout_secs   (or ITOPS_OPENAI_BASE_URL / _MODEL / _API_KEY)
  [model.bedrock]  model_id, region
  [telemetry]      source = \"simulator\" | \"bundle\"; bundle_dir; seed; retention_hours = 8
  [simulator]      otlp_endpoint (send the simulator's traces and logs over OTLP/HTTP); otlp_token_env;
                   otlp_interval_secs = 10
  [policy]         mode = \"default\" | \"always_ask\" | \"auto_approve\"; denied = [\"rollback_deployment\"]
  [approvals]      ttl_secs = 3600 (expiry escalates)
  [workflow]       max_concurrent = 4; auto_start_alerts = true; settle_secs = 300
  [notifications]  webhook_url, slack_webhook_url, min_severity = \"medium\", attempts = 4
  [auth]           admin_token; metrics_token; public_metrics = false;
                   [[auth.tokens]] name, role = \"viewer\"|\"operator\"|\"admin\", token | token_sha256
  [http]           cors_origins = [], requests_per_minute = 1200, max_body_bytes = 1048576
  [observability]  log_format = \"text\" | \"json\", log_filter = \"info\",
                   otlp_endpoint = \"http://127.0.0.1:4318\" (export spans over OTLP/HTTP; default off)

Environment overrides: ITOPS_LISTEN, ITOPS_DATA_DIR, ITOPS_PUBLIC_URL, ITOPS_MODEL_PROVIDER,
ITOPS_BEDROCK_MODEL_ID, ITOPS_TELEMETRY_BUNDLE, ITOPS_SIMULATOR_SEED,
ITOPS_SIMULATOR_RETENTION_HOURS, ITOPS_METRICS_TOKEN, ITOPS_METRICS_PUBLIC, ITOPS_POLICY,
ITOPS_APPROVAL_TTL_SECS, ITOPS_MAX_CONCURRENT, ITOPS_SETTLE_SECS, ITOPS_WEBHOOK_URL,
ITOPS_SLACK_WEBHOOK_URL, ITOPS_ADMIN_TOKEN (or ITOPS_ADMIN_TOKEN_SHA256), ITOPS_CORS_ORIGINS, ITOPS_RATE_LIMIT_PER_MINUTE,
ITOPS_LOG_FORMAT, ITOPS_OTLP_ENDPOINT (else OTEL_EXPORTER_OTLP_ENDPOINT); RUST_LOG sets the
log filter.

Every workflow, workflow step, model call and tool call is a tracing span; model and tool
calls carry OpenTelemetry GenAI attributes (gen_ai.operation.name, gen_ai.request.model,
gen_ai.usage.*, gen_ai.tool.name). With an OTLP endpoint the spans are exported in batches
(service.name = itops) to {endpoint}/v1/traces as protobuf; the standard
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_BSP_*
variables apply.

Without ITOPS_ADMIN_TOKEN an admin token is generated: printed once, in the URL to open, on a
terminal; otherwise written to DATA_DIR/admin-token (mode 0600). A mistake in any setting
stops the server with exit code 2 and a message naming it.";

/// Runs `itops serve` until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let mut config = match &args.config {
        Some(path) => ServeConfig::from_file(path)?,
        None => ServeConfig::default(),
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    config.apply_env(&env)?;
    if let Some(listen) = args.listen {
        config.listen = Some(listen);
    }
    if let Some(data) = args.data {
        config.data_dir = Some(data);
    }
    // Every setting is checked before anything starts: a mistake is an error naming it.
    config.validate()?;
    let tracer_provider = init_logging(&config)?;
    let listen = config.listen();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("cannot read the listening address: {e}")))?;
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{bound}"));
    }
    let public_url = config.public_url.clone().unwrap_or_default();
    let data_dir = config.data_dir();
    let app = App::build(config).await?;
    let resumed = app.start_background().await?;
    let router = app.router();
    // A generated admin token is shown on a terminal only; anywhere else (a log file, a
    // journal) it goes to a file only its owner can read.
    let token_file = data_dir.join("admin-token");
    let on_terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    if let (Some(token), false) = (&app.generated_admin_token, on_terminal) {
        crate::app::auth::write_secret(&token_file, token)?;
    }
    println!("itops listening on http://{bound}");
    println!(
        "  data: {}   model: {}   telemetry: {}",
        data_dir.display(),
        app.state.info.model,
        app.state.info.telemetry
    );
    if resumed > 0 {
        println!("  resumed {resumed} unfinished workflow(s)");
    }
    match &app.generated_admin_token {
        Some(token) if on_terminal => {
            println!(
                "  admin token (printed once; set ITOPS_ADMIN_TOKEN to choose your own): {token}"
            );
            println!("  open {public_url}/#token={token}");
        }
        Some(_) => {
            println!(
                "  admin token written to {} (readable by you only; set ITOPS_ADMIN_TOKEN to \
                 choose your own)",
                token_file.display()
            );
            println!("  open {public_url}/ and sign in with the token in that file");
        }
        None => println!("  open {public_url}/ and sign in with your token"),
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await;
    if let Some(provider) = tracer_provider {
        flush_spans(provider).await;
    }
    served.map_err(|e| Error::Usage(format!("the server stopped: {e}")))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Which spans go to the OTLP endpoint, whatever the log filter: itops's own (workflow,
/// workflow step, model and tool calls are all `info`), never the exporter's own
/// (`opentelemetry*` targets, matched by prefix).
const OTLP_SPAN_FILTER: &str = "info,opentelemetry=off";

/// Installs the log output (stderr, text or JSON) and, when an OTLP endpoint is configured,
/// the span exporter beside it. Returns the exporter's provider, to flush at shutdown.
fn init_logging(config: &ServeConfig) -> Result<Option<SdkTracerProvider>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = match std::env::var("RUST_LOG") {
        Ok(rust_log) if !rust_log.trim().is_empty() => {
            EnvFilter::try_new(&rust_log).map_err(|e| {
                Error::Usage(format!("RUST_LOG: '{rust_log}' is not a log filter: {e}"))
            })?
        }
        _ => EnvFilter::try_new(config.observability.log_filter.as_deref().unwrap_or("info"))
            .map_err(|e| Error::Usage(format!("observability.log_filter: {e}")))?,
    };
    let json = config.observability.log_format.as_deref() == Some("json");
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json().boxed()
    } else {
        fmt.boxed()
    };
    let provider = config
        .observability
        .otlp_traces_url()
        .map(|url| otlp_provider(&url))
        .transpose()?;
    let otlp = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("itops"))
            .with_filter(EnvFilter::new(OTLP_SPAN_FILTER))
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otlp)
        .try_init();
    Ok(provider)
}

/// A tracer provider exporting to `url` over OTLP/HTTP with protobuf bodies, in batches sent
/// from the tokio runtime.
fn otlp_provider(url: &str) -> Result<SdkTracerProvider> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .map_err(|e| Error::Usage(format!("cannot export spans to {url}: {e}")))?;
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    let mut resource = opentelemetry_sdk::Resource::builder().with_attribute(
        opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
    );
    // service.name is itops unless the standard variable says otherwise.
    if std::env::var_os("OTEL_SERVICE_NAME").is_none_or(|v| v.is_empty()) {
        resource = resource.with_service_name("itops");
    }
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource.build())
        .build())
}

/// Exports the spans still queued and stops the exporter (bounded: a collector that does
/// not answer must not hold up the exit).
async fn flush_spans(provider: SdkTracerProvider) {
    // The batch processor's shutdown blocks until its task on the runtime has exported.
    let stop = tokio::task::spawn_blocking(move || provider.shutdown());
    match tokio::time::timeout(Duration::from_secs(10), stop).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("warning: could not export the last spans: {e}"),
        Ok(Err(e)) => eprintln!("warning: could not export the last spans: {e}"),
        Err(_) => eprintln!("warning: the OTLP endpoint did not take the last spans within 10 s"),
    }
}
