//! `[alerts]`: how alert intake correlates the alerts one fault sets off.

use std::collections::BTreeMap;
use std::time::Duration;

use itops_core::domain::incident::MAX_SERVICE_NAME_CHARS;
use serde::Deserialize;

use crate::app::alerts::{Correlation, DEFAULT_CORRELATION_WINDOW};
use crate::error::{Error, Result};

/// Longest correlation window accepted: a day. Past that, unrelated faults on one service
/// would pile onto one incident.
pub const MAX_CORRELATION_WINDOW_SECS: u64 = 24 * 60 * 60;

/// The environment variable of [`AlertsConfig::correlation_window_secs`].
pub const CORRELATION_WINDOW_ENV: &str = "ITOPS_ALERT_CORRELATION_WINDOW_SECS";

/// Alert intake.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// For how long after an alert opened an incident other alerts on the same or a
    /// connected service join it instead of opening their own, in seconds (default 600;
    /// 0 turns correlation off; at most a day).
    pub correlation_window_secs: Option<u64>,
    /// The services each service calls (`checkout = ["payments", "cart"]`): alerts on
    /// services directly connected here correlate too. Without it only alerts naming a
    /// common service do.
    pub dependencies: BTreeMap<String, Vec<String>>,
}

impl AlertsConfig {
    /// The correlation the intake applies.
    pub(crate) fn correlation(&self) -> Correlation {
        let window = self
            .correlation_window_secs
            .map_or(DEFAULT_CORRELATION_WINDOW, Duration::from_secs);
        Correlation::new(window).with_dependencies(&self.dependencies)
    }

    /// Applies `ITOPS_ALERT_CORRELATION_WINDOW_SECS` when `value` holds it.
    pub(super) fn apply_env(&mut self, value: Option<&str>) -> Result<()> {
        if let Some(v) = value {
            self.correlation_window_secs = Some(v.parse().map_err(|_| {
                Error::Usage(format!(
                    "{CORRELATION_WINDOW_ENV}: '{v}' is not a whole number of seconds"
                ))
            })?);
        }
        Ok(())
    }

    /// Refuses a window past a day and service names no alert could carry.
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(secs) = self.correlation_window_secs {
            if secs > MAX_CORRELATION_WINDOW_SECS {
                return Err(Error::Usage(format!(
                    "alerts.correlation_window_secs ({CORRELATION_WINDOW_ENV}): {secs} is more \
                     than a day ({MAX_CORRELATION_WINDOW_SECS}); use 600 for ten minutes, or 0 \
                     to turn correlation off"
                )));
            }
        }
        for (service, calls) in &self.dependencies {
            for name in std::iter::once(service).chain(calls) {
                let bad = name.trim().is_empty()
                    || name.trim() != name
                    || name.chars().count() > MAX_SERVICE_NAME_CHARS
                    || name.chars().any(char::is_control);
                if bad {
                    return Err(Error::Usage(format!(
                        "alerts.dependencies: '{name}' (under '{service}') is not a service \
                         name: 1 to {MAX_SERVICE_NAME_CHARS} characters, no surrounding spaces \
                         or control characters"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::ServeConfig;

    #[test]
    fn the_window_defaults_to_ten_minutes_and_zero_turns_correlation_off() {
        let config = ServeConfig::default();
        config.validate().unwrap();
        assert_eq!(
            config.alerts.correlation().window(),
            Duration::from_secs(600)
        );
        let off: ServeConfig = toml::from_str("[alerts]\ncorrelation_window_secs = 0").unwrap();
        off.validate().unwrap();
        assert!(off.alerts.correlation().window().is_zero());
    }

    #[test]
    fn the_window_comes_from_the_file_or_the_environment() {
        let mut config: ServeConfig = toml::from_str(
            "[alerts]\ncorrelation_window_secs = 120\n[alerts.dependencies]\nfrontend = [\"checkout\"]",
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(
            config.alerts.correlation().window(),
            Duration::from_secs(120)
        );
        let env = BTreeMap::from([(CORRELATION_WINDOW_ENV.to_string(), "300".to_string())]);
        config.apply_env(&env).unwrap();
        assert_eq!(
            config.alerts.correlation().window(),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_setting() {
        let long: ServeConfig =
            toml::from_str("[alerts]\ncorrelation_window_secs = 90000").unwrap();
        let error = long.validate().unwrap_err().to_string();
        assert!(
            error.contains("alerts.correlation_window_secs")
                && error.contains(CORRELATION_WINDOW_ENV),
            "{error}"
        );
        let negative = toml::from_str::<ServeConfig>("[alerts]\ncorrelation_window_secs = -5");
        assert!(negative.is_err());
        let unknown = toml::from_str::<ServeConfig>("[alerts]\ncorrelation_window = 5");
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("correlation_window"));
        let env = BTreeMap::from([(CORRELATION_WINDOW_ENV.to_string(), "10m".to_string())]);
        let error = ServeConfig::default().apply_env(&env).unwrap_err();
        assert!(
            error.to_string().contains(CORRELATION_WINDOW_ENV),
            "{error}"
        );
        let blank: ServeConfig =
            toml::from_str("[alerts.dependencies]\nfrontend = [\"\"]").unwrap();
        let error = blank.validate().unwrap_err().to_string();
        assert!(error.contains("alerts.dependencies"), "{error}");
    }
}
