"""A local AWS Lambda runtime for Python handlers, without Docker.

Handler code from the uploaded zip runs in warm worker subprocesses
(``lambda_bootstrap.py``), one pool per (function ARN, version, code SHA).
``LambdaRuntime.invoke`` is thread-safe, bounded in time by the function
timeout, and turns every failure into an AWS-shaped error result instead of
raising, because it runs inside the moto server.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labhelpers.emulator.lambda_bootstrap import WORKER_CPUS_VARIABLE

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
INIT_TIMEOUT_S = 10.0  # AWS gives module-level (init) code its own 10 s budget
FAKE_CREDENTIAL = "testing"
_HEAD = struct.Struct("!II")
_RUNTIME_RE = re.compile(r"^python(\d+)\.(\d+)$")
# Names Go's os/exec gives signals, which is how AWS words Runtime.ExitError.
_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
}


@dataclass(frozen=True)
class FunctionSpec:
    """Everything needed to run one version of one function."""

    function_name: str
    function_arn: str
    version: str
    code_sha256: str
    code_zip: bytes = field(repr=False)
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    region: str
    account_id: str


@dataclass
class InvocationResult:
    """What one Invoke returns, plus the log events it wrote."""

    payload: bytes
    function_error: str | None
    log_group: str
    log_stream: str
    log_events: list[tuple[int, str]]
    request_id: str
    duration_ms: float

    def log_tail(self) -> str:
        """The last 4 KB of this invocation's log, as LogType=Tail returns it."""
        text = "".join(message + "\n" for _, message in self.log_events).encode("utf-8")
        # Cutting may split a character: drop the partial one at the front.
        return text[-4096:].decode("utf-8", "ignore")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    stamp = _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


def _frame(header: dict[str, Any], body: bytes) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _HEAD.pack(len(head), len(body)) + head + body


def _exit_reason(returncode: int | None) -> str:
    """Describe a worker's end the way AWS does ("exit status 3", "signal: killed")."""
    if returncode is None:
        return "signal: killed"
    if returncode < 0:
        sig = -returncode
        try:
            name = _SIGNAL_NAMES.get(signal.Signals(sig), f"signal {sig}")
        except ValueError:
            name = f"signal {sig}"
        return f"signal: {name}"
    return f"exit status {returncode}"


class _WorkerDied(Exception):
    pass


