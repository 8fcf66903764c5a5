"""Accelerated waits: a Wait of an hour takes a moment on the emulator, and the history still shows the hour.

One factor per emulator (``POST /_lab/wait-speedup {"factor": 3600}``; ``GET`` returns it).
With a factor above 1, a ``Wait`` state (``Seconds``, ``SecondsPath``, ``Timestamp``,
``TimestampPath``, JSONata ``Seconds``/``Timestamp``) and a ``Retry`` interval sleep
``seconds / factor`` of real time. Each execution keeps a virtual clock: after an accelerated
wait, its clock is moved forward to the moment the full wait would have ended, and every later
history event, ``$$.State.EnteredTime`` and the execution's ``stopDate`` are read from that clock.
So a one-hour wait is an hour in the history, and the execution lasted at least an hour.

The clock only moves forward: two Parallel branches waiting an hour each at the same time move it
by one hour, not two. Real AWS has no such switch: it waits for real.
"""

from __future__ import annotations

import datetime
import json
import math
import threading
import time
from typing import Any

from labhelpers.emulator.patching import Patch, wrap_current

#: Beyond this a year-long wait would still take 30 s; more only hides mistakes.
MAX_FACTOR = 1_000_000

_PARSER = "moto.stepfunctions.parser"
_EVENT_MANAGER = f"{_PARSER}.asl.eval.event.event_manager"
_WAIT_FUNCTION = f"{_PARSER}.asl.component.state.wait.wait_function.wait_function"
_TIMESTAMP = f"{_PARSER}.asl.component.state.wait.wait_function.timestamp"
_STATE = f"{_PARSER}.asl.component.state.state"
_EXECUTION = f"{_PARSER}.backend.execution"
_RETRIER = f"{_PARSER}.asl.component.common.retry.retrier_decl"

_factor = 1.0
_lock = threading.Lock()
_OFFSET = "_lab_clock_offset_s"  # attribute of an execution's EventManager (shared by its branches)


# --- the factor --------------------------------------------------------------------------

def get_factor() -> float:
    return _factor


def set_factor(factor: Any) -> float:
    """Set the speed-up factor (1 = real time); raises ValueError for anything but a number in [1, 1e6]."""
    global _factor
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor):
        raise ValueError(f"The factor must be a number, got {factor!r}.")
    if not 1 <= factor <= MAX_FACTOR:
        raise ValueError(f"The factor must be between 1 (real time) and {MAX_FACTOR}, got {factor!r}.")
    _factor = float(factor)
    return _factor


def handle(environ: dict) -> tuple[str, dict]:
    """The /_lab/wait-speedup endpoint: (HTTP status, JSON body)."""
    if environ.get("REQUEST_METHOD") == "POST":
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            set_factor(body.get("factor") if isinstance(body, dict) else None)
        except (ValueError, TypeError) as err:
            return "400 Bad Request", {"message": str(err), "factor": _factor}
    return "200 OK", {"factor": _factor}


# --- the per-execution virtual clock ----------------------------------------------------------

def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.timezone.utc)


def clock_offset(env: Any) -> float:
    """Seconds the execution's clock is ahead of real time (0 without accelerated waits)."""
    return getattr(env.event_manager, _OFFSET, 0.0)


def virtual_now(env: Any) -> datetime.datetime:
    return _now() + datetime.timedelta(seconds=clock_offset(env))


def _advance_to(env: Any, moment: datetime.datetime) -> None:
    """Move the execution's clock forward so that now is at least ``moment``; never backwards."""
    manager = env.event_manager
    with _lock:
        wanted = (moment - _now()).total_seconds()
        if wanted > getattr(manager, _OFFSET, 0.0):
            setattr(manager, _OFFSET, wanted)


def _accelerated_sleep(env: Any, seconds: float, factor: float) -> None:
    """Sleep ``seconds / factor`` (cut short when the execution stops), then advance the clock by
    the part of ``seconds`` that has passed: all of it, unless the execution was stopped."""
    start = virtual_now(env)
    real_start = time.monotonic()
    deadline = real_start + seconds / factor
    event = env.program_state_event
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if event.is_set():  # set for an unrelated reason: do not spin on it
            time.sleep(min(remaining, 0.05))
        else:
            event.wait(remaining)
    waited = seconds if env.is_running() else min(seconds, (time.monotonic() - real_start) * factor)
    _advance_to(env, start + datetime.timedelta(seconds=waited))


# --- the patches ------------------------------------------------------------------------------

def _wrap(module: str, attribute: str, make: Any) -> None:
    wrap_current(module, attribute, make, marker="__labhelpers_wait_speedup__")


def _events_on_the_virtual_clock(original: Any) -> Any:
    def add_event(self: Any, context: Any, event_type: Any, event_details: Any = None,
                  timestamp: Any = None, update_source_event_id: bool = True) -> int:
        offset = getattr(self, _OFFSET, 0.0)
        if timestamp is None and offset:
            timestamp = _now() + datetime.timedelta(seconds=offset)
        return original(self, context, event_type, event_details, timestamp, update_source_event_id)

    return add_event


