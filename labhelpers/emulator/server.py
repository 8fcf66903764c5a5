"""The emulator process: moto's services, patched, plus a real Lambda runtime.

Run as ``python -m labhelpers.emulator.server --port N``; normally started by
``labhelpers.emulator.control.start`` (or ``python -m labhelpers emulator start``).
"""

from __future__ import annotations

import argparse
import email.parser
import http.client
import io
import json
import logging
import os
import re
import selectors
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from typing import Any


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from labhelpers import config

    parser = argparse.ArgumentParser(prog="labhelpers.emulator.server")
    parser.add_argument("--port", type=int, default=config.emulator_port())
    parser.add_argument("--host", default=config.emulator_host())
    parser.add_argument("--log-file", default="")
    parser.add_argument("--cpu", default=config.emulator_cpu(),
                        help='the CPU its threads share: "auto" (one, chosen by port), a number, or "all" '
                             '(default: LAB_EMULATOR_CPU, else auto)')
    args = parser.parse_args(argv)
    args.allowed_cpus = _allowed_cpus()  # before pinning: what the Lambda workers may use
    try:
        args.cpu = choose_cpu(args.cpu, args.allowed_cpus, args.port)
    except ValueError as err:
        parser.error(str(err))
    return args


def _allowed_cpus() -> set[int] | None:
    """The CPUs this process may run on, or None where the system cannot pin threads (macOS)."""
    return os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None


def choose_cpu(setting: str, allowed: set[int] | None, port: int) -> int | None:
    """The one CPU the emulator's threads share, or None to leave them unpinned.

    The emulator's threads take turns holding the GIL. Spread over several CPUs, every
    handover wakes a thread on another CPU, and CPU time goes to the scheduler instead of
    Python (1,000 executions of the lab machine, measured side by side: 9.9 ms of emulator CPU
    per execution and 84 executions/s unpinned, 7.5 ms and 119/s pinned). Lambda workers,
    notebook kernels and clients keep the other CPUs. "auto" picks one CPU when there are
    several, by port, so that emulators on different ports spread out; "all" leaves the
    system to schedule them.
    """
    setting = str(setting).strip().lower()
    if allowed is None or setting == "all":
        return None
    cpus = sorted(allowed)
    if setting == "auto":
        return cpus[port % len(cpus)] if len(cpus) > 1 else None
    try:
        cpu = int(setting)
    except ValueError:
        raise ValueError(f"LAB_EMULATOR_CPU / --cpu: {setting!r} is not auto, all or a CPU number") from None
    if cpu not in allowed:
        raise ValueError(f"LAB_EMULATOR_CPU / --cpu: CPU {cpu} is not one this process may use "
                         f"({', '.join(map(str, cpus))})")
    return cpu


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
            try:
                return self.moto_app(environ, start_response)
            except BaseException:
                # werkzeug answers 500 and may have sent part of a response: do not reuse it.
                _request_state.failed = True
                raise
        status = "200 OK"
        if path == "/_lab/health":
            from labhelpers.emulator import idle_gc

            body = {**self.info, "lambda": self.runtime.stats(), "gc": idle_gc.collector.stats()}
        elif path == "/_lab/wait-speedup":
            from labhelpers.emulator import wait_speedup

            status, body = wait_speedup.handle(environ)
        elif path == "/_lab/reset" and environ["REQUEST_METHOD"] == "POST":
            body = self.reset()
        elif path == "/_lab/shutdown" and environ["REQUEST_METHOD"] == "POST":
            threading.Thread(target=self.on_shutdown, daemon=True).start()
            body = {"stopping": True}
        elif path == "/_lab/mock-config" and environ["REQUEST_METHOD"] == "POST":
            # Failure injection: point SFN_MOCK_CONFIG at a MockConfigFile ({"path": null} unsets it).
            from labhelpers.emulator.mock_config import point_at

            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = point_at(json.loads(environ["wsgi.input"].read(length) or b"{}").get("path"))
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"message": "unknown labhelpers path"}']
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(data)))])
        return [data]

    def reset(self) -> dict:
        from moto.moto_api._internal.models import moto_api_backend

        from labhelpers.emulator import idle_gc, wait_speedup

        workers = self.runtime.stats().get("workers", 0)
        self.runtime.shutdown()
        moto_api_backend.reset()
        wait_speedup.set_factor(1)  # a reset account waits in real time again
        idle_gc.collector.thaw()  # the old account's records, frozen, are garbage now
        return {"reset": True, "workers_stopped": workers}


