"""Cold starts of the itops Lambda bootstraps against Python equivalents, in one run.

Run through ``bench/coldstart/run``. Starts the moto emulator once, creates the table and
the state machine on it, serves a fake Lambda Runtime API (``runtime_api.py``) and starts
every function as a fresh process, one at a time, Rust and Python back to back (which goes
first alternates by round). Per process: init (spawn → first ``next``), first invocation
(event handed out → response posted) and peak RSS (the process's ``VmHWM`` when it asks
for a second event, just before it is killed; ``ru_maxrss`` from ``os.wait4`` is kept in
the results too, but it includes the driver's own RSS, see ``peak_rss_kib``). Prints one
table of medians and writes everything to ``results/``.

A round walks an incident through the functions the way the state machine does, so each
cold start has fresh state to work on: the alarm opens an incident, triage runs on it,
notify tells of it, (Rust only) the investigation and the plan follow, a decided approval
is written for it, and the approval decision function gets the table's stream record; then
the API lists the incidents and the authorizer checks a token. Each side has its own table
(same layout) and opens its own incidents through its own alarm intake.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

from runtime_api import RuntimeApi, Run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ADMIN_TOKEN = "coldstart-bench-admin-token-0123456789"
REGION = "us-east-1"

# The functions measured, in the order a round runs them; `python` names the module of
# the equivalent in python/ (None: Rust only, run for the seeding it does and reported).
FUNCTIONS = [
    ("alarm-intake", "alarm_intake"),
    ("triage", "triage"),
    ("notify", "notify"),
    ("root-cause", None),
    ("remediation", None),
    ("approval-decision", "approval_decision"),
    ("api", "api"),
    ("authorizer", "authorizer"),
]


# ---------------------------------------------------------------- events


def sns_alarm(name):
    alarm = {
        "AlarmName": name,
        "AlarmDescription": "checkout memory above 90% for 5 minutes",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: memory above 90%",
        "StateChangeTime": "2026-11-25T00:00:00.000+0000",
        "Trigger": {
            "MetricName": "MemoryUtilization",
            "Namespace": "AWS/ECS",
            "Dimensions": [{"name": "ServiceName", "value": "checkout"}],
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {"Type": "Notification", "Message": json.dumps(alarm)},
            }
        ]
    }


def http_event(method, path, body=None, token=ADMIN_TOKEN):
    """An API Gateway HTTP API (payload 2.0) event."""
    raw_path, _, query = path.partition("?")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
            "host": "api.example.com",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "coldstart",
            },
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def authorizer_event():
    event = http_event("GET", "/api/incidents")
    event["type"] = "REQUEST"
    event["routeArn"] = "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/api/incidents"
    event["identitySource"] = [event["headers"]["authorization"]]
    return event


def stream_event(approval_id, incident_id):
    """What DynamoDB Streams delivers for a decided approval (keys only matter), with a
    record of the incident in the same batch, which the function ignores."""
    return {
        "Records": [
            {
                "eventName": "MODIFY",
                "dynamodb": {
                    "Keys": {"pk": {"S": f"INC#{incident_id}"}, "sk": {"S": "INCIDENT"}}
                },
            },
            {
                "eventName": "MODIFY",
                "dynamodb": {
                    "Keys": {"pk": {"S": f"APPROVAL#{approval_id}"}, "sk": {"S": "APPROVAL"}}
                },
            },
        ]
    }


# ---------------------------------------------------------------- moto and its resources


class Moto:
    def __init__(self, python, log_path):
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [str(python), str(ROOT / "itops-aws/testing/serve_moto.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("PORT "):
            raise SystemExit(f"moto did not start (see {log_path}): {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def aws_client(service, endpoint):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_table(dynamodb, name):
    """The layout of itops-aws's ``DynamoDbTable::create``: pk/sk, gsi1 and gsi2 (all
    attributes projected), on-demand, TTL on ``ttl``."""

    def index(n):
        return {
            "IndexName": f"gsi{n}",
            "KeySchema": [
                {"AttributeName": f"gsi{n}pk", "KeyType": "HASH"},
                {"AttributeName": f"gsi{n}sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }

    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"}
            for a in ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
        ],
        GlobalSecondaryIndexes=[index(1), index(2)],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )


def create_state_machine(sfn):
    definition = (ROOT / "itops-lambda/deploy/statemachine.asl.json").read_text()
    return sfn.create_state_machine(
        name=f"itops-coldstart-{uuid.uuid4().hex[:8]}",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/itops-states",
    )["stateMachineArn"]


SERVICES = ["checkout", "payments", "frontend"]


def seed_telemetry(endpoint):
    """Ninety minutes of per-minute CloudWatch metrics for three services (checkout's memory
    climbing over the last half hour) and their logs (checkout's heap errors), so that the
    agents and the Python triage find something to look at, as in an incident."""
    cloudwatch = aws_client("cloudwatch", endpoint)
    logs = aws_client("logs", endpoint)
    now = int(time.time()) // 60 * 60
    start = now - 90 * 60
    for service in SERVICES:
        data = []
        for minute in range(90):
            at = start + minute * 60
            memory = 45.0 + (minute % 3)
            if service == "checkout" and minute >= 60:
                memory = min(98.0, 45.0 + (minute - 60) * 2.0)
            cpu = 30.0 + (minute % 5)
            for name, value in (("MemoryUtilization", memory), ("CPUUtilization", cpu)):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": "ServiceName", "Value": service}],
                        "Timestamp": at,
                        "Value": value,
                        "Unit": "Percent",
                    }
                )
        for i in range(0, len(data), 500):
            cloudwatch.put_metric_data(Namespace="AWS/ECS", MetricData=data[i : i + 500])
        group = f"/ecs/{service}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="task-1")
        events = []
        for minute in range(90):
            at = (start + minute * 60) * 1000
            events.append({"timestamp": at, "message": f"INFO {service} handled 120 requests"})
            if service == "checkout" and minute >= 70:
                events.append(
                    {
                        "timestamp": at + 1,
                        "message": "ERROR java.lang.OutOfMemoryError: Java heap space",
                    }
                )
        logs.put_log_events(logGroupName=group, logStreamName="task-1", logEvents=events)


# ---------------------------------------------------------------- the census proxy


class _Census(BaseHTTPRequestHandler):
    """Forwards every request to moto and notes the AWS operation it was."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *_args):
        pass

    def _operation(self, body):
        """``service:Operation``: the service from the request's SigV4 credential scope, the
        operation from whichever protocol the SDK spoke (JSON target, RPC v2 path, query)."""
        scope = self.headers.get("Authorization", "").split("Credential=")[-1].split("/")
        service = scope[3] if len(scope) > 3 else "?"
        target = self.headers.get("X-Amz-Target")
        if target:
            return f"{service}:{target.rpartition('.')[2]}"
        if self.path.startswith("/service/") and "/operation/" in self.path:
            return f"{service}:{self.path.rstrip('/').rpartition('/')[2]}"
        if b"Action=" in body:
            return f"{service}:{body.split(b'Action=')[1].split(b'&')[0].decode()}"
        return f"{service}:{self.command} {self.path}"

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        began = time.monotonic_ns()
        upstream = HTTPConnection(self.server.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = self.server.upstream
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n" + data)  # headers and body in one write
        self.flush_headers()
        upstream.close()
        self.server.calls.append((self._operation(body), began, time.monotonic_ns()))

    do_GET = do_POST = do_PUT = do_DELETE = _forward  # noqa: N815


class Census:
    def __init__(self, moto_endpoint):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Census)
        self.server.daemon_threads = True
        self.server.upstream = moto_endpoint.removeprefix("http://")
        self.server.calls = []
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self):
        calls, self.server.calls = self.server.calls, []
        return calls

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- one cold start


