"""CloudWatch alarm intake (SNS records or an EventBridge event): opens an incident (or
notes a repeat on the open one) and starts its execution of the state machine.

The same DynamoDB and Step Functions calls as the Rust function: the dedup query on the
incidents index, the conditional put of the incident, its `created` timeline entry (query
for the last sequence number + a transaction checking the incident), the workflow's first
checkpoint (read, then a conditional put), StartExecution.
"""

import json
import os

import boto3

import store

TABLE = os.environ["ITOPS_TABLE"]
STATE_MACHINE_ARN = os.environ["ITOPS_STATE_MACHINE_ARN"]
dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")

SEVERITY_WORDS = {"critical": "critical", "high": "high", "medium": "medium", "low": "low"}


def handler(event, context):
    records = event.get("Records")
    if records is None:
        alarms = [event.get("detail") or event]
    else:
        alarms = [json.loads((r.get("Sns") or r.get("sns"))["Message"]) for r in records]
    if not alarms:
        raise ValueError("neither an EventBridge alarm event nor SNS records")
    return {"alarms": [intake(alarm) for alarm in alarms]}


def intake(alarm):
    name = alarm["AlarmName"]
    state = alarm.get("NewStateValue", "ALARM")
    services = [
        d["value"]
        for d in (alarm.get("Trigger") or {}).get("Dimensions") or []
        if d.get("name") in ("ServiceName", "service")
    ]
    dedup_key = f"cloudwatch:{name}"
    actor = {"type": "integration", "name": "cloudwatch"}
    page = store.list_incidents(dynamodb, TABLE, limit=50, dedup_key=dedup_key)
    open_ = [i for i in page["items"] if i["status"] not in ("resolved", "escalated", "closed")]
    if state == "OK" or open_:
        if open_:
            store.append_timeline(
                dynamodb, TABLE, open_[0]["id"], "note", f"alert fired again: {name}", actor
            )
        return {"incident": open_[0] if open_ else None, "created": False}
    text = " ".join([name, alarm.get("AlarmDescription") or ""]).lower()
    severity = next((s for w, s in SEVERITY_WORDS.items() if w in text), "high")
    at = store.now()
    description = "\n".join(
        t for t in (alarm.get("AlarmDescription"), alarm.get("NewStateReason")) if t
    )
    incident = {
        "id": store.new_id(),
        "title": f"CloudWatch alarm {name}",
        "description": description,
        "severity": severity,
        "status": "open",
        "services": services,
        "source": "cloudwatch",
        "dedup_key": dedup_key,
        "created_at": at,
        "updated_at": at,
        "labels": {"alarm": name, "reason": alarm.get("NewStateReason", "")},
    }
    incident = store.create_incident(dynamodb, TABLE, incident)
    store.append_timeline(
        dynamodb, TABLE, incident["id"], "created", f"incident opened: {incident['title']}", actor
    )
    # Starting the workflow: its first checkpoint, unless there is one, for the incident.
    if store.get_checkpoint(dynamodb, TABLE, incident["id"]) is None:
        store.get_incident(dynamodb, TABLE, incident["id"])
        store.put_checkpoint(
            dynamodb,
            TABLE,
            {"incident_id": incident["id"], "state": "open", "step": "triage", "data": {}},
        )
    try:
        stepfunctions.start_execution(
            stateMachineArn=STATE_MACHINE_ARN,
            name=incident["id"],
            input=json.dumps({"incident_id": incident["id"]}),
        )
    except stepfunctions.exceptions.ExecutionAlreadyExists:
        pass
    return {"incident": incident, "created": True}
