"""Correctness: where moto's answers differ from the AWS recordings in tests/data/aws-recordings,
made to give AWS's shapes, one patch each (tests/test_recordings.py replays every recording).

These patches come after ``fixes`` and ``robustness`` in the correctness group, so the ones that
touch a function an earlier patch replaced wrap it as it is (``wrap_current``), never replace it.
"""

from __future__ import annotations

import email.utils
import json
import re
import secrets
import threading
import uuid
from typing import Any

from labhelpers.emulator.patching import Patch, wrap_current

_PARSER = "moto.stepfunctions.parser"
_EXECUTION_WORKER = f"{_PARSER}.backend.execution_worker"
_EXECUTION = f"{_PARSER}.backend.execution"
_MODELS = f"{_PARSER}.models"
_LAMBDA_EVAL = f"{_PARSER}.asl.component.state.exec.state_task.lambda_eval_utils"
_STATE_TASK_LAMBDA = f"{_PARSER}.asl.component.state.exec.state_task.state_task_lambda"
_STATE = f"{_PARSER}.asl.component.state.state"
_FAILURE_EVENT = f"{_PARSER}.asl.component.common.error_name.failure_event"
_OUTPUT_PATH = f"{_PARSER}.asl.component.common.path.output_path"
_EVENT_MANAGER = f"{_PARSER}.asl.eval.event.event_manager"
_JSONATA_VALUE = f"{_PARSER}.asl.component.common.jsonata.jsonata_template_value"
_MARKER = "__labhelpers_parity__"


def _wrap(module: str, attribute: str, make: Any) -> Any:
    """Install by wrapping the attribute as it is now (an earlier patch may have replaced it)."""
    return lambda runtime: wrap_current(module, attribute, make, marker=_MARKER)


# --- 1. The context object's Execution.RedriveCount ------------------------------------------------

def _redrive_count_in_context(current: Any) -> Any:
    def _get_evaluation_environment(self: Any) -> Any:
        env = current(self)
        # AWS: $$.Execution.RedriveCount (0 until the execution is redriven); moto has no such key.
        env.states.context_object.context_object_data["Execution"].setdefault("RedriveCount", 0)
        return env

    return _get_evaluation_environment


# --- 2. DescribeExecution's redriveCount and redriveStatus -------------------------------------------

_REDRIVABLE = {"FAILED", "TIMED_OUT", "ABORTED"}


def _describe_with_redrive(current: Any) -> Any:
    def to_describe_output(self: Any) -> Any:
        output = current(self)
        status = str(getattr(output.get("status"), "value", output.get("status")))
        output["redriveCount"] = 0
        if status in _REDRIVABLE:
            output["redriveStatus"] = "REDRIVABLE"
        else:
            output["redriveStatus"] = "NOT_REDRIVABLE"
            output["redriveStatusReason"] = f"Execution is {status} and cannot be redriven"
        return output

    return to_describe_output


# --- 3. lambda:invoke results carry the SDK's HTTP metadata --------------------------------------------

