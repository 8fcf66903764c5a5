"""TestState: run one state on moto's TestState interpreter and answer as AWS does.

moto's ``TestStateExecution`` (from LocalStack) runs a single state and records inspection
data; this adds what AWS's API has since gained: ``stateName`` (a state of a whole machine),
``variables``, ``mock`` (result or errorOutput instead of calling the resource), the
CAUGHT_ERROR / RETRIABLE statuses and ``nextState``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

_DEFAULT_STATE_NAME = "StateName"  # what AWS names a lone state in $states.context


class _Retriable(Exception):
    """Stops the state where AWS's TestState stops: at the first matching retrier."""


def _invalid(message: str) -> Exception:
    from labhelpers.emulator.moto_compat import aws_error

    return aws_error("InvalidDefinition", message)


def _error_matches(patterns: list[str], error: str) -> bool:
    for pattern in patterns:
        if pattern == error:
            return True
        if pattern == "States.ALL" and error != "States.Runtime":
            return True
        if pattern == "States.TaskFailed" and error not in ("States.Timeout", "States.Runtime"):
            return True
    return False


def _select_state(definition: str, state_name: str | None) -> tuple[dict, str]:
    try:
        document = json.loads(definition)
    except ValueError as err:
        raise _invalid(f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {err}'") from None
    if not isinstance(document, dict):
        raise _invalid("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Definition must be a JSON object at /'")
    if not state_name:
        if "Type" not in document and "States" in document:
            raise _invalid("A state name is required to test a state of a whole state machine definition.")
        return document, _DEFAULT_STATE_NAME
    states = document.get("States") or {}
    if state_name not in states:
        raise _invalid(f"State '{state_name}' does not exist in the state machine definition.")
    state = dict(states[state_name])
    if "QueryLanguage" in document and "QueryLanguage" not in state:
        state["QueryLanguage"] = document["QueryLanguage"]
    return state, state_name


def run_test_state(*, definition: str, role_arn: str | None, input_text: str | None,
                   inspection_level: str, state_name: str | None, variables: str | None,
                   mock: dict | None, context: str | None, state_configuration: dict | None,
                   account_id: str, region: str) -> dict:
    """The TestState response for one request."""
    from moto.stepfunctions.parser.asl.static_analyser.test_state.test_state_analyser import (
        TestStateStaticAnalyser)
    from moto.stepfunctions.parser.backend.state_machine import TestStateMachine

    state, name = _select_state(definition, state_name)
    state_json = json.dumps(state)
    try:
        TestStateStaticAnalyser().analyse(state_json)
    except Exception as exc:  # ASLParserException, ValueError
        from labhelpers.emulator.asl_validation import parser_diagnostic

        diag = parser_diagnostic(exc)
        raise _invalid(f"Invalid State Machine Definition: '{diag['code']}: {diag['message']}'") from None
    try:
        json.loads(input_text or "{}")
        variables_value = json.loads(variables) if variables else {}
    except ValueError as err:
        from labhelpers.emulator.moto_compat import aws_error

        raise aws_error("InvalidExecutionInput", f"Invalid input: {err}") from None

    machine_name = f"TestState-{uuid.uuid4().hex[:10]}"
    arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{machine_name}"
    machine = TestStateMachine(name=machine_name, arn=arn, role_arn=role_arn or "", definition=state_json)
    machine.sm_type = "STANDARD"
    execution = _execution_class()(
        name=machine_name, role_arn=role_arn or "", exec_arn=f"{arn.replace(':stateMachine:', ':express:')}:{uuid.uuid4()}",
        account_id=account_id, region_name=region, state_machine=machine,
        start_date=datetime.datetime.now(tz=datetime.timezone.utc), activity_store={},
        input_data=input_text or "{}")
    execution.lab = {"state": state, "name": name, "mock": mock or {}, "variables": variables_value,
                     "config": state_configuration or {}}
    execution.start()
    return _response(execution, state, name, inspection_level)


def _execution_class() -> type:
    from moto.stepfunctions.parser.backend.test_state.execution import TestStateExecution
    from moto.stepfunctions.parser.backend.test_state.execution_worker import TestStateExecutionWorker

    class LabTestStateWorker(TestStateExecutionWorker):
        lab: dict

        def _get_evaluation_entrypoint(self) -> Any:
            program = super()._get_evaluation_entrypoint()
            _decorate(program.test_state, self.lab)
            return program

        def _get_evaluation_environment(self) -> Any:
            env = super()._get_evaluation_environment()
            for key, value in self.lab["variables"].items():
                env.variable_store.set(key, value)
            env.variable_store.reset_tracing()
            env.lab_record = self.lab.setdefault("record", {})
            return env

    class LabComm(TestStateExecution.TestCaseExecutionWorkerCommunication):
        def terminated(self) -> None:
            from moto.stepfunctions.parser.api import ExecutionStatus
            from moto.stepfunctions.parser.asl.eval.program_state import ProgramRunning

            env = self.execution.exec_worker.env
            if isinstance(env.program_state(), ProgramRunning):
                # The state went on to a Next (or a catcher's): it succeeded, for TestState.
                self.execution.exec_status = ExecutionStatus.SUCCEEDED
                self.execution.output = env.states.get_input()
                return
            super().terminated()

    class LabTestStateExecution(TestStateExecution):
        def _get_start_execution_worker_comm(self) -> Any:
            return LabComm(self)

        def _get_start_execution_worker(self) -> Any:
            worker = super()._get_start_execution_worker()
            worker.__class__ = LabTestStateWorker
            worker.lab = self.lab
            return worker

    return LabTestStateExecution


def _decorate(state_field: Any, lab: dict) -> None:
    """Mocks, the AWS state name, and recorders for catch/retry/arguments."""
    from moto.stepfunctions.parser.asl.component.common.catch.catch_outcome import CatchOutcome
    from moto.stepfunctions.parser.asl.component.common.parargs import Arguments
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    state = lab["state"]
    record = lab.setdefault("record", {})
    state_field.name = lab["name"]
    mock = lab["mock"]
    if "result" in mock or "errorOutput" in mock:
        def _eval_execution(env: Any) -> None:
            if getattr(state_field, "parargs", None) is not None:
                # AWS evaluates Parameters/Arguments before it uses the mock.
                state_field.parargs.eval(env=env)
                env.stack.pop()
            if "errorOutput" in mock:
                _raise_mocked_error(env, mock["errorOutput"])
            result = json.loads(mock["result"])
            env.stack.append(result)
            env.inspection_data["result"] = to_json_str(result)

        state_field._eval_execution = _eval_execution
    parargs = getattr(state_field, "parargs", None)
    if isinstance(parargs, Arguments):
        original_args = parargs._eval_body

        def _args_body(env: Any) -> None:
            original_args(env)
            env.inspection_data["afterArguments"] = to_json_str(env.stack[-1])

        parargs._eval_body = _args_body
    if getattr(state_field, "retry", None) is not None:
        def _handle_retry(env: Any, failure_event: Any) -> Any:
            error, cause = _error_and_cause(failure_event)
            count = int(lab["config"].get("retrierRetryCount") or 0)
            for index, retrier in enumerate(state.get("Retry") or []):
                if _error_matches(retrier.get("ErrorEquals") or [], error):
                    if count < int(retrier.get("MaxAttempts", 3)):
                        interval = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** count
                        if "MaxDelaySeconds" in retrier:
                            interval = min(interval, retrier["MaxDelaySeconds"])
                        record["retriable"] = {"error": error, "cause": cause, "retryIndex": index,
                                               "retryBackoffIntervalSeconds": int(interval)}
                        raise _Retriable()
                    break
            from moto.stepfunctions.parser.asl.component.common.retry.retry_outcome import RetryOutcome

            return RetryOutcome.CannotRetry

        state_field._handle_retry = _handle_retry
    if getattr(state_field, "catch", None) is not None:
        original_catch = state_field._handle_catch

        def _handle_catch(env: Any, failure_event: Any) -> None:
            original_catch(env, failure_event)
            if env.stack[-1] == CatchOutcome.Caught:
                error, cause = _error_and_cause(failure_event)
                index = next((i for i, c in enumerate(state.get("Catch") or [])
                              if _error_matches(c.get("ErrorEquals") or [], error)), 0)
                record["caught"] = {"error": error, "cause": cause, "catchIndex": index,
                                    "next": state["Catch"][index].get("Next")}

        state_field._handle_catch = _handle_catch


def _error_and_cause(failure_event: Any) -> tuple[str, str]:
    details = next(iter(failure_event.event_details.values()), {}) or {}
    return details.get("error", failure_event.error_name.error_name if failure_event.error_name else ""), \
        details.get("cause", "")


def _raise_mocked_error(env: Any, error_output: dict) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent, FailureEventException)
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType)

    error, cause = error_output.get("error", ""), error_output.get("cause", "")
    try:
        # Catchers match States.* names only as StatesErrorName, not as custom names.
        error_name: Any = StatesErrorName(typ=StatesErrorNameType.from_name(error))
    except Exception:
        error_name = CustomErrorName(error)
    raise FailureEventException(failure_event=FailureEvent(
        env=env, error_name=error_name, event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(error=error, cause=cause))))


