//! The itops Lambda function for the workflow's execution step.

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::Execute).await
}
