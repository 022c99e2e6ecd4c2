//! `GET /api/simulator/metrics`: the live simulated shop's own metrics in the Prometheus text
//! exposition format, so that a real Prometheus can scrape it like any service (the last
//! sample of every series, labelled with its service).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use itops_core::telemetry::{MetricQuery, MetricSeries, TimeRange};
use itops_core::TelemetrySource;

use crate::app::auth::bearer_token;
use crate::app::error::ApiError;
use crate::app::AppState;

/// How far back the latest sample of a series is looked for.
const LOOKBACK_MINUTES: i64 = 5;

/// `GET /api/simulator/metrics`: needs what `/metrics` needs (an API token, the metrics
/// token, or public metrics); 404 when the server does not run the simulator.
pub(crate) async fn exposition(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.tokens.may_scrape(bearer_token(&headers)) {
        return ApiError::unauthorized(
            "send 'Authorization: Bearer <token>': an API token or the metrics token",
        )
        .into_response();
    }
    let Some(live) = &state.live else {
        return ApiError::not_found("the server does not run the simulator").into_response();
    };
    let env = live.environment();
    let now = env.now();
    let range = TimeRange {
        start: now - Duration::minutes(LOOKBACK_MINUTES),
        end: now + Duration::seconds(1),
    };
    let series = match env
        .metrics(&MetricQuery {
            range,
            service: None,
            metric: None,
        })
        .await
    {
        Ok(series) => series,
        Err(error) => return ApiError::from(error).into_response(),
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&series),
    )
        .into_response()
}

/// The last sample of every series, grouped by metric: `# TYPE` (a `_total` name is a
/// counter), then one line per service.
pub(crate) fn render(series: &[MetricSeries]) -> String {
    let mut by_metric: BTreeMap<String, Vec<(&str, f64)>> = BTreeMap::new();
    for s in series {
        let Some(last) = s.points.iter().rev().find(|p| p.value.is_finite()) else {
            continue;
        };
        by_metric
            .entry(metric_name(&s.metric))
            .or_default()
            .push((s.service.as_str(), last.value));
    }
    let mut out = String::new();
    for (metric, samples) in &by_metric {
        let kind = if metric.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# TYPE {metric} {kind}");
        for (service, value) in samples {
            let _ = writeln!(
                out,
                "{metric}{{service=\"{}\"}} {value}",
                label_value(service)
            );
        }
    }
    out
}

/// `name` as a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`): every other
/// character becomes `_`.
fn metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label value escaped as the exposition format wants (`\\`, `\"`, `\n`).
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use itops_core::telemetry::MetricPoint;

    use super::*;

    fn series(service: &str, metric: &str, values: &[f64]) -> MetricSeries {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        MetricSeries {
            service: service.into(),
            metric: metric.into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| MetricPoint {
                    at: t0 + Duration::seconds(15 * i as i64),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn the_last_sample_of_each_series_in_the_exposition_format() {
        let text = render(&[
            series("cart", "http_requests_total", &[10.0, 25.0]),
            series("cart", "latency.p99 ms", &[120.0, f64::NAN]),
            series("pay\"ments", "http_requests_total", &[7.0]),
            series("idle", "cpu_usage_percent", &[]),
        ]);
        assert_eq!(
            text,
            "# TYPE http_requests_total counter\n\
             http_requests_total{service=\"cart\"} 25\n\
             http_requests_total{service=\"pay\\\"ments\"} 7\n\
             # TYPE latency_p99_ms gauge\n\
             latency_p99_ms{service=\"cart\"} 120\n"
        );
        assert_eq!(metric_name("9lives"), "_9lives");
    }
}