def _response(execution: Any, state: dict, name: str, inspection_level: str) -> dict:
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    env = execution.exec_worker.env
    record = execution.lab.get("record", {})
    inspection = dict(env.inspection_data)
    language = state.get("QueryLanguage", "JSONPath")
    response: dict[str, Any] = {}
    if "retriable" in record:
        retriable = record["retriable"]
        response.update(status="RETRIABLE", error=retriable["error"], cause=retriable["cause"])
        inspection["errorDetails"] = {"retryIndex": retriable["retryIndex"],
                                      "retryBackoffIntervalSeconds": retriable["retryBackoffIntervalSeconds"]}
    elif "caught" in record:
        caught = record["caught"]
        response.update(status="CAUGHT_ERROR", error=caught["error"], cause=caught["cause"],
                        nextState=caught["next"], output=to_json_str(env.states.get_input()))
        inspection["errorDetails"] = {"catchIndex": caught["catchIndex"]}
    elif isinstance(env.program_state(), ProgramError):
        error = env.program_state().error
        response.update(status="FAILED", error=error.get("error", ""), cause=error.get("cause", ""))
    else:
        response.update(status="SUCCEEDED", output=to_json_str(env.states.get_input()))
        next_state = getattr(execution, "next_state", None) or env.next_state_name
        if next_state and next_state != name:
            response["nextState"] = next_state
        if language == "JSONPath" and state.get("Type") in ("Pass", "Task") and "afterResultSelector" not in inspection:
            # AWS shows the (absent) ResultSelector step as a no-op on the result.
            for key in ("result", "afterParameters", "afterInputPath"):
                if key in inspection:
                    inspection["afterResultSelector"] = inspection[key]
                    break
    assigned = env.variable_store.get_assigned_variables()
    if assigned:
        inspection["variables"] = to_json_str({k: json.loads(v) for k, v in assigned.items()})
    if inspection_level == "INFO":
        # INFO has no inspection data beyond what explains an error.
        inspection = {k: v for k, v in inspection.items() if k == "errorDetails"}
    if inspection:
        response["inspectionData"] = inspection
    return response
