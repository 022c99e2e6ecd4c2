//! The rows of `metrics.csv`: a header naming the columns, then one sample a row.

use csv::ByteRecord;

use super::super::METRICS_HEADER;
use super::fields::{finite_number, name, timestamp, RowError};

/// Where each needed column is; columns may come in any order, extra ones are ignored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricColumns {
    timestamp: usize,
    service: usize,
    metric: usize,
    value: usize,
}

/// One parsed sample, borrowing its names from the row.
pub(crate) struct MetricRow<'a> {
    pub(crate) service: &'a str,
    pub(crate) metric: &'a str,
    pub(crate) at: i64,
    pub(crate) value: f64,
}

impl MetricColumns {
    /// Finds the columns in the header (names compared without case or surrounding blanks).
    pub(crate) fn from_header(header: &ByteRecord) -> Result<Self, RowError> {
        let names: Vec<String> = header
            .iter()
            .map(|name| {
                String::from_utf8_lossy(name)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_ascii_lowercase()
            })
            .collect();
        let find = |wanted: &'static str| {
            names.iter().position(|n| n == wanted).ok_or_else(|| {
                RowError::field(
                    wanted,
                    format!(
                        "the header has no '{wanted}' column (it has: {}); metrics.csv needs \
                         the columns {}",
                        names.join(", "),
                        METRICS_HEADER.join(", ")
                    ),
                )
            })
        };
        Ok(Self {
            timestamp: find("timestamp")?,
            service: find("service")?,
            metric: find("metric")?,
            value: find("value")?,
        })
    }

    /// Reads one row.
    pub(crate) fn row<'a>(&self, record: &'a ByteRecord) -> Result<MetricRow<'a>, RowError> {
        let field = |field: &'static str, index: usize| -> Result<Option<&'a str>, RowError> {
            record
                .get(index)
                .map(|bytes| {
                    std::str::from_utf8(bytes)
                        .map_err(|_| RowError::field(field, "is not valid UTF-8"))
                })
                .transpose()
        };
        let at = timestamp("timestamp", field("timestamp", self.timestamp)?)?;
        let service = name("service", field("service", self.service)?)?;
        let metric = name("metric", field("metric", self.metric)?)?;
        let value = finite_number("value", field("value", self.value)?)?;
        Ok(MetricRow {
            service,
            metric,
            at,
            value,
        })
    }
}