def _wait_accelerated(original: Any) -> Any:
    def _wait_interval(self: Any, env: Any, wait_seconds: Any) -> None:
        factor = _factor
        if factor == 1:
            return original(self, env=env, wait_seconds=wait_seconds)
        if wait_seconds and wait_seconds > 0:
            _accelerated_sleep(env, float(wait_seconds), factor)

    return _wait_interval


def _timestamp_on_the_virtual_clock(original: Any) -> Any:
    def _get_wait_seconds(self: Any, env: Any) -> int:
        # moto's own computation validates the timestamp (and fails the state as AWS does), but it
        # subtracts a naive *local* now from a UTC time (wrong by the UTC offset outside UTC) and
        # truncates. Evaluate the timestamp again and count from the execution's clock, rounding up:
        # the wait never ends before the moment it names.
        original(self, env=env)
        self.string.eval(env=env)
        target = self._from_timestamp_string(env.stack.pop()).replace(tzinfo=datetime.timezone.utc)
        return max(0, math.ceil((target - virtual_now(env)).total_seconds()))

    return _get_wait_seconds


def _entered_time_on_the_virtual_clock(original: Any) -> Any:
    def _eval_state_input(self: Any, env: Any) -> None:
        # Runs right after _eval_body has set $$.State.EnteredTime from the real clock.
        offset = clock_offset(env)
        if offset:
            state = env.states.context_object.context_object_data.get("State")
            if state is not None:
                state["EnteredTime"] = (_now() + datetime.timedelta(seconds=offset)).isoformat()
        return original(self, env)

    return _eval_state_input


def _stop_date_on_the_virtual_clock(original: Any) -> Any:
    def _reflect_execution_status(self: Any) -> None:
        original(self)
        worker = getattr(self.execution, "exec_worker", None)
        env = getattr(worker, "env", None)
        if env is not None and clock_offset(env) and self.execution.stop_date is not None:
            self.execution.stop_date = virtual_now(env)

    return _reflect_execution_status


class _RetrySleep:
    """Stands in for the ``time`` module inside retrier_decl: its ``sleep`` is accelerated."""

    def __init__(self) -> None:
        self._env = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        env = getattr(self._env, "value", None)
        factor = _factor
        if env is None or factor == 1 or seconds <= 0:
            time.sleep(seconds)
        else:
            _accelerated_sleep(env, float(seconds), factor)


_retry_time = _RetrySleep()


def _retry_accelerated(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        previous = getattr(_retry_time._env, "value", None)
        _retry_time._env.value = env
        try:
            return original(self, env)
        finally:
            _retry_time._env.value = previous

    return _eval_body


def _install_retry(_: Any) -> None:
    import importlib

    _wrap(_RETRIER, "RetrierDecl._eval_body", _retry_accelerated)
    importlib.import_module(_RETRIER).time = _retry_time


PATCHES: list[Patch] = [
    Patch("wait_speedup_history_on_the_virtual_clock",
          "Accelerated waits (POST /_lab/wait-speedup) must still show their full duration: history "
          "events are stamped with the execution's virtual clock.",
          (f"{_EVENT_MANAGER}:EventManager.add_event",),
          lambda rt: _wrap(_EVENT_MANAGER, "EventManager.add_event", _events_on_the_virtual_clock)),
    Patch("wait_speedup_wait_state",
          "A Wait state sleeps its full duration; with a speed-up factor it sleeps duration / factor "
          "and moves the execution's clock by the full duration.",
          (f"{_WAIT_FUNCTION}:WaitFunction._wait_interval",),
          lambda rt: _wrap(_WAIT_FUNCTION, "WaitFunction._wait_interval", _wait_accelerated)),
    Patch("wait_speedup_timestamp_from_the_virtual_clock",
          "A Timestamp wait counts from a naive local now (wrong by the UTC offset outside UTC) and "
          "must count from the execution's virtual clock.",
          (f"{_TIMESTAMP}:Timestamp._get_wait_seconds",),
          lambda rt: _wrap(_TIMESTAMP, "Timestamp._get_wait_seconds", _timestamp_on_the_virtual_clock)),
    Patch("wait_speedup_entered_time_from_the_virtual_clock",
          "$$.State.EnteredTime comes from the real clock; after an accelerated wait it must come "
          "from the execution's virtual clock.",
          (f"{_STATE}:CommonStateField._eval_state_input",),
          lambda rt: _wrap(_STATE, "CommonStateField._eval_state_input", _entered_time_on_the_virtual_clock)),
    Patch("wait_speedup_stop_date_from_the_virtual_clock",
          "An execution's stopDate comes from the real clock; after an accelerated wait it must come "
          "from the execution's virtual clock (stopDate - startDate covers the full waits).",
          (f"{_EXECUTION}:BaseExecutionWorkerCommunication._reflect_execution_status",),
          lambda rt: _wrap(_EXECUTION, "BaseExecutionWorkerCommunication._reflect_execution_status",
                              _stop_date_on_the_virtual_clock)),
    Patch("wait_speedup_retry_interval",
          "Retry intervals sleep for real (time.sleep in RetrierDecl); with a speed-up factor they "
          "are accelerated like Wait states.",
          (f"{_RETRIER}:RetrierDecl._eval_body",), _install_retry),
]
