//! Merging the series of one service and metric (replicas, instances, routes and other
//! labels or attributes itops does not keep) into one: at each instant, additive series
//! (counters, sums) are summed and the others (gauges) averaged.
//!
//! Shared by the Prometheus source (series read from a query) and OTLP ingest (data
//! points decoded from a request).

use std::collections::BTreeMap;

use chrono::DateTime;
use itops_core::telemetry::{MetricPoint, MetricSeries};

/// Whether a metric is a cumulative counter by its Prometheus-style name.
pub(crate) fn is_counter_name(metric: &str) -> bool {
    metric.ends_with("_total") || metric.ends_with("_count") || metric.ends_with("_sum")
}

/// Series being merged, keyed by (service, metric).
#[derive(Debug, Default)]
pub(crate) struct SeriesMerge {
    series: BTreeMap<(String, String), Merged>,
}

/// The points of one merged series: per instant (Unix nanoseconds), the sum of the values
/// and how many there were.
#[derive(Debug)]
pub(crate) struct Merged {
    additive: bool,
    points: BTreeMap<i64, (f64, usize)>,
}

impl Merged {
    /// Adds one value at `at_nanos`.
    pub(crate) fn add(&mut self, at_nanos: i64, value: f64) {
        let slot = self.points.entry(at_nanos).or_insert((0.0, 0));
        slot.0 += value;
        slot.1 += 1;
    }
}

impl SeriesMerge {
    /// The series of `service` and `metric`, created when new: `additive` (summed at each
    /// instant) or not (averaged). The first call for a series decides.
    pub(crate) fn series(&mut self, service: &str, metric: &str, additive: bool) -> &mut Merged {
        self.series
            .entry((service.to_owned(), metric.to_owned()))
            .or_insert_with(|| Merged {
                additive,
                points: BTreeMap::new(),
            })
    }

    /// The merged series, sorted by (service, metric), points oldest first; values that
    /// are not finite are left out.
    pub(crate) fn finish(self) -> Vec<MetricSeries> {
        self.series
            .into_iter()
            .map(|((service, metric), merged)| MetricSeries {
                points: merged
                    .points
                    .into_iter()
                    .filter_map(|(nanos, (sum, n))| {
                        let value = if merged.additive { sum } else { sum / n as f64 };
                        value.is_finite().then(|| MetricPoint {
                            at: DateTime::from_timestamp_nanos(nanos),
                            value,
                        })
                    })
                    .collect(),
                service,
                metric,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_and_gauges_average_at_each_instant() {
        let mut merge = SeriesMerge::default();
        let requests = merge.series("api", "requests_total", true);
        requests.add(10, 1.0);
        requests.add(10, 2.0);
        requests.add(20, 5.0);
        let cpu = merge.series("api", "cpu", false);
        cpu.add(10, 30.0);
        cpu.add(10, 40.0);
        cpu.add(20, f64::NAN);
        let series = merge.finish();
        assert_eq!(series[0].metric, "cpu");
        let values = |s: &MetricSeries| s.points.iter().map(|p| p.value).collect::<Vec<_>>();
        assert_eq!(values(&series[0]), vec![35.0]);
        assert_eq!(values(&series[1]), vec![3.0, 5.0]);
        assert_eq!(series[1].points[1].at, DateTime::from_timestamp_nanos(20));
    }
}
