"""Tests of the local Lambda runtime (warm worker subprocesses, no moto needed)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labhelpers.emulator.lambda_runtime import FunctionSpec, InvocationResult, LambdaRuntime

ENDPOINT = "http://127.0.0.1:5999"
REGION = "eu-west-1"
ACCOUNT = "123456789012"


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, textwrap.dedent(text))
    return buf.getvalue()


def make_spec(
    code: str | dict[str, str],
    *,
    name: str = "fn",
    handler: str = "lambda_function.lambda_handler",
    timeout: int = 3,
    runtime: str = "python3.12",
    environment: dict[str, str] | None = None,
    version: str = "$LATEST",
    memory_size: int = 128,
) -> FunctionSpec:
    files = code if isinstance(code, dict) else {"lambda_function.py": code}
    data = make_zip(files)
    return FunctionSpec(
        function_name=name,
        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        version=version,
        code_sha256=hashlib.sha256(data).hexdigest(),
        code_zip=data,
        handler=handler,
        runtime=runtime,
        timeout=timeout,
        memory_size=memory_size,
        environment=environment or {},
        region=REGION,
        account_id=ACCOUNT,
    )


@pytest.fixture
def rt(tmp_path: Path):
    runtime = LambdaRuntime(ENDPOINT, tmp_path / "work")
    yield runtime
    runtime.shutdown()


def body(result: InvocationResult):
    return json.loads(result.payload)


def messages(result: InvocationResult) -> list[str]:
    return [m for _, m in result.log_events]


def pid_gone(pid: int) -> bool:
    """Dead or a zombie (a container's PID 1 may never reap orphans)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pid_gone(pid):
            return True
        time.sleep(0.05)
    return False


ECHO = """
import os, sys
def lambda_handler(event, context):
    return {"event": event, "cwd": os.getcwd(), "path0": sys.path[0],
            "root": os.environ["LAMBDA_TASK_ROOT"], "pid": os.getpid()}
"""


# ------------------------------------------------------------------ code + pool


def test_code_extracted_once_atomically_and_used_as_task_root(rt, tmp_path):
    spec = make_spec(ECHO)
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: rt.invoke(spec, b'{"i": 1}'), range(4)))
    code_root = tmp_path / "work" / "code"
    dirs = list(code_root.iterdir())
    assert len(dirs) == 1 and not dirs[0].name.startswith(".extract-")
    for r in results:
        out = body(r)
        assert r.function_error is None
        assert out["event"] == {"i": 1}
        assert out["cwd"] == out["path0"] == out["root"] == str(dirs[0])
    # Same key again: no new extraction.
    rt.invoke(spec, b"{}")
    assert len(list(code_root.iterdir())) == 1


def test_nested_handler_path_and_package(rt):
    spec = make_spec(
        {
            "src/app/__init__.py": "",
            "src/app/handlers.py": "from . import helper\ndef go(e, c):\n    return helper.VALUE\n",
            "src/app/helper.py": "VALUE = 'nested'\n",
        },
        handler="src/app/handlers.go",
    )
    r = rt.invoke(spec, b"{}")
    assert r.function_error is None, r.payload
    assert body(r) == "nested"


def test_worker_stays_warm_module_code_runs_once(rt):
    spec = make_spec(
        """
        COUNT = 0
        AT_IMPORT = COUNT + 1
        def lambda_handler(event, context):
            global COUNT
            COUNT += 1
            return {"count": COUNT, "at_import": AT_IMPORT}
        """
    )
    counts = [body(rt.invoke(spec, b"{}")) for _ in range(3)]
    assert counts == [{"count": i, "at_import": 1} for i in (1, 2, 3)]
    assert rt.stats()["workers"] == 1


SLEEPER = """
import os, time
def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0.5))
    return os.getpid()
"""