class _Worker:
    """One warm execution environment: a bootstrap subprocess and its pipes."""

    def __init__(self, proc: subprocess.Popen, log_stream: str) -> None:
        self.proc = proc
        self.log_stream = log_stream
        self.initialized = False
        self.last_memory_mb = 0
        self.alive = True
        self._buf = bytearray()
        assert proc.stdin is not None and proc.stdout is not None
        self._wfd = proc.stdin.fileno()
        self._rfd = proc.stdout.fileno()
        os.set_blocking(self._wfd, False)  # writes must honour the deadline too
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._rfd, selectors.EVENT_READ)

    def _exited(self) -> bool:
        """Has the process ended? Does not reap it, so its pgid cannot be reused yet."""
        if self.proc.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True
        except (AttributeError, OSError):  # no waitid (macOS): reaping is fine there
            return self.proc.poll() is not None

    def is_running(self) -> bool:
        return self.alive and not self._exited()

    def signal_kill(self) -> None:
        """SIGKILL the process group; the thread using the worker cleans up."""
        if self.proc.returncode is None:
            try:
                # Killing the group before reaping keeps the pgid from being reused;
                # a zombie keeps its original exit status.
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass

    def exchange(self, header: dict[str, Any], body: bytes, deadline: float, on_frame) -> None:
        """Send one request and feed response frames to ``on_frame`` until it returns True.

        ``on_frame(header, body)`` may return a new deadline (float) to extend it.
        Raises TimeoutError at the deadline and _WorkerDied on EOF / broken pipe.
        """
        out = memoryview(_frame(header, body))
        writing = False
        try:
            while True:
                # Parse everything already buffered before waiting for more.
                while len(self._buf) >= _HEAD.size:
                    hlen, blen = _HEAD.unpack_from(self._buf)
                    end = _HEAD.size + hlen + blen
                    if len(self._buf) < end:
                        break
                    fheader = json.loads(bytes(self._buf[_HEAD.size : _HEAD.size + hlen]))
                    fbody = bytes(self._buf[_HEAD.size + hlen : end])
                    del self._buf[:end]
                    verdict = on_frame(fheader, fbody)
                    if verdict is True:
                        return
                    if isinstance(verdict, float):
                        deadline = verdict
                if out:
                    try:
                        n = os.write(self._wfd, out)
                        out = out[n:]
                    except BlockingIOError:
                        pass
                    except (BrokenPipeError, OSError) as e:
                        raise _WorkerDied() from e
                    if out and not writing:
                        self._sel.register(self._wfd, selectors.EVENT_WRITE)
                        writing = True
                if not out and writing:
                    self._sel.unregister(self._wfd)
                    writing = False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError()
                for key, _ in self._sel.select(remaining):
                    if key.fd == self._rfd:
                        chunk = os.read(self._rfd, 1 << 20)
                        if not chunk:
                            raise _WorkerDied()
                        self._buf += chunk
        finally:
            if writing:
                self._sel.unregister(self._wfd)

    def memory_high_water_mb(self) -> int:
        """Peak RSS from /proc (Linux), for invocations the worker could not report."""
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) // 1024
        except (OSError, ValueError, IndexError):
            pass
        return self.last_memory_mb

    def kill(self) -> int | None:
        """Kill the worker's whole process group; returns the worker's exit code."""
        self.alive = False
        self.signal_kill()
        code: int | None = None
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self._sel.close()
        except (OSError, ValueError):
            pass
        return code

    def startup_stderr(self) -> str:
        """Whatever the interpreter wrote before the bootstrap took over fd 2."""
        if self.proc.stderr is None:
            return ""
        try:
            os.set_blocking(self.proc.stderr.fileno(), False)
            data = self.proc.stderr.read(65536) or b""
        except (OSError, ValueError):
            return ""
        return data.decode("utf-8", "replace").strip()


class _Pool:
    """Workers of one (function ARN, version, code SHA)."""

    def __init__(self, key: tuple[str, str, str], function_name: str, lock: threading.Lock) -> None:
        self.key = key
        self.function_name = function_name
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.starting = 0
        self.retired = False
        self.cond = threading.Condition(lock)

    @property
    def size(self) -> int:
        return len(self.idle) + len(self.busy) + self.starting


