"""Correctness: one bad definition or one emulator fault never breaks the account.

moto's ASL preprocessor kept its QueryLanguage scope stack on the class, shared by every parse
on every thread: a definition that failed while being preprocessed left its scopes there, and
every later definition inherited them. An exception escaping the interpreter's thread left the
execution RUNNING for ever, and StopExecution on it answered HTTP 500.
"""

from __future__ import annotations

import datetime
import importlib
import logging
from typing import Any

from labhelpers.emulator.patching import Patch

log = logging.getLogger("labhelpers.emulator")

_PREPROCESSOR = "moto.stepfunctions.parser.asl.parse.preprocessor"
_TEST_STATE_PARSE = "moto.stepfunctions.parser.asl.parse.test_state"
_ASL_PARSER = "moto.stepfunctions.parser.asl.parse.asl_parser"
_EXECUTION_WORKER = "moto.stepfunctions.parser.backend.execution_worker"
_ENVIRONMENT = "moto.stepfunctions.parser.asl.eval.environment"
#: moto's Preprocessor attribute that holds the QueryLanguage scopes of one parse.
SCOPE_STACK = "_query_language_per_scope"


# --- 1. Parse state lives as long as one parse ---------------------------------------------------

class ScopeStackPerPreprocessor:
    """What ``Preprocessor._query_language_per_scope`` becomes: one list per Preprocessor.

    Every parse builds its own Preprocessor, so the stack lives exactly as long as that parse and
    is never seen by another thread. A non-data descriptor: on first use it stores a fresh list in
    the instance, which shadows the descriptor from then on (no cost per access).
    """

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        stack: list = []
        instance.__dict__[SCOPE_STACK] = stack
        return stack


def _install_parse_state_isolated(_: Any) -> None:
    preprocessor = importlib.import_module(_PREPROCESSOR).Preprocessor
    shared = preprocessor.__dict__.get(SCOPE_STACK)
    if isinstance(shared, ScopeStackPerPreprocessor):
        return
    isolated = ScopeStackPerPreprocessor()
    isolated.__labhelpers_original__ = shared  # type: ignore[attr-defined]
    setattr(preprocessor, SCOPE_STACK, isolated)  # what a failed parse left there goes with it


# --- 2. An emulator fault fails the execution -----------------------------------------------------

def _environment_built_once(original: Any) -> Any:
    def _get_evaluation_environment(self: Any) -> Any:
        # Built before the definition is parsed (below), so StopExecution always finds one; the
        # worker's own ``env`` is the only reference (a finished execution lets go of it).
        return self.env if self.env is not None else original(self)

    return _get_evaluation_environment


def _faults_fail_the_execution(original: Any) -> Any:
    def _execution_logic(self: Any) -> None:
        try:
            self.env = self._get_evaluation_environment()
            original(self)
        except Exception as err:  # an emulator fault, not the workflow's: fail, never hang
            _fail_execution(self, err)

    return _execution_logic


def _fail_execution(worker: Any, err: Exception) -> None:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    env = worker.env
    state = getattr(env, "next_state_name", None) if env is not None else None
    where = f"in state '{state}'" if state else "before its first state"
    cause = (f"The emulator failed {where} ({type(err).__name__}: {err}); labhelpers cannot run "
             f"this part of the workflow locally.")
    execution = getattr(worker._execution_communication, "execution", None)
    log.error("execution %s failed inside the emulator %s", getattr(execution, "exec_arn", "?"), where,
              exc_info=err)
    details = ExecutionFailedEventDetails(error="States.Runtime", cause=cause)
    try:
        if env is None:
            env = worker.env = worker._get_evaluation_environment()
        if env.is_running() or env._program_state is None:  # None: no state had started
            env.set_error(details)
            env.event_manager.add_event(context=env.event_history_context,
                                        event_type=HistoryEventType.ExecutionFailed,
                                        event_details=EventDetails(executionFailedEventDetails=details))
        worker._execution_communication.terminated()
    except Exception:  # the record itself is broken: still never RUNNING
        log.exception("could not record the failure of %s", getattr(execution, "exec_arn", "?"))
        if execution is not None:
            execution.exec_status, execution.error, execution.cause = "FAILED", "States.Runtime", cause
            execution.stop_date = datetime.datetime.now(tz=datetime.timezone.utc)


PATCHES: list[Patch] = [
    Patch("asl_parse_state_isolated",
          "moto's ASL preprocessor keeps one QueryLanguage scope stack for every parse on every thread: "
          "a definition that fails to parse leaves its JSONata scope on it, and every later definition "
          "using ResultPath, Parameters, OutputPath or Variable is rejected until the emulator restarts.",
          (f"{_PREPROCESSOR}:Preprocessor._get_current_query_language",
           f"{_PREPROCESSOR}:Preprocessor._open_query_language_scope",
           f"{_PREPROCESSOR}:Preprocessor._close_query_language_scope",
           f"{_TEST_STATE_PARSE}.preprocessor:TestStatePreprocessor.visitState_decl_body",
           f"{_ASL_PARSER}:AmazonStateLanguageParser.parse",
           f"{_TEST_STATE_PARSE}.asl_parser:TestStateAmazonStateLanguageParser.parse"),
          _install_parse_state_isolated),
    Patch.replacing("stop_execution_finds_an_environment",
          "StopExecution before the interpreter built the execution's environment answers HTTP 500 "
          "('NoneType' object has no attribute 'set_stop').",
          f"{_EXECUTION_WORKER}:ExecutionWorker._get_evaluation_environment", _environment_built_once,
          relies_on=(f"{_EXECUTION_WORKER}:ExecutionWorker.stop", f"{_ENVIRONMENT}:Environment.set_stop")),
    Patch.replacing("emulator_faults_fail_the_execution",
          "An exception outside the interpreter's state loop (parsing, the history, the final status) "
          "kills the execution's thread and leaves it RUNNING for ever.",
          f"{_EXECUTION_WORKER}:ExecutionWorker._execution_logic", _faults_fail_the_execution,
          relies_on=(f"{_ENVIRONMENT}:Environment.set_error", f"{_ENVIRONMENT}:Environment.is_running",
                     f"{_ENVIRONMENT}:Environment.__init__",
                     "moto.stepfunctions.parser.backend.execution:BaseExecutionWorkerCommunication."
                     "_reflect_execution_status")),
]