def test_concurrent_invocations_run_in_parallel_workers(rt):
    spec = make_spec(SLEEPER)
    start = time.monotonic()
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: rt.invoke(spec, b'{"sleep": 0.5}'), range(4)))
    elapsed = time.monotonic() - start
    assert elapsed < 1.5, elapsed
    assert all(r.function_error is None for r in results)
    assert len({body(r) for r in results}) == 4
    assert len({r.log_stream for r in results}) == 4
    assert rt.stats()["workers"] == 4


def test_pool_is_capped_and_waits_for_idle_worker(tmp_path):
    with LambdaRuntime(ENDPOINT, tmp_path, max_workers_per_function=2) as rt:
        spec = make_spec(SLEEPER)
        start = time.monotonic()
        with ThreadPoolExecutor(4) as ex:
            results = list(ex.map(lambda i: rt.invoke(spec, b'{"sleep": 0.4}'), range(4)))
        elapsed = time.monotonic() - start
        assert all(r.function_error is None for r in results)
        assert len({body(r) for r in results}) == 2
        assert 0.75 < elapsed < 2.0
        assert rt.stats()["workers"] == 2


def test_new_code_sha_means_new_workers(rt):
    old = make_spec("def lambda_handler(e, c):\n    import os\n    return ['old', os.getpid()]\n")
    new = make_spec("def lambda_handler(e, c):\n    import os\n    return ['new', os.getpid()]\n")
    assert old.code_sha256 != new.code_sha256
    tag, old_pid = body(rt.invoke(old, b"{}"))
    assert tag == "old"
    tag, new_pid = body(rt.invoke(new, b"{}"))
    assert tag == "new" and new_pid != old_pid
    assert wait_gone(old_pid)
    assert rt.stats() == {"workers": 1, "busy": 0, "functions": 1, "pools": 1}


# ------------------------------------------------------------------ environment


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_workers_run_on_the_cpus_the_runtime_names_and_the_handler_never_sees_them(tmp_path):
    # The emulator pins its own threads to one CPU; its workers inherit that pin unless the
    # bootstrap applies the CPUs the runtime names. One CPU here shows that it did.
    cpu = min(os.sched_getaffinity(0))
    spec = make_spec(
        "import os\n"
        "def lambda_handler(e, c):\n"
        "    tasks = os.listdir('/proc/self/task')\n"
        "    return {'cpus': [sorted(os.sched_getaffinity(int(t))) for t in tasks],\n"
        "            'private': [k for k in os.environ if k.startswith('_LABHELPERS')]}\n"
    )
    with LambdaRuntime(ENDPOINT, tmp_path, worker_cpus={cpu}) as rt:
        out = body(rt.invoke(spec, b"{}"))
    assert len(out["cpus"]) >= 3  # the handler's thread and the bootstrap's two
    assert out["cpus"] == [[cpu]] * len(out["cpus"])
    assert out["private"] == []


def test_worker_environment_is_only_the_lambda_one(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "host-key")
    monkeypatch.setenv("AWS_PROFILE", "host-profile")
    monkeypatch.setenv("SOME_HOST_VARIABLE", "leak")
    spec = make_spec(
        "import os\ndef lambda_handler(e, c):\n    return dict(os.environ)\n",
        environment={"TABLE": "scores"},
        memory_size=256,
    )
    with LambdaRuntime(ENDPOINT, tmp_path) as rt:
        r = rt.invoke(spec, b"{}")
    env = body(r)
    assert "host-secret" not in env.values() and "host-key" not in env.values()
    assert "AWS_PROFILE" not in env and "SOME_HOST_VARIABLE" not in env
    assert env["TABLE"] == "scores"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == r.log_stream
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["TZ"] == ":UTC"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert env["AWS_SECRET_ACCESS_KEY"] == env["AWS_ACCESS_KEY_ID"] == "testing"
    allowed = {
        "TABLE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_EXECUTION_ENV", "_HANDLER", "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR", "TZ", "LANG", "PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "PYTHONPATH",
        "LC_CTYPE",  # Python's own C-locale coercion may add it
    }
    assert set(env) <= allowed, set(env) - allowed


