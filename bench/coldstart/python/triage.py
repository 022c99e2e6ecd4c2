"""The triage step (``{"incident_id": …}``): scores the incident's severity and routes it.

Clients as an agent step of the seed creates them: DynamoDB, Step Functions, Bedrock
Runtime, CloudWatch and CloudWatch Logs. No model is called, on either side: the Rust
function runs the offline planner, and here a few rules stand in for it (Bedrock's client is
created and not used). The AWS calls are the Rust function's, in its order: the checkpoint
and the incident read, the incident marked as being triaged, the agent's thought and its
``list_alarms`` tool call on the timeline, the service's CloudWatch metrics listed and read
(last hour against its median), the observation, the assessment and the triage entry
appended, the incident updated, the checkpoint moved on and read back for the severity.
"""

import json
import os
import statistics
from datetime import datetime, timedelta, timezone

import boto3

import store

TABLE = os.environ["ITOPS_TABLE"]
NAMESPACE = os.environ.get("ITOPS_CLOUDWATCH_NAMESPACE", "AWS/ECS")
DIMENSION = os.environ.get("ITOPS_CLOUDWATCH_SERVICE_DIMENSION", "ServiceName")
METRICS = [("CPUUtilization", "Average"), ("MemoryUtilization", "Average")]
dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")
bedrock = boto3.client("bedrock-runtime")
cloudwatch = boto3.client("cloudwatch")
logs = boto3.client("logs")

RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
AGENT = {"type": "agent", "name": "triage"}
SYSTEM = {"type": "system"}


def alarms(services, start, end):
    """The ``list_alarms`` tool: metrics of the services far above their median."""
    found = []
    for name, _stat in METRICS:
        for service in services:
            found.extend(
                cloudwatch.list_metrics(
                    Namespace=NAMESPACE,
                    MetricName=name,
                    Dimensions=[{"Name": DIMENSION, "Value": service}],
                )["Metrics"]
            )
    if not found:
        return []
    stats = dict(METRICS)
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"m{i}",
                "MetricStat": {"Metric": m, "Period": 60, "Stat": stats[m["MetricName"]]},
                "ReturnData": True,
            }
            for i, m in enumerate(found)
        ],
        StartTime=start,
        EndTime=end,
        ScanBy="TimestampAscending",
    )
    out = []
    for r in result["MetricDataResults"]:
        values = r.get("Values") or []
        if len(values) < 5:
            continue
        metric = found[int(r["Id"][1:])]
        median = statistics.median(values)
        spread = statistics.median(abs(v - median) for v in values) * 1.4826 or 1.0
        z = (values[-1] - median) / spread
        if z > 4:
            out.append(
                {
                    "service": metric["Dimensions"][0]["Value"],
                    "metric": metric["MetricName"],
                    "value": values[-1],
                    "reason": f"{values[-1]:.0f} vs baseline median {median:.0f} (robust z = {z:.1f})",
                }
            )
    return out


def handler(event, context):
    incident_id = event["incident_id"]
    checkpoint = store.get_checkpoint(dynamodb, TABLE, incident_id)
    if checkpoint is None:
        raise LookupError(f"no workflow checkpoint for {incident_id}")
    incident = store.get_incident(dynamodb, TABLE, incident_id)
    if checkpoint.get("triage"):
        return dict(checkpoint["triage_outcome"], state=checkpoint["state"])
    incident = store.update_incident(dynamodb, TABLE, dict(incident, status="triaging"))
    store.get_incident(dynamodb, TABLE, incident_id)
    store.append_timeline(dynamodb, TABLE, incident_id, "status_changed", "open → triaging", SYSTEM)
    checkpoint = store.put_checkpoint(dynamodb, TABLE, dict(checkpoint, state="triaging"))

    # The agent's context, then its one tool call.
    incident = store.get_incident(dynamodb, TABLE, incident_id)
    store.get_checkpoint(dynamodb, TABLE, incident_id)
    store.append_timeline(
        dynamodb, TABLE, incident_id, "thought", "How widely is telemetry alarming right now?", AGENT
    )
    store.append_timeline(dynamodb, TABLE, incident_id, "tool_call", "list_alarms({})", AGENT)
    end = datetime.now(timezone.utc)
    start = end - timedelta(hours=1)
    alarming = alarms(incident["services"], start, end)
    store.append_timeline(
        dynamodb,
        TABLE,
        incident_id,
        "observation",
        json.dumps({"alarms": alarming}),
        {"type": "tool", "name": "list_alarms"},
    )

    severity = incident["severity"]
    if len({a["service"] for a in alarming}) > 1 and RANK[severity] < RANK["critical"]:
        severity = "critical"
    urgency = {"low": 3, "medium": 5, "high": 8, "critical": 10}[severity]
    route = "escalate" if severity == "critical" else "investigate"
    reasoning = (
        f"Reported as {incident['severity']}. "
        f"{len({a['service'] for a in alarming})} service(s) alarming."
    )
    assessment = {"severity": severity, "urgency": urgency, "route": route, "reasoning": reasoning}
    store.append_timeline(dynamodb, TABLE, incident_id, "thought", json.dumps(assessment), AGENT)
    store.append_timeline(
        dynamodb,
        TABLE,
        incident_id,
        "triage",
        f"severity {severity}, urgency {urgency}/10, route: {route}",
        AGENT,
        assessment,
    )
    next_state = "escalated" if route == "escalate" else "investigating"
    store.update_incident(dynamodb, TABLE, dict(incident, severity=severity, status=next_state))
    store.get_incident(dynamodb, TABLE, incident_id)
    store.append_timeline(
        dynamodb, TABLE, incident_id, "status_changed", f"triaging → {next_state}", SYSTEM
    )
    outcome = {"outcome": "triaged", "route": route}
    store.put_checkpoint(
        dynamodb,
        TABLE,
        dict(checkpoint, state=next_state, triage=assessment, triage_outcome=outcome),
    )
    checkpoint = store.get_checkpoint(dynamodb, TABLE, incident_id)
    return dict(outcome, state=checkpoint["state"], severity=checkpoint["triage"]["severity"])
