"""Worker program of the local Lambda runtime: runs one Python handler, warm.

Started by ``lambda_runtime.LambdaRuntime`` (by path, with cwd = the extracted
code). It must stay importable with nothing but the standard library: it
imports nothing from labhelpers and never boto3 (the handler may).

Protocol (binary frames on private pipe fds, never on the handler's stdio)::

    frame  = struct "!II" (header_len, body_len) + header JSON + body bytes
    parent -> worker: {"t": "invoke", "rid", "arn", "timeout_ms"} + event payload
    worker -> parent: {"t": "l", "ts"} + log message (utf-8)
                      {"t": "init", "ok"}                  after the first import
                      {"t": "r", "err", "fatal", "dur", "mem"} + response payload

The worker exits when its request pipe closes, so it never outlives the parent.
"""

from __future__ import annotations

import decimal
import importlib
import io
import json
import logging
import os
import resource
import select
import struct
import sys
import threading
import time
import traceback
from typing import Any, Callable

_HEAD = struct.Struct("!II")
# Stack traces show code under /var/task as on AWS, so output matches recordings.
TASK_ROOT_ALIAS = "/var/task"
_BOOTSTRAP_FILE = os.path.abspath(__file__)
#: The CPUs this worker may use ("0,1"), set by the runtime when the emulator runs pinned to one;
#: removed before the handler's code loads, so the function sees only its AWS environment.
WORKER_CPUS_VARIABLE = "_LABHELPERS_WORKER_CPUS"

_out_fd = -1
_out_lock = threading.Lock()
_request_id = ""


def _send(header: dict[str, Any], body: bytes = b"") -> None:
    """Write one frame to the parent; a lock keeps frames from threads whole."""
    head = json.dumps(header, separators=(",", ":")).encode()
    data = _HEAD.pack(len(head), len(body)) + head + body
    with _out_lock:
        view = memoryview(data)
        while view:
            try:
                n = os.write(_out_fd, view)
            except BrokenPipeError:
                os._exit(0)  # parent is gone: nothing left to serve
            view = view[n:]


def _log(message: str) -> None:
    """Send one log event, stamped now, to the current invocation's log."""
    _send({"t": "l", "ts": int(time.time() * 1000)}, message.encode("utf-8", "replace"))


class _LineSink:
    """Turns a stream of text into one log event per line (as AWS does for stdout)."""

    def __init__(self) -> None:
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            text = self._pending + text
            *lines, self._pending = text.split("\n")
        for line in lines:
            _log(line.rstrip("\r"))

    def flush(self) -> None:
        with self._lock:
            rest, self._pending = self._pending, ""
        if rest:
            _log(rest)


_sink = _LineSink()


class _BinaryLog(io.RawIOBase):
    """``sys.stdout.buffer`` stand-in: bytes written are logged as utf-8 text."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        _sink.write(data.decode("utf-8", "replace"))
        return len(data)


class _TextLog(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` replacement that feeds the invocation log."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.buffer = _BinaryLog()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"<{self._name}>"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        _sink.write(text)
        return len(text)

    def flush(self) -> None:
        pass  # partial lines are flushed at the end of each invocation


def _pump_fd(read_fd: int) -> None:
    """Forward C-level / subprocess writes to fd 1 and 2 into the log."""
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        pending = b""
        while True:
            chunk = pipe.read(65536)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                _log(line.decode("utf-8", "replace").rstrip("\r"))


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


class _LambdaLogHandler(logging.Handler):
    """Root handler like the AWS Python runtime's: one log event per record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _log(self.format(record))
        except Exception:
            self.handleError(record)


def _install_logging() -> None:
    fmt = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    fmt.converter = time.gmtime
    handler = _LambdaLogHandler()
    handler.setFormatter(fmt)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # AWS leaves the root logger at WARNING


class LambdaContext:
    """The ``context`` argument, with the attributes of AWS's LambdaContext."""

    def __init__(self, request_id: str, invoked_arn: str, timeout_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.client_context = None
        self.identity = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def log(self, message: str) -> None:
        sys.stdout.write(message)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


class _Fault(Exception):
    """A runtime-level error with an AWS ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def _is_runtime_frame(filename: str) -> bool:
    return (
        os.path.abspath(filename) == _BOOTSTRAP_FILE
        or filename.startswith("<frozen importlib")
        or filename.endswith(os.path.join("importlib", "__init__.py"))
    )


def _stack_trace(tb: Any) -> list[str]:
    """Format a traceback like AWS: bootstrap frames dropped, code under /var/task."""
    frames = traceback.extract_tb(tb)
    while frames and _is_runtime_frame(frames[0].filename):
        del frames[0]
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()).rstrip(os.sep) + os.sep
    for frame in frames:
        if frame.filename.startswith(root):
            frame.filename = TASK_ROOT_ALIAS + "/" + frame.filename[len(root):]
    return traceback.format_list(frames)


def _load_handler(spec: str) -> Callable[..., Any]:
    """Import the handler module (as AWS: 'dir/module.function')."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {e}") from None
    if modname.split(".")[0].split("/")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise _Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        ) from None