class Bench:
    def __init__(self, args, moto, tables, machine_arn, api, logs):
        self.args = args
        self.tables = tables
        self.api = api
        self.logs = logs
        self.home = Path(tempfile.mkdtemp(prefix="itops-coldstart-home-"))
        self.base_env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            # An empty home: neither side finds a shared AWS config or credentials file.
            "HOME": str(self.home),
            "AWS_ENDPOINT_URL": moto.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/itops-coldstart",
            "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
            "ITOPS_STATE_MACHINE_ARN": machine_arn,
            "ITOPS_MODEL_PROVIDER": "offline",
            "ITOPS_POLICY": "always_ask",
            "ITOPS_ADMIN_TOKEN": ADMIN_TOKEN,
            "ITOPS_PUBLIC_URL": "https://itops.example.com",
            "ITOPS_LOG_FORMAT": "json",
            "RUST_LOG": "warn",
        }
        self.count = 0

    def command(self, side, function):
        if side == "rust":
            return [str(binary(self.args.bin_dir, function))], {}
        module = dict(FUNCTIONS)[function]
        source = (HERE / "python" / f"{module}.py").read_text()
        return [str(self.args.python), str(HERE / "python/bootstrap.py")], {
            "_HANDLER": f"{module}.handler",
            "LAMBDA_TASK_ROOT": str(HERE / "python"),
            # Timed apart by the bootstrap: the import of boto3 (which the module does
            # anyway), then the module with its clients.
            "COLDSTART_PREIMPORT": "boto3" if "\nimport boto3\n" in source else "",
        }

    def cold_start(self, side, function, event, endpoint=None):
        """Starts one process, hands it `event`, kills it when it asks for another."""
        command, extra = self.command(side, function)
        env = dict(
            self.base_env,
            AWS_LAMBDA_FUNCTION_NAME=f"itops-{function}",
            ITOPS_TABLE=self.tables[side],
            **extra,
        )
        if endpoint:
            env["AWS_ENDPOINT_URL"] = endpoint
        self.count += 1
        log_path = self.logs / f"{self.count:04d}-{side}-{function}.log"
        run = Run(event, f"itops-{function}")
        self.api.start(run)
        with open(log_path, "wb") as log:
            started = time.monotonic_ns()
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
            deadline = time.monotonic() + self.args.timeout
            timed_out = False
            exited = None
            usage = None
            while not run.second_next.wait(0.002):
                # wait4 with WNOHANG reaps an exited process together with its rusage.
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    exited = os.waitstatus_to_exitcode(status)
                    break
                usage = None
                if time.monotonic() > deadline:
                    timed_out = True
                    break
            hwm = None
            if exited is None:
                # The high-water mark of the process's own memory since its exec. (wait4's
                # ru_maxrss would not do: Linux carries the RSS of the address space a
                # process had before its exec, here a fork of this driver, into ru_maxrss.)
                hwm = peak_rss_kib(process.pid)
                os.kill(process.pid, signal.SIGKILL)
                _, _, usage = os.wait4(process.pid, 0)
            process.returncode = exited if exited is not None else -signal.SIGKILL
        run.released.set()
        ms = lambda a, b: None if a is None or b is None else (b - a) / 1e6  # noqa: E731
        phases = None
        if side == "python":
            marks = python_marks(log_path)
            if marks and run.first_next:
                phases = {
                    "interpreter_ms": ms(started, marks.get("started")),
                    "loop_imports_ms": ms(marks.get("started"), marks.get("loop_imported")),
                    "import_boto3_ms": ms(marks.get("loop_imported"), marks.get("preimported")),
                    "clients_and_module_ms": ms(marks.get("preimported"), marks.get("imported")),
                    "to_first_next_ms": ms(marks.get("imported"), run.first_next),
                }
        ok = run.outcome == "response" and not failed_body(function, run.body)
        return {
            "side": side,
            "function": function,
            "init_ms": ms(started, run.first_next),
            "invoke_ms": ms(run.event_sent, run.result_at),
            "rss_mib": None if hwm is None else hwm / 1024,
            "wait4_maxrss_mib": None if usage is None else usage.ru_maxrss / 1024,
            "python_init_phases": phases,
            "event_sent_ns": run.event_sent or 0,
            "outcome": run.outcome,
            "ok": ok,
            "body": run.body,
            "exited": exited,
            "timed_out": timed_out,
            "log": str(log_path),
        }


