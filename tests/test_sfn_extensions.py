"""Step Functions APIs and ASL features the emulator adds to moto, checked through plain boto3
against AWS recordings (tests/data/aws-recordings, committed; see tests/data/README.md) where they exist."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

RECORDINGS = Path(__file__).parent / "data" / "aws-recordings"
ROLE = "arn:aws:iam::123456789012:role/lab-test"
# Read by the emulator at each start_execution; set before the session's emulator starts.
MOCK_CONFIG = Path(tempfile.mkdtemp(prefix="sfn-mock-")) / "mock.json"
os.environ["SFN_MOCK_CONFIG"] = str(MOCK_CONFIG)


def _recording(scenario: str, name: str):
    return json.loads((RECORDINGS / scenario / name).read_text())


@pytest.fixture(scope="module")
def sfn(lab):
    return lab.sfn


@pytest.fixture(scope="module")
def sync_sfn(lab):
    """The Lab's own client: TestState and StartSyncExecution work with it as on AWS."""
    return lab.sfn


def _create(sfn, definition: dict, **kwargs) -> str:
    return sfn.create_state_machine(name=f"ext-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition),
                                    roleArn=ROLE, **kwargs)["stateMachineArn"]


def _run(sfn, arn: str, payload, timeout: float = 30) -> tuple[dict, list[dict]]:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution did not end"
        time.sleep(0.1)
    return described, sfn.get_execution_history(executionArn=execution)["events"]


def _validate(sfn, definition) -> dict:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    response = sfn.validate_state_machine_definition(definition=text, type="STANDARD")
    response.pop("ResponseMetadata")
    return response


# --- 1. ValidateStateMachineDefinition and InvalidDefinition ------------------------------

@pytest.mark.parametrize("scenario", [
    "test_sfn_api_validation__test_validate_state_machine_definition_type_standard__INVALID_BASE_NO_STARTAT",
    "test_sfn_api_validation__test_validate_state_machine_definition_type_standard__INVALID_DOWNGRADE_QUERY_LANGUAGE",
])
def test_validate_matches_the_aws_recording(sfn, scenario):
    expected = _recording(scenario, "recorded.json")["validation_response"]
    expected.pop("ResponseMetadata")
    assert _validate(sfn, (RECORDINGS / scenario / "definition.json").read_text()) == expected


def test_validate_accepts_a_valid_definition(sfn):
    assert _validate(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}) == {
        "result": "OK", "diagnostics": [], "truncated": False}


def test_validate_accepts_the_lab_state_machine(lab, sfn):
    definition = sfn.describe_state_machine(stateMachineArn=lab.state_machine_arn)["definition"]
    assert _validate(sfn, definition)["result"] == "OK"


def _codes(response: dict) -> list[tuple[str, str | None]]:
    return [(d["code"], d.get("location")) for d in response["diagnostics"]]


def test_validate_reports_a_json_syntax_error(sfn):
    response = _validate(sfn, '{"StartAt": "A", "States": {')
    assert response["result"] == "FAIL"
    assert _codes(response) == [("INVALID_JSON_DESCRIPTION", None)]
    assert "line: 1" in response["diagnostics"][0]["message"]


@pytest.mark.parametrize("state, location", [
    ({"Type": "Pass", "Next": "Nowhere"}, "/States/A/Next"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Nowhere"}],
      "Default": "B"}, "/States/A/Choices[0]/Next"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "B"}],
      "Default": "Nowhere"}, "/States/A/Default"),
    ({"Type": "Pass", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nowhere"}], "Next": "B"},
     "/States/A/Catch[0]/Next"),
])
def test_validate_reports_a_missing_transition_target(sfn, state, location):
    response = _validate(sfn, {"StartAt": "A", "States": {"A": state, "B": {"Type": "Succeed"}}})
    assert response["result"] == "FAIL"
    assert {"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET",
            "message": "Missing 'Next' target: Nowhere", "location": location} in response["diagnostics"]


def test_validate_reports_an_unreachable_state(sfn):
    response = _validate(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True},
                                                          "Orphan": {"Type": "Pass", "End": True}}})
    assert response["diagnostics"] == [{"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET",
                                        "message": 'State "Orphan" is not reachable.',
                                        "location": "/States/Orphan"}]


