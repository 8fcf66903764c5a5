"""The emulator's patch layer: everything moto lacks or gets wrong, fixed in one place.

Each patch is named for what it fixes and records the source fingerprint of
the moto function it replaces or wraps. ``tests/test_patches.py`` fails when a
moto upgrade changes one of those functions, so a patch can never silently
stop applying. The patches are written against moto ``MOTO_SERIES``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import inspect
import io
import logging
import math
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

MOTO_SERIES = "5.2."
log = logging.getLogger("labhelpers.emulator")


@dataclass(frozen=True)
class Patch:
    """One fix: which moto function it touches and the fingerprint of that function's source."""

    name: str
    why: str
    module: str
    attribute: str  # "function" or "Class.method"
    source_sha256: str
    install: Callable[[Any], None]

    @classmethod
    def replacing(cls, name: str, why: str, module: str, attribute: str, source_sha256: str,
                  make: Callable[[Any], Any]) -> "Patch":
        """The common case: replace ``module.attribute`` with ``make(original)``."""
        return cls(name, why, module, attribute, source_sha256, lambda rt: _replace(module, attribute, make))

    def original(self) -> Any:
        obj: Any = importlib.import_module(self.module)
        for part in self.attribute.split("."):
            obj = getattr(obj, part)
        return getattr(obj, "__labhelpers_original__", obj)


def source_fingerprint(func: Any) -> str:
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()[:16]


def _wrap_current(module: str, attribute: str, make: Callable[[Any], Any], marker: str | None = None) -> None:
    """Like :func:`_replace`, but wrap the attribute as it is now, so patches of one function stack.

    ``marker`` makes the wrap idempotent: a second install finds it and does nothing. moto's own
    function stays reachable as ``__labhelpers_original__`` for the fingerprint test.
    """
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    current = getattr(owner, name)
    if marker and getattr(current, marker, False):
        return
    replacement = make(current)
    replacement.__labhelpers_original__ = getattr(current, "__labhelpers_original__", current)
    if marker:
        setattr(replacement, marker, True)
    setattr(owner, name, replacement)


def _replace(module: str, attribute: str, make: Callable[[Any], Any]) -> None:
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    original = getattr(original, "__labhelpers_original__", original)
    replacement = make(original)
    replacement.__labhelpers_original__ = original
    setattr(owner, name, replacement)


def _replace_everywhere(module: str, name: str, make: Callable[[Any], Any], users: tuple[str, ...]) -> None:
    """Replace a function in its module and in the ``users`` modules that imported it by name."""
    _replace(module, name, make)
    replacement = getattr(importlib.import_module(module), name)
    for module_name in users:
        setattr(importlib.import_module(module_name), name, replacement)


# --- Lambda: run the handler code ------------------------------------------------

_runtime: Any = None
_log_streams: set[tuple[str, str, str, str]] = set()
_log_lock = threading.Lock()


def _function_spec(fn: Any) -> Any:
    from labhelpers.emulator.lambda_runtime import FunctionSpec

    return FunctionSpec(
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        version=str(fn.version),
        code_sha256=fn.code_sha_256,
        code_zip=fn.code_bytes,
        handler=fn.handler or "",
        runtime=fn.run_time or "",
        timeout=int(fn.timeout or 3),
        memory_size=int(fn.memory_size or 128),
        environment=dict(fn.environment_vars or {}),
        region=fn.region,
        account_id=fn.account_id,
    )


def _save_logs(fn: Any, result: Any) -> None:
    """Write an invocation's log events to CloudWatch Logs, one stream per worker as AWS does."""
    logs = fn.logs_backend
    key = (fn.account_id, fn.region, result.log_group, result.log_stream)
    with _log_lock:
        logs.ensure_log_group(result.log_group)
        if key not in _log_streams or result.log_stream not in logs.groups[result.log_group].streams:
            logs.ensure_log_stream(result.log_group, result.log_stream)
            _log_streams.add(key)
        events = [{"timestamp": ts, "message": msg} for ts, msg in result.log_events]
        if events:
            logs.put_log_events(result.log_group, result.log_stream, events)


def run_invocation(fn: Any, payload: bytes) -> Any:
    """Run one invocation of a moto LambdaFunction on the real runtime and log it."""
    result = _runtime.invoke(_function_spec(fn), payload)
    try:
        _save_logs(fn, result)
    except Exception:  # a logging failure must never fail the invocation
        log.exception("could not save the logs of %s", fn.function_name)
    return result


def _lambda_invoke(original: Any) -> Any:
    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        payload = body.encode() if isinstance(body, str) else (body or b"")
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            threading.Thread(target=run_invocation, args=(self, payload), daemon=True).start()
            return b""
        result = run_invocation(self, payload)
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-executed-version"] = str(self.version)
        # responses.py drops this header unless the caller asked for LogType=Tail.
        response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail().encode()).decode()
        return result.payload

    return invoke


def _deleted_function_stops_workers(original: Any) -> Any:
    def delete_function(self: Any, function_name: str, qualifier: str | None = None) -> None:
        original(self, function_name, qualifier)
        if qualifier is None:
            # Warm workers of a deleted function would hold their memory until the emulator stops.
            _runtime.forget(function_name.split(":")[6] if function_name.startswith("arn:") else function_name)

    return delete_function


def _split_function_name(name: str, region: str) -> tuple[str, str, str | None]:
    """(account, name, qualifier) from a function name, partial ARN or full ARN."""
    from moto.core import DEFAULT_ACCOUNT_ID

    parts = name.split(":")
    if name.startswith("arn:") and len(parts) >= 7:
        return parts[4], parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) == 2:
        return DEFAULT_ACCOUNT_ID, parts[0], parts[1]
    return DEFAULT_ACCOUNT_ID, name, None


def _sfn_invoke_in_process(original: Any) -> Any:
    def _invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> dict:
        from botocore.exceptions import ClientError
        from moto.awslambda.models import lambda_backends
        from moto.core.exceptions import JsonRESTError

        account, name, qualifier = _split_function_name(parameters["FunctionName"], region)
        qualifier = parameters.get("Qualifier") or qualifier
        try:
            fn = lambda_backends[account][region].get_function(name, qualifier)
        except JsonRESTError as err:
            # The same error boto3 would raise, so the interpreter reports it as on AWS.
            raise ClientError({"Error": {"Code": err.error_type, "Message": err.message}}, "Invoke") from None
        payload = parameters.get("Payload") or b"{}"
        result = run_invocation(fn, payload if isinstance(payload, bytes) else str(payload).encode())
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

        response: dict[str, Any] = {
            "StatusCode": 200,
            "ExecutedVersion": str(fn.version),
            "Payload": lambda_eval_utils._from_payload(io.BytesIO(result.payload)),
        }
        if result.function_error:
            response["FunctionError"] = result.function_error
        return response

    return _invoke_lambda_function


