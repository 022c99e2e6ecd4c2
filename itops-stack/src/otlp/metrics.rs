//! `POST /v1/metrics`: an `ExportMetricsServiceRequest` into metric series.

use itops_core::telemetry::MetricSeries;
use itops_core::Result;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, NumberDataPoint};

use super::common::service_of;
use super::{decode_message, Decoded, Format, Rejections, Signal};
use crate::merge::SeriesMerge;

/// Decodes the body of `POST /v1/metrics` (an `ExportMetricsServiceRequest`, in
/// `format`, at most `max_bytes` once decompressed) into metric series, one per service
/// and metric name.
///
/// Data point attributes are dropped: the points of one service and metric at one
/// instant are merged, summed for sums and histogram counts (additive), averaged for
/// gauges. What each kind becomes:
///
/// | OTLP metric | itops series | value |
/// |---|---|---|
/// | gauge | `name` | the value |
/// | monotonic cumulative sum (a counter) | `name`, with `_total` appended unless it ends in `_total`, `_count`, `_sum` (or `.total`, …), so the ranking reads it as a counter | the raw cumulative value |
/// | non-monotonic cumulative sum | `name` | the value |
/// | delta sum | `name_rate` | the delta per second of its interval |
/// | cumulative histogram, exponential histogram, summary | `name_count`, `name_sum` | the raw cumulative count and sum (counters) |
/// | delta histogram, exponential histogram | `name_rate`, `name_mean` | the count per second of its interval, and sum / count |
///
/// A sum with an unspecified temporality is taken as cumulative. Quantiles and buckets
/// are not kept. A data point is rejected when it has no time (or one past 2262), no
/// value (gauges and sums), or a delta point has no start before its time; a metric
/// without a name or data has all its points rejected. A point flagged "no recorded
/// value" is accepted and yields nothing.
///
/// Errors as for [`decode_traces`](super::decode_traces).
pub fn decode_metrics(
    body: &[u8],
    format: Format,
    max_bytes: usize,
) -> Result<Decoded<MetricSeries>> {
    let request: ExportMetricsServiceRequest = decode_message(body, format, max_bytes)?;
    Ok(series_of(request))
}

/// A point's flag: no value was recorded (a staleness marker).
const NO_RECORDED_VALUE: u32 = 1;

/// The suffixes the ranking reads as a counter's (`is_counter` in itops-agents).
const COUNTER_SUFFIXES: [&str; 6] = ["_total", "_count", "_sum", ".total", ".count", ".sum"];

/// `name` as a counter's name: as it is when it already reads as one, else with `_total`.
pub(crate) fn counter_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if COUNTER_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        name.to_owned()
    } else {
        format!("{name}_total")
    }
}

/// The common part of a data point: when, over which interval, flags.
struct Stamp {
    start: u64,
    time: u64,
    flags: u32,
}