def test_validate_reports_a_workflow_without_terminal_state(sfn):
    response = _validate(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                                          "B": {"Type": "Pass", "Next": "A"}}})
    assert response["diagnostics"] == [{"severity": "ERROR", "code": "MISSING_END_STATE",
                                        "message": "Workflow has no terminal state"}]


def test_validate_reports_a_state_without_next_or_end(sfn):
    response = _validate(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass"}, "B": {"Type": "Succeed"}}})
    assert ("SCHEMA_VALIDATION_FAILED", "/States/A") in _codes(response)


@pytest.mark.parametrize("field, value, location", [
    ("InputPath", "$.a[", "/States/A/InputPath"),
    ("OutputPath", "level", "/States/A/OutputPath"),
    ("Parameters", {"x.$": "level"}, "/States/A/Parameters"),
    ("Parameters", {"nested": {"x.$": "$.a["}}, "/States/A/Parameters"),
])
def test_validate_reports_a_bad_jsonpath_with_state_and_field(sfn, field, value, location):
    response = _validate(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", field: value, "End": True}}})
    assert response["result"] == "FAIL"
    assert ("SCHEMA_VALIDATION_FAILED", location) in _codes(response)
    assert "must be a valid JSONPath" in response["diagnostics"][0]["message"]


def test_validate_accepts_paths_variables_and_intrinsics(sfn):
    state = {"Type": "Pass", "InputPath": "$.items[?(@.score > 10 && @.level == 'latest')]",
             "Parameters": {"a.$": "$$.Execution.Id", "b.$": "States.Format('{}', $.x)", "c.$": "$myVar"},
             "ResultPath": "$.out", "End": True}
    assert _validate(sfn, {"StartAt": "A", "States": {"A": state}})["result"] == "OK"


@pytest.mark.parametrize("scenario, key", [
    ("test_sfn_api__test_create_delete_invalid_sm", None),
    ("test_base_scenarios__test_wait_timestamp_invalid__NO_Z", "exception"),
])
def test_create_rejects_like_the_aws_recording(sfn, scenario, key):
    recorded = _recording(scenario, "recorded.json")
    expected = (recorded["invalid_definition_1"]["Error"]["Message"] if key is None else
                recorded[key]["exception_value"].split("operation: ", 1)[1])
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine(name=f"bad-{uuid.uuid4().hex[:8]}", roleArn=ROLE,
                                 definition=(RECORDINGS / scenario / "definition.json").read_text())
    assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    assert caught.value.response["Error"]["Message"] == expected


def test_create_and_update_name_the_problem_and_the_state_in_one_line(sfn):
    bad = {"StartAt": "Bar", "States": {"Bar": {"Type": "Pass", "Next": "Foo"}, "Done": {"Type": "Succeed"}}}
    with pytest.raises(ClientError) as caught:
        _create(sfn, bad)
    message = caught.value.response["Error"]["Message"]
    assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    assert message.startswith("Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: "
                              "Missing 'Next' target: Foo at /States/Bar/Next")
    assert "\n" not in message and "ASLParserException" not in message and "Error=" not in message

    arn = _create(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(bad))
    assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Missing 'Next' target: Foo at /States/Bar/Next" in caught.value.response["Error"]["Message"]


# --- 2. TestState -----------------------------------------------------------------------

def _decoded(response: dict) -> dict:
    """The recordings' normalisation: JSON strings holding objects are decoded."""
    response = {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def decode(value):
        return json.loads(value) if isinstance(value, str) and value.startswith("{") else value

    if "output" in response:
        response["output"] = decode(response["output"])
    if "inspectionData" in response:
        response["inspectionData"] = {k: decode(v) for k, v in response["inspectionData"].items()}
    return response


def test_test_state_debug_shows_the_pass_data_flow_like_aws(sync_sfn):
    scenario = "test_test_state_scenarios__test_base_inspection_level_debug__IO_PASS_STATE"
    expected = _recording(scenario, "recorded.json")["test_case_response"]
    expected.pop("ResponseMetadata")
    response = sync_sfn.test_state(definition=(RECORDINGS / scenario / "definition.json").read_text(),
                                   roleArn=ROLE, input=(RECORDINGS / scenario / "input.json").read_text(),
                                   inspectionLevel="DEBUG")
    assert _decoded(response) == expected


def test_test_state_of_a_whole_jsonata_machine_like_aws(sync_sfn):
    scenario = "test_test_state_scenarios__test_localstack_blogpost_scenario"
    recorded = _recording(scenario, "recorded.json")
    definition = (RECORDINGS / scenario / "definition.json").read_text()
    for request, payload in zip(_recording(scenario, "request.json"), _recording(scenario, "input.json")):
        kwargs = {"mock": request["mock"]} if "mock" in request else {}
        response = sync_sfn.test_state(definition=definition, roleArn=ROLE, input=json.dumps(payload),
                                       inspectionLevel=request["inspectionLevel"],
                                       stateName=request["stateName"], **kwargs)
        expected = recorded[request["recorded_key"]]
        expected.pop("ResponseMetadata")
        assert _decoded(response) == expected, request["recorded_key"]


def test_test_state_catches_a_mocked_error_like_aws(sync_sfn):
    scenario = "test_test_state_scenarios__test_state_task_catch_error__TRACE"
    recorded = _recording(scenario, "recorded.json")
    for request, payload in zip(_recording(scenario, "request.json"), _recording(scenario, "input.json")):
        response = _decoded(sync_sfn.test_state(
            definition=(RECORDINGS / scenario / "definition.json").read_text(), roleArn=ROLE,
            input=json.dumps(payload), inspectionLevel="TRACE", mock=request["mock"]))
        expected = recorded[request["recorded_key"]]
        for key in ("status", "error", "cause", "nextState", "inspectionData"):
            assert response[key] == expected[key], key
        # The context holds generated names and times (normalised in the recording).
        assert response["output"]["errorOutput"] == expected["output"]["errorOutput"]
        assert response["output"]["input"] == expected["output"]["input"]
        assert response["output"]["context"]["State"]["Name"] == "StateName"
        assert set(response["output"]) == {"input", "context", "errorOutput"}


def test_test_state_invokes_the_lab_lambda(lab, sync_sfn):
    fn = lab.functions[0] if hasattr(lab, "functions") else None
    arn = fn or _first_lambda_arn(lab)
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": arn, "Payload.$": "$"}, "ResultSelector": {"code.$": "$.StatusCode"},
             "Next": "After"}
    response = sync_sfn.test_state(definition=json.dumps(state), roleArn=ROLE, inspectionLevel="DEBUG",
                                   input=json.dumps({"user_id": "ts", "level": "latest", "score": 5,
                                                     "max_score": 10, "time_played": 3}))
    assert response["nextState"] == "After"
    assert "result" in response["inspectionData"]
    assert json.loads(response["inspectionData"]["result"])["StatusCode"] == 200
    assert json.loads(response["inspectionData"]["afterResultSelector"]) == {"code": 200}
    assert response["status"] in ("SUCCEEDED", "FAILED")  # the handler's verdict, not the emulator's


def _first_lambda_arn(lab) -> str:
    client = boto3.client("lambda", endpoint_url=lab.sfn.meta.endpoint_url, region_name=lab.sfn.meta.region_name,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client.list_functions()["Functions"][0]["FunctionArn"]


def test_test_state_choice_names_the_branch_taken(sync_sfn):
    state = {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
             "Default": "Small"}
    for n, branch in ((11, "Big"), (3, "Small")):
        response = sync_sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input=json.dumps({"n": n}))
        assert (response["status"], response["nextState"]) == ("SUCCEEDED", branch)


def test_test_state_reports_a_retriable_error(sync_sfn):
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "x"},
             "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
             "End": True}
    response = sync_sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input="{}",
                                   mock={"errorOutput": {"error": "Boom", "cause": "bang"}})
    assert (response["status"], response["error"], response["cause"]) == ("RETRIABLE", "Boom", "bang")
    assert response["inspectionData"]["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 2}


def test_test_state_uses_variables_and_a_mocked_result(sync_sfn):
    state = {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::lambda:invoke",
             "Arguments": {"FunctionName": "x", "Payload": {"who": "{% $name %}"}},
             "Output": "{% $states.result.greeting & ', ' & $name %}", "End": True}
    response = sync_sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input="{}",
                                   inspectionLevel="DEBUG", variables=json.dumps({"name": "Ada"}),
                                   mock={"result": json.dumps({"greeting": "Hello"})})
    assert response["status"] == "SUCCEEDED"
    assert json.loads(response["output"]) == "Hello, Ada"
    assert json.loads(response["inspectionData"]["afterArguments"]) == {"FunctionName": "x",
                                                                        "Payload": {"who": "Ada"}}


