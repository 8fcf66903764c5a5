"""Speed: the interpreter's hot paths (parsing, threads, copies), one patch each.

Every patch here is optional (``LAB_EMULATOR_FAST=0`` leaves the whole speed group out) and
has its measured gain in ``speed_gains`` (``benchmarks/ablation.py`` measures it).
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from typing import Any, Callable, Iterator

from labhelpers.emulator.patching import Patch, replace_everywhere

log = logging.getLogger("labhelpers.emulator")

_JSON_PATH = "moto.stepfunctions.parser.asl.utils.json_path"
_RESULT_PATH = "moto.stepfunctions.parser.asl.component.common.path.result_path"

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


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_copy(value: Any) -> Any:
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
    import copy

    return copy.deepcopy(value)


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


_EXECUTION_WORKER = "moto.stepfunctions.parser.backend.execution_worker"
_PROGRAM = "moto.stepfunctions.parser.asl.component.program.program"
_BRANCH_WORKER = "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker"
_EXECUTE_STATE = "moto.stepfunctions.parser.asl.component.state.exec.execute_state"
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

PATCHES: list[Patch] = [
    Patch.replacing("sfn_definition_parsed_once",
          "Every execution re-parses its definition with antlr: a third of an execution's CPU.",
          f"{_EXECUTION_WORKER}:ExecutionWorker._get_evaluation_entrypoint", _definition_parsed_once),
    Patch("jsonpath_parsed_once",
          "Every JSONPath lookup ($.level, InputPath...) builds a new jsonpath_ng yacc parser.",
          (f"{_JSON_PATH}:extract_json",), _install_jsonpath_parsed_once),
    Patch("sfn_boto_clients_cached",
          "The interpreter builds a new boto3 client for every service call.",
          (f"{_BOTO_CLIENT_MODULE}:boto_client_for",),
          lambda rt: replace_everywhere(_BOTO_CLIENT_MODULE, "boto_client_for", _cached_boto_clients,
                                        BOTO_CLIENT_USERS)),
    Patch.replacing("execution_threads_reused",
          "Every execution starts a new thread (system calls and two context switches each).",
          f"{_EXECUTION_WORKER}:ExecutionWorker.start", _execution_threads_reused,
          relies_on=(f"{_EXECUTION_WORKER}:ExecutionWorker._execution_logic",)),
    Patch.replacing("parallel_branch_threads_reused",
          "Each Parallel branch starts a new thread, named after the repr of the whole branch (CPU and 8 KB).",
          f"{_BRANCH_WORKER}:BranchWorker.start", _branch_threads_reused,
          relies_on=(f"{_BRANCH_WORKER}:BranchWorker._thread_routine",)),
    Patch.replacing("program_without_timeout_runs_inline",
          "Every execution and branch starts a watchdog thread even without TimeoutSeconds.",
          f"{_PROGRAM}:Program.eval", _program_inline_without_timeout),
    Patch("result_path_parsed_once",
          "Every ResultPath evaluation builds a new jsonpath_ng yacc parser for its path.",
          (f"{_RESULT_PATH}:ResultPath._eval_body",), _install_result_path_parsed_once),
    Patch.replacing("state_without_timeout_runs_inline",
          "Every Task, Parallel and Map state starts a watchdog thread even without TimeoutSeconds.",
          f"{_EXECUTE_STATE}:ExecutionState._evaluate_with_timeout", _state_without_timeout_runs_inline,
          relies_on=("moto.stepfunctions.parser.asl.component.common.timeouts.timeout:TimeoutSeconds",)),
]
