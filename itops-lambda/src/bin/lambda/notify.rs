//! The itops Lambda function for notifications at the workflow's end and for critical incidents.

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::Notify).await
}