# --- 3. JSONata ----------------------------------------------------------------------

JSONATA_SCENARIOS = [
    "test_base_scenarios__test_choice_aws_docs_scenario__CHOICE_STATE_AWS_SCENARIO_JSONATA",
    "test_output__test_base_cases__BASE_EXPR",
    "test_base_scenarios__test_fail_error_jsonata",
    "test_base_scenarios__test_choice_singleton_composite__CHOICE_STATE_SINGLETON_COMPOSITE_LITERAL_JSONATA",
    "test_base_scenarios__test_wait_seconds_jsonata",
    "test_base_scenarios__test_map_state_items_eval_jsonata__mixed",
    "test_assign_reference_variables__test_undefined_reference__BASE_UNDEFINED_OUTPUT",
    "test_output__test_output_in_choice__CONDITION_FALSE",
    "test_base_evaluate_expressions__test_base_map__TOLERATED_FAILURE_PERCENTAGE",
]


@pytest.mark.parametrize("scenario", JSONATA_SCENARIOS)
def test_jsonata_recording_runs_like_aws(sfn, scenario):
    recorded = _recording(scenario, "recorded.json")
    expected = recorded[next(k for k in recorded if "hist" in k)]["events"]
    described, events = _run(sfn, _create(sfn, _recording(scenario, "definition.json")),
                             _recording(scenario, "input.json"))
    assert [e["type"] for e in events] == [e["type"] for e in expected]
    last = expected[-1]
    if "executionSucceededEventDetails" in last:
        want = last["executionSucceededEventDetails"]["output"]
        got = json.loads(events[-1]["executionSucceededEventDetails"]["output"])
        if isinstance(want, dict) and "ja_states_context" in want:  # generated names and dates
            want, got = {k: v for k, v in want.items() if k != "ja_states_context"}, \
                {k: v for k, v in got.items() if k != "ja_states_context"}
        assert got == (json.loads(want) if isinstance(want, str) else want)
    if "executionFailedEventDetails" in last:
        assert events[-1]["executionFailedEventDetails"].get("error") == \
            last["executionFailedEventDetails"].get("error")


