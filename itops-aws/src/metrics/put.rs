//! [`PutMetricDataSink`]: metrics through the CloudWatch `PutMetricData` API.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum as CwDatum, StandardUnit};
use aws_sdk_cloudwatch::Client;

use super::{MetricDatum, MetricsSink};
use crate::cloudwatch::to_aws_time;
use crate::config::region_of;
use crate::error::Result;
use crate::sdk::{classify, Call};

/// `PutMetricData` accepts at most this many data points per call.
const DATA_PER_CALL: usize = 1_000;

/// Sends metrics with `PutMetricData`, in calls of up to 1,000 data points. For processes
/// outside Lambda; on Lambda prefer [`EmfSink`](super::EmfSink), which needs no API call.
#[derive(Clone, Debug)]
pub struct PutMetricDataSink {
    client: Client,
    namespace: String,
    region: String,
}

impl PutMetricDataSink {
    /// A sink writing to `namespace`.
    pub fn new(sdk: &SdkConfig, namespace: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk),
            namespace: namespace.into(),
            region: region_of(sdk),
        }
    }
}

#[async_trait]
impl MetricsSink for PutMetricDataSink {
    async fn emit(&self, data: &[MetricDatum]) -> Result<()> {
        for chunk in data.chunks(DATA_PER_CALL) {
            let data: Vec<CwDatum> = chunk
                .iter()
                .map(|d| {
                    CwDatum::builder()
                        .metric_name(&d.name)
                        .value(d.value)
                        .unit(StandardUnit::from(d.unit.as_str()))
                        .timestamp(to_aws_time(d.at))
                        .set_dimensions(Some(
                            d.dimensions
                                .iter()
                                .map(|(name, value)| {
                                    Dimension::builder().name(name).value(value).build()
                                })
                                .collect(),
                        ))
                        .build()
                })
                .collect();
            self.client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .map_err(|e| {
                    classify(
                        Call {
                            service: "CloudWatch",
                            operation: "PutMetricData",
                            resource: &self.namespace,
                            region: &self.region,
                        },
                        e,
                    )
                })?;
        }
        Ok(())
    }
}
