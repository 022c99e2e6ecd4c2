//! Loading a telemetry bundle: each file is streamed row by row straight into a
//! [`TelemetryIndex`], so memory holds the index and one line, never the file text.

mod csv_rows;
pub(crate) mod fields;
mod json_rows;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::Serialize;

use self::csv_rows::MetricColumns;
use self::fields::RowError;
use super::{EVENTS_FILE, LOGS_FILE, METRICS_FILE, TRACES_FILE};
use crate::error::{Error, Result};
use crate::telemetry::{
    ChangeEvent, LogQuery, LogRecord, MetricQuery, MetricSeries, Span, SpanQuery, TelemetryIndex,
    TelemetrySource, TimeRange,
};

/// How many skipped rows a [`FileReport`] describes in full.
pub const MAX_SKIP_REASONS: usize = 5;

/// How to treat bad rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Skip and count bad rows instead of failing on the first one. A file that cannot be
    /// read at all (I/O error, `metrics.csv` header without a needed column) still fails.
    pub lenient: bool,
}

/// What loading one bundle file found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The file name (`metrics.csv`, ...).
    pub file: String,
    /// Whether the file was there.
    pub present: bool,
    /// Rows loaded.
    pub rows: u64,
    /// Bad rows skipped (lenient mode only).
    pub skipped: u64,
    /// Why the first few were skipped, each naming line and field.
    pub skip_reasons: Vec<String>,
}

/// A loaded bundle: its index, ready for queries, and what loading found.
#[derive(Clone, Debug)]
pub struct LoadedBundle {
    dir: PathBuf,
    index: TelemetryIndex,
    files: Vec<FileReport>,
}

impl LoadedBundle {
    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The loaded telemetry.
    pub fn index(&self) -> &TelemetryIndex {
        &self.index
    }

    /// The loaded telemetry, taken out.
    pub fn into_index(self) -> TelemetryIndex {
        self.index
    }

    /// One report per bundle file, in the order `metrics.csv`, `logs.jsonl`,
    /// `traces.jsonl`, `events.jsonl`.
    pub fn files(&self) -> &[FileReport] {
        &self.files
    }

    /// Bad rows skipped over all files.
    pub fn skipped(&self) -> u64 {
        self.files.iter().map(|f| f.skipped).sum()
    }
}

/// Loads the bundle in `dir`.
///
/// Any file may be absent; a directory with none of them loads as an empty bundle. Rows
/// may come in any time order. A bad row fails the load with an [`Error::Bundle`] naming
/// file, line and field, unless `options.lenient`, which skips and counts it.
///
/// Timestamps are RFC 3339 (text without an offset is UTC), or a Unix time as a number or
/// numeric text, read exactly, its unit told by the size of its integer part:
///
/// | integer part (absolute) | unit |
/// |---|---|
/// | below 10^11 | seconds (up to the year 5138) |
/// | below 10^14 | milliseconds |
/// | below 10^17 | microseconds |
/// | otherwise | nanoseconds |
///
/// (So sub-second units are misread only for instants before March 1973.) Instants must
/// fall in the years 1677–2262; digits finer than a nanosecond are dropped.
/// `start_unix_nano` and `duration_ns` are whole nanoseconds, as numbers or text.
///
/// Log levels are read case-insensitively with the usual aliases (`warning`, `err`,
/// `critical`, ...); a level word not recognised is kept as no level rather than failing
/// the row. `status_code` also takes OTLP's `STATUS_CODE_*` names and numbers. Names and
/// ids lose surrounding blanks; an empty optional field is absent.
pub fn load_bundle(dir: &Path, options: &LoadOptions) -> Result<LoadedBundle> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::invalid(
                "bundle directory",
                format!(
                    "{} is not a directory; pass the directory that holds {METRICS_FILE}, \
                     {LOGS_FILE}, {TRACES_FILE} and {EVENTS_FILE}",
                    dir.display()
                ),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::not_found(
                "telemetry bundle directory",
                dir.display(),
            ))
        }
        Err(e) => {
            return Err(Error::storage(
                format!("cannot read bundle directory {}", dir.display()),
                e,
            ))
        }
    }
    let mut index = TelemetryIndex::new();
    let files = vec![
        load_file(dir, METRICS_FILE, options, |file, rows| {
            load_metrics(file, rows, &mut index)
        })?,
        load_file(dir, LOGS_FILE, options, |file, rows| {
            load_lines(file, rows, |line| {
                index.load_log(json_rows::log(line)?);
                Ok(())
            })
        })?,
        load_file(dir, TRACES_FILE, options, |file, rows| {
            load_lines(file, rows, |line| {
                index.load_span(json_rows::span(line)?);
                Ok(())
            })
        })?,
        load_file(dir, EVENTS_FILE, options, |file, rows| {
            load_lines(file, rows, |line| {
                index.load_change(json_rows::event(line)?);
                Ok(())
            })
        })?,
    ];
    index.finish_load();
    Ok(LoadedBundle {
        dir: dir.to_path_buf(),
        index,
        files,
    })
}