def python_marks(log_path):
    """The Python bootstrap's init marks (``coldstart-timing {...}`` on its stderr)."""
    try:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("coldstart-timing "):
                return json.loads(line.split(" ", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def binary(bin_dir, function):
    """A function's bootstrap: ``itops-lambda-{function}`` in a cargo target directory, or
    ``itops-lambda-{function}/bootstrap`` as ``cargo lambda build`` lays them out."""
    packaged = bin_dir / f"itops-lambda-{function}" / "bootstrap"
    return packaged if packaged.is_file() else bin_dir / f"itops-lambda-{function}"


def peak_rss_kib(pid):
    """``VmHWM`` of a live process: the peak resident set of its address space (the figure
    ``ru_maxrss`` reports at exit for a process that was not forked from a larger one)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def failed_body(function, body):
    """A response that does not show the function's work done, though it answered."""
    if not isinstance(body, dict):
        return True
    if function == "api":
        return not 200 <= int(body.get("statusCode", 0)) < 300
    try:
        if function == "authorizer":
            return body["isAuthorized"] is not True
        if function == "alarm-intake":
            return body["alarms"][0]["created"] is not True
        if function == "triage":
            return body["outcome"] != "triaged"
        if function == "notify":
            return body["notified"] != "triaged"
        if function == "root-cause":
            return body["outcome"] != "investigated"
        if function == "remediation":
            return body["outcome"] != "planned"
        if function == "approval-decision":
            return [d["resumed"] for d in body["decisions"]] != [True]
    except (KeyError, IndexError, TypeError):
        return True
    return False


# ---------------------------------------------------------------- the rounds


class Rounds:
    """Runs the functions of one round on both sides, seeding what each needs."""

    def __init__(self, bench, tables, dynamodb):
        self.bench = bench
        self.tables = tables
        self.dynamodb = dynamodb
        self.results = []

    def record(self, result, round_no):
        result["round"] = round_no
        self.results.append(result)
        flag = "ok" if result["ok"] else f"FAILED ({result['outcome']})"
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        print(
            f"  round {round_no} {result['side']:6} {result['function']:18} "
            f"init {fmt(result['init_ms']):>7} ms  invoke {fmt(result['invoke_ms']):>7} ms  "
            f"rss {fmt(result['rss_mib']):>6} MiB  {flag}",
            file=sys.stderr,
            flush=True,
        )
        return result

    def pair(self, round_no, function, events, endpoint=None):
        """Both sides (Rust first on even rounds); `events` maps a side to its event."""
        sides = ["rust", "python"] if round_no % 2 == 0 else ["python", "rust"]
        out = {}
        for side in sides:
            if events.get(side) is None:
                continue
            out[side] = self.record(
                self.bench.cold_start(side, function, events[side], endpoint), round_no
            )
        return out

    def run(self, round_no, endpoint=None):
        tag = f"{round_no}-{uuid.uuid4().hex[:6]}"
        incident = {}
        # An alarm opens an incident and starts its execution.
        opened = self.pair(
            round_no,
            "alarm-intake",
            {s: sns_alarm(f"coldstart-{s}-{tag}") for s in ("rust", "python")},
            endpoint,
        )
        for side, result in opened.items():
            try:
                incident[side] = result["body"]["alarms"][0]["incident"]["id"]
            except (TypeError, KeyError, IndexError):
                incident[side] = None
        steps = {s: ({"incident_id": i} if i else None) for s, i in incident.items()}
        self.pair(round_no, "triage", steps, endpoint)
        notices = {s: dict(e, status="triaged") if e else None for s, e in steps.items()}
        self.pair(round_no, "notify", notices, endpoint)
        # Rust only: the investigation and the plan (no Python equivalent is written).
        if steps.get("rust"):
            self.pair(round_no, "root-cause", {"rust": steps["rust"]}, endpoint)
            self.pair(round_no, "remediation", {"rust": steps["rust"]}, endpoint)
        # A decided approval and the task token its execution waits on, written into each
        # side's table in the layout of itops-aws (see `seed_approval`).
        approvals = {}
        for side, incident_id in incident.items():
            if incident_id:
                approvals[side] = str(uuid.uuid4())
                seed_approval(self.dynamodb, self.tables[side], approvals[side], incident_id, tag)
        self.pair(
            round_no,
            "approval-decision",
            {s: stream_event(a, incident[s]) for s, a in approvals.items()},
            endpoint,
        )
        listing = http_event("GET", "/api/incidents")
        self.pair(round_no, "api", {"rust": listing, "python": listing}, endpoint)
        check = authorizer_event()
        self.pair(round_no, "authorizer", {"rust": check, "python": check}, endpoint)


def seed_approval(dynamodb, table, approval_id, incident_id, tag):
    """A decided approval and the kept task token, as itops-aws stores them
    (``DynamoDbApprovalGate``, ``TaskTokens``): the approval's JSON in ``data``.

    Written by the driver rather than reached through the agents: on the emulator's
    CloudWatch the root-cause agent finds no candidate, so the plan has no action to
    approve and the workflow escalates before any approval is requested."""
    now = datetime.now(timezone.utc)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    requested = now - timedelta(minutes=2)
    expires = now + timedelta(hours=1)
    approval = {
        "id": approval_id,
        "incident_id": incident_id,
        "summary": "restart checkout (risk: medium)",
        "payload": {"actions": [{"kind": "restart_service", "service": "checkout"}]},
        "status": "approved",
        "requested_by": {"type": "agent", "name": "remediation"},
        "requested_at": stamp(requested),
        "expires_at": stamp(expires),
        "decided_by": "alice",
        "decided_at": stamp(now),
        "comment": "restart is fine",
        "version": 2,
    }
    order = f"{stamp(requested)}#{approval_id}"
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"APPROVAL#{approval_id}"},
            "sk": {"S": "APPROVAL"},
            "entity": {"S": "approval"},
            "version": {"N": "2"},
            "data": {"S": json.dumps(approval, separators=(",", ":"))},
            "status": {"S": "approved"},
            "token_hash": {"S": hashlib.sha256(tag.encode()).hexdigest()},
            "expires_at": {"S": stamp(expires)},
            "ttl": {"N": str(int(expires.timestamp()) + 30 * 86400)},
            "gsi1pk": {"S": f"APPROVALS#INC#{incident_id}"},
            "gsi1sk": {"S": order},
            "gsi2pk": {"S": "APPROVALS#approved"},
            "gsi2sk": {"S": order},
        },
    )
    dynamodb.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"INC#{incident_id}"},
            "sk": {"S": "TASKTOKEN"},
            "entity": {"S": "task_token"},
            "task_token": {"S": f"coldstart-task-token-{tag}"},
            "ttl": {"N": str(int(expires.timestamp()) + 86400)},
        },
    )


