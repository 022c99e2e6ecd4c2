//! The itops Lambda function for resumes the waiting execution when an approval is decided (DynamoDB stream).

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::ApprovalDecision).await
}