/// Counts rows of one file and decides, per bad row, whether to fail or skip.
struct Rows {
    file: &'static str,
    lenient: bool,
    report: FileReport,
}

impl Rows {
    fn outcome(&mut self, line: u64, outcome: Result<(), RowError>) -> Result<()> {
        match outcome {
            Ok(()) => self.report.rows += 1,
            Err(problem) => {
                let error = problem.at(self.file, line);
                if !self.lenient {
                    return Err(error);
                }
                self.report.skipped += 1;
                if self.report.skip_reasons.len() < MAX_SKIP_REASONS {
                    self.report.skip_reasons.push(error.to_string());
                }
            }
        }
        Ok(())
    }
}

fn load_file(
    dir: &Path,
    name: &'static str,
    options: &LoadOptions,
    load: impl FnOnce(BufReader<File>, &mut Rows) -> Result<()>,
) -> Result<FileReport> {
    let path = dir.join(name);
    let mut rows = Rows {
        file: name,
        lenient: options.lenient,
        report: FileReport {
            file: name.to_owned(),
            present: false,
            rows: 0,
            skipped: 0,
            skip_reasons: Vec::new(),
        },
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(rows.report),
        Err(e) => return Err(Error::storage(format!("cannot open {}", path.display()), e)),
    };
    rows.report.present = true;
    load(BufReader::with_capacity(1 << 16, file), &mut rows).map_err(|e| with_path(e, &path))?;
    Ok(rows.report)
}

/// I/O errors name the full path; row errors already name the file.
fn with_path(error: Error, path: &Path) -> Error {
    match error {
        Error::Storage { message, source } => Error::Storage {
            message: format!("{message} {}", path.display()),
            source,
        },
        other => other,
    }
}

fn load_metrics(file: BufReader<File>, rows: &mut Rows, index: &mut TelemetryIndex) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    let mut columns: Option<MetricColumns> = None;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| Error::storage("cannot read", e))?
    {
        let line = record.position().map_or(0, csv::Position::line);
        let Some(columns) = columns else {
            columns = Some(
                MetricColumns::from_header(&record)
                    .map_err(|problem| problem.at(rows.file, line))?,
            );
            continue;
        };
        let outcome = columns.row(&record).map(|row| {
            index.load_metric(row.service, row.metric, row.at, row.value);
        });
        rows.outcome(line, outcome)?;
    }
    Ok(())
}

/// Feeds each non-blank line to `load`, counting lines from 1.
fn load_lines(
    mut file: BufReader<File>,
    rows: &mut Rows,
    mut load: impl FnMut(&str) -> Result<(), RowError>,
) -> Result<()> {
    let mut buffer = Vec::new();
    let mut line = 0_u64;
    loop {
        buffer.clear();
        let read = file
            .read_until(b'\n', &mut buffer)
            .map_err(|e| Error::storage("cannot read", e))?;
        if read == 0 {
            return Ok(());
        }
        line += 1;
        let outcome = match std::str::from_utf8(&buffer) {
            Ok(text) => {
                let text = text.trim_start_matches('\u{feff}').trim();
                if text.is_empty() {
                    continue;
                }
                load(text)
            }
            Err(e) => Err(RowError::row(format!(
                "not valid UTF-8 (bad byte at column {})",
                e.valid_up_to() + 1
            ))),
        };
        rows.outcome(line, outcome)?;
    }
}

#[async_trait]
impl TelemetrySource for LoadedBundle {
    async fn services(&self) -> Result<Vec<String>> {
        Ok(self.index.services())
    }

    async fn time_bounds(&self) -> Result<Option<TimeRange>> {
        Ok(self.index.time_bounds())
    }

    async fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricSeries>> {
        Ok(self.index.metrics(query))
    }

    async fn logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        Ok(self.index.logs(query))
    }

    async fn spans(&self, query: &SpanQuery) -> Result<Vec<Span>> {
        Ok(self.index.spans(query))
    }

    async fn changes(&self, range: TimeRange, service: Option<&str>) -> Result<Vec<ChangeEvent>> {
        Ok(self.index.changes(range, service))
    }
}
