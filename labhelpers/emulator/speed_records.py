"""Speed and memory: what the account keeps per execution, and finding an execution in it.

Every patch here is optional (``LAB_EMULATOR_FAST=0`` leaves the whole speed group out) and
has its measured gain in ``speed_gains`` (``benchmarks/ablation.py`` measures it).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from labhelpers.emulator.patching import Patch

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


_SFN_MODELS = "moto.stepfunctions.models"
_PARSER_MODELS = "moto.stepfunctions.parser.models"
_EXECUTION = "moto.stepfunctions.parser.backend.execution"
_SFN_ERRORS = "moto.stepfunctions.exceptions"

PATCHES: list[Patch] = [
    Patch("sfn_executions_indexed",
          "moto keeps a state machine's executions in a plain list, scanned to find one by ARN or name.",
          (f"{_SFN_MODELS}:StateMachineInstance.__init__",), _install_indexed_executions),
    Patch.replacing("describe_execution_without_scan",
          "DescribeExecution (and GetExecutionHistory, ListMapRuns) scan every execution of the machine.",
          f"{_SFN_MODELS}:StepFunctionBackend.describe_execution", _describe_execution_indexed,
          relies_on=(f"{_SFN_ERRORS}:ExecutionDoesNotExist",)),
    Patch.replacing("start_execution_name_check_without_scan",
          "StartExecution's name check scans every execution of the machine.",
          f"{_SFN_MODELS}:StateMachine._handle_name_input_idempotency", _name_check_indexed,
          relies_on=(f"{_SFN_ERRORS}:ExecutionAlreadyExists",)),
    Patch("state_machine_snapshot_shared",
          "Every execution keeps its own deep copy of the state machine, even when it has not changed.",
          (f"{_PARSER_MODELS}:StepFunctionsParserBackend.start_execution",), _install_shared_snapshot),
    Patch.replacing("finished_execution_releases_interpreter_state",
          "A finished execution keeps its interpreter environment (frames, locks, state copies): memory grows.",
          f"{_EXECUTION}:BaseExecutionWorkerCommunication.terminated", _finished_execution_released,
          relies_on=("moto.stepfunctions.parser.asl.eval.environment:Environment.__init__",
                     "moto.stepfunctions.parser.asl.eval.event.event_manager:EventManager.get_event_history")),
]