def _decimal_default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        # DynamoDB numbers: integral Decimals as ints, others as floats.
        exponent = obj.as_tuple().exponent
        return int(obj) if isinstance(exponent, int) and exponent >= 0 else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _ensure_ascii() -> bool:
    """AWS's python3.12+ runtimes stop escaping non-ASCII characters in responses."""
    env = os.environ.get("AWS_EXECUTION_ENV", "")
    try:
        major, minor = env.rsplit("python", 1)[1].split(".")[:2]
        return (int(major), int(minor)) < (3, 12)
    except (IndexError, ValueError):
        return True


_ENSURE_ASCII = True


def _to_json(obj: Any) -> bytes:
    return json.dumps(obj, default=_decimal_default, ensure_ascii=_ENSURE_ASCII).encode("utf-8")


def _error(error_type: str, message: str, request_id: str, trace: list[str]) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}


def _log_error(err: dict[str, Any]) -> None:
    """Log the failure like the AWS runtime does: '[ERROR] Type: message' + traceback."""
    lines = [f"[ERROR] {err['errorType']}: {err['errorMessage']}"]
    if err["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for element in err["stackTrace"]:
            lines.extend(element.splitlines())
    _log("\n".join(lines))


def _max_memory_mb() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(usage / (1024 * 1024) if sys.platform == "darwin" else usage / 1024)


class _Worker:
    """Holds the handler between invocations: module code runs once per worker."""

    def __init__(self) -> None:
        self.handler: Callable[..., Any] | None = None

    def invoke(self, header: dict[str, Any], body: bytes) -> None:
        global _request_id
        rid = header["rid"]
        _request_id = rid
        fatal = False
        err: dict[str, Any] | None = None
        result = b"null"
        start = time.perf_counter()
        try:
            if self.handler is None:
                try:
                    self.handler = _load_handler(os.environ.get("_HANDLER", ""))
                finally:
                    # Init is over (well or not): the parent starts the function timeout.
                    _sink.flush()
                    _send({"t": "init"})
                start = time.perf_counter()
            try:
                event = json.loads(body) if body.strip() else {}
            except ValueError as e:
                raise _Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
            context = LambdaContext(rid, header.get("arn", ""), int(header.get("timeout_ms", 3000)))
            response = self.handler(event, context)
            try:
                result = _to_json(response)
            except (TypeError, ValueError, OverflowError) as e:
                raise _Fault("Runtime.MarshalError", f"Unable to marshal response: {e}") from None
        except _Fault as e:
            err = _error(e.error_type, e.message, rid, e.trace)
            # A failed init leaves a half-imported sandbox: AWS resets it, so do we.
            fatal = self.handler is None
        except Exception as e:
            err = _error(type(e).__name__, str(e), rid, _stack_trace(e.__traceback__))
            fatal = self.handler is None
        duration = (time.perf_counter() - start) * 1000.0
        if err is not None:
            _log_error(err)
            try:
                result = _to_json(err)
            except Exception:  # e.g. a message that cannot be encoded
                result = json.dumps(err, default=repr).encode()
        _sink.flush()
        _send(
            {"t": "r", "err": err is not None, "fatal": fatal, "dur": duration, "mem": _max_memory_mb()},
            result,
        )


def _read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _read_request(in_fd: int) -> tuple[dict[str, Any], bytes]:
    """The next request frame; ends the worker when the parent has gone (EOF)."""
    try:
        hlen, blen = _HEAD.unpack(_read_exact(in_fd, _HEAD.size))
        return json.loads(_read_exact(in_fd, hlen)), _read_exact(in_fd, blen)
    except BaseException:
        os._exit(0)


def _exit_with_parent(in_fd: int) -> None:
    """Watchdog thread: end the worker when the parent goes away, even during a handler stuck
    in sleep(). It waits for the request pipe's hang-up alone (a poll for no events still
    reports POLLHUP), so an arriving request wakes only the main thread that reads it."""
    poller = select.poll()
    poller.register(in_fd, 0)
    while True:
        for _fd, events in poller.poll():
            if events & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                os._exit(0)
            time.sleep(0.05)  # a system that reported a readable pipe too must not make this spin


def _unpin() -> None:
    """Use the CPUs the runtime names, not only the emulator's one this process inherited."""
    cpus = os.environ.pop(WORKER_CPUS_VARIABLE, "")
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
        except (OSError, ValueError):
            pass  # still runs, only on fewer CPUs


def main() -> None:
    global _out_fd, _ENSURE_ASCII
    _unpin()  # first: threads started below inherit this thread's CPUs
    # Keep private copies of the protocol pipes, then take fds 0/1/2 away from
    # them so nothing the handler does to stdio can corrupt the protocol.
    in_fd = os.dup(0)
    _out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.close(devnull)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    threading.Thread(target=_pump_fd, args=(read_fd,), daemon=True, name="fd-log").start()
    sys.stdin = open(os.devnull, encoding="utf-8")
    sys.stdout = _TextLog("stdout")
    sys.stderr = _TextLog("stderr")
    _install_logging()
    _ENSURE_ASCII = _ensure_ascii()

    # Like /var/task on AWS: the code directory first, the bootstrap's own one never.
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    here = os.path.dirname(_BOOTSTRAP_FILE)
    sys.path[:] = [p for p in sys.path if p not in ("", here, os.getcwd())]
    sys.path.insert(0, task_root)

    threading.Thread(target=_exit_with_parent, args=(in_fd,), daemon=True, name="parent-watch").start()
    worker = _Worker()
    while True:
        worker.invoke(*_read_request(in_fd))


if __name__ == "__main__":
    main()
