"""Serves the moto AWS emulator on a free loopback port for the itops-aws tests.

Prints "PORT <n>" once listening; exits when its standard input closes (when the test
process that started it ends, however it ends).

Requests are applied one at a time: moto's threaded server does not make a conditional
write or a transaction atomic against concurrent requests, while DynamoDB does, and the
concurrency tests depend on exactly that guarantee. Connections are still served
concurrently (keep-alive works); only the handling of each request is serialised.
"""

import os
import sys
import threading

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialised(environ, start_response):
    with lock:
        # The whole body is produced under the lock, so a request is applied atomically.
        return [b"".join(app(environ, start_response))]


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


server = make_server(
    "127.0.0.1", 0, serialised, threaded=True, request_handler=MotoRequestHandler
)
os.environ["MOTO_PORT"] = str(server.server_port)
threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
print(f"PORT {server.server_port}", flush=True)
server.serve_forever()
