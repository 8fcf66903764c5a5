"""Step Functions APIs and ASL features moto lacks, added to the emulator.

Each entry of ``PATCHES`` is a :class:`labhelpers.emulator.patching.Patch`. moto's HTTP layer
(``StepFunctionResponse``) dispatches an action to the method of the same snake_case name, so a
new API is a new method there; its patch fingerprints the moto function the new code relies on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from labhelpers.emulator.patching import Patch, replace_everywhere, wrap_current

log = logging.getLogger("labhelpers.emulator")

_PARSER = "moto.stepfunctions.parser"
_MODELS = f"{_PARSER}.models"
_RESPONSES = "moto.stepfunctions.responses"
_STRING_EXPR = f"{_PARSER}.asl.component.common.string.string_expression"
_EXECUTION = f"{_PARSER}.backend.execution"
_TEST_STATE_EXECUTION = f"{_PARSER}.backend.test_state.execution"
#: What the added APIs read their parameters with, and the base of the errors they raise
#: (labhelpers.emulator.moto_compat builds those).
_GET_PARAM = "moto.core.responses:BaseResponse._get_param"
_SERVICE_EXCEPTION = "moto.core.exceptions:ServiceException"


# --- 1. ValidateStateMachineDefinition, and AWS's InvalidDefinition messages ------------

def definition_diagnostics(definition: str, sm_type: str = "STANDARD") -> list[dict]:
    """AWS-style diagnostics: the static checks, then moto's parser for what they miss.

    What moto's grammar rejects but AWS accepts (``grammar``: Distributed Map EXPRESS, the HTTP
    Task, ${...} placeholders...) is valid here too; its executions fail with States.Runtime.
    """
    from labhelpers.emulator import asl_validation, grammar

    diagnostics = asl_validation.validate(definition)
    if diagnostics:
        return diagnostics
    from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import ExpressStaticAnalyser

    grammar.install_parser_fixes()  # the same verdict whether or not the emulator's patches are in
    analyser = ExpressStaticAnalyser() if sm_type == "EXPRESS" else _PlainAnalyser()
    try:
        analyser.analyse(definition)
    except Exception as exc:  # the parser raises ASLParserException, ValueError, ...
        if grammar.accepted_despite_moto(definition, analyser.analyse):
            return []
        return [asl_validation.parser_diagnostic(exc)]
    return []


class _PlainAnalyser:
    def analyse(self, definition: str) -> None:
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        AmazonStateLanguageParser.parse(definition)


def _validate_definition_like_aws(original: Any) -> Any:
    def _validate_definition(definition: str) -> None:
        from labhelpers.emulator.asl_validation import invalid_definition_message
        from labhelpers.emulator.moto_compat import aws_error

        errors = [d for d in definition_diagnostics(definition) if d["severity"] == "ERROR"]
        if errors:
            # AWS's one-line message, never the parser's repr or the whole definition.
            raise aws_error("InvalidDefinition", invalid_definition_message(errors))

    return _validate_definition


def _install_validate_definition(_: Any) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.__dict__["_validate_definition"].__func__
    original = getattr(original, "__labhelpers_original__", original)
    replacement = _validate_definition_like_aws(original)
    replacement.__labhelpers_original__ = original
    StepFunctionsParserBackend._validate_definition = staticmethod(replacement)


def _validate_state_machine_definition(self: Any) -> Any:
    """ValidateStateMachineDefinition: never raises for a bad definition, lists diagnostics."""
    from moto.core.responses import ActionResult

    definition = self._get_param("definition") or ""
    sm_type = self._get_param("type") or "STANDARD"
    severity = self._get_param("severity") or "ERROR"
    max_results = int(self._get_param("maxResults") or 100)
    diagnostics = definition_diagnostics(definition, sm_type)
    if severity == "ERROR":
        shown = [d for d in diagnostics if d["severity"] == "ERROR"]
    else:
        shown = diagnostics
    result = "FAIL" if any(d["severity"] == "ERROR" for d in diagnostics) else "OK"
    return ActionResult({"result": result, "diagnostics": shown[:max_results],
                         "truncated": len(shown) > max_results})


# --- 2. TestState --------------------------------------------------------------------

def _test_state(self: Any) -> Any:
    from moto.core.responses import ActionResult

    from labhelpers.emulator.test_state import run_test_state

    return ActionResult(run_test_state(
        definition=self._get_param("definition"), role_arn=self._get_param("roleArn"),
        input_text=self._get_param("input"), inspection_level=self._get_param("inspectionLevel") or "INFO",
        state_name=self._get_param("stateName"), variables=self._get_param("variables"),
        mock=self._get_param("mock"), context=self._get_param("context"),
        state_configuration=self._get_param("stateConfiguration"),
        account_id=self.current_account, region=self.region))


# --- 3. JSONata -----------------------------------------------------------------------

def _variables(env: Any) -> dict[str, Any]:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}


def _query_failure(env: Any, cause: str) -> Exception:
    """The States.QueryEvaluationError AWS raises, with its EvaluationFailed event."""
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent, FailureEventException)
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType)
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    details = EvaluationFailedEventDetails(error=error_name.error_name, cause=cause)
    if getattr(env, "next_field_name", None):
        details["location"] = env.next_field_name
    env.event_manager.add_event(context=env.event_history_context,
                                event_type=HistoryEventType.EvaluationFailed,
                                event_details=EventDetails(evaluationFailedEventDetails=details))
    return FailureEventException(failure_event=FailureEvent(
        env=env, error_name=error_name, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=details)))


def _evaluate_jsonata(env: Any, expression: str, with_states: bool) -> Any:
    from labhelpers.emulator import jsonata_eval

    bindings = dict(_variables(env))
    if with_states:
        states = dict(env.states._states_data)
        # As on AWS, $states.result exists after a success and $states.errorOutput after an
        # error (moto sets both to the error output when a state fails).
        if states.get("errorOutput") is not None:
            states.pop("result", None)
        for key in ("result", "errorOutput"):
            if states.get(key) is None:
                states.pop(key, None)
        bindings["states"] = states
    try:
        return jsonata_eval.evaluate(expression, bindings)
    except Exception as exc:  # jsonata-python raises JException (and others) with a message
        message = getattr(exc, "message", None) or str(exc)
        raise _query_failure(env, f"An error occurred while evaluating the JSONata expression "
                                  f"'{expression}': {message}") from None


def _jsonata_string_eval(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        from labhelpers.emulator.jsonata_eval import UNDEFINED

        result = _evaluate_jsonata(env, self.expression, with_states=True)
        if result is UNDEFINED:
            raise _query_failure(env, f"The JSONata expression '{self.expression}' returned nothing (undefined).")
        env.stack.append(result)

    return _eval_body


def _variable_sample_eval(original: Any) -> Any:
    def _eval_body(self: Any, env: Any) -> None:
        from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode

        from labhelpers.emulator.jsonata_eval import UNDEFINED

        with_states = self.query_language_mode == QueryLanguageMode.JSONata
        result = _evaluate_jsonata(env, self.expression, with_states=with_states)
        env.stack.append(None if result is UNDEFINED else result)

    return _eval_body


# --- 4. JSONPath filters ----------------------------------------------------------------

_JSON_PATH = f"{_PARSER}.asl.utils.json_path"
#: The interpreter modules that do ``from ...json_path import extract_json``
#: (tests/test_sfn_extensions.py checks this list against moto's source).
EXTRACT_JSON_USERS = tuple(f"{_PARSER}.asl.{m}" for m in (
    "component.common.string.string_expression",
    "component.intrinsic.argument.argument",
    "component.state.choice.comparison.operator.implementations.timestamp_operators",
    "component.state.choice.comparison.operator.implementations.boolean_equals",
    "component.state.choice.comparison.operator.implementations.numeric",
    "component.state.choice.comparison.operator.implementations.string_operators",
    "eval.states",
))


def _filter_without_match_is_empty(original: Any) -> Any:
    def extract_json(path: str, data: Any) -> Any:
        from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

        try:
            return original(path, data)
        except NoSuchJsonPathError:
            # A filter is an indefinite path: like Jayway JsonPath (AWS), no match is [].
            if "[?(" in path:
                return []
            raise

    return extract_json


def _install_extract_json(_: Any) -> None:
    replace_everywhere(_JSON_PATH, "extract_json", _filter_without_match_is_empty, EXTRACT_JSON_USERS)


# --- 5. StartSyncExecution -------------------------------------------------------------

def _start_sync_execution(self: Any) -> Any:
    from moto.core.responses import ActionResult

    from labhelpers.emulator.sync_execution import start_sync_execution

    return ActionResult(start_sync_execution(
        backend=self.stepfunction_backend, state_machine_arn=self._get_param("stateMachineArn"),
        name=self._get_param("name"), input_text=self._get_param("input"),
        trace_header=self._get_param("traceHeader")))


# --- 6. Mock config (failure injection) -------------------------------------------------

_pending_mock = threading.local()


def _mocked_start_execution(original: Any) -> Any:
    def start_execution(self: Any, state_machine_arn: str, name: Any = None,
                        execution_input: Any = None, trace_header: Any = None) -> Any:
        from labhelpers.emulator.mock_config import mock_test_case_for

        base_arn, _, test_case = state_machine_arn.partition("#")
        if not test_case:
            return original(self, state_machine_arn, name, execution_input, trace_header)
        state_machine = self.describe_state_machine(base_arn)
        _pending_mock.value = mock_test_case_for(state_machine.name, test_case)
        try:
            return original(self, base_arn, name, execution_input, trace_header)
        finally:
            _pending_mock.value = None

    return start_execution


def _worker_with_mock(original: Any) -> Any:
    def _get_start_execution_worker(self: Any) -> Any:
        worker = original(self)
        mock = getattr(self, "lab_mock_test_case", None) or getattr(_pending_mock, "value", None)
        if mock is not None:
            self.lab_mock_test_case = mock
            worker._mock_test_case = mock
        return worker

    return _get_start_execution_worker


# --- the patches -------------------------------------------------------------------

def _add_action(name: str, func: Any) -> Any:
    def install(_: Any) -> None:
        from moto.stepfunctions.responses import StepFunctionResponse

        setattr(StepFunctionResponse, name, func)

    return install


PATCHES: list[Patch] = [
    Patch("invalid_definition_messages_like_aws",
          "moto reports a bad definition as repr(ASLParserException) or with the whole definition; "
          "AWS gives 'Invalid State Machine Definition: ...' naming the problem and the state.",
          (f"{_MODELS}:StepFunctionsParserBackend._validate_definition", _SERVICE_EXCEPTION),
          _install_validate_definition),
    Patch("validate_state_machine_definition_api",
          "moto's HTTP layer has no ValidateStateMachineDefinition (its provider.py one is never routed).",
          (f"{_PARSER}.asl.parse.asl_parser:AmazonStateLanguageParser.parse", _GET_PARAM,
           f"{_PARSER}.asl.static_analyser.express_static_analyser:ExpressStaticAnalyser"),
          _add_action("validate_state_machine_definition", _validate_state_machine_definition)),
    Patch("test_state_api",
          "moto's HTTP layer has no TestState; its TestStateExecution is never reached.",
          (f"{_TEST_STATE_EXECUTION}:TestStateExecution.to_test_state_output", _GET_PARAM,
           f"{_TEST_STATE_EXECUTION}:TestStateExecution.__init__",
           f"{_PARSER}.backend.test_state.execution_worker:TestStateExecutionWorker",
           f"{_PARSER}.backend.state_machine:TestStateMachine.__init__", _SERVICE_EXCEPTION),
          _add_action("test_state", _test_state)),
    Patch.replacing("jsonata_evaluated_by_jsonata_python",
          "moto's JSONata evaluator is a stub (a JVM bridge that is never started): every JSONata state fails.",
          f"{_STRING_EXPR}:StringJSONata._eval_body",
          _jsonata_string_eval),
    Patch.replacing("variable_references_evaluated_by_jsonata_python",
          "$variable references in JSONPath fields go through the same stubbed JSONata evaluator.",
          f"{_STRING_EXPR}:StringVariableSample._eval_body",
          _variable_sample_eval),
    Patch("jsonpath_filter_without_match_is_empty",
          "A JSONPath filter ([?(...)], with && or ||) that matches nothing fails the state with "
          "States.Runtime; AWS gives an empty list.",
          (f"{_JSON_PATH}:extract_json",), _install_extract_json),
    Patch("start_sync_execution_api",
          "moto's HTTP layer has no StartSyncExecution; its SyncExecution is never reached.",
          (f"{_EXECUTION}:SyncExecution.to_start_sync_execution_output", _GET_PARAM,
           f"{_EXECUTION}:SyncExecution.__init__", _SERVICE_EXCEPTION),
          _add_action("start_sync_execution", _start_sync_execution)),
    Patch("mock_config_test_cases",
          "moto's mock-config loader is a stub; start_execution(arn#TestCase) must use SFN_MOCK_CONFIG.",
          (f"{_MODELS}:StepFunctionsParserBackend.start_execution",),
          lambda rt: wrap_current(_MODELS, "StepFunctionsParserBackend.start_execution",
                                   _mocked_start_execution)),
    Patch.replacing("mock_config_reaches_the_worker",
          "moto's Execution never hands its mock test case to the execution worker.",
          f"{_EXECUTION}:Execution._get_start_execution_worker",
          _worker_with_mock),
]