class LambdaRuntime:
    """Runs Python Lambda handlers in warm local worker processes."""

    def __init__(
        self,
        endpoint_url: str,
        work_dir: Path,
        max_workers_per_function: int = 4,
        python: str = sys.executable,
        worker_cpus: set[int] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        # The CPUs workers may use, when this process is pinned to fewer (see server.choose_cpu):
        # a worker started from a pinned thread would otherwise inherit the pin.
        self.worker_cpus = worker_cpus
        self.work_dir = Path(work_dir)
        self.max_workers = max(1, int(max_workers_per_function))
        self.python = python
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, str, str], _Pool] = {}
        self._code_locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._closed = False

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ----------------------------------------------------------------- public

    def invoke(self, spec: FunctionSpec, payload: bytes, request_id: str | None = None) -> InvocationResult:
        """Run the function once, synchronously; never raises for function failures."""
        rid = request_id or str(uuid.uuid4())
        result = _Invocation(self, spec, rid)
        try:
            return result.run(payload)
        except Exception as e:  # a bug here must not take the emulator down
            return result.fail(
                "Runtime.Unknown", f"RequestId: {rid} Error: local Lambda runtime failed: {e!r}"
            )

    def forget(self, function_name: str) -> None:
        """Stop the workers of a deleted function (busy ones when they finish)."""
        doomed: list[_Worker] = []
        with self._lock:
            for key, pool in list(self._pools.items()):
                if pool.function_name == function_name:
                    doomed += self._retire(key)
        for worker in doomed:
            worker.kill()

    def shutdown(self) -> None:
        """Kill every worker; idempotent. Invocations after this return an error."""
        doomed: list[_Worker] = []
        busy: list[_Worker] = []
        with self._lock:
            self._closed = True
            for key, pool in list(self._pools.items()):
                doomed += self._retire(key)
                busy += list(pool.busy)
        for worker in doomed:
            worker.kill()
        for worker in busy:
            # Running invocations end now (as Runtime.ExitError); their threads
            # own the pipes and close them.
            worker.signal_kill()

    def stats(self) -> dict:
        """Counts for monitoring: live workers, busy workers, functions with workers."""
        with self._lock:
            pools = list(self._pools.values())
            return {
                "workers": sum(len(p.idle) + len(p.busy) for p in pools),
                "busy": sum(len(p.busy) for p in pools),
                "functions": len({p.function_name for p in pools if p.idle or p.busy}),
                "pools": len(pools),
            }

    # --------------------------------------------------------------- internal

    def _retire(self, key: tuple[str, str, str]) -> list[_Worker]:
        """Drop a pool (lock held); returns its idle workers for killing outside the lock."""
        pool = self._pools.pop(key)
        pool.retired = True
        idle, pool.idle = pool.idle, []
        pool.cond.notify_all()
        return idle

    def code_dir(self, spec: FunctionSpec) -> Path:
        """Extract the code zip once per (ARN, version, SHA), atomically."""
        key = (spec.function_arn, spec.version, spec.code_sha256)
        digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:16]
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.function_name)[:64]
        safe_version = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.version)
        target = self.work_dir / "code" / f"{safe_name}-{safe_version}-{digest}"
        with self._lock:
            code_lock = self._code_locks.setdefault(key, threading.Lock())
        with code_lock:
            if target.is_dir():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
            try:
                _extract(spec.code_zip, tmp)
                try:
                    os.rename(tmp, target)
                except OSError:
                    if not target.is_dir():  # lost a race with another process: fine
                        raise
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return target

    def acquire(self, spec: FunctionSpec) -> tuple[_Pool, _Worker | None]:
        """An idle worker of the spec's pool, or (pool, None) meaning: start one."""
        key = (spec.function_arn, spec.version, spec.code_sha256)
        doomed: list[_Worker] = []
        try:
            with self._lock:
                if self._closed:
                    raise _Closed()
                pool = self._pools.get(key)
                if pool is None:
                    # New code for this ARN/version: old workers go (update_function_code).
                    for other in [k for k in self._pools if k[:2] == key[:2]]:
                        doomed += self._retire(other)
                    pool = self._pools[key] = _Pool(key, spec.function_name, self._lock)
                while True:
                    if self._closed:
                        raise _Closed()
                    while pool.idle:
                        worker = pool.idle.pop()  # LIFO keeps the warmest worker busy
                        if worker.is_running():
                            pool.busy.add(worker)
                            return pool, worker
                        doomed.append(worker)  # died while idle
                    if pool.size < self.max_workers:
                        pool.starting += 1
                        return pool, None
                    pool.cond.wait()
        finally:
            for worker in doomed:
                worker.kill()

    def started(self, pool: _Pool, worker: _Worker | None) -> bool:
        """Account for a worker start attempt; False if shutdown() came meanwhile."""
        with self._lock:
            pool.starting -= 1
            if worker is not None:
                pool.busy.add(worker)
            else:
                pool.cond.notify()
            return not self._closed

    def release(self, pool: _Pool, worker: _Worker, healthy: bool) -> None:
        """Return a worker to its pool, or kill it if it is broken or retired."""
        keep = False
        with self._lock:
            pool.busy.discard(worker)
            if healthy and not pool.retired and not self._closed and worker.alive:
                pool.idle.append(worker)
                keep = True
            pool.cond.notify()
        if not keep:
            worker.kill()

    def spawn(self, spec: FunctionSpec, code_dir: Path) -> _Worker:
        """Start a bootstrap process for the spec, with an AWS-like environment."""
        created = _dt.datetime.now(_dt.timezone.utc)
        log_stream = f"{created:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        env = self.worker_env(spec, code_dir, log_stream)
        proc = subprocess.Popen(
            # -s: no user site-packages; -B: keep .pyc files out of the code dir.
            [self.python, "-s", "-B", str(BOOTSTRAP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(code_dir),
            env=env,
            bufsize=0,
            close_fds=True,
            start_new_session=True,  # own process group: a timeout kills its children too
        )
        return _Worker(proc, log_stream)

    def worker_env(self, spec: FunctionSpec, code_dir: Path, log_stream: str) -> dict[str, str]:
        """The worker's whole environment; nothing is inherited from the host."""
        python_dir = os.path.dirname(os.path.abspath(self.python))
        env = {
            # Not reserved on AWS: the function's own variables may override these.
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PATH": os.pathsep.join([python_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        }
        env.update({str(k): str(v) for k, v in (spec.environment or {}).items()})
        env.update(
            {
                "AWS_REGION": spec.region,
                "AWS_DEFAULT_REGION": spec.region,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "_HANDLER": spec.handler,
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
                "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
                "AWS_SESSION_TOKEN": FAKE_CREDENTIAL,
                # Keep boto3 inside the function away from the host's ~/.aws.
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        # A profile would make boto3 look for it in the (empty) config and fail.
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_DEFAULT_PROFILE", None)
        if self.worker_cpus:
            env[WORKER_CPUS_VARIABLE] = ",".join(map(str, sorted(self.worker_cpus)))
        return env


class _Closed(Exception):
    pass


def _extract(code_zip: bytes, dest: Path) -> None:
    """Unzip keeping Unix permission bits (executables in layers/bundles)."""
    with zipfile.ZipFile(io.BytesIO(code_zip)) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, dest))  # extract() strips '..' and absolute parts
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(path, mode | 0o400)


class _Invocation:
    """State of one invoke() call: builds the log and the result."""

    def __init__(self, runtime: LambdaRuntime, spec: FunctionSpec, request_id: str) -> None:
        self.rt = runtime
        self.spec = spec
        self.rid = request_id
        self.log_group = f"/aws/lambda/{spec.function_name}"
        self.log_stream = ""
        self.events: list[tuple[int, str]] = [(_now_ms(), f"START RequestId: {request_id} Version: {spec.version}")]
        self.duration_ms = 0.0
        self.init_ms: float | None = None
        self.memory_mb = 0

    def log(self, message: str) -> None:
        self.events.append((_now_ms(), message))

    def finish(self, payload: bytes, error: bool) -> InvocationResult:
        """Add END/REPORT and build the result."""
        report = (
            f"REPORT RequestId: {self.rid}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(self.duration_ms))} ms\t"
            f"Memory Size: {self.spec.memory_size} MB\tMax Memory Used: {self.memory_mb} MB"
        )
        if self.init_ms is not None:
            report += f"\tInit Duration: {self.init_ms:.2f} ms"
        self.log(f"END RequestId: {self.rid}")
        self.log(report)
        return InvocationResult(
            payload=payload,
            function_error="Unhandled" if error else None,
            log_group=self.log_group,
            log_stream=self.log_stream,
            log_events=self.events,
            request_id=self.rid,
            duration_ms=self.duration_ms,
        )

    def fail(self, error_type: str, message: str) -> InvocationResult:
        """A failure outside the handler (timeout, crash, setup): AWS's short error shape."""
        self.log(f"{message}\n{error_type}" if message.startswith("RequestId:") else message)
        return self.finish(_dumps({"errorType": error_type, "errorMessage": message}), True)

    def run(self, payload: bytes) -> InvocationResult:
        spec = self.spec
        if not _RUNTIME_RE.match(spec.runtime or ""):
            return self.fail(
                "Runtime.InvalidRuntime",
                f"RequestId: {self.rid} Error: runtime '{spec.runtime}' is not supported by the "
                "local Lambda runtime (only pythonX.Y runtimes are)",
            )
        try:
            pool, worker = self.rt.acquire(spec)
        except _Closed:
            return self.fail("Runtime.Unavailable", f"RequestId: {self.rid} Error: the local Lambda runtime is shut down")
        if worker is None:
            # Only a new worker needs the code on disk (a warm one has it loaded).
            try:
                code_dir = self.rt.code_dir(spec)
            except (zipfile.BadZipFile, OSError, ValueError) as e:
                self.rt.started(pool, None)
                return self.fail(
                    "Runtime.InvalidEntrypoint",
                    f"RequestId: {self.rid} Error: could not unpack the function code: {e}",
                )
            try:
                worker = self.rt.spawn(spec, code_dir)
            except Exception as e:
                self.rt.started(pool, None)
                return self.fail(
                    "Runtime.ExitError", f"RequestId: {self.rid} Error: could not start {self.rt.python}: {e}"
                )
            if not self.rt.started(pool, worker):
                self.rt.release(pool, worker, healthy=False)
                return self.fail("Runtime.Unavailable", f"RequestId: {self.rid} Error: the local Lambda runtime is shut down")
        healthy = False
        try:
            result, healthy = self._exchange(worker, payload)
            return result
        finally:
            self.rt.release(pool, worker, healthy)

    def _exchange(self, worker: _Worker, payload: bytes) -> tuple[InvocationResult, bool]:
        """One request/response with the worker; returns (result, worker still usable)."""
        spec = self.spec
        self.log_stream = worker.log_stream
        started = time.monotonic()
        cold = not worker.initialized
        timeout_s = max(1, int(spec.timeout or 3))
        # Cold start: module code gets AWS's init budget, then the function timeout starts.
        deadline = started + (INIT_TIMEOUT_S if cold else timeout_s)
        outcome: dict[str, Any] = {}

        def on_frame(header: dict[str, Any], body: bytes) -> bool | float | None:
            kind = header.get("t")
            if kind == "l":
                self.events.append((int(header.get("ts") or _now_ms()), body.decode("utf-8", "replace")))
            elif kind == "init":
                worker.initialized = True
                self.init_ms = (time.monotonic() - started) * 1000.0
                return time.monotonic() + timeout_s
            elif kind == "r":
                outcome.update(header, body=body)
                return True
            return None

        request = {"t": "invoke", "rid": self.rid, "arn": spec.function_arn, "timeout_ms": timeout_s * 1000}
        try:
            worker.exchange(request, payload or b"", deadline, on_frame)
        except TimeoutError:
            self.memory_mb = worker.memory_high_water_mb()
            worker.kill()
            if cold and not worker.initialized:
                self.init_ms = INIT_TIMEOUT_S * 1000.0
                limit = INIT_TIMEOUT_S
            else:
                limit = float(timeout_s)
            self.duration_ms = limit * 1000.0
            message = f"RequestId: {self.rid} Error: Task timed out after {limit:.2f} seconds"
            self.log(f"{_iso(_now_ms())} {self.rid} Task timed out after {limit:.2f} seconds")
            return self.finish(_dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}), True), False
        except _WorkerDied:
            code = worker.kill()
            self.memory_mb = worker.last_memory_mb
            self.duration_ms = (time.monotonic() - started) * 1000.0
            stderr = worker.startup_stderr()
            if stderr:
                self.log(stderr)
            if code == 0:
                message = f"RequestId: {self.rid} Error: Runtime exited without providing a reason"
            else:
                message = f"RequestId: {self.rid} Error: Runtime exited with error: {_exit_reason(code)}"
            return self.fail("Runtime.ExitError", message), False
        self.duration_ms = float(outcome.get("dur") or 0.0)
        self.memory_mb = worker.last_memory_mb = int(outcome.get("mem") or 0)
        result = self.finish(outcome["body"], bool(outcome.get("err")))
        return result, not outcome.get("fatal")