def test_jsonata_strings_with_quotes_and_variables(sfn):
    definition = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"quote": "{% $states.input.text %}"}, "Next": "B"},
        "B": {"Type": "Pass", "Output": {"said": "{% $quote & '!' %}", "n": "{% $count($states.input.xs) %}"},
              "End": True}}}
    described, _ = _run(sfn, _create(sfn, definition), {"text": 'she said "hi" and \'bye\'', "xs": [1, None, 3]})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"said": 'she said "hi" and \'bye\'!', "n": 3}


# --- 4. JSONPath filter expressions ------------------------------------------------------

ITEMS = {"items": [{"score": 5, "level": "latest"}, {"score": 15, "level": "latest"},
                   {"score": 20, "level": "old"}]}


@pytest.mark.parametrize("path, expected", [
    ("$.items[?(@.score > 10 && @.level == 'latest')]", [ITEMS["items"][1]]),
    ("$.items[?(@.score > 10 || @.level == 'latest')]", ITEMS["items"]),
    ("$.items[?(@.score<10||@.level=='old')]", [ITEMS["items"][0], ITEMS["items"][2]]),
    ("$.items[?(@.score > 100 && @.level == 'latest')]", []),
])
def test_jsonpath_filters_with_and_or(sfn, path, expected):
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"hits.$": path}, "End": True}}}
    described, _ = _run(sfn, _create(sfn, definition), ITEMS)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"hits": expected}


def test_jsonpath_filter_as_input_path_and_items_path(sfn):
    path = "$.items[?(@.score > 10 && @.level == 'latest')]"
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": path, "ItemProcessor": {"StartAt": "S", "States": {"S": {
            "Type": "Pass", "Parameters": {"s.$": "$.score"}, "End": True}}}, "End": True}}}
    described, _ = _run(sfn, _create(sfn, definition), ITEMS)
    assert json.loads(described["output"]) == [{"s": 15}]


