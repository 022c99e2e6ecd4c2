//! The itops Lambda function for the HTTP API (API Gateway HTTP API → the same router as `itops serve`).

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::Api).await
}
