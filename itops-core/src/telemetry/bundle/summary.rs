//! What a bundle holds, for `itops telemetry inspect`: as text for people, as JSON for tools.

use std::fmt;

use serde::Serialize;

use super::reader::{FileReport, LoadedBundle};
use super::timestamp::format_timestamp;
use crate::telemetry::{ServiceCounts, TelemetryCounts, TimeRange};

/// What a loaded bundle holds: services, their metrics, time range, rows per file, error
/// counts and skipped rows. `Display` prints a report for people; `Serialize` gives JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BundleSummary {
    /// The bundle directory.
    pub dir: String,
    /// First instant to just after the last one; `None` for an empty bundle.
    pub time_range: Option<TimeRange>,
    /// Totals over the bundle.
    pub totals: TelemetryCounts,
    /// Per file: present or not, rows loaded, rows skipped and why.
    pub files: Vec<FileReport>,
    /// Per service, sorted by name.
    pub services: Vec<ServiceSummary>,
}

/// What one service of a bundle emitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceSummary {
    /// The service.
    pub name: String,
    /// Its metric names, sorted.
    pub metrics: Vec<String>,
    /// How much of each signal.
    #[serde(flatten)]
    pub counts: ServiceCounts,
}

/// Summarises a loaded bundle.
pub fn summarize(bundle: &LoadedBundle) -> BundleSummary {
    let index = bundle.index();
    let series = index.series_names();
    let services = index
        .services()
        .into_iter()
        .map(|name| ServiceSummary {
            metrics: series
                .iter()
                .filter(|(service, _)| *service == name)
                .map(|(_, metric)| metric.clone())
                .collect(),
            counts: index.service_counts(&name),
            name,
        })
        .collect();
    BundleSummary {
        dir: bundle.dir().display().to_string(),
        time_range: index.time_bounds(),
        totals: index.counts(),
        files: bundle.files().to_vec(),
        services,
    }
}

impl fmt::Display for BundleSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bundle      {}", self.dir)?;
        match &self.time_range {
            Some(range) => writeln!(
                f,
                "time range  {} .. {} ({})",
                format_timestamp(range.start),
                format_timestamp(range.end),
                span_text(range.end - range.start)
            )?,
            None => writeln!(f, "time range  none (the bundle is empty)")?,
        }
        for (position, file) in self.files.iter().enumerate() {
            let label = if position == 0 { "files" } else { "" };
            write!(f, "{label:<12}{:<14}", file.file)?;
            if file.present {
                write!(f, "{} rows", file.rows)?;
                if file.skipped > 0 {
                    write!(f, ", {} skipped", file.skipped)?;
                }
                writeln!(f)?;
            } else {
                writeln!(f, "absent")?;
            }
        }
        let t = &self.totals;
        writeln!(
            f,
            "totals      {} services, {} series, {} metric points, {} logs, {} spans, {} changes",
            t.services, t.series, t.metric_points, t.logs, t.spans, t.changes
        )?;
        if !self.services.is_empty() {
            let width = self
                .services
                .iter()
                .map(|s| s.name.chars().count())
                .max()
                .unwrap_or(0)
                .max("service".len());
            writeln!(f)?;
            writeln!(
                f,
                "{:<width$}  {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7}",
                "service", "series", "points", "logs", "errors", "spans", "failed", "changes"
            )?;
            for service in &self.services {
                let c = &service.counts;
                writeln!(
                    f,
                    "{:<width$}  {:>7} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7}",
                    service.name,
                    c.series,
                    c.metric_points,
                    c.logs,
                    c.error_logs,
                    c.spans,
                    c.error_spans,
                    c.changes
                )?;
            }
            writeln!(f)?;
            writeln!(f, "metrics")?;
            for service in self.services.iter().filter(|s| !s.metrics.is_empty()) {
                writeln!(
                    f,
                    "  {:<width$}  {}",
                    service.name,
                    service.metrics.join(", ")
                )?;
            }
        }
        let reasons: Vec<&String> = self.files.iter().flat_map(|f| &f.skip_reasons).collect();
        if !reasons.is_empty() {
            writeln!(f)?;
            writeln!(f, "skipped rows (first few per file)")?;
            for reason in reasons {
                writeln!(f, "  {reason}")?;
            }
        }
        Ok(())
    }
}

/// `2h 5m 3s`, `41s`, `250ms`.
fn span_text(duration: chrono::TimeDelta) -> String {
    let millis = duration.num_milliseconds();
    if millis < 1_000 {
        return format!("{millis}ms");
    }
    let seconds = millis / 1_000;
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    let parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")];
    let text: Vec<String> = parts
        .iter()
        .skip_while(|(value, _)| *value == 0)
        .map(|(value, unit)| format!("{value}{unit}"))
        .collect();
    text.join(" ")
}
