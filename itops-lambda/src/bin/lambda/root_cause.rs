//! The itops Lambda function for the workflow's root-cause investigation step.

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::RootCause).await
}