def test_context_object(rt):
    spec = make_spec(
        """
        def lambda_handler(event, context):
            return {k: getattr(context, k) for k in (
                "function_name", "function_version", "invoked_function_arn", "memory_limit_in_mb",
                "aws_request_id", "log_group_name", "log_stream_name")} | {
                "remaining": context.get_remaining_time_in_millis()}
        """,
        timeout=5,
        memory_size=512,
    )
    r = rt.invoke(spec, b"{}", request_id="req-123")
    ctx = body(r)
    assert r.request_id == "req-123"
    assert ctx["function_name"] == "fn" and ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == spec.function_arn
    assert ctx["memory_limit_in_mb"] == 512
    assert ctx["aws_request_id"] == "req-123"
    assert ctx["log_group_name"] == r.log_group == "/aws/lambda/fn"
    assert ctx["log_stream_name"] == r.log_stream
    assert 4000 < ctx["remaining"] <= 5000


# ------------------------------------------------------------------ results and errors


def test_result_encoding_none_decimal_unicode(rt):
    spec = make_spec(
        """
        from decimal import Decimal
        def lambda_handler(event, context):
            return {"none": None, "n": Decimal("5"), "f": Decimal("1.5"), "txt": "héllo ✓"} if event else None
        """
    )
    assert rt.invoke(spec, b"").payload == b"null"
    r = rt.invoke(spec, b'{"x": 1}')
    assert r.payload.decode("utf-8") == '{"none": null, "n": 5, "f": 1.5, "txt": "héllo ✓"}'
    # Before python3.12, AWS escaped non-ASCII characters.
    r = rt.invoke(make_spec(spec_code := "def lambda_handler(e, c):\n    return 'é'\n", runtime="python3.11"), b"{}")
    assert r.payload == b'"\\u00e9"', spec_code


def test_marshal_error(rt):
    spec = make_spec("import datetime\ndef lambda_handler(e, c):\n    return datetime.date(2024, 1, 1)\n")
    r = rt.invoke(spec, b"{}", request_id="rid-m")
    out = body(r)
    assert r.function_error == "Unhandled"
    assert out["errorType"] == "Runtime.MarshalError"
    assert out["errorMessage"] == "Unable to marshal response: Object of type date is not JSON serializable"
    assert out["requestId"] == "rid-m"


def test_handler_exception_payload_matches_aws_and_worker_survives(rt):
    spec = make_spec(
        {
            "handler.py": 'N = 0\ndef handler(event, context):\n    raise Exception("Some exception was raised.")\n'
            "def ok(event, context):\n    return 'fine'\n"
        },
        handler="handler.handler",
    )
    r = rt.invoke(spec, b"{}", request_id="11111111-2222-3333-4444-555555555555")
    assert r.function_error == "Unhandled"
    expected = json.dumps(
        {
            "errorMessage": "Some exception was raised.",
            "errorType": "Exception",
            "requestId": "11111111-2222-3333-4444-555555555555",
            "stackTrace": [
                '  File "/var/task/handler.py", line 3, in handler\n'
                '    raise Exception("Some exception was raised.")\n'
            ],
        }
    )
    assert r.payload.decode() == expected
    assert any(m.startswith("[ERROR] Exception: Some exception was raised.") for m in messages(r))
    again = rt.invoke(spec, b"{}")
    assert again.log_stream == r.log_stream  # same warm worker
    assert rt.stats()["workers"] == 1


def test_custom_exception_type_and_nested_frames(rt):
    spec = make_spec(
        """
        class ValidationError(Exception):
            pass
        def check(x):
            raise ValidationError(f"bad {x}")
        def lambda_handler(event, context):
            check(event["x"])
        """
    )
    out = body(rt.invoke(spec, b'{"x": 7}'))
    assert out["errorType"] == "ValidationError" and out["errorMessage"] == "bad 7"
    assert len(out["stackTrace"]) == 2
    assert all("/var/task/lambda_function.py" in line for line in out["stackTrace"])
    assert "lambda_bootstrap" not in json.dumps(out)


