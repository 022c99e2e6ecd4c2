"""The table's records for the Python handlers: the single-table layout itops uses (``pk``/
``sk``, ``gsi1``/``gsi2``, the record as JSON text in ``data``), with the same DynamoDB calls
the Rust store makes for the same operation (conditional puts with a version, a timeline
entry appended in a transaction that checks the incident, strongly consistent reads).

Functions take the handler module's client; the handler modules create their clients at
import, as a Lambda function does.
"""

import json
import time
import uuid
from datetime import datetime, timezone


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id():
    """A UUIDv7, as itops's ids: time-ordered, so the newest sorts last."""
    value = (int(time.time() * 1000) << 80) | (uuid.uuid4().int & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def incident_pk(incident_id):
    return f"INC#{incident_id}"


def data_of(item):
    return json.loads(item["data"]["S"])


def get(dynamodb, table, pk, sk):
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item")
    return item


def get_incident(dynamodb, table, incident_id):
    item = get(dynamodb, table, incident_pk(incident_id), "INCIDENT")
    if item is None or "deleting" in item:
        raise LookupError(f"incident {incident_id} not found")
    return data_of(item)


def incident_item(incident):
    return {
        "pk": {"S": incident_pk(incident["id"])},
        "sk": {"S": "INCIDENT"},
        "entity": {"S": "incident"},
        "version": {"N": str(incident["version"])},
        "data": {"S": json.dumps(incident, separators=(",", ":"))},
        "status": {"S": incident["status"]},
        "severity": {"S": incident["severity"]},
        "services": {"L": [{"S": s} for s in incident["services"]]},
        "created_at": {"S": incident["created_at"]},
        "gsi1pk": {"S": "INCIDENTS"},
        "gsi1sk": {"S": incident["id"]},
        "gsi2pk": {"S": f"INCIDENTS#{incident['status']}"},
        "gsi2sk": {"S": incident["id"]},
    }


def create_incident(dynamodb, table, incident):
    incident["version"] = 1
    dynamodb.put_item(
        TableName=table,
        Item=incident_item(incident),
        ConditionExpression="attribute_not_exists(#pk)",
        ExpressionAttributeNames={"#pk": "pk"},
    )
    return incident


def update_incident(dynamodb, table, incident):
    expected = incident["version"]
    incident = dict(incident, version=expected + 1, updated_at=now())
    dynamodb.put_item(
        TableName=table,
        Item=incident_item(incident),
        ConditionExpression=(
            "attribute_exists(#pk) AND #version = :expected AND attribute_not_exists(#deleting)"
        ),
        ExpressionAttributeNames={"#pk": "pk", "#version": "version", "#deleting": "deleting"},
        ExpressionAttributeValues={":expected": {"N": str(expected)}},
    )
    return incident


def list_incidents(dynamodb, table, limit=50, dedup_key=None):
    names = {"#p": "gsi1pk", "#deleting": "deleting"}
    values = {":p": {"S": "INCIDENTS"}}
    conditions = ["attribute_not_exists(#deleting)"]
    if dedup_key is not None:
        names["#data"] = "data"
        values[":dedup"] = {"S": '"dedup_key":' + json.dumps(dedup_key)}
        conditions.append("contains(#data, :dedup)")
    items, start = [], None
    while len(items) <= limit:
        page = dynamodb.query(
            TableName=table,
            IndexName="gsi1",
            KeyConditionExpression="#p = :p",
            FilterExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit + 1,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    incidents = [data_of(i) for i in items[: limit + 1]]
    more = len(incidents) > limit
    incidents = incidents[:limit]
    return {"items": incidents, "next_cursor": incidents[-1]["id"] if more else None}


def append_timeline(dynamodb, table, incident_id, kind, summary, actor, detail=None):
    """Appends an entry at the next sequence number, in a transaction that checks the
    incident (as the Rust store does)."""
    pk = incident_pk(incident_id)
    last = dynamodb.query(
        TableName=table,
        KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"},
        ExpressionAttributeValues={":pk": {"S": pk}, ":prefix": {"S": "TL#"}},
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )["Items"]
    seq = int(last[0]["seq"]["N"]) + 1 if last else 1
    entry = {
        "incident_id": incident_id,
        "seq": seq,
        "at": now(),
        "kind": kind,
        "actor": actor,
        "summary": summary,
        "detail": detail,
    }
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": "INCIDENT"}},
                    "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(#deleting)",
                    "ExpressionAttributeNames": {"#pk": "pk", "#deleting": "deleting"},
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        "pk": {"S": pk},
                        "sk": {"S": f"TL#{seq:020d}"},
                        "entity": {"S": "timeline"},
                        "seq": {"N": str(seq)},
                        "data": {"S": json.dumps(entry, separators=(",", ":"))},
                    },
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": "pk"},
                }
            },
        ]
    )
    return entry


def get_checkpoint(dynamodb, table, incident_id):
    item = get(dynamodb, table, incident_pk(incident_id), "CHECKPOINT")
    return None if item is None else data_of(item)


def put_checkpoint(dynamodb, table, checkpoint):
    expected = checkpoint.get("version", 0)
    checkpoint = dict(checkpoint, version=expected + 1)
    item = {
        "pk": {"S": incident_pk(checkpoint["incident_id"])},
        "sk": {"S": "CHECKPOINT"},
        "entity": {"S": "checkpoint"},
        "version": {"N": str(checkpoint["version"])},
        "data": {"S": json.dumps(checkpoint, separators=(",", ":"))},
    }
    if not checkpoint.get("finished"):
        item["gsi1pk"] = {"S": "CHECKPOINTS#UNFINISHED"}
        item["gsi1sk"] = {"S": checkpoint["incident_id"]}
    if expected == 0:
        condition = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": "pk"},
        }
    else:
        condition = {
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":expected": {"N": str(expected)}},
        }
    dynamodb.put_item(TableName=table, Item=item, **condition)
    return checkpoint