# ---------------------------------------------------------------- the report


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(results, sizes):
    rows = []
    names = [f for f, _ in FUNCTIONS]
    for function in names:
        row = {"function": function}
        for side in ("rust", "python"):
            runs = [r for r in results if r["function"] == function and r["side"] == side]
            if not runs:
                continue
            row[side] = {
                "runs": len(runs),
                "ok": sum(r["ok"] for r in runs),
                "init_ms": median(r["init_ms"] for r in runs),
                "invoke_ms": median(r["invoke_ms"] for r in runs if r["ok"]),
                "rss_mib": median(r["rss_mib"] for r in runs),
                "init_range": span(r["init_ms"] for r in runs),
                "init_phases": phase_medians(runs),
                "invoke_range": span(r["invoke_ms"] for r in runs if r["ok"]),
                "rss_range": span(r["rss_mib"] for r in runs),
            }
        if function in sizes:
            row["binary_mib"] = sizes[function]
        rows.append(row)
    return rows


def phase_medians(runs):
    phases = [r.get("python_init_phases") for r in runs if r.get("python_init_phases")]
    if not phases:
        return None
    return {key: median(p[key] for p in phases) for key in phases[0]}


def span(values):
    values = [v for v in values if v is not None]
    return [min(values), max(values)] if values else None