# --- 5. StartSyncExecution -----------------------------------------------------------------

def test_start_sync_execution_returns_the_aws_shape(sfn, sync_sfn):
    arn = _create(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True},
                                                          "ResultPath": "$.r", "End": True}}}, type="EXPRESS")
    response = sync_sfn.start_sync_execution(stateMachineArn=arn, name="sync-1", input='{"a": 1}')
    assert response["status"] == "SUCCEEDED"
    assert response["stateMachineArn"] == arn and response["name"] == "sync-1"
    assert ":express:" in response["executionArn"]
    assert json.loads(response["output"]) == {"a": 1, "r": {"ok": True}}
    assert json.loads(response["input"]) == {"a": 1}
    assert response["stopDate"] >= response["startDate"]
    assert response["billingDetails"]["billedDurationInMilliseconds"] >= 100
    assert response["billingDetails"]["billedMemoryUsedInMB"] > 0


def test_start_sync_execution_reports_a_failure(sfn, sync_sfn):
    arn = _create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "why"}}},
                  type="EXPRESS")
    response = sync_sfn.start_sync_execution(stateMachineArn=arn)
    assert (response["status"], response["error"], response["cause"]) == ("FAILED", "Nope", "why")
    assert "output" not in response


def test_start_sync_execution_refuses_a_standard_machine(sfn, sync_sfn):
    arn = _create(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(ClientError) as caught:
        sync_sfn.start_sync_execution(stateMachineArn=arn)
    assert caught.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


# --- 6. Mock config -------------------------------------------------------------------------

def test_mock_config_injects_failures_then_a_result(sfn):
    name = f"mocked-{uuid.uuid4().hex[:8]}"
    MOCK_CONFIG.write_text(json.dumps({
        "StateMachines": {name: {"TestCases": {"FlakyTwice": {"Work": "FailTwiceThenOk"}}}},
        "MockedResponses": {"FailTwiceThenOk": {
            "0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "injected"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"ok": True}}}}}}))
    definition = {"StartAt": "Work", "States": {"Work": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "not-even-deployed", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 3,
                   "BackoffRate": 1}],
        "OutputPath": "$.Payload", "End": True}}}
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    described, events = _run(sfn, f"{arn}#FlakyTwice", {})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"ok": True}
    types = [e["type"] for e in events]
    assert types.count("TaskFailed") == 2 and types.count("TaskScheduled") == 3
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed[0]["error"] == "Lambda.ServiceException" and failed[0]["cause"] == "injected"


def test_mock_config_unknown_test_case_is_invalid_name(sfn):
    arn = _create(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(ClientError) as caught:
        sfn.start_execution(stateMachineArn=f"{arn}#NoSuchCase")
    assert caught.value.response["Error"]["Code"] == "InvalidName"


def test_executions_without_a_test_case_are_not_mocked(sfn):
    arn = _create(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    described, _ = _run(sfn, arn, {"x": 1})
    assert described["status"] == "SUCCEEDED"
    assert described["name"]  # unnamed executions still get a UUID (stacked start_execution patch)


# --- the patch convention ------------------------------------------------------------------

def test_every_module_importing_extract_json_is_patched():
    import moto

    from labhelpers.emulator import sfn_extensions

    root = Path(moto.__file__).parent
    users = sorted(
        ".".join(("moto",) + path.relative_to(root).with_suffix("").parts)
        for path in (root / "stepfunctions" / "parser").rglob("*.py")
        if re.search(r"\bextract_json\b", path.read_text(encoding="utf-8"))
        and not path.name == "json_path.py")
    assert users == sorted(sfn_extensions.EXTRACT_JSON_USERS)


def test_a_mocked_states_timeout_is_caught_by_its_name(sfn):
    name = f"mocked-timeout-{uuid.uuid4().hex[:8]}"
    MOCK_CONFIG.write_text(json.dumps({
        "StateMachines": {name: {"TestCases": {"TimesOut": {"Work": "Timeout"}}}},
        "MockedResponses": {"Timeout": {"0": {"Throw": {"Error": "States.Timeout", "Cause": "injected"}}}}}))
    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "not-deployed", "Payload.$": "$"}, "End": True,
                 "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}]},
        "Late": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    described, _ = _run(sfn, f"{arn}#TimesOut", {})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Error"] == "States.Timeout"
