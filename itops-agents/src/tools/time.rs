//! Time arguments of the tools: RFC 3339 or Unix seconds, and a window with defaults.

use chrono::{DateTime, TimeZone, Utc};
use itops_core::telemetry::TimeRange;
use itops_core::{Error, Result, TelemetrySource};
use serde::Deserialize;

/// A point in time: an RFC 3339 string (`2026-05-01T12:00:00Z`) or Unix seconds (number or string).
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum TimeArg {
    /// Unix seconds.
    Seconds(f64),
    /// RFC 3339, or Unix seconds as text.
    Text(String),
}

impl TimeArg {
    /// The instant, or an `Invalid` error naming `field`.
    pub fn resolve(&self, field: &str) -> Result<DateTime<Utc>> {
        match self {
            TimeArg::Seconds(secs) => from_unix_seconds(*secs, field),
            TimeArg::Text(text) => {
                let text = text.trim();
                if let Ok(t) = DateTime::parse_from_rfc3339(text) {
                    return Ok(t.with_timezone(&Utc));
                }
                match text.parse::<f64>() {
                    Ok(secs) => from_unix_seconds(secs, field),
                    Err(_) => Err(Error::invalid(
                        field,
                        format!(
                            "'{text}' is neither RFC 3339 (2026-05-01T12:00:00Z) nor Unix seconds"
                        ),
                    )),
                }
            }
        }
    }
}

fn from_unix_seconds(secs: f64, field: &str) -> Result<DateTime<Utc>> {
    if !secs.is_finite() {
        return Err(Error::invalid(
            field,
            "must be a finite number of Unix seconds",
        ));
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round() as u32;
    // Unix seconds beyond ±10^11 are not plausible timestamps.
    if whole.abs() > 1e11 {
        return Err(Error::invalid(
            field,
            format!("{secs} is out of range for Unix seconds"),
        ));
    }
    Utc.timestamp_opt(whole as i64, nanos.min(999_999_999))
        .single()
        .ok_or_else(|| Error::invalid(field, format!("{secs} is out of range for Unix seconds")))
}

/// A time window; both ends optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct Window {
    /// Window start (RFC 3339 or Unix seconds). Default: `minutes` before the end.
    #[serde(default)]
    pub start: Option<TimeArg>,
    /// Window end (RFC 3339 or Unix seconds). Default: the end of the available telemetry.
    #[serde(default)]
    pub end: Option<TimeArg>,
    /// Window length in minutes when `start` is not given (default 60).
    #[serde(default)]
    pub minutes: Option<u32>,
}

impl Window {
    /// The concrete range: missing ends default from the source's time bounds.
    pub async fn resolve(&self, source: &dyn TelemetrySource) -> Result<TimeRange> {
        let end = match &self.end {
            Some(end) => end.resolve("end")?,
            None => match source.time_bounds().await? {
                Some(bounds) => bounds.end,
                None => Utc::now(),
            },
        };
        let start = match &self.start {
            Some(start) => start.resolve("start")?,
            None => {
                let minutes = i64::from(self.minutes.unwrap_or(60).max(1));
                end - chrono::Duration::minutes(minutes)
            }
        };
        if start >= end {
            return Err(Error::invalid(
                "start",
                format!("the window start {start} must be before its end {end}"),
            ));
        }
        TimeRange::new(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_unix_seconds_agree() {
        let a = TimeArg::Text("2026-05-01T12:00:00Z".into())
            .resolve("t")
            .unwrap();
        let b = TimeArg::Seconds(1_777_636_800.0).resolve("t").unwrap();
        let c = TimeArg::Text("1777636800".into()).resolve("t").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        let frac = TimeArg::Seconds(1_777_636_800.25).resolve("t").unwrap();
        assert_eq!((frac - a).num_milliseconds(), 250);
    }

    #[test]
    fn bad_times_name_the_field() {
        let err = TimeArg::Text("yesterday".into())
            .resolve("start")
            .unwrap_err();
        assert!(err.to_string().contains("invalid start"), "{err}");
        assert!(TimeArg::Seconds(f64::INFINITY).resolve("end").is_err());
        assert!(TimeArg::Seconds(1e15).resolve("end").is_err());
    }
}
