"""The HTTP API's authorizer (payload 2.0, simple responses): a known bearer token passes.

Like the Rust authorizer it makes no AWS call, so it imports no boto3 and creates no
client: its cold start is the interpreter's and this module's. Tokens are compared by their
SHA-256, as itops keeps them.
"""

import hashlib
import hmac
import os

# Liveness and the web UI's files (its modules as in itops_lambda::server::ui::MODULES).
PUBLIC = {"/healthz", "/", "/index.html", "/style.css"} | {
    f"/js/{name}"
    for name in (
        "api.js", "approval-card.js", "banner.js", "charts.js", "dom.js", "format.js",
        "incident-form.js", "incident-live.js", "incident-render.js", "incident-workflow.js",
        "main.js", "router.js", "session.js", "shell.js", "view-approval-link.js",
        "view-approvals.js", "view-incident.js", "view-list.js", "view-login.js",
        "view-simulator.js", "workflow-sections.js",
    )
}
TOKENS = {
    hashlib.sha256(os.environ["ITOPS_ADMIN_TOKEN"].encode()).hexdigest(): ("admin", "admin"),
}


def lookup(token):
    digest = hashlib.sha256(token.encode()).hexdigest()
    for known, principal in TOKENS.items():
        if hmac.compare_digest(known, digest):
            return principal
    return None


def handler(event, context):
    headers = {k.lower(): v.strip() for k, v in (event.get("headers") or {}).items() if v}
    path = event.get("rawPath", "")
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    bearer = None
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        bearer = token.strip()
    principal = lookup(bearer) if bearer else None
    if principal:
        return {"isAuthorized": True, "context": {"principal": principal[0], "role": principal[1]}}
    approval = path.startswith("/api/approvals/") and len(path) > len("/api/approvals/")
    one_time = approval and (
        "x-approval-token" in headers or (method == "POST" and path.endswith("/decision"))
    )
    if bearer is None and (one_time or (method == "GET" and path in PUBLIC)):
        return {"isAuthorized": True, "context": {"principal": "anonymous"}}
    return {"isAuthorized": False}
