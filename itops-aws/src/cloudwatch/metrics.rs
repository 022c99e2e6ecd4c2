//! Metrics: `ListMetrics` to find the dimension sets that exist, `GetMetricData` to read them.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, ScanBy,
};
use itops_core::telemetry::{MetricPoint, MetricQuery, MetricSeries};

use super::{from_aws_time, to_aws_time, CloudWatchTelemetry, MetricSource, MetricSpec};
use crate::error::{Error, Result};
use crate::sdk::classify;

/// `GetMetricData` accepts at most this many queries per call.
const QUERIES_PER_CALL: usize = 500;

/// One metric to fetch and the series it feeds.
struct Wanted {
    metric: Metric,
    spec: MetricSpec,
    service: String,
}

impl CloudWatchTelemetry {
    /// The metrics of `source` that exist, with their dimension sets: one `ListMetrics` walk.
    async fn list(
        &self,
        source: &MetricSource,
        metric_name: Option<&str>,
        service_value: Option<&str>,
    ) -> Result<Vec<Metric>> {
        let wanted_names: BTreeSet<&str> = source
            .extra_dimensions
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(source.service_dimension.as_str()))
            .collect();
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut filter = DimensionFilter::builder().name(&source.service_dimension);
            if let Some(value) = service_value {
                filter = filter.value(value);
            }
            let out = self
                .metrics
                .list_metrics()
                .namespace(&source.namespace)
                .set_metric_name(metric_name.map(str::to_string))
                .dimensions(filter.build())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    classify(self.call("CloudWatch", "ListMetrics", &source.namespace), e)
                })?;
            for metric in out.metrics() {
                let names: BTreeSet<&str> = metric
                    .dimensions()
                    .iter()
                    .filter_map(|d| d.name())
                    .collect();
                if names == wanted_names {
                    found.push(metric.clone());
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(found),
            }
        }
    }

    /// The services that have any metric of `source`.
    pub(super) async fn metric_services(&self, source: &MetricSource) -> Result<BTreeSet<String>> {
        let mut services = BTreeSet::new();
        for spec in &source.metrics {
            for metric in self.list(source, Some(&spec.metric_name), None).await? {
                if let Some(value) = dimension_value(&metric, &source.service_dimension) {
                    services.insert(source.service_of(value));
                }
            }
        }
        Ok(services)
    }

    /// Reads the series matching `query`, oldest sample first.
    pub(super) async fn read_metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        let mut wanted = Vec::new();
        for source in &self.settings.metric_sources {
            let value = query.service.as_deref().map(|s| source.value_of(s));
            for spec in &source.metrics {
                if query
                    .metric
                    .as_deref()
                    .is_some_and(|m| m != spec.series_name())
                {
                    continue;
                }
                for metric in self
                    .list(source, Some(&spec.metric_name), value.as_deref())
                    .await?
                {
                    let Some(dim) = dimension_value(&metric, &source.service_dimension) else {
                        continue;
                    };
                    wanted.push(Wanted {
                        service: source.service_of(dim),
                        spec: spec.clone(),
                        metric,
                    });
                }
            }
        }
        let mut series: BTreeMap<(String, String), Vec<MetricPoint>> = BTreeMap::new();
        for batch in wanted.chunks(QUERIES_PER_CALL) {
            let queries: Vec<MetricDataQuery> = batch
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    MetricDataQuery::builder()
                        .id(format!("m{i}"))
                        .metric_stat(
                            MetricStat::builder()
                                .metric(w.metric.clone())
                                .period(i32::try_from(w.spec.period_secs).unwrap_or(60))
                                .stat(&w.spec.stat)
                                .build(),
                        )
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .metrics
                    .get_metric_data()
                    .set_metric_data_queries(Some(queries.clone()))
                    .start_time(to_aws_time(query.range.start))
                    .end_time(to_aws_time(query.range.end))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| {
                        classify(self.call("CloudWatch", "GetMetricData", "metrics"), e)
                    })?;
                for result in out.metric_data_results() {
                    let Some(index) = result
                        .id()
                        .and_then(|id| id.strip_prefix('m'))
                        .and_then(|n| n.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let Some(w) = batch.get(index) else {
                        continue;
                    };
                    if result.timestamps().len() != result.values().len() {
                        return Err(Error::Malformed {
                            service: "CloudWatch",
                            operation: "GetMetricData",
                            what: format!("the result for {}", w.spec.metric_name),
                            message: "timestamps and values differ in number".to_string(),
                        });
                    }
                    let points = series
                        .entry((w.service.clone(), w.spec.series_name().to_string()))
                        .or_default();
                    for (at, value) in result.timestamps().iter().zip(result.values()) {
                        if let Some(at) = from_aws_time(at) {
                            if query.range.contains(at) {
                                points.push(MetricPoint { at, value: *value });
                            }
                        }
                    }
                }
                match out.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_string()),
                    _ => break,
                }
            }
        }
        Ok(series
            .into_iter()
            .map(|((service, metric), mut points)| {
                points.sort_by_key(|p| p.at);
                MetricSeries {
                    service,
                    metric,
                    points,
                }
            })
            .collect())
    }
}

fn dimension_value<'a>(metric: &'a Metric, name: &str) -> Option<&'a str> {
    metric
        .dimensions()
        .iter()
        .find(|d: &&Dimension| d.name() == Some(name))
        .and_then(|d| d.value())
}
