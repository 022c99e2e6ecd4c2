//! The itops Lambda function for the HTTP API's Lambda authorizer (bearer tokens).

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::Authorizer).await
}
