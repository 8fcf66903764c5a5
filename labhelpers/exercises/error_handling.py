"""Exercises of 07 · Error handling."""

from __future__ import annotations

import json
from typing import Any

from labhelpers.checks import NotRight, exercise
from labhelpers.executions import Execution, run_execution
from labhelpers.exercises._common import require_machine
from labhelpers.lab import Lab

FLAKY = "FlakyLevelCheck"
RETRY_MACHINE = "RetryExercise"
#: Errors a retrier or catcher with these names would also match for a Lambda's own exception.
_WILDCARDS = ("States.ALL", "States.TaskFailed")


def machine_definition(lab: Lab, base: str, hint: str) -> tuple[str, dict]:
    """(ARN, parsed definition) of the exercise machine ``base``; NotDone when it does not exist."""
    return require_machine(lab, lab.names.prefixed(base), hint)


def invokes(state: dict, function_name: str) -> bool:
    """Whether a Task state invokes ``function_name`` (its ARN as Resource, or lambda:invoke's FunctionName)."""
    if state.get("Type") != "Task":
        return False
    resource = str(state.get("Resource", ""))
    if resource.endswith((f":function:{function_name}", f":function:{function_name}:$LATEST")):
        return True
    target = str((state.get("Parameters") or state.get("Arguments") or {}).get("FunctionName", ""))
    return resource.startswith("arn:") and ":lambda:invoke" in resource and (
        target == function_name or target.endswith(f":function:{function_name}"))


def events_of_type(execution: Execution, suffix: str) -> list[dict]:
    return [e for e in execution.events if e["type"].endswith(suffix)]


def entered(execution: Execution) -> list[dict]:
    """stateEnteredEventDetails of every state the execution entered, in order."""
    return [e["stateEnteredEventDetails"] for e in execution.events if "stateEnteredEventDetails" in e]


def _first_match(rules: list[dict], error: str) -> tuple[int, dict] | None:
    for index, rule in enumerate(rules):
        names = rule.get("ErrorEquals", [])
        if error in names or any(w in names for w in _WILDCARDS):
            return index, rule
    return None


@exercise("retry-flaky", "retry the flaky Lambda, catch everything else", "07",
          hint="A Task on FlakyLevelCheck with Parameters {\"player.$\": \"$\", \"attempt.$\": "
               "\"$$.State.RetryCount\"}, a Retry on [\"LevelServiceBusy\"] with MaxAttempts 2 or more, "
               "and a Catch on [\"States.ALL\"] with ResultPath \"$.error\" to a fallback state.")
def check_retry_flaky(lab: Lab) -> str:
    name = lab.names.prefixed(RETRY_MACHINE)
    arn, definition = machine_definition(
        lab, RETRY_MACHINE, hint=f'Create it with ensure_state_machine(..., name=lab.names.prefixed("{RETRY_MACHINE}")).')
    states = definition.get("States", {})
    function = lab.names.function(FLAKY)
    tasks = [(n, s) for n, s in states.items() if invokes(s, function)]
    if not tasks:
        raise NotRight(f"No state of {name} invokes the function {function}.", where=f"{name}: States",
                       hint=f"Give a Task state the function's ARN as its Resource: {lab.function_arn(FLAKY)}.")
    task_name, task = tasks[0]
    where = f"{name}: state {task_name!r}"

    parameters = task.get("Parameters") or {}
    if parameters.get("attempt.$") != "$$.State.RetryCount":
        raise NotRight("The function is not told which attempt it is on, so it is busy every time.",
                       where=f"{where}, Parameters",
                       hint='Pass {"player.$": "$", "attempt.$": "$$.State.RetryCount"} as the Parameters.')

    retriers = task.get("Retry") or []
    if not retriers:
        raise NotRight("The Task has no Retry: its first LevelServiceBusy fails the execution.",
                       where=f"{where}, Retry", hint='Add "Retry": [{"ErrorEquals": ["LevelServiceBusy"], ...}].')
    match = _first_match(retriers, "LevelServiceBusy")
    if match is None:
        errors = sorted({e for r in retriers for e in r.get("ErrorEquals", [])})
        raise NotRight(f"No retrier matches LevelServiceBusy (they match {', '.join(errors)}).",
                       where=f"{where}, Retry",
                       hint="States.Timeout only matches a Task that ran out of time; the function raises "
                            "LevelServiceBusy. Name that class in ErrorEquals.")
    index, rule = match
    if "LevelServiceBusy" not in rule.get("ErrorEquals", []):
        raise NotRight(f"Retry[{index}] matches LevelServiceBusy only through "
                       f"{' and '.join(rule['ErrorEquals'])}: a bad input would be retried too.",
                       where=f"{where}, Retry[{index}].ErrorEquals",
                       hint='Retry only what may succeed next time: ["LevelServiceBusy"].')
    attempts = rule.get("MaxAttempts", 3)
    if attempts < 2:
        raise NotRight(f"MaxAttempts is {attempts}: the service is busy twice, so two retries are needed.",
                       where=f"{where}, Retry[{index}].MaxAttempts", hint="Set MaxAttempts to 2 or more.")

    catchers = task.get("Catch") or []
    catch_all = next((c for c in catchers if "States.ALL" in c.get("ErrorEquals", [])), None)
    if catch_all is None:
        raise NotRight("Nothing catches the other errors (a bad input, a timeout): they fail the execution.",
                       where=f"{where}, Catch",
                       hint='Add "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": ...}].')
    result_path = catch_all.get("ResultPath", "$")
    if not (isinstance(result_path, str) and result_path.startswith("$.")):
        raise NotRight(f"With ResultPath {json.dumps(result_path)} the fallback does not get both the original "
                       "input and the error.", where=f"{where}, Catch ResultPath",
                       hint='ResultPath "$.error" adds the error to the input instead of replacing it.')
    fallback = catch_all.get("Next")

    busy = run_execution({"user_id": "retry-check", "level": "level-4"}, lab=lab, state_machine_arn=arn)
    if busy.status != "SUCCEEDED" or fallback in [d["name"] for d in entered(busy)]:
        raise NotRight(f"A player whose check is busy twice did not succeed through the retries "
                       f"(status {busy.status}{', error ' + busy.error if busy.error else ''}).",
                       where=f"execution {busy.name}", hint="Look at the run with lh.history_frame and lh.draw_flow.")
    failures = len(events_of_type(busy, "LambdaFunctionFailed"))

    bad = run_execution({"level": "level-4", "busy_attempts": 0}, lab=lab, state_machine_arn=arn)
    visits = [d for d in entered(bad) if d["name"] == fallback]
    if bad.status != "SUCCEEDED" or not visits:
        raise NotRight(f"A player without user_id did not end in the fallback {fallback!r} "
                       f"(status {bad.status}{', error ' + bad.error if bad.error else ''}).",
                       where=f"execution {bad.name}", hint="The Catch on States.ALL should route it there.")
    seen: Any = json.loads(visits[0].get("input") or "{}")
    if not (isinstance(seen, dict) and seen.get("level") == "level-4"):
        raise NotRight(f"The fallback {fallback!r} did not receive the original input.",
                       where=f"{where}, Catch ResultPath", hint='Use ResultPath "$.error".')
    return (f"Right: the busy check succeeded after {failures} failed attempts, and a bad input went to "
            f"{fallback!r} with its original input and the error.")
