"""Exercises of 11 · Validation, failure injection and Express workflows."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from labhelpers.checks import NotDone, NotRight, exercise, submitted
from labhelpers.lab import Lab

FIXED_FLOW = "FixedFlow"
RETRY_DEMO_FLOW = "RetryDemoFlow"
_FAILED_ATTEMPT = ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut", "LambdaFunctionTimedOut")


def _machine_arn(lab: Lab, base: str) -> str:
    return lab.state_machine_arn_for(lab.names.prefixed(base))


def _describe(lab: Lab, base: str) -> dict | None:
    try:
        return lab.sfn.describe_state_machine(stateMachineArn=_machine_arn(lab, base))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("StateMachineDoesNotExist", "ResourceNotFound"):
            return None
        raise


def reachable_functions(block: dict) -> set[str]:
    """Names of the Lambda functions run by the Task states reachable from ``StartAt`` (branches included)."""
    states = block.get("States", {})
    found: set[str] = set()
    seen, todo = set(), [block.get("StartAt")]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        resource = state.get("Resource", "")
        if state.get("Type") == "Task" and ":function:" in resource:
            found.add(resource.split(":function:", 1)[1].split(":", 1)[0])
        for branch in state.get("Branches", []):
            found |= reachable_functions(branch)
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule.get("Next") for rule in state.get("Choices", []) + state.get("Catch", [])]
        todo.extend(t for t in targets if t)
    return found


def _executions(lab: Lab, arn: str, status: str | None = None) -> list[dict]:
    kwargs: dict[str, Any] = {"stateMachineArn": arn}
    if status:
        kwargs["statusFilter"] = status
    pages = lab.sfn.get_paginator("list_executions").paginate(**kwargs)
    return [e for page in pages for e in page["executions"]]


@exercise("fix-the-definition", "repair a broken definition and run it as FixedFlow", "11",
          hint="Validate data/broken_flow.asl.json, fix each diagnostic where its location points, "
               "create FixedFlow, run it once and lh.submit the fixed definition.")
def check_fix_the_definition(lab: Lab) -> str:
    name = lab.names.prefixed(FIXED_FLOW)
    machine = _describe(lab, FIXED_FLOW)
    try:
        definition = submitted("fix-the-definition")
    except NotDone:
        definition = None
    if isinstance(definition, dict):
        definition = json.dumps(definition)
    if definition is None:
        if machine is None:
            raise NotDone(f"No fixed definition submitted and no state machine {name} yet.")
        definition = machine["definition"]
    if not isinstance(definition, str):
        raise NotRight(f"Submit the fixed definition as a JSON string (or a dict), not {type(definition).__name__}.")
    result = lab.sfn.validate_state_machine_definition(definition=definition, type="STANDARD")
    if result["result"] != "OK":
        first = result["diagnostics"][0]
        more = len(result["diagnostics"]) - 1
        raise NotRight(f"The definition is still invalid: {first['code']}: {first['message']}"
                       + (f" (and {more} more diagnostic{'s' * (more > 1)})" if more else "") + ".",
                       where=first.get("location") or "the whole definition",
                       hint="Run validate_state_machine_definition on it and fix what each location points to.")
    used = reachable_functions(json.loads(definition))
    wanted = set(lab.names.functions.values())
    if lab.names.function("EndsSimpleLevel") not in used:
        raise NotRight("The definition is valid, but no state runs EndsSimpleLevel any more: a level other "
                       'than "latest" now matches no Choice rule and fails the execution.',
                       where="UpdateDB: Default",
                       hint='Keep "Simple Level" and wire it: give UpdateDB a "Default": "Simple Level".')
    if used != wanted:
        missing = ", ".join(sorted(wanted - used)) or "none"
        raise NotRight(f"The definition is valid, but it is not the lab's flow: functions not reached: {missing}.",
                       hint="Fix the mistakes in place; do not delete or rename states.")
    if machine is None:
        raise NotDone(f"The definition is valid; now create the state machine {name} with it.")
    if json.loads(machine["definition"]) != json.loads(definition):
        raise NotRight(f"{name} holds another definition than the one you submitted.", where=name,
                       hint="Update the state machine with your fixed definition (ensure_state_machine does it).")
    if not _executions(lab, machine["stateMachineArn"], "SUCCEEDED"):
        failed = _executions(lab, machine["stateMachineArn"], "FAILED")
        if failed:
            error = lab.sfn.describe_execution(executionArn=failed[0]["executionArn"]).get("error")
            raise NotRight(f"{name}'s last run failed ({error}).", where=name,
                           hint="Run it with the lab's seed input (data/seed_input.json).")
        raise NotDone(f"{name} exists and is valid; run it once with the seed input.")
    return f"Right: {name} validates OK, runs all four functions, and an execution of it succeeded."


def _metric_failures(lab: Lab, execution_arn: str) -> list[str]:
    """The error of each failed CWMetric attempt in one execution's history."""
    from labhelpers.views import history_frame

    events = [e for page in lab.sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
              for e in page["events"]]
    history = history_frame(events)
    failed = history[(history["state"] == "CWMetric") & history["type"].isin(_FAILED_ATTEMPT)]
    return [str(error) for error in failed["error"]]


@exercise("inject-a-failure", "make CWMetric fail once with your own mock-config test case", "11",
          hint="Add a test case to mock_config whose CWMetric response is a Throw at \"0\" and a Return "
               "at \"1\"; lh.use_mock_config it and start RetryDemoFlow as f\"{retry_arn}#YourCase\".")
def check_inject_a_failure(lab: Lab) -> str:
    name = lab.names.prefixed(RETRY_DEMO_FLOW)
    machine = _describe(lab, RETRY_DEMO_FLOW)
    if machine is None:
        raise NotDone(f"No state machine {name} yet: run the failure-injection section first.")
    attempts = []
    for execution in _executions(lab, machine["stateMachineArn"]):  # newest first
        if execution["status"] == "RUNNING":
            continue
        failures = _metric_failures(lab, execution["executionArn"])
        if failures:
            if execution["status"] == "SUCCEEDED" and len(failures) == 1:
                return (f"Right: CWMetric failed once ({failures[0]}), its Retry ran it again, "
                        f"and the execution {execution['name']} succeeded.")
            attempts.append((execution, failures))
    if not attempts:
        where = "the AWS service has no mock config" if lab.target == "aws" else None
        raise NotDone(f"No run of {name} has a failed CWMetric attempt yet.", where=where)
    execution, failures = attempts[0]
    if execution["status"] == "SUCCEEDED":
        raise NotRight(f"CWMetric failed {len(failures)} times in {execution['name']}, not once.",
                       where="the invocation ranges of your MockedResponse",
                       hint='Throw only at invocation "0"; Return from "1" on.')
    raise NotRight(f"The run {execution['name']} ended {execution['status']}: CWMetric failed with "
                   f"{', '.join(failures)} and was not retried to a success.", where="CWMetric",
                   hint="Throw an error CWMetric's Retry catches (Lambda.ServiceException), once, "
                        "and Return {\"StatusCode\": 200, \"Payload\": true} after.")
