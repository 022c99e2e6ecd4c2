//! The functions' configuration: the same `ITOPS_*` variables as `itops serve` (model,
//! policy, approvals, notifications, tokens, CORS), plus where the deployment's resources
//! are.

use std::collections::BTreeMap;
use std::time::Duration;

use itops_aws::{CloudWatchSettings, MetricSource, MetricSpec};

use crate::app::config::ServeConfig;
use crate::error::{Error, Result};

/// Everything a function reads from its environment.
#[derive(Clone, Debug)]
pub struct LambdaConfig {
    /// The settings shared with `itops serve`.
    pub serve: ServeConfig,
    /// The DynamoDB table (`ITOPS_TABLE`).
    pub table: String,
    /// The incident state machine (`ITOPS_STATE_MACHINE_ARN`; the API and alarm intake
    /// start executions of it).
    pub state_machine_arn: Option<String>,
    /// Where actions are sent to be run (`ITOPS_ACTION_WEBHOOK_URL`).
    pub action_webhook_url: Option<String>,
    /// The secret signing every action webhook request (`ITOPS_ACTION_WEBHOOK_SECRET`)…
    pub action_webhook_secret: Option<String>,
    /// …or the Secrets Manager secret holding it, read at cold start
    /// (`ITOPS_ACTION_WEBHOOK_SECRET_ARN`).
    pub action_webhook_secret_arn: Option<String>,
    /// CloudWatch metrics namespace of the services (`ITOPS_CLOUDWATCH_NAMESPACE`,
    /// default `AWS/ECS`).
    pub cloudwatch_namespace: String,
    /// The dimension naming a service (`ITOPS_CLOUDWATCH_SERVICE_DIMENSION`, default
    /// `ServiceName`).
    pub cloudwatch_service_dimension: String,
    /// Metrics read, `Name:Stat` comma-separated (`ITOPS_CLOUDWATCH_METRICS`, default
    /// `CPUUtilization:Average,MemoryUtilization:Average`).
    pub cloudwatch_metrics: Vec<(String, String)>,
    /// Log group of a service, `{service}` replaced (`ITOPS_LOG_GROUP_PATTERN`, default
    /// `/ecs/{service}`).
    pub log_group_pattern: String,
}

impl LambdaConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads the configuration from `vars`.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self> {
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut serve = ServeConfig::default();
        serve.apply_env(vars)?;
        let table = get("ITOPS_TABLE").ok_or_else(|| {
            Error::Usage("ITOPS_TABLE is not set: the DynamoDB table of the deployment".into())
        })?;
        let metrics = get("ITOPS_CLOUDWATCH_METRICS")
            .unwrap_or_else(|| "CPUUtilization:Average,MemoryUtilization:Average".into());
        let cloudwatch_metrics = metrics
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| match m.split_once(':') {
                Some((name, stat)) if !name.trim().is_empty() && !stat.trim().is_empty() => {
                    Ok((name.trim().to_string(), stat.trim().to_string()))
                }
                _ => Err(Error::Usage(format!(
                    "ITOPS_CLOUDWATCH_METRICS: '{m}' is not Name:Stat (e.g. CPUUtilization:Average)"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let config = Self {
            serve,
            table,
            state_machine_arn: get("ITOPS_STATE_MACHINE_ARN"),
            action_webhook_url: get("ITOPS_ACTION_WEBHOOK_URL"),
            action_webhook_secret: get("ITOPS_ACTION_WEBHOOK_SECRET"),
            action_webhook_secret_arn: get("ITOPS_ACTION_WEBHOOK_SECRET_ARN"),
            cloudwatch_namespace: get("ITOPS_CLOUDWATCH_NAMESPACE")
                .unwrap_or_else(|| "AWS/ECS".into()),
            cloudwatch_service_dimension: get("ITOPS_CLOUDWATCH_SERVICE_DIMENSION")
                .unwrap_or_else(|| "ServiceName".into()),
            cloudwatch_metrics,
            log_group_pattern: get("ITOPS_LOG_GROUP_PATTERN")
                .unwrap_or_else(|| "/ecs/{service}".into()),
        };
        config.serve.validate()?;
        if let Some(secret) = &config.action_webhook_secret {
            if secret.chars().count() < crate::app::webhook::MIN_SECRET_CHARS {
                return Err(Error::Usage(format!(
                    "ITOPS_ACTION_WEBHOOK_SECRET must be at least {} characters",
                    crate::app::webhook::MIN_SECRET_CHARS
                )));
            }
        }
        Ok(config)
    }

    /// The state machine's ARN, or what to set.
    pub fn state_machine(&self) -> Result<&str> {
        self.state_machine_arn.as_deref().ok_or_else(|| {
            Error::Usage(
                "ITOPS_STATE_MACHINE_ARN is not set: the incident state machine to start".into(),
            )
        })
    }

    /// How long a human has to decide.
    pub fn approval_ttl(&self) -> Duration {
        self.serve.approval_ttl()
    }

    /// Where telemetry comes from: CloudWatch metrics of the namespace, logs by pattern.
    pub fn cloudwatch(&self) -> CloudWatchSettings {
        let source = self.cloudwatch_metrics.iter().fold(
            MetricSource::new(
                self.cloudwatch_namespace.clone(),
                self.cloudwatch_service_dimension.clone(),
            ),
            |source, (name, stat)| source.metric(MetricSpec::new(name.clone(), stat.clone())),
        );
        CloudWatchSettings {
            metric_sources: vec![source],
            log_group_pattern: Some(self.log_group_pattern.clone()),
            ..CloudWatchSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_table_is_required_and_metrics_are_parsed() {
        let Err(error) = LambdaConfig::from_vars(&vars(&[])) else {
            panic!("a configuration without a table");
        };
        assert!(error.to_string().contains("ITOPS_TABLE"), "{error}");

        let config = LambdaConfig::from_vars(&vars(&[
            ("ITOPS_TABLE", "itops"),
            ("ITOPS_CLOUDWATCH_METRICS", "Errors:Sum, Duration:p99"),
            ("ITOPS_POLICY", "always_ask"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.table, "itops");
        assert_eq!(
            config.cloudwatch_metrics,
            vec![
                ("Errors".to_string(), "Sum".to_string()),
                ("Duration".to_string(), "p99".to_string())
            ]
        );
        assert!(config.state_machine().is_err());

        let Err(error) = LambdaConfig::from_vars(&vars(&[
            ("ITOPS_TABLE", "itops"),
            ("ITOPS_CLOUDWATCH_METRICS", "Errors"),
        ])) else {
            panic!("a metric without a statistic");
        };
        assert!(error.to_string().contains("Name:Stat"), "{error}");
    }
}