# --- Step Functions -------------------------------------------------------------

def _execution_names_like_aws(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None,
                        execution_input: Any = None, trace_header: Any = None) -> Any:
        # AWS names an unnamed execution with a UUID; moto names them all "None".
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_execution


def _describe_execution_as_aws(original: Any) -> Any:
    def describe_execution(self: Any) -> Any:
        from moto.core.responses import ActionResult

        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        if not hasattr(execution, "to_describe_output"):
            return original(self)
        # moto's response returns a string output without its JSON quotes ("done" comes back as
        # done) and no stopDate for TIMED_OUT; the interpreter's own rendering gets both right.
        return ActionResult({k: v for k, v in execution.to_describe_output().items() if v is not None})

    return describe_execution


def _install_string_escapes_decoded(_: Any) -> None:
    import json

    preprocessor = importlib.import_module(_PREPROCESSOR).Preprocessor
    original = preprocessor.__dict__["_inner_string_of"].__func__
    original = getattr(original, "__labhelpers_original__", original)

    def _inner_string_of(parser_rule_context: Any) -> str | None:
        # moto strips a string literal's quotes but keeps its JSON escapes: a JSONPath filter
        # written [?(@.name == \"b\")] failed to parse and "say \"hi\"" kept its backslashes.
        text = original(parser_rule_context)
        if text is None or "\\" not in text:
            return text
        try:
            return json.loads(f'"{text}"')
        except ValueError:
            return text

    _inner_string_of.__labhelpers_original__ = original
    preprocessor._inner_string_of = staticmethod(_inner_string_of)


def _choice_missing_path_fails(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
            FailureEvent, FailureEventException)
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType)
        from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
            ComparisonOperatorType)
        from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
        from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

        self.variable.eval(env)
        missing = isinstance(env.stack[-1], NoSuchVariable)
        if missing and self.comparison_function.operator_type != ComparisonOperatorType.IsPresent:
            # AWS fails the execution here; moto quietly treated the rule as false.
            path = self.variable.string_sampler.literal_value
            cause = f"Invalid path '{path}': The choice state's condition path references an invalid value."
            runtime = StatesErrorNameType.StatesRuntime
            raise FailureEventException(failure_event=FailureEvent(
                env=env, error_name=StatesErrorName(typ=runtime), event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    error=runtime.to_name(), cause=cause))))
        self.comparison_function.eval(env)

    return _eval_body


