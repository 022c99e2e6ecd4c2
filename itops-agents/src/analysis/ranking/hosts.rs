//! Host-level metrics: the machine's, or the service's own?
//!
//! A metric named for the node or host (`node_cpu_usage_percent`, `host.memory.used`) is
//! usually the machine's: every service scheduled there shows the same series, or the
//! service has its own measure of the same thing beside it. Its move then says little
//! about which service is at fault, so it weighs less. But where the services *are* the
//! machines (a monitoring of virtual machines or hosts), a host series is the only cpu,
//! memory or disk measure a service has and no other service shows it: it is the
//! service's own.

use std::collections::{BTreeMap, BTreeSet};

use itops_core::telemetry::MetricSeries;

use crate::analysis::signal_kind::{classify, classify_own, SignalKind};

/// Share of the common timestamps at which two series must hold the same value to be one
/// machine's series seen from two services.
const SAME_SHARE: f64 = 0.8;
/// Fewest common timestamps to compare two series on.
const MIN_COMMON: usize = 3;

/// The (service, metric) pairs of `metrics` whose host-level series are the service's
/// own: the service has no other measure of what it measures, and no other service
/// shows the same series.
pub(crate) fn own_host_series(metrics: &[MetricSeries]) -> BTreeSet<(String, String)> {
    let mut kinds: BTreeMap<&str, BTreeSet<SignalKind>> = BTreeMap::new();
    let mut hosts: BTreeMap<&str, Vec<&MetricSeries>> = BTreeMap::new();
    for s in metrics {
        match classify(&s.metric) {
            SignalKind::Host => hosts.entry(s.metric.as_str()).or_default().push(s),
            kind => {
                kinds.entry(s.service.as_str()).or_default().insert(kind);
            }
        }
    }
    let mut own = BTreeSet::new();
    for group in hosts.values() {
        for (i, s) in group.iter().enumerate() {
            let kind = classify_own(&s.metric);
            if kind == SignalKind::Other
                || kinds
                    .get(s.service.as_str())
                    .is_some_and(|k| k.contains(&kind))
            {
                continue;
            }
            let shared = group
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && o.service != s.service && same_series(s, o));
            if !shared {
                own.insert((s.service.clone(), s.metric.clone()));
            }
        }
    }
    own
}

/// Whether `a` and `b` hold the same value at most of their common timestamps.
fn same_series(a: &MetricSeries, b: &MetricSeries) -> bool {
    let values: BTreeMap<i64, f64> = a
        .points
        .iter()
        .map(|p| (p.at.timestamp_millis(), p.value))
        .collect();
    let (mut common, mut same) = (0usize, 0usize);
    for p in &b.points {
        if let Some(v) = values.get(&p.at.timestamp_millis()) {
            common += 1;
            let scale = v.abs().max(p.value.abs()).max(f64::MIN_POSITIVE);
            if (v - p.value).abs() <= 1e-9 * scale {
                same += 1;
            }
        }
    }
    common >= MIN_COMMON && same as f64 >= SAME_SHARE * common as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use itops_core::telemetry::MetricPoint;

    fn series(service: &str, metric: &str, values: &[f64]) -> MetricSeries {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        MetricSeries {
            service: service.into(),
            metric: metric.into(),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| MetricPoint {
                    at: t0 + Duration::minutes(i as i64),
                    value: *v,
                })
                .collect(),
        }
    }

    fn own(metrics: &[MetricSeries]) -> Vec<(String, String)> {
        own_host_series(metrics).into_iter().collect()
    }

    #[test]
    fn a_node_series_two_services_share_is_the_machines() {
        let metrics = [
            series("cart", "node_cpu_usage_percent", &[20.0, 21.0, 80.0, 82.0]),
            series(
                "checkout",
                "node_cpu_usage_percent",
                &[20.0, 21.0, 80.0, 82.0],
            ),
        ];
        assert!(own(&metrics).is_empty());
    }

    #[test]
    fn a_node_series_beside_the_services_own_measure_is_the_machines() {
        let metrics = [
            series("cart", "node_cpu_usage_percent", &[20.0, 21.0, 80.0, 82.0]),
            series("cart", "cpu_usage_percent", &[2.0, 2.1, 2.0, 2.2]),
        ];
        assert!(own(&metrics).is_empty());
    }

    #[test]
    fn the_only_cpu_measure_of_a_machine_is_its_own() {
        let metrics = [
            series("vm-a", "host_cpu_utilization", &[20.0, 21.0, 80.0, 82.0]),
            series("vm-b", "host_cpu_utilization", &[20.0, 22.0, 21.0, 20.0]),
            series("vm-a", "latency_ms", &[20.0, 21.0, 80.0, 82.0]),
        ];
        assert_eq!(
            own(&metrics),
            [
                ("vm-a".to_string(), "host_cpu_utilization".to_string()),
                ("vm-b".to_string(), "host_cpu_utilization".to_string()),
            ]
        );
        assert_eq!(classify_own("node.memory.used"), SignalKind::Memory);
    }
}
