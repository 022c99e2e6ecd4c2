"""The table's stream → ``SendTaskSuccess``: for each decided approval record, reads the
approval and the task token its incident's execution waits on, completes the task with the
decision and forgets the token. Records of anything else are ignored.
"""

import json
import os

import boto3

import store

TABLE = os.environ["ITOPS_TABLE"]
dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")


def handler(event, context):
    if "Records" not in event:
        raise ValueError("not a DynamoDB stream event (no 'Records')")
    handled = []
    for record in event["Records"]:
        if record.get("eventName") not in ("MODIFY", "INSERT"):
            continue
        keys = record.get("dynamodb", {}).get("Keys", {})
        pk, sk = keys.get("pk", {}).get("S", ""), keys.get("sk", {}).get("S", "")
        if sk != "APPROVAL" or not pk.startswith("APPROVAL#"):
            continue
        item = store.get(dynamodb, TABLE, pk, sk)
        if item is None:
            raise LookupError(f"approval {pk} not found")
        approval = store.data_of(item)
        if approval["status"] == "pending":
            continue
        incident_pk = store.incident_pk(approval["incident_id"])
        token_item = store.get(dynamodb, TABLE, incident_pk, "TASKTOKEN")
        if token_item is None:
            continue
        output = {"outcome": "decided", "status": approval["status"]}
        try:
            stepfunctions.send_task_success(
                taskToken=token_item["task_token"]["S"], output=json.dumps(output)
            )
            resumed = True
        except (
            stepfunctions.exceptions.TaskTimedOut,
            stepfunctions.exceptions.TaskDoesNotExist,
            stepfunctions.exceptions.InvalidToken,
        ):
            resumed = False
        dynamodb.batch_write_item(
            RequestItems={
                TABLE: [
                    {
                        "DeleteRequest": {
                            "Key": {"pk": {"S": incident_pk}, "sk": {"S": "TASKTOKEN"}}
                        }
                    }
                ]
            }
        )
        handled.append(
            {
                "approval_id": approval["id"],
                "incident_id": approval["incident_id"],
                "status": approval["status"],
                "resumed": resumed,
            }
        )
    return {"decisions": handled}