def _sdk_metadata(payload: Any, version: str) -> dict:
    """What AWS adds to a lambda:invoke result: the invoke response's headers and request id.
    Content-Length is the function's response as the Python runtime writes it (json.dumps)."""
    body = payload if isinstance(payload, str) else json.dumps(payload)
    request_id = str(uuid.uuid4())
    trace = (f"Root=1-{secrets.token_hex(4)}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};"
             f"Sampled=0;Lineage=1:{secrets.token_hex(4)}:0")
    headers = {"Connection": "keep-alive", "Content-Length": str(len(body.encode())),
               "Content-Type": "application/json", "Date": email.utils.formatdate(usegmt=True),
               "X-Amz-Executed-Version": version, "x-amzn-Remapped-Content-Length": "0",
               "x-amzn-RequestId": request_id, "X-Amzn-Trace-Id": trace}
    return {"SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                                "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": request_id}}


def _lambda_result_with_metadata(current: Any) -> Any:
    def execute_lambda_function_integration(env: Any, parameters: dict, region: str, state_credentials: Any) -> None:
        current(env=env, parameters=parameters, region=region, state_credentials=state_credentials)
        response = env.stack[-1] if env.stack else None
        if env.is_mocked_mode() or not isinstance(response, dict) or "SdkHttpMetadata" in response:
            return
        if {"StatusCode", "Payload"} <= set(response):  # a real invocation, not a mocked result
            response.update(_sdk_metadata(response["Payload"], str(response.get("ExecutedVersion", "$LATEST"))))

    return execute_lambda_function_integration


# --- 4. A Lambda task's error cause is the function's own payload text -----------------------------------

def _lambda_task_cause_as_returned(original: Any) -> Any:
    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils import (
            LambdaFunctionErrorException)

        if isinstance(ex, LambdaFunctionErrorException):
            # AWS passes on the function's error document as the runtime wrote it (json.dumps,
            # with spaces); moto re-encodes it compactly, which only lambda:invoke does on AWS.
            try:
                ex = LambdaFunctionErrorException(ex.function_error, json.dumps(json.loads(ex.payload)))
            except ValueError:
                pass
        return original(self, env, ex)

    return _from_error


# --- 5. StartExecution rejects bad input with AWS's (Jackson's) messages ---------------------------------

_JSON_VALUE = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


def _input_error(text: str) -> str | None:
    """AWS's message for an execution input that is not JSON, or None when it is JSON."""
    try:
        json.loads(text)
        return None
    except ValueError as err:
        pos = getattr(err, "pos", 0)
        msg = getattr(err, "msg", str(err))
    if not text.strip():
        return "Invalid execution input."
    char = text[pos] if pos < len(text) else ""
    if msg == "Expecting value" and re.match(r"[A-Za-z_$]", char):
        token = re.match(r"[\w$]+", text[pos:]).group(0)  # type: ignore[union-attr]
        return f"Unrecognized token '{token}': was expecting {_JSON_VALUE}"
    if msg.startswith("Expecting property name") and char:
        return f"Unexpected character ('{char}' (code {ord(char)})): was expecting double-quote to start field name"
    if msg == "Expecting value" and char:
        return f"Unexpected character ('{char}' (code {ord(char)})): expected a valid value {_JSON_VALUE}"
    return msg


def _start_execution_input_checked(current: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None,
                        trace_header: Any = None) -> Any:
        from moto.stepfunctions.parser.api import InvalidExecutionInput

        if execution_input is not None:
            problem = _input_error(execution_input)
            if problem is not None:
                raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{problem}'")
        return current(self, state_machine_arn, name, execution_input, trace_header)

    return start_execution


# --- 6. A failure names the event at which its state was entered -----------------------------------------

_entered = threading.local()  # this thread's (state name, Entered event id): branches run in threads


def _remember_state_entered(current: Any) -> Any:
    def _eval_state_input(self: Any, env: Any) -> None:
        # Called right after the state's Entered event, which is this frame's last event.
        entered = (self.name, env.event_history_context.last_published_event_id)
        env._lab_state_entered = entered
        _entered.state = (env.event_manager, *entered)  # for the event manager's own events
        current(self, env)

    return _eval_state_input


def _failure_names_entered_event(current: Any) -> Any:
    def __init__(self: Any, env: Any, error_name: Any, event_type: Any, event_details: Any = None) -> None:
        current(self, env, error_name, event_type, event_details)
        # "entered at the event id #N" is the state's Entered event on AWS; moto gave the latest event.
        entered = getattr(env, "_lab_state_entered", None)
        if entered and entered[0] == self.state_name:
            self.source_event_id = entered[1]

    return __init__


# --- 7. OutputPath on a missing property: Jayway's message ------------------------------------------------

_SIMPLE_PATH = re.compile(r"\$((?:\.[A-Za-z_][\w-]*)+)")


def _missing_property(json_path: str, data: Any) -> str | None:
    """AWS's "Missing property in path $['a']['b']" for a dotted path, at its first missing key."""
    match = _SIMPLE_PATH.fullmatch(json_path)
    if not match:
        return None
    walked = ""
    for key in match.group(1)[1:].split("."):
        walked += f"['{key}']"
        if not isinstance(data, dict) or key not in data:
            return f"Invalid path '{json_path}' : Missing property in path ${walked}"
        data = data[key]
    return None


def _output_path_message(current: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException

        data = env.states.get_input()
        try:
            current(self, env)
        except FailureEventException as failure:
            details = (failure.failure_event.event_details or {}).get("taskFailedEventDetails") or {}
            sampler = getattr(self.string_sampler, "literal_value", None)
            message = _missing_property(sampler, data) if sampler else None
            if message and "No results for path" in str(details.get("cause", "")):
                details["cause"] = message
            raise

    return _eval_body


# --- 8. EvaluationFailed events as AWS writes them ----------------------------------------------------

_NOTHING = re.compile(r"(The JSONata expression '.*?')( returned .*)", re.S)


def _evaluation_failed_like_aws(current: Any) -> Any:
    def add_event(self: Any, context: Any, event_type: Any, event_details: Any = None,
                  *args: Any, **kwargs: Any) -> int:
        details = (event_details or {}).get("evaluationFailedEventDetails")
        if details is None or str(getattr(event_type, "value", event_type)) != "EvaluationFailed":
            return current(self, context, event_type, event_details, *args, **kwargs)
        # AWS names the field in the cause ("... specified for the field 'Output' returned nothing"),
        # which the execution's failure repeats; the event also names the state and the event at
        # which it was entered, and has previousEventId 0.
        location, cause = details.get("location"), details.get("cause") or ""
        if location and "specified for the field" not in cause:
            details["cause"] = cause = _NOTHING.sub(rf"\1 specified for the field '{location}'\2", cause, count=1)
        manager, state, entered = getattr(_entered, "state", (None, None, None))
        if "state" not in details and manager is self:  # this execution's state, on this thread
            event_details = dict(event_details, evaluationFailedEventDetails=dict(
                details, state=state,
                cause=f"An error occurred while executing the state '{state}' (entered at the event id "
                      f"#{entered}). {cause}"))
        source, context.source_event_id = context.source_event_id, 0
        try:
            return current(self, context, event_type, event_details, *args, **kwargs)
        finally:
            if context.source_event_id == 0:  # not moved on to this event (update_source_event_id=False)
                context.source_event_id = source

    return add_event


def _no_field_name(original: Any) -> Any:
    def _field_name(self: Any) -> None:
        return None  # a JSONata value is not a field: the field it belongs to stays the location

    return _field_name


PATCHES: list[Patch] = [
    Patch("context_object_has_redrive_count",
          "$$.Execution (and $states.context.Execution) lacks RedriveCount, which AWS gives (0).",
          (f"{_EXECUTION_WORKER}:ExecutionWorker._get_evaluation_environment",
           f"{_PARSER}.asl.eval.states:ContextObject", f"{_PARSER}.asl.eval.states:States.__init__"),
          _wrap(_EXECUTION_WORKER, "ExecutionWorker._get_evaluation_environment", _redrive_count_in_context)),
    Patch("describe_execution_has_redrive_status",
          "DescribeExecution has no redriveCount/redriveStatus (REDRIVABLE for a failed, timed-out or "
          "aborted execution; NOT_REDRIVABLE with a reason otherwise).",
          (f"{_EXECUTION}:Execution.to_describe_output",),
          _wrap(_EXECUTION, "Execution.to_describe_output", _describe_with_redrive)),
    Patch("lambda_invoke_result_has_sdk_metadata",
          "A lambda:invoke result lacks SdkHttpMetadata and SdkResponseMetadata (headers, request id).",
          (f"{_LAMBDA_EVAL}:execute_lambda_function_integration",
           f"{_PARSER}.asl.eval.environment:Environment.is_mocked_mode"),
          _wrap(_LAMBDA_EVAL, "execute_lambda_function_integration", _lambda_result_with_metadata)),
    Patch.replacing("lambda_task_error_cause_as_the_function_wrote_it",
          "A Lambda task (function-ARN resource) re-encodes the function's error document compactly; "
          "AWS's Cause keeps the runtime's text (json.dumps with spaces).",
          f"{_STATE_TASK_LAMBDA}:StateTaskLambda._from_error", _lambda_task_cause_as_returned,
          relies_on=(f"{_LAMBDA_EVAL}:LambdaFunctionErrorException",)),
    Patch("start_execution_input_errors_like_aws",
          "StartExecution with non-JSON input answers with Python's JSON message (empty input: "
          "'Expecting value'); AWS says \"Invalid State Machine Execution Input: '<Jackson message>'\".",
          (f"{_MODELS}:StepFunctionsParserBackend.start_execution", f"{_PARSER}.api:InvalidExecutionInput"),
          _wrap(_MODELS, "StepFunctionsParserBackend.start_execution", _start_execution_input_checked)),
    Patch("failure_cause_names_the_state_entered_event",
          "'An error occurred while executing the state X (entered at the event id #N)' gives the "
          "latest event's id; AWS gives the id of the state's Entered event.",
          (f"{_STATE}:CommonStateField._eval_state_input", f"{_STATE}:CommonStateField._eval_body",
           f"{_FAILURE_EVENT}:FailureEvent.__init__", f"{_PARSER}.asl.eval.environment:Environment.as_inner_frame_of"),
          lambda rt: (wrap_current(_STATE, "CommonStateField._eval_state_input", _remember_state_entered,
                                   marker=_MARKER),
                      wrap_current(_FAILURE_EVENT, "FailureEvent.__init__", _failure_names_entered_event,
                                   marker=_MARKER))),
    Patch.replacing("output_path_missing_property_message",
          "OutputPath on a missing key fails with \"No results for path: $['a.b.c']\"; AWS names the "
          "first missing property: \"Missing property in path $['a']\".",
          f"{_OUTPUT_PATH}:OutputPath._eval_body", _output_path_message),
    Patch.replacing("evaluation_failed_event_like_aws",
          "A JSONata expression that returns nothing fails with an EvaluationFailed event without the "
          "state, the field in its cause, or AWS's previousEventId 0.",
          f"{_EVENT_MANAGER}:EventManager.add_event", _evaluation_failed_like_aws,
          relies_on=(f"{_EVENT_MANAGER}:EventHistoryContext", f"{_STATE}:CommonStateField._eval_state_input")),
    Patch.replacing("jsonata_value_is_not_the_failing_field",
          "An EvaluationFailed location names an interpreter class (JSONataTemplateValueTerminalString"
          "JSONata) instead of the state's field (Output, Arguments...).",
          f"{_JSONATA_VALUE}:JSONataTemplateValue._field_name", _no_field_name,
          relies_on=(f"{_PARSER}.asl.component.eval_component:EvalComponent._field_name",
                     f"{_PARSER}.asl.component.eval_component:EvalComponent.eval")),
]