def test_import_error(rt):
    spec = make_spec("import does_not_exist_xyz\ndef lambda_handler(e, c):\n    return 1\n")
    r = rt.invoke(spec, b"{}", request_id="rid-i")
    assert r.function_error == "Unhandled"
    assert body(r) == {
        "errorMessage": "Unable to import module 'lambda_function': No module named 'does_not_exist_xyz'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "rid-i",
        "stackTrace": [],
    }
    # The broken sandbox is reset, and a later invocation retries the import.
    assert rt.invoke(spec, b"{}").log_stream != r.log_stream


def test_missing_module_file(rt):
    spec = make_spec({"other.py": "x = 1\n"})
    out = body(rt.invoke(spec, b"{}"))
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"] == "Unable to import module 'lambda_function': No module named 'lambda_function'"


def test_handler_not_found(rt):
    spec = make_spec("def other(e, c):\n    return 1\n")
    r = rt.invoke(spec, b"{}")
    out = body(r)
    assert r.function_error == "Unhandled"
    assert out["errorType"] == "Runtime.HandlerNotFound"
    assert out["errorMessage"] == "Handler 'lambda_handler' missing on module 'lambda_function'"


def test_exception_at_import_time(rt):
    spec = make_spec('print("loading")\nraise ValueError("no config")\n')
    r = rt.invoke(spec, b"{}")
    out = body(r)
    assert r.function_error == "Unhandled"
    assert out["errorType"] == "ValueError" and out["errorMessage"] == "no config"
    assert out["stackTrace"][0].startswith('  File "/var/task/lambda_function.py", line 2, in <module>')
    assert "loading" in messages(r)


def test_syntax_error(rt):
    out = body(rt.invoke(make_spec("def lambda_handler(e, c)\n    return 1\n"), b"{}"))
    assert out["errorType"] == "Runtime.UserCodeSyntaxError"
    assert out["errorMessage"].startswith("Syntax error in module 'lambda_function'")


def test_payload_empty_and_invalid_json(rt):
    spec = make_spec("def lambda_handler(e, c):\n    return e\n")
    assert body(rt.invoke(spec, b"")) == {}
    r = rt.invoke(spec, b"{not json")
    out = body(r)
    assert r.function_error == "Unhandled"
    assert out["errorType"] == "Runtime.UnmarshalError"
    assert out["errorMessage"].startswith("Unable to unmarshal input: ")
    ok = rt.invoke(spec, b"[1, 2]")
    assert body(ok) == [1, 2] and ok.log_stream == r.log_stream  # nothing was killed


def test_unsupported_runtime_and_bad_zip(rt):
    r = rt.invoke(make_spec("x = 1\n", runtime="nodejs20.x"), b"{}")
    out = body(r)
    assert r.function_error == "Unhandled" and out["errorType"] == "Runtime.InvalidRuntime"
    assert "nodejs20.x" in out["errorMessage"]
    bad = FunctionSpec(**{**make_spec("x = 1\n").__dict__, "code_zip": b"not a zip", "code_sha256": "bad"})
    r = rt.invoke(bad, b"{}")
    assert r.function_error == "Unhandled" and "unpack" in body(r)["errorMessage"]
    assert rt.stats()["workers"] == 0


# ------------------------------------------------------------------ timeout and crashes