def ratio(py, rust):
    if py is None or rust is None or rust == 0:
        return "—"
    return f"{py / rust:.1f}×"


def markdown_table(rows):
    f1 = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
    f0 = lambda v: "—" if v is None else f"{v:.0f}"  # noqa: E731
    lines = [
        "| function | ok (Rust / Python) | init ms Rust | init ms Python | Python ÷ Rust "
        "| 1st invoke ms Rust | 1st invoke ms Python | Python ÷ Rust "
        "| peak RSS MiB Rust | peak RSS MiB Python | Python ÷ Rust |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r, p = row.get("rust", {}), row.get("python", {})
        ok = f"{r.get('ok', 0)}/{r.get('runs', 0)}"
        ok += f" / {p['ok']}/{p['runs']}" if p else " / —"
        lines.append(
            f"| {row['function']} | {ok} "
            f"| {f1(r.get('init_ms'))} | {f0(p.get('init_ms')) if p else '—'} "
            f"| {ratio(p.get('init_ms'), r.get('init_ms'))} "
            f"| {f1(r.get('invoke_ms'))} | {f1(p.get('invoke_ms')) if p else '—'} "
            f"| {ratio(p.get('invoke_ms'), r.get('invoke_ms'))} "
            f"| {f1(r.get('rss_mib'))} | {f1(p.get('rss_mib')) if p else '—'} "
            f"| {ratio(p.get('rss_mib'), r.get('rss_mib'))} |"
        )
    return "\n".join(lines)


def versions(python):
    out = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, boto3, botocore, moto; "
            "print(sys.version.split()[0], boto3.__version__, botocore.__version__, moto.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return dict(zip(["python", "boto3", "botocore", "moto"], out))


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="cold starts per function and side")
    parser.add_argument("--bin-dir", type=Path, required=True, help="the release binaries")
    parser.add_argument("--python", type=Path, default=ROOT / ".venv/bin/python")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per cold start")
    args = parser.parse_args()

    out = args.out
    if out.exists():
        shutil.rmtree(out)
    logs = out / "logs"
    logs.mkdir(parents=True)

    sizes = {}
    for function, _ in FUNCTIONS:
        path = binary(args.bin_dir, function)
        if not path.exists():
            raise SystemExit(f"{path} is missing: build with cargo build --release -p itops-lambda --features aws --bins")
        sizes[function] = path.stat().st_size / 2**20
    all_sizes = {}
    for path in sorted(args.bin_dir.glob("itops-lambda-*")):
        path = path / "bootstrap" if path.is_dir() else path
        if path.is_file() and os.access(path, os.X_OK) and not path.suffix:
            name = path.parent.name if path.name == "bootstrap" else path.name
            all_sizes[name] = path.stat().st_size / 2**20

    load_at_start = open("/proc/loadavg").read().split()[:3]
    moto = Moto(args.python, out / "moto.log")
    api = RuntimeApi()
    census = None
    bench = None
    try:
        dynamodb = aws_client("dynamodb", moto.endpoint)
        # One table per side, the same layout: each side's API lists its own incidents.
        suffix = uuid.uuid4().hex[:8]
        tables = {side: f"itops-coldstart-{side}-{suffix}" for side in ("rust", "python")}
        for name in tables.values():
            create_table(dynamodb, name)
        machine = create_state_machine(aws_client("stepfunctions", moto.endpoint))
        seed_telemetry(moto.endpoint)
        print(
            f"moto at {moto.endpoint}, tables {', '.join(tables.values())}, "
            f"runtime API at {api.address}",
            file=sys.stderr,
        )

        bench = Bench(args, moto, tables, machine, api, logs)
        rounds = Rounds(bench, tables, dynamodb)

        # Round 0 is a warm-up, not counted: it brings both sides' files into the page cache
        # and lets Python write its bytecode caches, as a deployed package has them.
        print("== warm-up round (not counted)", file=sys.stderr)
        rounds.run(0)
        warmup = rounds.results
        rounds.results = []
        for round_no in range(1, args.runs + 1):
            print(f"== round {round_no} of {args.runs}", file=sys.stderr)
            rounds.run(round_no)
        measured = rounds.results

        # One more round through a recording proxy: which AWS calls each cold start made.
        # Not timed (the proxy adds its own latency).
        print("== census round (AWS calls through a recording proxy; not counted)", file=sys.stderr)
        census = Census(moto.endpoint)
        rounds.results = []
        calls = {}
        original = bench.cold_start

        def counted(side, function, event, endpoint=None):
            census.take()
            result = original(side, function, event, census.endpoint)
            made = sorted(census.take(), key=lambda c: c[1])
            # Time the emulator (through the proxy) spent on the first invocation's calls.
            invoked = [c for c in made if c[1] >= result["event_sent_ns"]]
            calls.setdefault(function, {})[side] = {
                "ok": result["ok"],
                "calls": [c[0] for c in made],
                "invoke_ms": result["invoke_ms"],
                "invoke_calls": len(invoked),
                "invoke_emulator_ms": sum(c[2] - c[1] for c in invoked) / 1e6,
            }
            return result

        bench.cold_start = counted
        rounds.run(args.runs + 1)
        bench.cold_start = original
    finally:
        api.stop()
        if census:
            census.stop()
        moto.stop()
        if bench:
            shutil.rmtree(bench.home, ignore_errors=True)

    rows = summarise(measured, sizes)
    info = {
        "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "binaries": str(args.bin_dir),
        "commit": command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "rustc": command_output(["rustc", "--version"]),
        "load_average_start": load_at_start,
        "runs": args.runs,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_end": open("/proc/loadavg").read().split()[:3],
        "kernel": platform.release(),
        "versions": versions(args.python),
        "binary_sizes_mib": all_sizes,
    }
    (out / "results.json").write_text(
        json.dumps(
            {"info": info, "rows": rows, "runs": measured, "warmup": warmup, "census": calls},
            indent=2,
            default=str,
        )
    )
    text = [
        f"date: {info['date']}; commit {info['commit']}; {args.runs} cold starts per function "
        f"and side (medians); {info['cpu']}, {info['cores']} cores; load average "
        f"{' '.join(info['load_average_start'])} at the start, "
        f"{' '.join(info['load_average_end'])} at the end",
        f"binaries: {info['binaries']} ({info['rustc']})",
        "python {python}, boto3 {boto3} (botocore {botocore}), moto {moto}".format(**info["versions"]),
        "",
        markdown_table(rows),
        "",
        "bootstrap sizes (MiB): "
        + ", ".join(f"{name.removeprefix('itops-lambda-')} {size:.1f}" for name, size in all_sizes.items()),
        "",
        "Python init, medians (ms): interpreter start + the runtime loop's imports + import "
        "boto3 + clients and handler module + until the first next",
    ]
    for row in rows:
        phases = row.get("python", {}).get("init_phases")
        if phases:
            text.append(
                f"  {row['function']:20} "
                + " + ".join(f"{phases[k]:.1f}" for k in (
                    "interpreter_ms",
                    "loop_imports_ms",
                    "import_boto3_ms",
                    "clients_and_module_ms",
                    "to_first_next_ms",
                ))
            )
    text += ["", "AWS calls of one cold start (census round):"]
    for function, sides in calls.items():
        for side, seen in sides.items():
            same = ""
            if side == "python" and "rust" in sides:
                same = (
                    "  (the Rust function's calls, in its order)"
                    if seen["calls"] == sides["rust"]["calls"]
                    else "  (differs from the Rust function's)"
                )
            text.append(f"  {function:20} {side:6} {summary_of(seen['calls'])}{same}")
            if seen["invoke_calls"]:
                text.append(
                    f"  {'':20} {'':6} first invocation (through the proxy) "
                    f"{seen['invoke_ms']:.1f} ms, of which {seen['invoke_emulator_ms']:.1f} ms "
                    f"waiting on {seen['invoke_calls']} emulator calls"
                )
    report = "\n".join(text)
    (out / "table.md").write_text(report + "\n")
    print(report)


def summary_of(calls):
    if not calls:
        return "(none)"
    counts = {}
    for call in calls:
        counts[call] = counts.get(call, 0) + 1
    return ", ".join(f"{c}×{n}" if n > 1 else c for c, n in counts.items())


def command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
