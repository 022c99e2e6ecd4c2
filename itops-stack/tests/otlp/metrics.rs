//! Metrics, protobuf and JSON: names, merging over attributes, counters, partial success.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use itops_core::telemetry::MetricSeries;
use itops_stack::otlp::{decode_metrics, DEFAULT_MAX_BODY_BYTES};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point::Value, AggregationTemporality, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use prost::Message;

use crate::support::*;

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

fn t0() -> DateTime<Utc> {
    at("2026-03-01T10:00:00Z")
}

fn point(at: DateTime<Utc>, route: &str, value: Option<Value>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: vec![string("http.route", route)],
        time_unix_nano: nanos(at),
        value,
        ..Default::default()
    }
}

fn metric(name: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn sum(points: Vec<NumberDataPoint>, temporality: i32, monotonic: bool) -> Data {
    Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality,
        is_monotonic: monotonic,
    })
}

fn histogram(at: DateTime<Utc>, start: DateTime<Utc>, count: u64, sum: f64) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: nanos(start),
        time_unix_nano: nanos(at),
        count,
        sum: Some(sum),
        bucket_counts: vec![count],
        ..Default::default()
    }
}

fn every_kind() -> ExportMetricsServiceRequest {
    let (t0, t1) = (t0(), t0() + Duration::seconds(15));
    let d = Value::AsDouble;
    let i = Value::AsInt;
    let mut stale = point(t1, "a", None);
    stale.flags = 1;
    let mut no_time = point(t0, "a", Some(d(1.0)));
    no_time.time_unix_nano = 0;
    let mut delta = point(t0, "a", Some(i(30)));
    delta.start_time_unix_nano = nanos(t0 - Duration::seconds(30));
    let metrics = vec![
        metric(
            "process.cpu.utilization",
            Data::Gauge(Gauge {
                data_points: vec![
                    point(t0, "a", Some(d(0.2))),
                    point(t0, "b", Some(d(0.4))),
                    point(t1, "a", Some(d(0.5))),
                    stale,
                    point(t1, "b", None),
                    no_time,
                ],
            }),
        ),
        metric(
            "http.server.requests",
            sum(
                vec![
                    point(t0, "a", Some(i(100))),
                    point(t0, "b", Some(i(50))),
                    point(t1, "a", Some(i(110))),
                    point(t1, "b", Some(i(60))),
                ],
                CUMULATIVE,
                true,
            ),
        ),
        metric(
            "errors_total",
            sum(vec![point(t0, "a", Some(d(3.0)))], CUMULATIVE, true),
        ),
        metric(
            "queue.depth",
            sum(
                vec![point(t0, "a", Some(i(4))), point(t0, "b", Some(i(6)))],
                CUMULATIVE,
                false,
            ),
        ),
        metric(
            "jobs.done",
            sum(vec![delta, point(t1, "a", Some(i(1)))], DELTA, true),
        ),
        metric(
            "http.server.request.duration",
            Data::Histogram(Histogram {
                data_points: vec![histogram(t0, t0, 10, 2.5), histogram(t0, t0, 5, 0.5)],
                aggregation_temporality: CUMULATIVE,
            }),
        ),
        metric(
            "db.query.duration",
            Data::Histogram(Histogram {
                data_points: vec![histogram(t0, t0 - Duration::seconds(10), 20, 4.0)],
                aggregation_temporality: DELTA,
            }),
        ),
        metric(
            "gc.pause",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: nanos(t0),
                    count: 4,
                    sum: 0.08,
                    ..Default::default()
                }],
            }),
        ),
        metric(
            "rpc.latency",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: nanos(t0),
                    count: 7,
                    sum: Some(1.4),
                    ..Default::default()
                }],
                aggregation_temporality: CUMULATIVE,
            }),
        ),
        metric(
            "",
            Data::Gauge(Gauge {
                data_points: vec![point(t0, "a", Some(d(1.0))), point(t1, "a", Some(d(1.0)))],
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(Some("cart")),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `metric → [(seconds after t0, value)]`.
fn by_name(series: &[MetricSeries]) -> BTreeMap<String, Vec<(i64, f64)>> {
    series
        .iter()
        .map(|s| {
            assert_eq!(s.service, "cart");
            let points = s
                .points
                .iter()
                .map(|p| ((p.at - t0()).num_seconds(), p.value))
                .collect();
            (s.metric.clone(), points)
        })
        .collect()
}

#[test]
fn every_kind_of_metric_becomes_series_the_ranking_reads() {
    let bytes = every_kind().encode_to_vec();
    for (bytes, format) in [(bytes.clone(), PROTOBUF), (gzip(&bytes), PROTOBUF_GZIP)] {
        let decoded = decode_metrics(&bytes, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        assert_eq!(
            (decoded.accepted, decoded.rejected),
            (17, 5),
            "{:?}",
            decoded.message
        );
        let message = decoded.message.unwrap();
        for reason in [
            "5 data points rejected",
            "1 without a value",
            "1 without a valid time",
            "1 delta points without a start time",
            "2 of metrics without a name",
        ] {
            assert!(message.contains(reason), "{reason}: {message}");
        }
        let series = by_name(&decoded.items);
        let close = |name: &str, want: &[(i64, f64)]| {
            let got = &series[name];
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for ((t, v), (wt, wv)) in got.iter().zip(want) {
                assert!(
                    t == wt && (v - wv).abs() < 1e-9,
                    "{name}: {got:?} != {want:?}"
                );
            }
        };
        // Gauges averaged over attributes; counters summed and named as counters.
        close("process.cpu.utilization", &[(0, 0.3), (15, 0.5)]);
        close("http.server.requests_total", &[(0, 150.0), (15, 170.0)]);
        close("errors_total", &[(0, 3.0)]);
        close("queue.depth", &[(0, 10.0)]);
        close("jobs.done_rate", &[(0, 1.0)]);
        close("http.server.request.duration_count", &[(0, 15.0)]);
        close("http.server.request.duration_sum", &[(0, 3.0)]);
        close("db.query.duration_rate", &[(0, 2.0)]);
        close("db.query.duration_mean", &[(0, 0.2)]);
        close("gc.pause_count", &[(0, 4.0)]);
        close("gc.pause_sum", &[(0, 0.08)]);
        close("rpc.latency_count", &[(0, 7.0)]);
        close("rpc.latency_sum", &[(0, 1.4)]);
        assert_eq!(series.len(), 13, "{:?}", series.keys());
    }
}

/// Metrics as the OTLP specification writes them in JSON: 64-bit integers as strings
/// or numbers, enums as integers.
const SPEC_METRICS: &str = r#"{
  "resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeMetrics": [{
      "scope": {"name": "my.library", "version": "1.0.0"},
      "metrics": [
        {
          "name": "my.counter", "unit": "1", "description": "I am a Counter",
          "sum": {
            "aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [
              {"asDouble": 5, "startTimeUnixNano": "1544712600000000000", "timeUnixNano": "1544712660000000000",
               "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "a"}}]},
              {"asInt": "7", "startTimeUnixNano": 1544712600000000000, "timeUnixNano": 1544712660000000000,
               "attributes": [{"key": "my.counter.attr", "value": {"stringValue": "b"}}]}
            ]
          }
        },
        {
          "name": "my.gauge", "unit": "1",
          "gauge": {"dataPoints": [{"asDouble": 10, "timeUnixNano": "1544712660000000000"}]}
        },
        {
          "name": "my.histogram", "unit": "s",
          "histogram": {
            "aggregationTemporality": 2,
            "dataPoints": [{
              "startTimeUnixNano": "1544712600000000000", "timeUnixNano": "1544712660000000000",
              "count": "3", "sum": 3, "bucketCounts": ["1", "1", "1"], "explicitBounds": [1, 2],
              "min": 0.5, "max": 1.5
            }]
          }
        }
      ]
    }]
  }]
}"#;

#[test]
fn json_metrics_as_the_specification_writes_them() {
    for (bytes, format) in [
        (SPEC_METRICS.as_bytes().to_vec(), JSON),
        (gzip(SPEC_METRICS.as_bytes()), JSON_GZIP),
    ] {
        let decoded = decode_metrics(&bytes, format, DEFAULT_MAX_BODY_BYTES).unwrap();
        assert_eq!(
            (decoded.accepted, decoded.rejected),
            (4, 0),
            "{:?}",
            decoded.message
        );
        let names: Vec<(&str, &str, f64)> = decoded
            .items
            .iter()
            .map(|s| (s.service.as_str(), s.metric.as_str(), s.points[0].value))
            .collect();
        assert_eq!(
            names,
            vec![
                ("my.service", "my.counter_total", 12.0),
                ("my.service", "my.gauge", 10.0),
                ("my.service", "my.histogram_count", 3.0),
                ("my.service", "my.histogram_sum", 3.0),
            ]
        );
        assert_eq!(decoded.items[0].points[0].at, at("2018-12-13T14:51:00Z"));
    }
}