def test_timeout_kills_worker_and_next_invocation_gets_fresh_one(rt):
    spec = make_spec(
        """
        import os, subprocess, time
        def lambda_handler(event, context):
            if event.get("sleep"):
                child = subprocess.Popen(["sleep", "30"])
                print("child", child.pid)
                time.sleep(event["sleep"])
            return os.getpid()
        """,
        timeout=1,
    )
    rt.invoke(spec, b"{}")  # warm up: the timeout then measures the handler only
    start = time.monotonic()
    r = rt.invoke(spec, b'{"sleep": 10}', request_id="rid-t")
    elapsed = time.monotonic() - start
    assert elapsed < 2.5, elapsed
    assert r.function_error == "Unhandled"
    assert body(r) == {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: rid-t Error: Task timed out after 1.00 seconds"}
    msgs = messages(r)
    assert any(m.endswith(" rid-t Task timed out after 1.00 seconds") and m[:4].isdigit() for m in msgs)
    assert msgs[-2] == "END RequestId: rid-t" and msgs[-1].startswith("REPORT RequestId: rid-t\tDuration: 1000.00 ms")
    # The whole process group died, including the handler's own child process.
    child_pid = int(next(m for m in msgs if m.startswith("child ")).split()[1])
    assert wait_gone(child_pid)
    nxt = rt.invoke(spec, b"{}")
    assert nxt.function_error is None and nxt.log_stream != r.log_stream


def test_cold_start_with_slow_import_gets_init_budget(rt):
    spec = make_spec("import time\ntime.sleep(1.3)\ndef lambda_handler(e, c):\n    return 'ok'\n", timeout=1)
    r = rt.invoke(spec, b"{}")
    assert r.function_error is None and body(r) == "ok"
    assert "Init Duration: " in messages(r)[-1]


@pytest.mark.parametrize(
    "code, reason",
    [
        ("import os; os._exit(3)", "exit status 3"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "signal: killed"),
        ("import ctypes; ctypes.string_at(0)", "signal: segmentation fault"),
        ("import sys; sys.exit(4)", "exit status 4"),
    ],
)
def test_worker_death_is_exit_error_and_next_invocation_works(rt, code, reason):
    spec = make_spec(f"def lambda_handler(event, context):\n    if event.get('die'):\n        {code}\n    return 'alive'\n")
    first = rt.invoke(spec, b"{}")
    r = rt.invoke(spec, b'{"die": true}', request_id="rid-x")
    assert r.function_error == "Unhandled"
    assert body(r) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: rid-x Error: Runtime exited with error: {reason}",
    }
    assert messages(r)[-2:][0] == "END RequestId: rid-x"
    nxt = rt.invoke(spec, b"{}")
    assert body(nxt) == "alive" and nxt.log_stream not in (first.log_stream, r.log_stream)
    assert rt.stats()["workers"] == 1


def test_worker_that_died_while_idle_is_replaced(rt):
    spec = make_spec("import os\ndef lambda_handler(e, c):\n    return os.getpid()\n")
    pid = body(rt.invoke(spec, b"{}"))
    os.kill(pid, 9)
    # Wait until the kernel reports the (multi-threaded) worker as fully exited.
    end = time.monotonic() + 5
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < end
        time.sleep(0.01)
    r = rt.invoke(spec, b"{}")
    assert r.function_error is None and body(r) != pid


# ------------------------------------------------------------------ logs


