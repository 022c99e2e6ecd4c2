"""The HTTP API (API Gateway HTTP API, payload 2.0), the route the bench calls:
``GET /api/incidents`` with a bearer token — the newest incidents from the incidents index,
as JSON. Clients as the seed's API function creates them: DynamoDB and Step Functions (the
API starts executions for incidents reported through it).
"""

import hashlib
import hmac
import json
import os

import boto3

import store

TABLE = os.environ["ITOPS_TABLE"]
dynamodb = boto3.client("dynamodb")
stepfunctions = boto3.client("stepfunctions")
ADMIN = hashlib.sha256(os.environ["ITOPS_ADMIN_TOKEN"].encode()).hexdigest()


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme, _, token = headers.get("authorization", "").partition(" ")
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(digest, ADMIN):
        return respond(401, {"error": "unauthorized"})
    method = event["requestContext"]["http"]["method"]
    path = event.get("rawPath", "")
    if (method, path) != ("GET", "/api/incidents"):
        return respond(404, {"error": f"no route {method} {path} in the bench's API"})
    query = dict(
        p.split("=", 1) for p in (event.get("rawQueryString") or "").split("&") if "=" in p
    )
    limit = min(int(query.get("limit", 50)), 200)
    page = store.list_incidents(dynamodb, TABLE, limit=limit)
    return respond(200, page)
