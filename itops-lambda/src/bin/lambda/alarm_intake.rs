//! The itops Lambda function for CloudWatch alarms (EventBridge or SNS) → incidents → executions.

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::AlarmIntake).await
}