def _error_name_for(name: str | None) -> Any:
    """A States.* error keeps its reserved name; anything else is a custom error name."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName

    if name and name.startswith("States."):
        try:
            return StatesErrorName.from_name(name)
        except ValueError:
            pass  # an unknown States.* name: let CustomErrorName reject it as before
    return CustomErrorName(name)


def _states_errors_propagate(module: str) -> Callable[[Any], None]:
    def install(runtime: Any) -> None:
        # A branch or iteration that fails with States.Runtime (or States.Timeout...) re-raised the
        # name as a *custom* error, which refuses the States. prefix: the execution then failed with
        # "ValueError(Custom Error Names MUST NOT begin with the prefix 'States.')" instead.
        setattr(importlib.import_module(module), "CustomErrorName", lambda error_name=None: _error_name_for(error_name))

    return install


def _cached_boto_clients(original: Any) -> Any:
    cache: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # boto3 clients are thread-safe; building one per call costs milliseconds.
        key = (region, service)
        client = cache.get(key)
        if client is None:
            with lock:
                client = cache.get(key) or original(region, service, state_credentials)
                cache[key] = client
        return client

    return boto_client_for


# --- CloudWatch -----------------------------------------------------------------

def _list_metrics_once_per_metric(original: Any) -> Any:
    def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: Any) -> list:
        # moto only de-duplicates metrics that have dimensions: one entry per datapoint otherwise.
        seen: set = set()
        unique = []
        for datum in original(self, metric_name, namespace, dimensions):
            key = (datum.namespace, datum.name,
                   tuple(sorted((d.name, d.value) for d in datum.dimensions)))
            if key not in seen:
                seen.add(key)
                unique.append(datum)
        return unique

    return get_filtered_metrics


def _percentile_statistics(original: Any) -> Any:
    def get_statistics_for_type(self: Any, stat: str) -> Any:
        # CloudWatch answers percentile statistics ("p90", "p99.9") for raw datapoints; moto returns None.
        match = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?|100)", stat or "")
        if not match:
            return original(self, stat)
        values = sorted(self.metric_single_values_list)
        if not values:
            return None
        rank = math.ceil(float(match.group(1)) / 100 * len(values))  # nearest-rank method
        return values[min(max(rank, 1), len(values)) - 1]

    return get_statistics_for_type


# A metric is its namespace, name *and exact set of dimensions*: a query without dimensions must
# not see datapoints put with a Level dimension. moto filters by dimensions only when the query
# has some (and then by subset). The two query APIs set a per-thread scope that get_all_metrics honours.
_metric_scope = threading.local()


def _dimension_key(dimensions: Any) -> tuple:
    return tuple(sorted((d["Name"], d.get("Value")) if isinstance(d, dict) else (d.name, d.value)
                        for d in dimensions or []))


def _metrics_in_scope(original: Any) -> Any:
    def get_all_metrics(self: Any) -> list:
        metrics = original(self)
        scope = getattr(_metric_scope, "dimensions", None)
        if scope is None:
            return metrics
        return [md for md in metrics if _dimension_key(md.dimensions) == scope]

    return get_all_metrics


def _scoped(dimensions: Any, call: Callable[[], Any]) -> Any:
    _metric_scope.dimensions = _dimension_key(dimensions)
    try:
        return call()
    finally:
        _metric_scope.dimensions = None


def _statistics_exact_dimensions(original: Any) -> Any:
    def get_metric_statistics(self: Any, namespace: str, metric_name: str, start_time: Any, end_time: Any,
                              period: int, stats: list, dimensions: list, unit: str | None = None) -> Any:
        return _scoped(dimensions, lambda: original(self, namespace, metric_name, start_time, end_time,
                                                    period, stats, dimensions, unit))

    return get_metric_statistics


def _metric_data_exact_dimensions(original: Any) -> Any:
    def get_metric_data(self: Any, queries: list, start_time: Any, end_time: Any,
                        scan_by: str = "TimestampAscending") -> list:
        if any("MetricStat" not in q for q in queries):  # metric math: leave it to moto
            return original(self, queries, start_time, end_time, scan_by)
        results: list = []
        for query in queries:
            dims = query["MetricStat"]["Metric"].get("Dimensions", [])
            results += _scoped(dims, lambda q=query: original(self, [q], start_time, end_time, scan_by))
        return results

    return get_metric_data


# --- Logging ----------------------------------------------------------------------

def _short_failure_log(original: Any) -> Any:
    def log_failure(self: Any, *args: Any, **kwargs: Any) -> None:
        # moto logs repr(component) -- the whole parsed definition -- at ERROR for every
        # level a failure passes through. The history already records the failure.
        if log.isEnabledFor(logging.DEBUG):
            exc = (args or list(kwargs.values()) or [None])[0]
            log.debug("%s %s failed: %r", type(self).__name__, getattr(self, "name", ""), exc)

    return log_failure



# --- Performance: moto's hot paths, measured with benchmarks/run.py -------------------------------

_PARSED_PROGRAMS_MAX = 64  # distinct definitions kept parsed; a class edits a handful


def _walk_components(root: Any) -> Iterator[Any]:
    """Every Component reachable from ``root`` through attributes, lists, tuples and dicts."""
    from moto.stepfunctions.parser.asl.component.component import Component

    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Component):
            yield obj
            stack.extend(vars(obj).values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())


def _definition_parsed_once(original: Any) -> Any:
    from collections import OrderedDict

    cache: OrderedDict[str, Any] = OrderedDict()
    lock = threading.Lock()

    def _get_evaluation_entrypoint(self: Any) -> Any:
        # Parsing the ASL (antlr lexer, parser, preprocessor) cost a third of the CPU of every
        # execution. The parsed program is immutable while it runs (per-execution state lives
        # in the Environment), so one parse per definition text serves every execution.
        definition = self._evaluation_details.state_machine_details.definition
        with lock:
            program = cache.get(definition)
            if program is not None:
                cache.move_to_end(definition)
                return program
        program = original(self)
        from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

        for component in _walk_components(program):
            if isinstance(component, EvalComponent):
                # heap_key is a lazily drawn uuid: draw it now, not racily in concurrent executions.
                component.heap_key  # noqa: B018
        with lock:
            cache[definition] = program
            while len(cache) > _PARSED_PROGRAMS_MAX:
                cache.popitem(last=False)
        return program

    return _get_evaluation_entrypoint


def _install_jsonpath_parsed_once(_: Any) -> None:
    """jsonpath_ng builds a new yacc parser for every parse(); memoise parse per path text."""
    import functools

    from jsonpath_ng.ext import parse

    module = importlib.import_module(_JSON_PATH)
    if not hasattr(module.parse, "cache_info"):
        # Parsed JSONPath expressions are not mutated by find(), so they can be shared.
        module.parse = functools.lru_cache(maxsize=1024)(parse)


def _backend_lookup_cached(original: Any) -> Any:
    cache: dict[Any, Any] = {}

    def get_backend_for_host(self: Any, host: Any) -> Any:
        # Answered from os.listdir(moto) + ~200 isdir() + regexes per request, under the
        # dispatcher's global lock: the answer for a given Host never changes.
        try:
            return cache[host]
        except KeyError:
            pass
        backend = original(self, host)
        if len(cache) < 4096:  # hosts are few (one per service and region); bound it anyway
            cache[host] = backend
        return backend

    return get_backend_for_host


def _account_backend_found_without_lock(original: Any) -> Any:
    def __getitem__(self: Any, account_id: str) -> Any:
        # moto takes its global backend lock and scans the list of every service's backends
        # (a Python __eq__ per service) on each lookup, several times per request. An account
        # already present was registered when it was created (and a reset clears both).
        try:
            return dict.__getitem__(self, account_id)
        except KeyError:
            return original(self, account_id)

    return __getitem__


def _dispatch_without_flask(original: Any) -> Any:
    from botocore.exceptions import ClientError
    from flask import Response
    from werkzeug.exceptions import HTTPException

    from moto.core.utils import convert_to_flask_response
    from moto.moto_api import recorder

    def __call__(self: Any, environ: dict, start_response: Any) -> Any:
        # Flask's request context, URL adapter and after-request hooks cost a fifth of an
        # ordinary request. The view is moto's convert_to_flask_response around a callback:
        # call it as that wrapper does, with the same Request class and Response class.
        if environ.get("HTTP_ORIGIN") or environ.get("REQUEST_METHOD") == "OPTIONS":
            return original(self, environ, start_response)  # CORS: flask_cors answers those
        app = self.get_application(environ)
        try:
            endpoint, _ = app.url_map.bind_to_environ(environ).match()
        except HTTPException:  # 404, 405, a redirect: Flask answers as it always did
            return app(environ, start_response)
        view = app.view_functions.get(endpoint)
        if app.service == "moto_api" or type(view) is not convert_to_flask_response:
            return app(environ, start_response)  # the dashboard renders Flask templates
        request = app.request_class(environ)
        recorder._record_request(request)
        try:
            result = view.callback(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        response = Response(response=content, status=status, headers=headers)
        if request.method == "HEAD" and "content-length" in headers:
            response.headers["Content-Length"] = headers["content-length"]
        response.headers["Access-Control-Allow-Origin"] = "*"  # what flask_cors adds without an Origin
        return response(environ, start_response)

    return __call__


class _Discard(list):
    """A list that keeps nothing: moto appends every thread it starts and never reads them."""

    def append(self, item: Any) -> None:
        pass


#: The interpreter modules that do ``from ...parser.utils import TMP_THREADS``
#: (tests/test_perf_patches.py checks this list against moto's source).
TMP_THREADS_USERS = tuple(f"moto.stepfunctions.parser.{m}" for m in (
    "utils",
    "backend.execution_worker",
    "asl.component.program.program",
    "asl.component.test_state.program.test_state_program",
    "asl.component.state.exec.execute_state",
    "asl.component.state.exec.state_parallel.branch_worker",
    "asl.component.state.exec.state_map.iteration.inline_iteration_component",
    "asl.component.state.exec.state_task.service.state_task_service_callback",
))


def _install_threads_not_retained(_: Any) -> None:
    # TMP_THREADS kept every finished Thread (seven per execution of the lab machine) forever.
    sink = _Discard()
    for module_name in TMP_THREADS_USERS:
        setattr(importlib.import_module(module_name), "TMP_THREADS", sink)


class _ReusedThreads:
    """Runs the interpreter's short-lived threads (one per execution, one per Parallel branch)
    on threads that are kept and reused, like a pool with no upper bound.

    Starting a thread costs system calls (stack, TLS) and two context switches while the
    starter waits for it to run; the lab machine started three per execution. Up to
    ``keep_idle`` idle threads wait for the next task; a busy pool starts new ones, so a task
    never waits for another to finish (a branch may wait for its sibling)."""

    def __init__(self, keep_idle: int = 256, on_all_idle: Callable[[], None] | None = None) -> None:
        self.keep_idle = keep_idle
        self.on_all_idle = on_all_idle  # called when the last running task has finished
        self.running = 0
        self._lock = threading.Lock()
        self._idle: list[_ReusedThread] = []

    def start(self, task: Callable[[], None], name: str) -> None:
        with self._lock:
            self.running += 1
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            _ReusedThread(self, task, name)
        else:
            worker.give(task, name)

    def idle(self, worker: "_ReusedThread") -> bool:
        """Called by a thread that finished its task: True if it should wait for another."""
        with self._lock:
            self.running -= 1
            all_idle = self.running == 0
            keep = len(self._idle) < self.keep_idle
            if keep:
                self._idle.append(worker)
        if all_idle and self.on_all_idle is not None:
            try:
                self.on_all_idle()
            except Exception:  # this thread is already listed as idle: it must go on waiting
                log.exception("the interpreter's idle hook failed")
        return keep


class _ReusedThread:
    def __init__(self, pool: _ReusedThreads, task: Callable[[], None], name: str) -> None:
        self.pool = pool
        self.task: Callable[[], None] | None = task
        self.name = name
        self.wake = threading.Lock()
        self.wake.acquire()  # held: the thread blocks on it until give() releases it
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def give(self, task: Callable[[], None], name: str) -> None:
        self.task, self.name = task, name
        self.wake.release()

    def _run(self) -> None:
        while True:
            task, self.task = self.task, None
            try:
                task()
            except BaseException:  # what an unhandled exception in a thread does: report it
                threading.excepthook(threading.ExceptHookArgs((*sys.exc_info(), threading.current_thread())))
            del task
            if not self.pool.idle(self):
                return
            self.wake.acquire()
            threading.current_thread().name = self.name


def _on_interpreter_idle() -> None:
    from labhelpers.emulator import idle_gc

    idle_gc.collector.on_idle()


# No execution or branch running: the moment idle_gc freezes what has survived.
_interpreter_threads = _ReusedThreads(on_all_idle=_on_interpreter_idle)


def _execution_threads_reused(original: Any) -> Any:
    def start(self: Any) -> None:
        _interpreter_threads.start(self._execution_logic, "ExecutionWorker")

    return start


def _branch_threads_reused(original: Any) -> Any:
    def start(self: Any) -> None:
        if self._worker_thread is not None:
            raise RuntimeError("Attempted to rerun BranchWorker.")
        self._worker_thread = threading.current_thread()  # moto only logs its native_id

        def run() -> None:
            self._worker_thread = threading.current_thread()
            self._thread_routine()

        # moto named the thread f"BranchWorker_${program}": the repr of the whole branch,
        # rendered (CPU) and kept (8 KB) for every branch of every execution.
        _interpreter_threads.start(run, "BranchWorker")

    return start


def _program_inline_without_timeout(original: Any) -> Any:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    def eval(self: Any, env: Any) -> None:  # noqa: A001 - moto's method name
        if self.timeout_seconds:
            return original(self, env)  # TimeoutSeconds needs the watchdog thread
        # Without TimeoutSeconds moto's thread is joined without a timeout: the same as
        # running here, minus a thread start and a context switch per execution and branch.
        env.next_state_name = self.start_at.start_at_name
        try:
            EvalComponent.eval(self, env)
        except Exception:  # the thread's excepthook printed and carried on; so do we
            log.exception("state machine program failed")

    return eval


def _install_result_path_parsed_once(_: Any) -> None:
    """ResultPath builds a new jsonpath_ng yacc parser per state too: memoise it per path text."""
    import functools

    import jsonpath_ng

    module = importlib.import_module(_RESULT_PATH)
    if not hasattr(module.parse, "cache_info"):
        # update_or_create() writes into the data, never into the parsed expression.
        module.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.parse)


def _method_names_cached(original: Any) -> Any:
    cache: dict[Any, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        # inspect.getmembers() over a whole response class on every request; the names change
        # only when a class (or a base) gains an attribute, which its __dict__ size shows.
        stamp = tuple(len(vars(c)) for c in clazz.__mro__)
        hit = cache.get(clazz)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        names = original(clazz)
        cache[clazz] = (stamp, names)
        return names

    return method_names_from_class


_ALIAS_KEYS_MAX = 20_000  # (picker, class, member, shape) combinations; a few hundred in practice


def _alias_keys_cached(original: Any) -> Any:
    from moto.core.utils import get_value as lookup
    from moto.core.serialize import MISSING

    cache: dict[tuple, tuple[str, ...]] = {}

    def __call__(self: Any, context: Any) -> Any:
        # moto instantiates every alias provider for every member of every object it serializes
        # (a ListExecutions page of 1,000: 6 providers x 6 members x 1,000). Which keys to try
        # depends only on the picker, the object's class and the member's shape: compute once.
        obj = context.obj
        if "Meta" in getattr(obj, "__dict__", ()):  # aliases set on the instance itself
            return original(self, context)
        shape = context.shape
        providers = self.alias_providers
        cache_key = (type(self), tuple(providers) if type(providers) is list else providers,
                     type(obj), context.key, shape, getattr(shape, "parent", None))
        keys = cache.get(cache_key)
        if keys is None:
            if len(cache) >= _ALIAS_KEYS_MAX:
                cache.clear()
            keys = cache[cache_key] = tuple(self.get_possible_keys(context))
        for possible_key in keys:
            value = lookup(obj, possible_key, MISSING)
            if value is not MISSING:
                break
        else:
            value = None
        if self.response_transformers:
            key_path = f"{context.key_path}.{context.key}"
            for transform_path, transform in self.response_transformers.items():
                if key_path.endswith(transform_path):
                    return transform(value)
        return value

    return __call__


def _request_ids_drawn_at_once(original: Any) -> Any:
    import string

    from moto.moto_api._internal import mock_random

    alphabet = string.ascii_letters + string.digits  # moto's alphabet; its ids are 52 long

    def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
        # moto draws each of the 52 characters with its own random.choice() (about 20 us, several
        # per cent of a small request). One choices() call from the same seedable generator.
        request_id = "".join(mock_random.choices(alphabet, k=52))
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = request_id
        return request_id

    return gen_amzn_requestid_long


#: The modules that do ``from moto.utilities.aws_headers import gen_amzn_requestid_long``
#: (tests/test_perf_patches.py checks this list against moto's source).
REQUEST_ID_USERS = ("moto.core.responses",)


def _list_executions_written_directly(original: Any) -> Any:
    import datetime
    import json

    from moto import settings
    from moto.core.responses import ActionResult
    from moto.core.serialize import TimestampSerializer

    member_order: list[str] = []
    unix_time = TimestampSerializer._timestamp_unixtimestamp

    def written(value: Any) -> Any:
        if type(value) is str or type(value) is int:
            return value
        if isinstance(value, datetime.datetime):
            return unix_time(value)
        raise TypeError(type(value).__name__)

    def list_executions(self: Any) -> Any:
        # A page of 1,000 executions cost moto's generic serializer ~25 ms (six members, each
        # looked up through alias providers); the page holds only strings, numbers and dates.
        result = original(self)
        page = result.result if isinstance(result, ActionResult) else None
        if not isinstance(page, dict) or settings.PRETTIFY_RESPONSES:
            return result
        if not member_order:
            from moto.core.utils import get_service_model

            shape = get_service_model("stepfunctions").operation_model("ListExecutions").output_shape
            member_order.extend(shape.members["executions"].member.members)
        try:
            items = [{key: written(item[key]) for key in member_order if item.get(key) is not None}
                     for item in page["executions"]]
        except (TypeError, KeyError):
            return result  # a value the shortcut does not know: the generic serializer decides
        # The envelope (status, headers, nextToken) still comes from the serializer.
        status, headers, body = self.serialized(ActionResult({**page, "executions": []}))
        envelope = json.loads(body)
        envelope["executions"] = items
        return status, headers, json.dumps(envelope)

    return list_executions


def _install_update_expression_parsed_once(_: Any) -> None:
    import functools

    parser = importlib.import_module(_DYNAMODB_EXPRESSIONS).UpdateExpressionParser
    original = parser.make
    if hasattr(original, "__labhelpers_original__"):
        return
    # The same few UpdateExpressions arrive again and again. The parsed tree is only read
    # (find_clauses) or deep-copied before validation (Validator.__init__), never changed.
    parse = functools.lru_cache(maxsize=512)(original)

    def make(cls: Any, expression_str: Any) -> Any:
        if cls is not parser or not isinstance(expression_str, str):
            return original.__func__(cls, expression_str)
        return parse(expression_str)

    make.__labhelpers_original__ = original
    parser.make = classmethod(make)


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
#: The interpreter's ProgramState classes (filled when the json-copy patch is installed).
_PLAIN_STATE_CLASSES: frozenset[type] = frozenset()


def _json_copy(value: Any, _deepcopy: Callable[[Any], Any] | None = None) -> Any:
    """copy.deepcopy for JSON data (dict/list/str/number/bool/None), 5-10x faster.

    Anything else (and dict/list subclasses) goes to copy.deepcopy. Shared sub-objects come
    out as separate copies, as they would after a JSON round trip (AWS's own semantics)."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is dict:
        return {k: (v if type(v) in _JSON_SCALARS else _json_copy(v)) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _JSON_SCALARS else _json_copy(v) for v in value]
    if kind in _PLAIN_STATE_CLASSES:
        # Environment.program_state() deep-copies one of these at every state: plain objects
        # whose attributes are JSON values, copied as copy.deepcopy would (class and __dict__).
        clone = object.__new__(kind)
        clone.__dict__.update(_json_copy(value.__dict__))
        return clone
    import copy

    return copy.deepcopy(value)


class _JsonCopyModule:
    """Stands for the ``copy`` module in the interpreter modules that deep-copy JSON values."""

    def __init__(self) -> None:
        import copy

        self.copy = copy.copy
        self.deepcopy = lambda value, memo=None: _json_copy(value) if memo is None else copy.deepcopy(value, memo)
        self.Error = copy.Error


#: Interpreter modules whose ``copy.deepcopy`` copies state input/output (JSON values) per state
#: (tests/test_perf_patches.py checks that each one uses ``copy`` only for deepcopy/copy).
JSON_COPY_USERS = tuple(f"moto.stepfunctions.parser.asl.{m}" for m in (
    "eval.states",
    "eval.environment",
    "component.common.path.result_path",
    "component.common.string.string_expression",
    "component.state.exec.execute_state",
    "component.state.exec.state_parallel.state_parallel",
))


def _install_json_copy(_: Any) -> None:
    global _PLAIN_STATE_CLASSES
    from moto.stepfunctions.parser.asl.eval import program_state

    _PLAIN_STATE_CLASSES = frozenset(
        cls for cls in vars(program_state).values()
        if isinstance(cls, type) and issubclass(cls, program_state.ProgramState) and cls is not program_state.ProgramState)
    shim = _JsonCopyModule()
    for module_name in JSON_COPY_USERS:
        module = importlib.import_module(module_name)
        if not isinstance(module.copy, _JsonCopyModule):
            module.copy = shim


def _state_without_timeout_runs_inline(original: Any) -> Any:
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    def _evaluate_with_timeout(self: Any, env: Any) -> None:
        timeout = self.timeout
        if type(timeout) is not TimeoutSeconds or timeout.timeout_seconds != TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS:
            return original(self, env)  # TimeoutSeconds (or a heartbeat's 60 s) needs the watchdog thread
        # No TimeoutSeconds: moto's watchdog waits 99999999 s, i.e. until the thread ends. Running the
        # body here is the same, minus a thread per Task/Parallel/Map state. The rest is moto's code.
        timeout.eval(env=env)
        env.stack.pop()
        frame = env.open_frame()
        frame.states.reset(input_value=env.states.get_input())
        frame.stack = _json_copy(env.stack)
        try:
            self._eval_execution(frame)
            execution_exception = None
        except Exception as ex:
            execution_exception = ex
        frame.set_ended()
        env.close_frame(frame)
        if execution_exception:
            raise execution_exception
        execution_output = frame.stack[-1]
        env.stack.append(execution_output)
        if not self._is_language_query_jsonpath():
            env.states.set_result(execution_output)
        if self.assign_decl:
            self.assign_decl.eval(env=env)
        if self.result_selector:
            self.result_selector.eval(env=env)
        if self.result_path:
            self.result_path.eval(env)
        else:
            res = env.stack.pop()
            env.states.reset(input_value=res)

    return _evaluate_with_timeout


# --- Performance: finding an execution, snapshotting its state machine ------------------------------

class _IndexedExecutions(list):
    """A state machine's list of executions that also indexes them by ARN and by name.

    moto only ever appends to it (and deep-copies around it); the list itself, and so
    ListExecutions' results and order, are unchanged."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.by_arn: dict[str, Any] = {}
        self.by_name: dict[str, Any] = {}
        for execution in self:
            self._index(execution)

    def _index(self, execution: Any) -> None:
        self.by_arn.setdefault(getattr(execution, "execution_arn", None), execution)
        self.by_name.setdefault(getattr(execution, "name", None), execution)  # the first, as moto's scan

    def append(self, execution: Any) -> None:
        super().append(execution)
        self._index(execution)


def _executions_of(state_machine: Any) -> _IndexedExecutions:
    executions = state_machine.executions
    if type(executions) is not _IndexedExecutions:  # made before the patch, or replaced
        executions = state_machine.executions = _IndexedExecutions(executions)
    return executions


def _install_indexed_executions(_: Any) -> None:
    models = importlib.import_module(_SFN_MODELS)
    init = models.StateMachineInstance.__init__
    if hasattr(init, "__labhelpers_original__"):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.executions = _IndexedExecutions()

    __init__.__labhelpers_original__ = init
    models.StateMachineInstance.__init__ = __init__


def _describe_execution_indexed(original: Any) -> Any:
    def describe_execution(self: Any, execution_arn: str) -> Any:
        from moto.stepfunctions.exceptions import ExecutionDoesNotExist

        # moto scanned every execution of the machine: DescribeExecution slowed down as they piled up.
        self._validate_execution_arn(execution_arn)
        state_machine = self._get_state_machine_for_execution(execution_arn)
        execution = _executions_of(state_machine).by_arn.get(execution_arn)
        if execution is None:
            raise ExecutionDoesNotExist("Execution Does Not Exist: '" + execution_arn + "'")
        return execution

    return describe_execution


def _name_check_indexed(original: Any) -> Any:
    def _handle_name_input_idempotency(self: Any, name: str, execution_input: str) -> Any:
        from moto.stepfunctions.exceptions import ExecutionAlreadyExists

        execution = _executions_of(self).by_name.get(name)
        if execution is None:
            return None
        # Executions with the same name and input are idempotent while running (moto's rule).
        if execution_input == execution.execution_input and execution.status == "RUNNING":
            return execution
        raise ExecutionAlreadyExists("Execution Already Exists: '" + execution.execution_arn + "'")

    return _handle_name_input_idempotency


def _machine_for_execution_indexed(original: Any) -> Any:
    def describe_state_machine_for_execution(self: Any, execution_arn: str) -> Any:
        from moto.stepfunctions.exceptions import ResourceNotFound

        for state_machine in self.state_machines:
            if execution_arn in _executions_of(state_machine).by_arn:
                return state_machine
        raise ResourceNotFound(execution_arn)

    return describe_state_machine_for_execution


#: Attributes of a state machine that are not part of an execution's snapshot of it.
_NOT_SNAPSHOTTED = frozenset({"executions", "backend"})


class _SnapshotCopyModule:
    """Stands for ``copy`` in moto's parser models: start_execution deep-copies the whole state
    machine for every execution. One copy serves every execution while the machine is unchanged."""

    def __init__(self) -> None:
        import copy

        self._copy = copy
        self.copy = copy.copy
        self.Error = copy.Error
        self._snapshots: dict[int, tuple[Any, tuple, Any]] = {}
        self._lock = threading.Lock()

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        models = importlib.import_module(_SFN_MODELS)
        if memo is None or not isinstance(value, models.StateMachineInstance):
            return self._copy.deepcopy(value, memo)
        # Everything the snapshot holds, by value (repr: the machine's fields are strings, dicts,
        # dates, versions); UpdateStateMachine changes it and new executions get a new copy.
        key = tuple((k, repr(v)) for k, v in sorted(vars(value).items()) if k not in _NOT_SNAPSHOTTED)
        with self._lock:
            hit = self._snapshots.get(id(value))
            if hit is not None and hit[0] is value and hit[1] == key:
                return hit[2]
        snapshot = self._copy.deepcopy(value, memo)
        with self._lock:
            self._snapshots[id(value)] = (value, key, snapshot)
        return snapshot


def _install_shared_snapshot(_: Any) -> None:
    module = importlib.import_module(_PARSER_MODELS)
    if not isinstance(module.copy, _SnapshotCopyModule):
        module.copy = _SnapshotCopyModule()


# --- Memory: what a finished execution keeps ----------------------------------------------------

class _PackedHistory:
    """Stands for a finished execution's EventManager: its history, pickled and compressed.

    A history of 25 events is about 50 dicts and 150 strings that live as long as the
    execution; packed it is one bytes object of well under 2 KB. GetExecutionHistory unpacks a
    fresh copy each time (EventManager.get_event_history returned a deep copy too)."""

    __slots__ = ("_packed", "_lab_clock_offset_s")

    def __init__(self, manager: Any) -> None:
        import pickle
        import zlib

        with manager._mutex:  # pickling copies: no need for get_event_history's deep copy first
            self._packed = zlib.compress(pickle.dumps(manager._history_event_list, pickle.HIGHEST_PROTOCOL), 1)
        # The wait speed-up's clock offset (wait_speedup.clock_offset reads it), when it has one.
        self._lab_clock_offset_s = getattr(manager, "_lab_clock_offset_s", 0.0)

    def get_event_history(self) -> list:
        import pickle
        import zlib

        return pickle.loads(zlib.decompress(self._packed))


class _FinishedEnvironment:
    """Stands for a finished execution's interpreter Environment: only what the APIs read afterwards.

    The history (packed: _PackedHistory), the callback pool (SendTask* scan it) and the map-run
    records (ListMapRuns, DescribeMapRun, UpdateMapRun) are kept; the frames, heap, stack,
    states, variables, locks and events only a running program uses are let go."""

    __slots__ = ("event_manager", "callback_pool_manager", "map_run_record_pool_manager",
                 "execution_type", "_program_state")

    def __init__(self, env: Any) -> None:
        self.event_manager = _PackedHistory(env.event_manager)
        self.callback_pool_manager = env.callback_pool_manager
        self.map_run_record_pool_manager = env.map_run_record_pool_manager
        self.execution_type = env.execution_type
        self._program_state = env._program_state

    def program_state(self) -> Any:
        import copy

        return copy.deepcopy(self._program_state)

    def is_running(self) -> bool:
        return False

    def is_frame(self) -> bool:
        return False

    def set_stop(self, stop_date: Any, cause: Any, error: Any) -> None:
        pass  # Environment.set_stop changes nothing once the program has ended


def _release_running_state(execution: Any) -> None:
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    if type(env) is Environment and not env.is_running():
        worker.env = _FinishedEnvironment(env)


def _finished_execution_released(original: Any) -> Any:
    def terminated(self: Any) -> None:
        original(self)
        # Every finished execution kept its whole interpreter environment (~35 KB) for good.
        _release_running_state(self.execution)

    return terminated


_EVAL_COMPONENT = "moto.stepfunctions.parser.asl.component.eval_component"
_EXECUTE_STATE = "moto.stepfunctions.parser.asl.component.state.exec.execute_state"
_RESULT_PATH = "moto.stepfunctions.parser.asl.component.common.path.result_path"
_DYNAMODB_EXPRESSIONS = "moto.dynamodb.parsing.expressions"
_EXECUTION_WORKER = "moto.stepfunctions.parser.backend.execution_worker"
_JSON_PATH = "moto.stepfunctions.parser.asl.utils.json_path"
_DISPATCHER = "moto.moto_server.werkzeug_app"
_PROGRAM = "moto.stepfunctions.parser.asl.component.program.program"
_BRANCH_WORKER = "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker"
_CHOICE_VARIABLE = "moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable"
_PARALLEL_BRANCHES = "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl"
_SFN_MODELS = "moto.stepfunctions.models"
_PARSER_MODELS = "moto.stepfunctions.parser.models"
_MAP_ITERATION = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker"
_CLOUDWATCH = "moto.cloudwatch.models"
_MOCK_EVAL = "moto.stepfunctions.parser.asl.component.state.exec.state_task.mock_eval_utils"
_EXECUTION = "moto.stepfunctions.parser.backend.execution"
_PREPROCESSOR = "moto.stepfunctions.parser.asl.parse.preprocessor"

PATCHES: list[Patch] = [
    Patch.replacing("lambda_invoke_runs_handler_code",
          "Without Docker moto cannot run a function; run it in a warm worker subprocess instead.",
          "moto.awslambda.models", "LambdaFunction.invoke", "dadc324f30aed38b",
          _lambda_invoke),
    Patch.replacing("deleted_function_stops_its_workers",
          "Deleting a function leaves its warm workers (and their memory) running.",
          "moto.awslambda.models", "LambdaBackend.delete_function", "828280c86a667d39",
          _deleted_function_stops_workers),
    Patch.replacing("sfn_invokes_lambda_in_process",
          "moto's interpreter calls Lambda over HTTP with a new boto3 client per call; call the backend directly.",
          "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
          "_invoke_lambda_function", "0ebcddb746e422b0",
          _sfn_invoke_in_process),
    Patch.replacing("start_execution_names_like_aws",
          "An execution started without a name is named None, so the second one fails with ExecutionAlreadyExists.",
          "moto.stepfunctions.parser.models", "StepFunctionsParserBackend.start_execution", "0f8d9dd57baf0c28",
          _execution_names_like_aws),
    Patch.replacing("describe_execution_output_is_json",
          "DescribeExecution returns a string output without JSON quotes and drops TIMED_OUT's stopDate.",
          "moto.stepfunctions.responses", "StepFunctionResponse.describe_execution", "c3953bdc9ce21fda",
          _describe_execution_as_aws),
    Patch.replacing("choice_missing_path_fails_the_execution",
          "A Choice rule on a path missing from the input is silently false; AWS fails with States.Runtime.",
          _CHOICE_VARIABLE, "ComparisonVariable._eval_body", "55861cce2befeedf",
          _choice_missing_path_fails),
    Patch("string_escapes_decoded",
          "Strings in a definition keep their JSON escapes: a JSONPath filter with \\\" fails to parse.",
          _PREPROCESSOR, "Preprocessor._inner_string_of", "d9f476327b5bbd34", _install_string_escapes_decoded),
    Patch("states_errors_propagate_from_parallel_branches",
          "A States.* error in a Parallel branch turns into a ValueError about custom error names.",
          _PARALLEL_BRANCHES, "BranchesDecl._eval_body", "eec2efa5fe001389",
          _states_errors_propagate(_PARALLEL_BRANCHES)),
    Patch("states_errors_propagate_from_map_iterations",
          "The same for a Map iteration that fails with a States.* error.",
          _MAP_ITERATION, "IterationWorker._eval_job", "5f736d9451fe0d18",
          _states_errors_propagate(_MAP_ITERATION)),
    Patch("states_errors_from_mocked_throws",
          "The same for a mocked Throw (MockConfigFile) of a States.* error such as States.Timeout.",
          _MOCK_EVAL, "_eval_mocked_response_throw", "47a53f00bdf88fe8",
          _states_errors_propagate(_MOCK_EVAL)),
    Patch("sfn_boto_clients_cached",
          "The interpreter builds a new boto3 client for every service call.",
          "moto.stepfunctions.parser.asl.utils.boto_client", "boto_client_for", "1f44dc2ac8aa2179",
          lambda rt: _replace_everywhere(_BOTO_CLIENT_MODULE, "boto_client_for", _cached_boto_clients,
                                         BOTO_CLIENT_USERS)),
    Patch.replacing("list_metrics_once_per_metric",
          "list_metrics returns one entry per datapoint for metrics without dimensions.",
          "moto.cloudwatch.models", "CloudWatchBackend.get_filtered_metrics", "63270f556ea9d022",
          _list_metrics_once_per_metric),
    Patch.replacing("metric_percentile_statistics",
          "GetMetricData/GetMetricStatistics answer None for percentile statistics such as p90.",
          "moto.cloudwatch.models", "Statistics.get_statistics_for_type", "d10becd72eee65f1",
          _percentile_statistics),
    Patch.replacing("metrics_scoped_to_their_dimensions",
          "Metric queries see datapoints of every dimension set, not only the metric asked for.",
          _CLOUDWATCH, "CloudWatchBackend.get_all_metrics", "ce7821bc32f49f4d",
          _metrics_in_scope),
    Patch.replacing("metric_statistics_match_exact_dimensions",
          "GetMetricStatistics: without dimensions it sums every dimension set; with some, any superset.",
          _CLOUDWATCH, "CloudWatchBackend.get_metric_statistics", "844bf661c8f9b2d6",
          _statistics_exact_dimensions),
    Patch.replacing("metric_data_match_exact_dimensions",
          "GetMetricData: the same, per query.",
          _CLOUDWATCH, "CloudWatchBackend.get_metric_data", "ea8fffafcc06a35f",
          _metric_data_exact_dimensions),
    Patch.replacing("failure_log_without_definition_dump",
          "A failing execution logs the whole parsed definition at ERROR, once per nesting level.",
          _EVAL_COMPONENT, "EvalComponent._log_failure_event_exception", "7d7aa73b14eebc89",
          _short_failure_log),
    Patch.replacing("exception_log_without_definition_dump",
          "The same dump for any other exception inside the interpreter.",
          _EVAL_COMPONENT, "EvalComponent._log_exception", "2125c07bc2eec625",
          _short_failure_log),
    # Performance (benchmarks/run.py measures them; tests/test_perf_patches.py checks behaviour).
    Patch.replacing("sfn_definition_parsed_once",
          "Every execution re-parses its definition with antlr: a third of an execution's CPU.",
          _EXECUTION_WORKER, "ExecutionWorker._get_evaluation_entrypoint", "2b25949ae855da80",
          _definition_parsed_once),
    Patch("jsonpath_parsed_once",
          "Every JSONPath lookup ($.level, InputPath...) builds a new jsonpath_ng yacc parser.",
          _JSON_PATH, "extract_json", "932245247973780c", _install_jsonpath_parsed_once),
    Patch.replacing("dispatcher_backend_lookup_cached",
          "Every request lists moto's package directory under a global lock to find its backend.",
          _DISPATCHER, "DomainDispatcherApplication.get_backend_for_host", "1f41972c1e4e660f",
          _backend_lookup_cached),
    Patch.replacing("account_backend_found_without_lock",
          "Every backend lookup takes moto's global lock and scans all services' backends.",
          "moto.core.base_backend", "BackendDict.__getitem__", "16766ef9c002fbc6", _account_backend_found_without_lock),
    Patch.replacing("requests_dispatched_without_flask",
          "Flask's request context and hooks around every request cost a fifth of its CPU.",
          _DISPATCHER, "DomainDispatcherApplication.__call__", "7b12179deceda48d", _dispatch_without_flask),
    Patch("sfn_threads_not_retained",
          "moto keeps every thread the interpreter ever started in TMP_THREADS: memory grows per execution.",
          _EXECUTION_WORKER, "ExecutionWorker.start", "0b502dd3a4e5fd2b", _install_threads_not_retained),
    Patch.replacing("execution_threads_reused",
          "Every execution starts a new thread (system calls and two context switches each).",
          _EXECUTION_WORKER, "ExecutionWorker.start", "0b502dd3a4e5fd2b", _execution_threads_reused),
    Patch.replacing("parallel_branch_threads_reused",
          "Each Parallel branch starts a new thread, named after the repr of the whole branch (CPU and 8 KB).",
          _BRANCH_WORKER, "BranchWorker.start", "30f9035b0a7ba470",
          _branch_threads_reused),
    Patch.replacing("program_without_timeout_runs_inline",
          "Every execution and branch starts a watchdog thread even without TimeoutSeconds.",
          _PROGRAM, "Program.eval", "6d701880064a8970",
          _program_inline_without_timeout),
    Patch("result_path_parsed_once",
          "Every ResultPath evaluation builds a new jsonpath_ng yacc parser for its path.",
          _RESULT_PATH, "ResultPath._eval_body", "a6d93b4e5a332fad", _install_result_path_parsed_once),
    Patch("response_method_names_cached",
          "Every request lists its response class's methods with inspect.getmembers().",
          "moto.core.responses", "BaseResponse.call_action", "26076963fd17fd1a",
          lambda rt: _replace("moto.core.responses", "method_names_from_class", _method_names_cached)),
    Patch.replacing("serializer_alias_keys_computed_once",
          "The response serializer builds six alias providers per member of every object it writes.",
          "moto.core.serialize", "AttributePicker.__call__", "c15da8ec29c1afa4",
          _alias_keys_cached),
    Patch("request_ids_drawn_at_once",
          "Every response's request id takes 52 random.choice() calls (several per cent of a small request).",
          "moto.utilities.aws_headers", "gen_amzn_requestid_long", "e651941c2107cdc2",
          lambda rt: _replace_everywhere("moto.utilities.aws_headers", "gen_amzn_requestid_long",
                                         _request_ids_drawn_at_once, REQUEST_ID_USERS)),
    Patch.replacing("list_executions_written_directly",
          "A ListExecutions page of 1,000 costs the generic serializer ~25 ms; a waiting client polls it.",
          "moto.stepfunctions.responses", "StepFunctionResponse.list_executions", "6fec14cfc5afd6b8",
          _list_executions_written_directly),
    Patch("dynamodb_update_expression_parsed_once",
          "Every UpdateItem tokenizes and parses its UpdateExpression twice (responses and models).",
          _DYNAMODB_EXPRESSIONS, "UpdateExpressionParser.make", "2c00ed96d6e191f2",
          _install_update_expression_parsed_once),
    Patch("sfn_json_values_copied_fast",
          "Each state deep-copies its input and output several times with copy.deepcopy.",
          "moto.stepfunctions.parser.asl.eval.states", "States._extract", "9ab6dac771c565c5", _install_json_copy),
    Patch.replacing("state_without_timeout_runs_inline",
          "Every Task, Parallel and Map state starts a watchdog thread even without TimeoutSeconds.",
          _EXECUTE_STATE, "ExecutionState._evaluate_with_timeout", "c56deda08a42e98d",
          _state_without_timeout_runs_inline),
    Patch("sfn_executions_indexed",
          "moto keeps a state machine's executions in a plain list, scanned to find one by ARN or name.",
          _SFN_MODELS, "StateMachineInstance.__init__", "37bffc8dafc63d45", _install_indexed_executions),
    Patch.replacing("describe_execution_without_scan",
          "DescribeExecution (and GetExecutionHistory, ListMapRuns) scan every execution of the machine.",
          _SFN_MODELS, "StepFunctionBackend.describe_execution", "74309ac20095b102",
          _describe_execution_indexed),
    Patch.replacing("start_execution_name_check_without_scan",
          "StartExecution's name check scans every execution of the machine.",
          _SFN_MODELS, "StateMachine._handle_name_input_idempotency", "9a117fdd6df2c99b",
          _name_check_indexed),
    Patch.replacing("machine_for_execution_without_scan",
          "DescribeStateMachineForExecution scans every execution of every machine.",
          _SFN_MODELS, "StepFunctionBackend.describe_state_machine_for_execution", "c284092dbaef0dc3",
          _machine_for_execution_indexed),
    Patch("state_machine_snapshot_shared",
          "Every execution keeps its own deep copy of the state machine, even when it has not changed.",
          _PARSER_MODELS, "StepFunctionsParserBackend.start_execution", "0f8d9dd57baf0c28",
          _install_shared_snapshot),
    Patch.replacing("finished_execution_releases_interpreter_state",
          "A finished execution keeps its interpreter environment (frames, locks, state copies): memory grows.",
          _EXECUTION, "BaseExecutionWorkerCommunication.terminated", "360372a6a57bf99b",
          _finished_execution_released),
]


_BOTO_CLIENT_MODULE = "moto.stepfunctions.parser.asl.utils.boto_client"
_TASK = "moto.stepfunctions.parser.asl.component.state.exec"
#: The interpreter modules that do ``from ...boto_client import boto_client_for``
#: (tests/test_patches.py checks this list against moto's source).
BOTO_CLIENT_USERS = tuple(f"{_TASK}.{m}" for m in (
    "state_map.item_reader.eval.resource_eval_s3",
    "state_map.result_writer.resource_eval.resource_eval_s3",
    "state_task.lambda_eval_utils",
    *(f"state_task.service.state_task_service_{s}" for s in (
        "aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs", "unsupported")),
))


def apply(runtime: Any) -> list[str]:
    """Install every patch (once) and return their names. ``runtime`` runs Lambda code."""
    global _runtime
    import moto
    from moto.core.config import default_user_config

    if not moto.__version__.startswith(MOTO_SERIES):
        raise RuntimeError(f"labhelpers' emulator patches moto {MOTO_SERIES}x, found {moto.__version__}")
    _runtime = runtime
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    patches = all_patches()
    for patch in patches:
        patch.install(runtime)
    return [p.name for p in patches]


def all_patches() -> list[Patch]:
    """This module's patches plus those of the Step Functions API extensions."""
    from labhelpers.emulator import sfn_extensions

    return PATCHES + sfn_extensions.PATCHES