def test_logs_capture_print_stderr_logging_and_report_lines(rt):
    spec = make_spec(
        """
        import logging, os, sys
        print("module level")
        logger = logging.getLogger()
        def lambda_handler(event, context):
            print("hello", event["n"])
            print("two\\nlines")
            sys.stderr.write("to stderr\\n")
            logging.info("hidden info")
            logger.warning("a warning")
            if event["n"] == 2:
                logger.setLevel(logging.INFO)
                logging.info("visible info")
            os.write(1, b"c-level write\\n")
            sys.stdout.write("no newline")
            return "done"
        """
    )
    r1 = rt.invoke(spec, b'{"n": 1}', request_id="rid-1")
    m1 = messages(r1)
    assert m1[0] == "START RequestId: rid-1 Version: $LATEST"
    assert m1[-2] == "END RequestId: rid-1"
    assert m1[-1].startswith("REPORT RequestId: rid-1\tDuration: ")
    assert "\tBilled Duration: " in m1[-1] and "\tMemory Size: 128 MB\tMax Memory Used: " in m1[-1]
    assert "\tInit Duration: " in m1[-1]
    for line in ("module level", "hello 1", "two", "lines", "to stderr", "no newline"):
        assert line in m1
    assert not any("hidden info" in m for m in m1)
    warning = next(m for m in m1 if "a warning" in m)
    level, stamp, rid, text = warning.split("\t")
    assert (level, rid, text) == ("[WARNING]", "rid-1", "a warning")
    assert stamp.endswith("Z") and stamp[10] == "T" and len(stamp) == 24
    assert all(isinstance(ts, int) and ts > 1_600_000_000_000 for ts, _ in r1.log_events)

    r2 = rt.invoke(spec, b'{"n": 2}', request_id="rid-2")
    m2 = messages(r2)
    assert "module level" not in m2 and "Init Duration" not in m2[-1]
    assert any(m.startswith("[INFO]\t") and m.endswith("\trid-2\tvisible info") for m in m2)
    # C-level writes arrive asynchronously (a pipe): in this or the next invocation's log.
    r3 = rt.invoke(spec, b'{"n": 3}')
    assert "c-level write" in m1 + m2 + messages(r3)


def test_protocol_survives_hostile_output_large_payloads_and_unicode(rt):
    spec = make_spec(
        """
        import struct, sys, os
        def lambda_handler(event, context):
            print('{"t": "r", "err": false}', struct.pack("!II", 5, 5))
            sys.stdout.buffer.write(struct.pack("!II", 2, 0) + b"{}\\n")
            os.write(2, struct.pack("!II", 13, 0) + b'{"t":"r"}\\n')
            print("ünïcødé ✓ 日本")
            return {"echo": event, "big": "x" * 1_000_000}
        """
    )
    event = {"data": "é" * 500_000, "emoji": "🚀"}
    r = rt.invoke(spec, json.dumps(event).encode())
    assert r.function_error is None
    out = body(r)
    assert out["echo"] == event and len(out["big"]) == 1_000_000
    assert "ünïcødé ✓ 日本" in messages(r)
    assert body(rt.invoke(spec, b"{}"))["echo"] == {}


def test_log_tail_is_last_4kb_utf8_safe():
    events = [(0, "START"), (0, "é" * 3000), (0, "END")]
    res = InvocationResult(b"null", None, "/aws/lambda/x", "s", events, "r", 1.0)
    tail = res.log_tail()
    assert len(tail.encode("utf-8")) <= 4096
    assert tail.endswith("é\nEND\n")
    assert "START" not in tail
    small = InvocationResult(b"null", None, "g", "s", [(0, "a"), (0, "b")], "r", 1.0)
    assert small.log_tail() == "a\nb\n"


# ------------------------------------------------------------------ lifecycle


def test_shutdown_forget_and_stats(tmp_path):
    rt = LambdaRuntime(ENDPOINT, tmp_path)
    a = make_spec(SLEEPER, name="a")
    b = make_spec(SLEEPER, name="b")
    pid_a = body(rt.invoke(a, b'{"sleep": 0}'))
    pid_b = body(rt.invoke(b, b'{"sleep": 0}'))
    assert rt.stats()["workers"] == 2 and rt.stats()["functions"] == 2
    rt.forget("a")
    assert wait_gone(pid_a) and not pid_gone(pid_b)
    assert rt.stats()["workers"] == 1 and rt.stats()["functions"] == 1
    # A running invocation ends when the runtime shuts down.
    holder: list[InvocationResult] = []
    t = threading.Thread(target=lambda: holder.append(rt.invoke(b, b'{"sleep": 5}')))
    t.start()
    time.sleep(0.3)
    start = time.monotonic()
    rt.shutdown()
    t.join(3)
    assert not t.is_alive() and time.monotonic() - start < 3
    assert holder[0].function_error == "Unhandled"
    assert wait_gone(pid_b)
    assert rt.stats()["workers"] == 0
    rt.shutdown()  # idempotent
    late = rt.invoke(b, b"{}")
    assert late.function_error == "Unhandled" and "shut down" in body(late)["errorMessage"]


