//! [`EmfSink`]: CloudWatch Embedded Metric Format, one JSON document per line.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{MetricDatum, MetricsSink};
use crate::error::{Error, Result};

/// EMF allows at most this many metrics in one document.
const METRICS_PER_DOCUMENT: usize = 100;

/// Writes metrics as CloudWatch Embedded Metric Format lines. On Lambda (or with the
/// CloudWatch agent), CloudWatch Logs extracts them as metrics: no API calls, no added
/// latency.
pub struct EmfSink {
    namespace: String,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for EmfSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfSink")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl EmfSink {
    /// Writes to standard output (where Lambda's log capture reads).
    pub fn stdout(namespace: impl Into<String>) -> Self {
        Self::new(namespace, std::io::stdout())
    }

    /// Writes to `out`.
    pub fn new(namespace: impl Into<String>, out: impl Write + Send + 'static) -> Self {
        Self {
            namespace: namespace.into(),
            out: Mutex::new(Box::new(out)),
        }
    }

    /// The EMF documents for `data`: one per dimension set and timestamp, with repeated
    /// values of one metric as an array.
    pub fn render(namespace: &str, data: &[MetricDatum]) -> Vec<Value> {
        type Group<'a> = BTreeMap<&'a str, (&'a str, Vec<f64>)>;
        let mut groups: BTreeMap<(Vec<(String, String)>, i64), Group<'_>> = BTreeMap::new();
        for datum in data {
            let entry = groups
                .entry((datum.dimensions.clone(), datum.at.timestamp_millis()))
                .or_default()
                .entry(datum.name.as_str())
                .or_insert((datum.unit.as_str(), Vec::new()));
            entry.1.push(datum.value);
        }
        let mut documents = Vec::new();
        for ((dimensions, millis), metrics) in groups {
            let names: Vec<&str> = metrics.keys().copied().collect();
            for chunk in names.chunks(METRICS_PER_DOCUMENT) {
                let mut doc = Map::new();
                let dimension_names: Vec<&str> =
                    dimensions.iter().map(|(n, _)| n.as_str()).collect();
                let definitions: Vec<Value> = chunk
                    .iter()
                    .filter_map(|name| {
                        metrics
                            .get(name)
                            .map(|(unit, _)| json!({"Name": name, "Unit": unit}))
                    })
                    .collect();
                doc.insert(
                    "_aws".to_string(),
                    json!({
                        "Timestamp": millis,
                        "CloudWatchMetrics": [{
                            "Namespace": namespace,
                            "Dimensions": [dimension_names],
                            "Metrics": definitions,
                        }],
                    }),
                );
                for (name, value) in &dimensions {
                    doc.insert(name.clone(), Value::String(value.clone()));
                }
                for name in chunk {
                    if let Some((_, values)) = metrics.get(name) {
                        let value = match values.as_slice() {
                            [one] => json!(one),
                            many => json!(many),
                        };
                        doc.insert((*name).to_string(), value);
                    }
                }
                documents.push(Value::Object(doc));
            }
        }
        documents
    }
}

#[async_trait]
impl MetricsSink for EmfSink {
    async fn emit(&self, data: &[MetricDatum]) -> Result<()> {
        let mut text = String::new();
        for doc in Self::render(&self.namespace, data) {
            text.push_str(&doc.to_string());
            text.push('\n');
        }
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write per batch, so lines from concurrent emitters never interleave.
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Error::config(format!("writing EMF metrics failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricUnit;
    use chrono::DateTime;

    #[test]
    fn documents_group_by_dimensions_and_follow_the_format() {
        let at = DateTime::from_timestamp_millis(1_714_564_800_123).unwrap();
        let data = vec![
            MetricDatum::new(
                "Invocations",
                MetricUnit::Count,
                1.0,
                ("Agent", "triage"),
                at,
            ),
            MetricDatum::new(
                "Duration",
                MetricUnit::Milliseconds,
                12.5,
                ("Agent", "triage"),
                at,
            ),
            MetricDatum::new(
                "ToolDuration",
                MetricUnit::Milliseconds,
                3.0,
                ("Agent", "triage"),
                at,
            ),
            MetricDatum::new(
                "ToolDuration",
                MetricUnit::Milliseconds,
                4.0,
                ("Agent", "triage"),
                at,
            ),
            MetricDatum::new(
                "BreakerState",
                MetricUnit::None,
                2.0,
                ("Breaker", "bedrock"),
                at,
            ),
        ];
        let docs = EmfSink::render("itops", &data);
        assert_eq!(docs.len(), 2);
        let triage = docs.iter().find(|d| d["Agent"] == "triage").unwrap();
        assert_eq!(triage["_aws"]["Timestamp"], 1_714_564_800_123i64);
        assert_eq!(
            triage["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Agent"]])
        );
        assert_eq!(triage["_aws"]["CloudWatchMetrics"][0]["Namespace"], "itops");
        assert_eq!(triage["Duration"], 12.5);
        assert_eq!(triage["ToolDuration"], json!([3.0, 4.0]));
        let metrics = triage["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert!(metrics.contains(&json!({"Name": "Duration", "Unit": "Milliseconds"})));
        let breaker = docs.iter().find(|d| d["Breaker"] == "bedrock").unwrap();
        assert_eq!(breaker["BreakerState"], 2.0);
    }

    #[tokio::test]
    async fn emit_writes_one_line_per_document() {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Shared::default();
        let sink = EmfSink::new("itops", out.clone());
        let at = DateTime::UNIX_EPOCH;
        sink.emit(&[
            MetricDatum::new("Invocations", MetricUnit::Count, 1.0, ("Agent", "a"), at),
            MetricDatum::new("Invocations", MetricUnit::Count, 1.0, ("Agent", "b"), at),
        ])
        .await
        .unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            let doc: Value = serde_json::from_str(line).unwrap();
            assert!(doc["_aws"].is_object());
        }
    }
}