/// What one data point becomes, before the merge.
enum Mapped {
    /// Nothing, and no error (no recorded value).
    Nothing,
    /// `(series suffix, additive, value)` at the point's time.
    Values(Vec<(&'static str, bool, f64)>),
}

/// The series of a decoded request.
pub(crate) fn series_of(request: ExportMetricsServiceRequest) -> Decoded<MetricSeries> {
    let mut rejections = Rejections::default();
    let mut merge = SeriesMerge::default();
    let mut accepted = 0u64;
    for resource_metrics in request.resource_metrics {
        let service = service_of(resource_metrics.resource.as_ref());
        for scope_metrics in resource_metrics.scope_metrics {
            for metric in scope_metrics.metrics {
                let Some(data) = metric.data else {
                    continue;
                };
                let points = each_point(&data);
                if metric.name.is_empty() {
                    rejections.add_n("of metrics without a name", points.len() as u64);
                    continue;
                }
                let base = match &data {
                    Data::Sum(sum)
                        if sum.is_monotonic && !is_delta(sum.aggregation_temporality) =>
                    {
                        counter_name(&metric.name)
                    }
                    _ => metric.name.clone(),
                };
                for (stamp, mapped) in points {
                    let Some(at) = nanos(stamp.time) else {
                        rejections.add("without a valid time");
                        continue;
                    };
                    match mapped {
                        Err(reason) => rejections.add(reason),
                        Ok(Mapped::Nothing) => accepted += 1,
                        Ok(Mapped::Values(values)) => {
                            accepted += 1;
                            for (suffix, additive, value) in values {
                                merge
                                    .series(&service, &format!("{base}{suffix}"), additive)
                                    .add(at, value);
                            }
                        }
                    }
                }
            }
        }
    }
    rejections.finish(Signal::Metrics, merge.finish(), accepted)
}

fn is_delta(temporality: i32) -> bool {
    temporality == AggregationTemporality::Delta as i32
}

/// Unix nanoseconds as the index holds them: `None` for 0 (unset) and past `i64`.
fn nanos(time: u64) -> Option<i64> {
    i64::try_from(time).ok().filter(|&n| n > 0)
}

/// Seconds from a point's start to its time; `None` without a start before it.
fn interval_seconds(stamp: &Stamp) -> Option<f64> {
    (stamp.start > 0 && stamp.time > stamp.start).then(|| (stamp.time - stamp.start) as f64 / 1e9)
}

type PointResult = Result<Mapped, &'static str>;

/// Every data point of a metric, stamped and mapped.
fn each_point(data: &Data) -> Vec<(Stamp, PointResult)> {
    let stamp = |start, time, flags| Stamp { start, time, flags };
    match data {
        Data::Gauge(gauge) => gauge
            .data_points
            .iter()
            .map(|p| {
                (
                    stamp(p.start_time_unix_nano, p.time_unix_nano, p.flags),
                    number(p, false, false),
                )
            })
            .collect(),
        Data::Sum(sum) => {
            let delta = is_delta(sum.aggregation_temporality);
            sum.data_points
                .iter()
                .map(|p| {
                    (
                        stamp(p.start_time_unix_nano, p.time_unix_nano, p.flags),
                        number(p, true, delta),
                    )
                })
                .collect()
        }
        Data::Histogram(histogram) => {
            let delta = is_delta(histogram.aggregation_temporality);
            histogram
                .data_points
                .iter()
                .map(|p| {
                    let s = stamp(p.start_time_unix_nano, p.time_unix_nano, p.flags);
                    let mapped = distribution(&s, p.count, p.sum, delta);
                    (s, mapped)
                })
                .collect()
        }
        Data::ExponentialHistogram(histogram) => {
            let delta = is_delta(histogram.aggregation_temporality);
            histogram
                .data_points
                .iter()
                .map(|p| {
                    let s = stamp(p.start_time_unix_nano, p.time_unix_nano, p.flags);
                    let mapped = distribution(&s, p.count, p.sum, delta);
                    (s, mapped)
                })
                .collect()
        }
        Data::Summary(summary) => summary
            .data_points
            .iter()
            .map(|p| {
                let s = stamp(p.start_time_unix_nano, p.time_unix_nano, p.flags);
                let mapped = distribution(&s, p.count, Some(p.sum), false);
                (s, mapped)
            })
            .collect(),
    }
}

/// A gauge's or a sum's point.
fn number(point: &NumberDataPoint, additive: bool, delta: bool) -> PointResult {
    if point.flags & NO_RECORDED_VALUE != 0 {
        return Ok(Mapped::Nothing);
    }
    let value = match point.value {
        Some(Value::AsDouble(d)) => d,
        Some(Value::AsInt(i)) => i as f64,
        None => return Err("without a value (asDouble or asInt)"),
    };
    if !delta {
        return Ok(Mapped::Values(vec![("", additive, value)]));
    }
    let stamp = Stamp {
        start: point.start_time_unix_nano,
        time: point.time_unix_nano,
        flags: point.flags,
    };
    let seconds =
        interval_seconds(&stamp).ok_or("delta points without a start time before their time")?;
    Ok(Mapped::Values(vec![("_rate", true, value / seconds)]))
}

/// A histogram's or a summary's point: its count and sum.
fn distribution(stamp: &Stamp, count: u64, sum: Option<f64>, delta: bool) -> PointResult {
    if stamp.flags & NO_RECORDED_VALUE != 0 {
        return Ok(Mapped::Nothing);
    }
    let count = count as f64;
    if !delta {
        let mut values = vec![("_count", true, count)];
        if let Some(sum) = sum {
            values.push(("_sum", true, sum));
        }
        return Ok(Mapped::Values(values));
    }
    let seconds =
        interval_seconds(stamp).ok_or("delta points without a start time before their time")?;
    let mut values = vec![("_rate", true, count / seconds)];
    if let Some(sum) = sum.filter(|_| count > 0.0) {
        values.push(("_mean", false, sum / count));
    }
    Ok(Mapped::Values(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_as_the_ranking_reads_them() {
        assert_eq!(
            counter_name("http.server.requests"),
            "http.server.requests_total"
        );
        assert_eq!(counter_name("requests_total"), "requests_total");
        assert_eq!(counter_name("jobs.Count"), "jobs.Count");
        assert_eq!(counter_name("bytes_sum"), "bytes_sum");
    }
}