def test_workers_exit_when_parent_process_dies(tmp_path):
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(
        f"""
        import hashlib, io, os, sys, threading, time, zipfile
        from pathlib import Path
        from labhelpers.emulator.lambda_runtime import FunctionSpec, LambdaRuntime
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("lambda_function.py",
                "import os, time\\ndef lambda_handler(e, c):\\n"
                "    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\\n    time.sleep(60)\\n")
        data = buf.getvalue()
        spec = FunctionSpec("p", "arn:p", "$LATEST", hashlib.sha256(data).hexdigest(), data,
                            "lambda_function.lambda_handler", "python3.12", 120, 128, {{}}, "us-east-1", "1")
        rt = LambdaRuntime("http://x", Path({str(tmp_path / "work")!r}))
        threading.Thread(target=rt.invoke, args=(spec, b"{{}}"), daemon=True).start()
        while not os.path.exists({str(pid_file)!r}) or not open({str(pid_file)!r}).read():
            time.sleep(0.02)
        os._exit(0)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", script], env=env, timeout=30, check=True)
    worker_pid = int(pid_file.read_text())
    assert wait_gone(worker_pid, 5)


def test_init_phase_has_its_own_bounded_budget(rt, monkeypatch):
    from labhelpers.emulator import lambda_runtime

    monkeypatch.setattr(lambda_runtime, "INIT_TIMEOUT_S", 1.0)
    spec = make_spec("import time\ntime.sleep(30)\ndef lambda_handler(e, c):\n    return 1\n", timeout=5)
    start = time.monotonic()
    r = rt.invoke(spec, b"{}", request_id="rid-init")
    assert time.monotonic() - start < 2.5
    assert r.function_error == "Unhandled"
    assert body(r)["errorType"] == "Sandbox.Timedout"
    assert rt.stats()["workers"] == 0


def test_unstartable_python_is_an_error_result(tmp_path):
    with LambdaRuntime(ENDPOINT, tmp_path, python="/nonexistent/python3") as rt:
        r = rt.invoke(make_spec("def lambda_handler(e, c):\n    return 1\n"), b"{}")
        assert r.function_error == "Unhandled"
        assert body(r)["errorType"] == "Runtime.ExitError"
        assert rt.stats()["workers"] == 0


def test_many_threads_mixed_outcomes(tmp_path):
    spec = make_spec(
        """
        import os, sys
        def lambda_handler(event, context):
            print("req", context.aws_request_id)
            if event["i"] % 7 == 0:
                raise RuntimeError(f"fail {event['i']}")
            if event["i"] % 11 == 0:
                os._exit(1)
            return event["i"]
        """
    )
    with LambdaRuntime(ENDPOINT, tmp_path, max_workers_per_function=3) as rt:
        def call(i: int) -> tuple[int, InvocationResult]:
            return i, rt.invoke(spec, json.dumps({"i": i}).encode(), request_id=f"r{i}")

        with ThreadPoolExecutor(12) as ex:
            results = list(ex.map(call, range(1, 121)))
        for i, r in results:
            assert f"req r{i}" in messages(r)  # each log holds only its own request
            assert not any(m.startswith("req ") and m != f"req r{i}" for m in messages(r))
            if i % 7 == 0:
                assert body(r)["errorMessage"] == f"fail {i}"
            elif i % 11 == 0:
                assert body(r)["errorType"] == "Runtime.ExitError"
            else:
                assert r.function_error is None and body(r) == i
        assert rt.stats()["workers"] <= 3
