//! The Prometheus source against a real Prometheus server, its data backfilled with
//! promtool, and against VictoriaMetrics, which speaks the same API (the Debian packages,
//! installed by `scripts/setup-test-deps`). The tests are never skipped: without the
//! servers they fail saying what to do.
#![allow(clippy::unwrap_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use itops_agents::analysis::ranking::{rank_anomalies, RankingOptions};
use itops_core::telemetry::{MetricPoint, MetricQuery, MetricSeries, TelemetryIndex, TimeRange};
use itops_core::TelemetrySource;
use itops_stack::testing::{openmetrics, openmetrics_of, Prometheus, Sample};
use itops_stack::{PrometheusConfig, PrometheusSource};

const SERVICES: [&str; 4] = ["frontend", "cart", "catalog", "payments"];
const STEP: i64 = 15;
const SAMPLES: i64 = 480;
/// Cart's cpu saturates from this sample on.
const FAULT: i64 = 400;

/// Two hours of data ending an hour ago, on a 15 s grid.
fn start() -> i64 {
    (Utc::now().timestamp() - 3 * 3600) / 60 * 60
}

fn wobble(i: i64, salt: i64) -> f64 {
    (((i * 7919 + salt * 104_729) % 13) as f64 - 6.0) / 6.0
}

/// `(metric, service, instance, unix seconds, value)`.
type Row = (&'static str, &'static str, &'static str, i64, f64);

/// Each service's cpu (frontend's from two instances, which read 10 apart) and request
/// counter.
fn samples(t0: i64) -> Vec<Row> {
    let mut out = Vec::new();
    for (k, service) in SERVICES.iter().enumerate() {
        let instances: &[&str] = if *service == "frontend" {
            &["a", "b"]
        } else {
            &["a"]
        };
        for (n, instance) in instances.iter().enumerate() {
            for i in 0..SAMPLES {
                let at = t0 + i * STEP;
                let hot = *service == "cart" && i >= FAULT;
                let cpu = if hot { 95.0 } else { 30.0 } + wobble(i, k as i64) + 10.0 * n as f64;
                out.push(("cpu_usage_percent", *service, *instance, at, cpu));
                out.push((
                    "http_requests_total",
                    *service,
                    *instance,
                    at,
                    (i * 150) as f64,
                ));
            }
        }
    }
    out
}

fn start_server(t0: i64) -> Prometheus {
    start_backend(t0, false)
}

fn start_backend(t0: i64, victoria_metrics: bool) -> Prometheus {
    let rows = samples(t0);
    let labelled: Vec<(Vec<(&str, &str)>, &Row)> = rows
        .iter()
        .map(|r| (vec![("service", r.1), ("instance", r.2)], r))
        .collect();
    let input: Vec<Sample<'_>> = labelled
        .iter()
        .map(|(labels, r)| (r.0, labels.as_slice(), r.3, r.4))
        .collect();
    let server = if victoria_metrics {
        Prometheus::start_victoria_metrics(&input)
    } else {
        Prometheus::start(&openmetrics(&input))
    };
    server.unwrap_or_else(|e| panic!("{e}"))
}

fn at(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap()
}

#[tokio::test]
async fn metrics_come_back_per_service_merged_over_instances() {
    metrics_per_service(false).await;
}

#[tokio::test]
async fn victoria_metrics_works_unchanged() {
    metrics_per_service(true).await;
}

async fn metrics_per_service(victoria_metrics: bool) {
    let t0 = start();
    let server = start_backend(t0, victoria_metrics);
    let source = PrometheusSource::new(PrometheusConfig::new(server.url())).unwrap();
    assert_eq!(
        source.services().await.unwrap(),
        vec!["cart", "catalog", "frontend", "payments"]
    );
    let range = TimeRange::new(at(t0), at(t0 + SAMPLES * STEP)).unwrap();
    let series = source
        .metrics(&MetricQuery {
            range,
            service: Some("frontend".into()),
            metric: None,
        })
        .await
        .unwrap();
    let names: Vec<&str> = series.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, vec!["cpu_usage_percent", "http_requests_total"]);
    // Two instances: the gauge averaged (30 and 40 → 35 ± wobble), the counter summed.
    let cpu = &series[0];
    assert!(cpu.points.len() >= 400, "{}", cpu.points.len());
    assert!(
        (cpu.points[0].value - (35.0 + wobble(0, 0))).abs() < 1e-9,
        "{:?}",
        cpu.points[0]
    );
    let requests = &series[1];
    assert_eq!(requests.points[10].value, 2.0 * (10 * 150) as f64);
    // One metric of every service.
    let all = source
        .metrics(&MetricQuery {
            range,
            service: None,
            metric: Some("cpu_usage_percent".into()),
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
}

/// Two hours of one service's request counter, scraped every 30 s at 7.25 s past each
/// half minute, 30 requests a second.
fn scraped(t0: i64) -> Vec<MetricSeries> {
    let at = |s: i64, ms: i64| DateTime::from_timestamp_millis((t0 + s) * 1000 + ms).unwrap();
    let series = |metric: &str, points: Vec<MetricPoint>| MetricSeries {
        service: "cart".into(),
        metric: metric.into(),
        points,
    };
    vec![series(
        "http_requests_total",
        (0..240)
            .map(|i| MetricPoint {
                at: at(7 + i * 30, 250),
                value: (i * 900) as f64,
            })
            .collect(),
    )]
}

#[tokio::test]
async fn samples_come_back_at_their_own_times_not_repeated_at_a_finer_step() {
    for victoria_metrics in [false, true] {
        let t0 = start();
        let stored = scraped(t0);
        let server = if victoria_metrics {
            let rows: Vec<(i64, f64)> = stored[0]
                .points
                .iter()
                .map(|p| (p.at.timestamp_millis(), p.value))
                .collect();
            let labels: &[(&str, &str)] = &[("service", "cart")];
            let input: Vec<Sample<'_>> = rows
                .iter()
                .map(|(ms, v)| ("http_requests_total", labels, ms / 1000, *v))
                .collect();
            Prometheus::start_victoria_metrics(&input)
        } else {
            Prometheus::start(&openmetrics_of(&stored, "service"))
        }
        .unwrap_or_else(|e| panic!("{e}"));
        let source = PrometheusSource::new(PrometheusConfig::new(server.url())).unwrap();
        // Three hours around the data, as an investigation reads.
        let range = TimeRange::new(at(t0 - 1800), at(t0 + 9000)).unwrap();
        let read = source
            .metrics(&MetricQuery {
                range,
                service: Some("cart".into()),
                metric: None,
            })
            .await
            .unwrap();
        let points = &read[0].points;
        // One point per sample: not each twice at a 15 s step (which makes a counter's
        // rate zero at every other step), none after the last.
        assert_eq!(points.len(), 240, "victoria-metrics {victoria_metrics}");
        let rates: Vec<f64> = points
            .windows(2)
            .map(|w| (w[1].value - w[0].value) / (w[1].at - w[0].at).num_seconds() as f64)
            .collect();
        assert!(
            rates.iter().all(|r| (r - 30.0).abs() < 1.0),
            "victoria-metrics {victoria_metrics}: {rates:?}"
        );
        if !victoria_metrics {
            assert_eq!(
                points, &stored[0].points,
                "at the stored times, to the millisecond"
            );
        }
    }
}

#[tokio::test]
async fn the_ranking_over_prometheus_matches_the_same_data_as_a_bundle() {
    let t0 = start();
    let server = start_server(t0);
    let source = PrometheusSource::new(PrometheusConfig::new(server.url())).unwrap();
    let mut index = TelemetryIndex::new();
    for (metric, service, _, unix, value) in samples(t0) {
        if service == "frontend" {
            continue;
        }
        index.add_metric(service, metric, at(unix), value);
    }
    for i in 0..SAMPLES {
        let unix = t0 + i * STEP;
        let cpu = 35.0 + wobble(i, 0);
        index.add_metric("frontend", "cpu_usage_percent", at(unix), cpu);
        index.add_metric(
            "frontend",
            "http_requests_total",
            at(unix),
            (i * 300) as f64,
        );
    }
    let options = RankingOptions {
        at: Some(at(t0 + (FAULT + 20) * STEP)),
        max_candidates: Some(3),
    };
    let over_prometheus = rank_anomalies(&source, &options).await.unwrap();
    let over_bundle = rank_anomalies(&index, &options).await.unwrap();
    let first = |r: &itops_agents::analysis::ranking::AnomalyRanking| {
        r.candidates.first().map(|c| c.service.clone())
    };
    assert_eq!(
        first(&over_bundle),
        Some("cart".to_string()),
        "{over_bundle:#?}"
    );
    assert_eq!(
        first(&over_prometheus),
        first(&over_bundle),
        "{over_prometheus:#?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_and_a_query_it_refuses_are_clear_errors() {
    let range = TimeRange::new(Utc::now() - Duration::hours(1), Utc::now()).unwrap();
    let query = MetricQuery {
        range,
        service: None,
        metric: None,
    };
    let mut config = PrometheusConfig::new("http://127.0.0.1:1");
    config.connection.timeout = std::time::Duration::from_secs(5);
    let dead = PrometheusSource::new(config).unwrap();
    let err = dead.metrics(&query).await.unwrap_err();
    assert!(err.to_string().contains("cannot reach"), "{err}");

    let server = start_server(start());
    let mut config = PrometheusConfig::new(server.url());
    config.service_label = Some("not a label".into());
    let refused = PrometheusSource::new(config).unwrap();
    let err = refused.metrics(&query).await.unwrap_err();
    assert!(err.to_string().contains("bad_data"), "{err}");

    let mut config = PrometheusConfig::new(server.url());
    config.service_label = Some("team".into());
    let unlabelled = PrometheusSource::new(config).unwrap();
    assert!(unlabelled.metrics(&query).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_server_opens_the_circuit_and_calls_are_then_refused_at_once() {
    let range = TimeRange::new(Utc::now() - Duration::hours(1), Utc::now()).unwrap();
    let query = MetricQuery {
        range,
        service: None,
        metric: Some("up".into()),
    };
    let mut config = PrometheusConfig::new("http://127.0.0.1:1").service_label(Some("job".into()));
    config.connection.retry.max_attempts = 1;
    config.connection.breaker.failure_threshold = 2;
    config.connection.breaker.open_interval = std::time::Duration::from_secs(600);
    let source = PrometheusSource::new(config).unwrap();
    for _ in 0..2 {
        let err = source.metrics(&query).await.unwrap_err();
        assert!(err.to_string().contains("cannot reach"), "{err}");
    }
    let err = source.metrics(&query).await.unwrap_err();
    assert!(
        matches!(err, itops_core::Error::CircuitOpen { .. }),
        "{err}"
    );
    assert_eq!(
        source.breaker().state(),
        itops_core::breaker::BreakerState::Open
    );
}
