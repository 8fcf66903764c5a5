"""Small read-only helpers shared by the exercise checks: find a function or a state machine,
invoke a function and read the answer, walk a definition's states, read an execution's history.

Every helper answers "missing" with None instead of raising, so a check can say in words what
it did not find.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from botocore.exceptions import ClientError

from labhelpers.lab import Lab

_MISSING = {"ResourceNotFoundException", "StateMachineDoesNotExist", "ResourceNotFound", "NoSuchKey",
            "NoSuchBucket", "404", "NotFound", "ExecutionDoesNotExist", "InvalidArn"}


def _code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def function_config(lab: Lab, name: str) -> dict | None:
    """The configuration of the function ``name`` (a full name), or None when it does not exist."""
    try:
        return lab.lambda_.get_function_configuration(FunctionName=name)
    except ClientError as err:
        if _code(err) in _MISSING:
            return None
        raise


def machine_arn(lab: Lab, name: str) -> str:
    return lab.state_machine_arn_for(name)


def machine_definition(lab: Lab, name: str) -> tuple[str, dict] | None:
    """(ARN, parsed definition) of the state machine ``name``, or None when it does not exist."""
    arn = lab.state_machine_arn_for(name)
    try:
        described = lab.sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as err:
        if _code(err) in _MISSING:
            return None
        raise
    return arn, json.loads(described["definition"])


def require_machine(lab: Lab, name: str, hint: str) -> tuple[str, dict]:
    """Like :func:`machine_definition`, but a missing machine means the exercise is not done yet."""
    from labhelpers.checks import NotDone

    found = machine_definition(lab, name)
    if found is None:
        raise NotDone(f"There is no state machine {name} yet.", hint=hint)
    return found


def require_function(lab: Lab, base: str) -> str:
    """The prefixed name of an exercise function; a missing function means the exercise is not done yet."""
    from labhelpers.checks import NotDone

    name = lab.names.prefixed(base)
    if function_config(lab, name) is None:
        raise NotDone(f"No function {name} yet.")
    return name


def invoke(lab: Lab, name: str, payload: Any, log_tail: bool = False) -> tuple[bool, Any, str]:
    """Invoke a function: (succeeded, result or error payload, decoded log tail or "")."""
    import base64

    kwargs: dict[str, Any] = {"FunctionName": name, "Payload": json.dumps(payload)}
    if log_tail:
        kwargs["LogType"] = "Tail"
    response = lab.lambda_.invoke(**kwargs)
    text = response["Payload"].read().decode() or "null"
    try:
        result = json.loads(text)
    except json.JSONDecodeError:
        result = text
    tail = base64.b64decode(response["LogResult"]).decode(errors="replace") if response.get("LogResult") else ""
    return "FunctionError" not in response, result, tail


def error_text(result: Any, limit: int = 160) -> str:
    """A Lambda error payload as "ErrorType: message", shortened."""
    if isinstance(result, dict) and "errorMessage" in result:
        text = f"{result.get('errorType', 'Error')}: {result['errorMessage']}"
    else:
        text = str(result)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def walk_states(definition: dict, path: str = "") -> Iterator[tuple[str, str, dict, dict]]:
    """Every state of a definition, branches included: (where, name, state, the States it belongs to)."""
    states = definition.get("States", {}) if isinstance(definition, dict) else {}
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        where = f"{path} › {name}" if path else name
        yield where, name, state, states
        for i, branch in enumerate(state.get("Branches", []) or []):
            yield from walk_states(branch, f"{where} › Branches[{i}]")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from walk_states(processor, f"{where} › ItemProcessor")


def find_state(definition: dict, wanted: str) -> tuple[str, dict, dict] | None:
    """(where, state, sibling States) of the first state called ``wanted``, or None."""
    return next(((where, state, states) for where, name, state, states in walk_states(definition)
                 if name == wanted), None)


def lambda_target(state: dict) -> str | None:
    """The function a Task state invokes (its name or ARN as written), or None for another kind of Task."""
    resource = state.get("Resource", "")
    if not isinstance(resource, str):
        return None
    if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
        return resource
    if resource.split(":")[-1].startswith("lambda:invoke") or resource.endswith(":::lambda:invoke"):
        params = state.get("Parameters") or state.get("Arguments") or {}
        return params.get("FunctionName") if isinstance(params, dict) else None
    return None


def function_name_of(target: str) -> str:
    """The function name in an ARN or name (``arn:...:function:NAME[:qualifier]`` → NAME)."""
    if ":function:" in target:
        return target.split(":function:", 1)[1].split(":", 1)[0]
    return target


def entered_states(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def failure(events: list[dict]) -> tuple[str | None, str | None, str | None]:
    """(state, error, cause) of the first failure in a history, or (None, None, None)."""
    state = None
    for event in events:
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        for key, value in event.items():
            if key.endswith("FailedEventDetails") and isinstance(value, dict):
                return state, value.get("error"), value.get("cause")
    return None, None, None


def cause_message(cause: str | None, limit: int = 160) -> str:
    """A failure cause, reduced to the Lambda's errorMessage when it is one."""
    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return error_text(parsed, limit)
    except json.JSONDecodeError:
        pass
    return cause if len(cause) <= limit else cause[:limit - 1] + "…"


def run(lab: Lab, arn: str, payload: Any, timeout: float = 30.0) -> Any:
    """Start one execution and wait for it; returns the finished labhelpers Execution."""
    from labhelpers.executions import run_execution

    return run_execution(payload, lab=lab, state_machine_arn=arn, timeout=timeout)


def metric_sample_count(lab: Lab, minutes: int = 15, dimensions: list[dict] | None = None) -> float:
    """How many FLOW/CompleteLevel datapoints (unit Seconds) arrived in the last ``minutes``."""
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    stats = lab.cloudwatch.get_metric_statistics(
        Namespace=lab.names.metric_namespace, MetricName=lab.names.metric_name, Dimensions=dimensions or [],
        StartTime=end - timedelta(minutes=minutes + 1), EndTime=end, Period=60 * (minutes + 1),
        Statistics=["SampleCount"], Unit="Seconds")
    return sum(point["SampleCount"] for point in stats["Datapoints"])


def poll(condition: Any, lab: Lab, seconds_on_aws: float = 20.0) -> bool:
    """True as soon as ``condition()`` is; the emulator answers at once, AWS may lag a little."""
    deadline = time.monotonic() + (seconds_on_aws if lab.target == "aws" else 0.0)
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(2.0)
