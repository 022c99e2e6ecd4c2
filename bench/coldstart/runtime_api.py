"""A fake AWS Lambda Runtime API on 127.0.0.1 that times one cold start at a time.

It speaks the real protocol (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

- ``GET /2018-06-01/runtime/invocation/next`` answers the run's event with the headers
  ``Lambda-Runtime-Aws-Request-Id``, ``Lambda-Runtime-Deadline-Ms``,
  ``Lambda-Runtime-Invoked-Function-Arn`` and ``Lambda-Runtime-Trace-Id``;
- ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error`` record the
  result of the invocation;
- ``POST /2018-06-01/runtime/init/error`` records a failed initialisation.

A run hands out exactly one event. The second ``next`` (the process is ready for another
event) is held open and reported, so that the driver reads the process's peak RSS there
and kills it.

Times are ``time.monotonic_ns()`` in this process, the same clock the driver spawns with.
"""

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class Run:
    """One cold start: the event to hand out and what happened, with times."""

    def __init__(self, event, function_name):
        self.event = event
        self.function_name = function_name
        self.request_id = str(uuid.uuid4())
        self.first_next = None  # when the process first asked for an event
        self.event_sent = None  # when the event was written to it
        self.result_at = None  # when its response (or error) arrived
        self.outcome = None  # "response", "error" or "init_error"
        self.body = None  # the response or error body, decoded when JSON
        self.second_next = threading.Event()  # the process asks for another event
        self.released = threading.Event()  # the driver killed the process: let go
        self.protocol_errors = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, and each reply in one write: no Nagle / delayed-ACK stall in the timings.
    disable_nagle_algorithm = True

    def log_message(self, *_args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body)  # headers and body in one write
        self.flush_headers()

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        now = time.monotonic_ns()
        run = self.server.run
        if self.path != f"{PREFIX}/invocation/next" or run is None:
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        with self.server.lock:
            first = run.first_next is None
            if first:
                run.first_next = now
        if not first:
            # Ready for another event: the cold start is over. Hold the request until the
            # driver has killed the process.
            run.second_next.set()
            run.released.wait(30)
            return
        deadline = int(time.time() * 1000) + 60_000
        body = json.dumps(run.event).encode()
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:{run.function_name}"
        # Stamped before the write: the process may answer before this thread goes on.
        run.event_sent = time.monotonic_ns()
        self._reply(
            200,
            body,
            [
                ("Lambda-Runtime-Aws-Request-Id", run.request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn", arn),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
            ],
        )

    def do_POST(self):  # noqa: N802
        run = self.server.run
        body = self._body()
        now = time.monotonic_ns()  # the result is complete once its body is read
        if run is None:
            self._reply(404)
            return
        if self.path == f"{PREFIX}/init/error":
            outcome = "init_error"
        elif self.path == f"{PREFIX}/invocation/{run.request_id}/response":
            outcome = "response"
        elif self.path == f"{PREFIX}/invocation/{run.request_id}/error":
            outcome = "error"
        else:
            run.protocol_errors.append(f"POST {self.path}")
            self._reply(400, b'{"errorMessage":"unknown request id"}')
            return
        with self.server.lock:
            if run.outcome is None:
                run.result_at = now
                run.outcome = outcome
                try:
                    run.body = json.loads(body) if body else None
                except ValueError:
                    run.body = body.decode(errors="replace")
        self._reply(202, b'{"status":"OK"}')


class RuntimeApi:
    """The server; ``start(run)`` before spawning each process, ``stop()`` at the end."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.run = None
        self.server.lock = threading.Lock()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def start(self, run):
        if self.server.run is not None:
            self.server.run.released.set()
        self.server.run = run

    def stop(self):
        if self.server.run is not None:
            self.server.run.released.set()
        self.server.shutdown()
        self.server.server_close()
