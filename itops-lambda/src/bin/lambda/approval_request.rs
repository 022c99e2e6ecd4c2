//! The itops Lambda function for the approval step (asks for a decision; Step Functions waits on its task token).

use itops_lambda::lambda::{run, Function};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Function::ApprovalRequest).await
}