_request_state = threading.local()


class _NothingToDrain:
    """Stands for the ``selectors`` module inside werkzeug.serving.

    After every response werkzeug opens an epoll selector and waits up to 10 ms for an unread
    request body to discard. A body the handler has already read in full leaves nothing to
    discard: the selector it gets then answers at once, without a system call.
    """

    EVENT_READ = selectors.EVENT_READ

    def DefaultSelector(self) -> object:  # noqa: N802 (the name werkzeug calls)
        if getattr(_request_state, "body_buffered", False):
            return _EmptySelector()
        return selectors.DefaultSelector()


class _EmptySelector:
    def register(self, *args: object) -> None:
        pass

    def select(self, timeout: float | None = None) -> list:
        return []

    def close(self) -> None:
        pass


class _Headers:
    """A request's header lines, answering the questions werkzeug, moto and http.server ask of
    them (``get``, ``items``, ``keys``) as ``http.client.HTTPMessage`` answers them."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, name: str, failobj: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self._items:
            if key.lower() == name:
                return value
        return failobj

    def __getitem__(self, name: str) -> str | None:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return [key for key, _ in self._items]


_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")  # what email's parser accepts before a colon
_MAX_LINE, _MAX_HEADERS = 65536, 100  # http.client's limits


def read_headers(rfile: Any, message_class: type) -> Any:
    """The header block of a request, read from ``rfile`` up to its blank line.

    http.client hands the block to the email package's parser (about 50 us for boto3's dozen
    headers). Plain "Name: value" lines are split here instead; anything else
    (folded lines, malformed names) still goes through that parser. Raises http.client's
    LineTooLong or HTTPException past its limits, as ``http.client.parse_headers`` does.
    """
    lines: list[bytes] = []
    items: list[tuple[str, str]] | None = []
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            break
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if items is not None:
            name, colon, value = line.decode("iso-8859-1").partition(":")
            if colon and _HEADER_NAME.fullmatch(name):
                items.append((name, value.lstrip(" \t").rstrip("\r\n")))
            else:
                items = None
    if items is None:
        return email.parser.Parser(_class=message_class).parsestr(b"".join(lines).decode("iso-8859-1"))
    return _Headers(items)


def keep_alive_handler() -> type:
    """moto's request handler (werkzeug's, keeping S3 metadata headers with underscores), quiet,
    and keeping HTTP/1.1 connections alive.

    werkzeug closes every connection, so boto3 (in notebooks and in each Lambda worker)
    paid a TCP handshake and a new server thread per request. werkzeug closes because it
    cannot tell where an unread request body ends; reading the body (Content-Length) in
    full before the application runs removes that problem, so the ``Connection: close``
    it always sends is dropped. Chunked uploads, HTTP/1.0 and failed requests still close.
    """
    import werkzeug.serving

    from moto.moto_server.werkzeug_app import MotoRequestHandler

    werkzeug.serving.selectors = _NothingToDrain()  # type: ignore[assignment]

    class KeepAliveHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        # No socket timeout: with one, every recv and send is preceded by a poll(), and each of
        # the two gives up and takes back the GIL. An idle kept-alive connection holds its
        # thread until the client closes it (a process that ends closes its connections).
        timeout = None
        # Buffered: the status line, headers and body leave in one send, not two (werkzeug
        # flushes after each write; handle_expect_100 below flushes its interim answer).
        wbufsize = 64 * 1024
        _keep_alive = False

        def setup(self) -> None:
            super().setup()
            # A large response leaves in several writes: without NODELAY, Nagle holds the last
            # one until the client's delayed ACK (40 ms) on a kept-alive connection.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run_wsgi(self) -> None:
            stream = self.rfile
            self._keep_alive = self._buffer_body()
            _request_state.failed = False
            _request_state.body_buffered = self._keep_alive
            try:
                super().run_wsgi()
            finally:
                self.rfile = stream
                _request_state.body_buffered = False
            if not self._keep_alive or _request_state.failed:
                self.close_connection = True

        def _buffer_body(self) -> bool:
            """Read the request body into memory; False when the connection must close after."""
            if self.close_connection or self.headers.get("Transfer-Encoding"):
                return False
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return False
            body = self.rfile.read(length) if length > 0 else b""
            # werkzeug reads wsgi.input (and drains "leftovers") from self.rfile: give it only
            # this request's body, so the next request on the connection stays intact.
            self.rfile = io.BytesIO(body)
            return len(body) == max(length, 0)

        def parse_request(self) -> bool:
            # The common request line ("POST / HTTP/1.1") is parsed here, with its headers;
            # any other goes to http.server, which has read nothing more than that line yet.
            line = self.raw_requestline.rstrip(b"\r\n").decode("iso-8859-1")
            words = line.split()
            if len(words) != 3 or words[2] != "HTTP/1.1":
                return super().parse_request()
            self.requestline = line
            self.command, self.path, self.request_version = words
            if self.path.startswith("//"):  # as http.server does (no open redirects)
                self.path = "/" + self.path.lstrip("/")
            self.close_connection = True
            try:
                self.headers = read_headers(self.rfile, self.MessageClass)
            except http.client.LineTooLong as err:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
                return False
            except http.client.HTTPException as err:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
                return False
            self.close_connection = (self.headers.get("Connection") or "").lower() == "close"
            if (self.headers.get("Expect") or "").lower() == "100-continue":
                return self.handle_expect_100()
            return True

        def handle_expect_100(self) -> bool:
            # "100 Continue" must reach the client now: it sends the body only after it.
            answered = super().handle_expect_100()
            self.wfile.flush()
            return answered

        def send_header(self, keyword: str, value: str) -> None:
            if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
                return
            super().send_header(keyword, value)

        # One line per request would drown the log; errors are still logged.
        def log_request(self, *a, **k) -> None:
            pass

    return KeepAliveHandler


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    worker_cpus, pin_error = None, None
    if args.cpu is not None:
        # Before the first thread starts: threads inherit the CPUs of the thread that starts them.
        try:
            os.sched_setaffinity(0, {args.cpu})
            worker_cpus = args.allowed_cpus
        except OSError as err:  # a sandbox may forbid it: slower, but it runs
            pin_error, args.cpu = err, None
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
    if pin_error is not None:
        logging.getLogger("labhelpers").warning(
            "the emulator's threads run on every CPU: pinning them to one failed (%s)", pin_error)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from labhelpers import config
    from labhelpers.emulator import registry
    from labhelpers.emulator.lambda_runtime import LambdaRuntime
    from labhelpers.emulator.patching import MotoMismatch

    endpoint = f"http://{args.host}:{args.port}"
    runtime = LambdaRuntime(endpoint_url=endpoint,
                            work_dir=config.state_dir() / f"lambda-code-{args.port}",
                            worker_cpus=worker_cpus)
    try:
        installed = registry.apply(runtime)
    except (MotoMismatch, ValueError) as err:  # the wrong moto, or a wrong LAB_EMULATOR_SKIP_PATCHES
        runtime.shutdown()
        print(f"labhelpers emulator: {err}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None

    info = {"emulator": "labhelpers", "pid": os.getpid(), "port": args.port, "cpu": args.cpu,
            "started": time.time(), "log_file": args.log_file, "endpoint_url": endpoint,
            "fast": registry.fast_enabled(), "patches": len(installed)}
    if "http_connections_kept_alive" in installed:
        handler = keep_alive_handler()
    else:
        from moto.moto_server.werkzeug_app import MotoRequestHandler as handler
    server = make_server(args.host, args.port, None, threaded=True, request_handler=handler)

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
