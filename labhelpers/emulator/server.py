"""The emulator process: moto's services, patched, plus a real Lambda runtime.

Run as ``python -m labhelpers.emulator.server --port N``; normally started by
``labhelpers.emulator.control.start`` (or ``python -m labhelpers emulator start``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from labhelpers import config

    parser = argparse.ArgumentParser(prog="labhelpers.emulator.server")
    parser.add_argument("--port", type=int, default=config.emulator_port())
    parser.add_argument("--host", default=config.emulator_host())
    parser.add_argument("--log-file", default="")
    return parser.parse_args(argv)


class LabApp:
    """WSGI middleware: answers /_lab/* itself and hands everything else to moto."""

    def __init__(self, moto_app, runtime, info: dict, on_shutdown) -> None:
        self.moto_app = moto_app
        self.runtime = runtime
        self.info = info
        self.on_shutdown = on_shutdown

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_lab/"):
            return self.moto_app(environ, start_response)
        if path == "/_lab/health":
            body = {**self.info, "lambda": self.runtime.stats()}
        elif path == "/_lab/reset" and environ["REQUEST_METHOD"] == "POST":
            body = self.reset()
        elif path == "/_lab/shutdown" and environ["REQUEST_METHOD"] == "POST":
            threading.Thread(target=self.on_shutdown, daemon=True).start()
            body = {"stopping": True}
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"message": "unknown labhelpers path"}']
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        return [data]

    def reset(self) -> dict:
        from moto.moto_api._internal.models import moto_api_backend

        workers = self.runtime.stats().get("workers", 0)
        self.runtime.shutdown()
        moto_api_backend.reset()
        return {"reset": True, "workers_stopped": workers}


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    # moto's interpreter calls back into "its" server at MOTO_PORT (default 5000):
    # it must be told the real port before moto reads its settings.
    os.environ["MOTO_PORT"] = str(args.port)
    os.environ["MOTO_HOST"] = args.host
    # The emulator itself never needs real credentials; drop any the host has.
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from labhelpers import config
    from labhelpers.emulator import patches
    from labhelpers.emulator.lambda_runtime import LambdaRuntime

    endpoint = f"http://{args.host}:{args.port}"
    runtime = LambdaRuntime(endpoint_url=endpoint,
                            work_dir=config.state_dir() / f"lambda-code-{args.port}")
    patches.apply(runtime)

    class QuietHandler(WSGIRequestHandler):
        # One line per request would drown the log; errors are still logged.
        def log_request(self, *a, **k) -> None:
            pass

    info = {"emulator": "labhelpers", "pid": os.getpid(), "port": args.port,
            "started": time.time(), "log_file": args.log_file, "endpoint_url": endpoint}
    server = make_server(args.host, args.port, None, threaded=True, request_handler=QuietHandler)

    def shutdown(*_: object) -> None:
        runtime.shutdown()
        threading.Thread(target=server.shutdown, daemon=True).start()

    server.app = LabApp(DomainDispatcherApplication(create_backend_app), runtime, info, shutdown)
    signal.signal(signal.SIGTERM, lambda *_: shutdown())
    print(f"labhelpers emulator on {endpoint} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever()
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
