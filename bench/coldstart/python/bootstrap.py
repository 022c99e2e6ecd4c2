"""A minimal Python Lambda runtime: the loop a custom runtime's ``bootstrap`` runs.

Initialisation is importing the handler's module (``_HANDLER=module.function``), which
imports boto3 and creates its clients at module level; then it asks the Runtime API at
``AWS_LAMBDA_RUNTIME_API`` for events, calls the handler and posts its result, for ever.
The standard library's ``urllib`` talks to the Runtime API (AWS's own Python runtime
interface client has a C HTTP client; this loop is lighter, not heavier, than it).
"""

import time

STARTED = time.monotonic_ns()  # noqa: E402 (the first thing the interpreter runs of ours)

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import urllib.request  # noqa: E402

LOOP_IMPORTED = time.monotonic_ns()  # the loop's own imports (urllib → http.client, ssl, …)

BASE = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


class Context:
    """The parts of the Lambda context object handlers use."""

    def __init__(self, request_id, deadline_ms, arn):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def post(path, payload):
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        response.read()


def failure(error):
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_exception(error),
    }


def main():
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.path.dirname(__file__)))
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    times = {"started": STARTED, "loop_imported": LOOP_IMPORTED}
    try:
        # The bench's breakdown of init: modules the handler imports anyway (boto3) are
        # imported first, on their own clock; the handler module then creates its clients.
        for name in filter(None, os.environ.get("COLDSTART_PREIMPORT", "").split(",")):
            importlib.import_module(name)
        times["preimported"] = time.monotonic_ns()
        handler = getattr(importlib.import_module(module_name), function_name)
        times["imported"] = time.monotonic_ns()
    except Exception as error:  # the runtime reports any failed init
        post("/init/error", failure(error))
        sys.exit(1)
    if os.environ.get("COLDSTART_PREIMPORT") is not None:
        print("coldstart-timing " + json.dumps(times), file=sys.stderr, flush=True)
    while True:
        with urllib.request.urlopen(BASE + "/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            deadline_ms = int(response.headers["Lambda-Runtime-Deadline-Ms"])
            arn = response.headers["Lambda-Runtime-Invoked-Function-Arn"]
            event = json.loads(response.read())
        try:
            result = handler(event, Context(request_id, deadline_ms, arn))
        except Exception as error:  # reported to Lambda, as the real runtime does
            post(f"/invocation/{request_id}/error", failure(error))
            continue
        post(f"/invocation/{request_id}/response", result)


if __name__ == "__main__":
    main()
