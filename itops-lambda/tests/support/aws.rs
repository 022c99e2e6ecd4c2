//! What the tests of the Lambda side share: a fresh table on the AWS emulator, and an
//! orchestrator that starts nothing (one step runs without Step Functions).

use async_trait::async_trait;
use itops_aws::{AwsSettings, DynamoDbTable};
use itops_core::IncidentId;

use super::missing;

/// A table created for one test on the AWS emulator.
pub(crate) struct EmulatorTable {
    /// How to reach the emulator.
    pub(crate) settings: AwsSettings,
    /// The table.
    pub(crate) table: DynamoDbTable,
    /// Its name (`prefix` and a fresh id).
    pub(crate) name: String,
}

/// A fresh table named after `prefix` on the AWS emulator; `None` after [`missing`] said
/// the emulator is not there.
pub(crate) async fn emulator_table(prefix: &str) -> Option<EmulatorTable> {
    let Ok(settings) = itops_aws::testing::moto_settings() else {
        missing("the AWS emulator");
        return None;
    };
    let sdk = settings.load().await.unwrap();
    let name = format!("{prefix}-{}", IncidentId::new());
    let table = DynamoDbTable::from_sdk_config(&sdk, name.clone());
    table.create().await.unwrap();
    Some(EmulatorTable {
        settings,
        table,
        name,
    })
}

/// Step Functions is not needed to run one step.
pub(crate) struct NoExecutions;

#[async_trait]
impl itops_lambda::lambda::Executions for NoExecutions {
    async fn start(&self, _incident_id: IncidentId) -> itops_core::Result<()> {
        Ok(())
    }

    async fn resume(&self, _token: &str, _output: &serde_json::Value) -> itops_core::Result<bool> {
        Ok(false)
    }
}
