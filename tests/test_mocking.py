"""labhelpers.mocking: pointing the running emulator at a MockConfigFile, and diagnostics tables."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import restore_mock_config  # the root conftest.py
from botocore.exceptions import ClientError

from labhelpers import Lab, connect, diagnostics_frame, use_mock_config
from labhelpers.errors import EmulatorError, TargetError
from labhelpers.exercises.validation import reachable_functions

#: A Task whose function does not exist: it fails unless a test case mocks it.
TASK = {"StartAt": "Work", "States": {"Work": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Parameters": {"FunctionName": "not-deployed", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": True}}}


@pytest.fixture
def lab(emulator_port):
    """The session's emulator; SFN_MOCK_CONFIG is put back as it was afterwards."""
    handle = connect(prefix=f"mock{uuid.uuid4().hex[:8]}")
    yield handle
    restore_mock_config(handle)


def _machine(lab) -> tuple[str, str]:
    name = lab.names.prefixed("Mocked")
    arn = lab.sfn.create_state_machine(name=name, definition=json.dumps(TASK),
                                       roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
    return name, arn


def _run(lab, arn: str) -> dict:
    execution = lab.sfn.start_execution(stateMachineArn=arn)["executionArn"]
    from labhelpers.executions import Execution

    return Execution(execution, lab).wait().describe()


def test_refused_on_aws_with_the_alternatives_named():
    with pytest.raises(TargetError) as caught:
        use_mock_config({"StateMachines": {}, "MockedResponses": {}}, Lab(target="aws", region="us-east-1"))
    message = str(caught.value)
    assert "Step Functions Local" in message and "LocalStack" in message and "mock" in message


def test_a_dict_and_a_file_both_reach_the_running_emulator(lab, tmp_path):
    name, arn = _machine(lab)
    config = {"StateMachines": {name: {"TestCases": {"Fake": {"Work": "Mocked"}}}},
              "MockedResponses": {"Mocked": {"0": {"Return": {"StatusCode": 200, "Payload": "mocked"}}}}}
    assert use_mock_config(config, lab) == {name: ["Fake"]}
    assert json.loads(_run(lab, f"{arn}#Fake")["output"]) == "mocked"
    path = tmp_path / "mock.json"
    path.write_text(json.dumps(config))
    assert use_mock_config(path, lab) == {name: ["Fake"]}
    assert _run(lab, arn)["status"] == "FAILED"  # no #TestCase: the real (missing) function is called


def test_none_switches_mocking_off(lab):
    _, arn = _machine(lab)
    assert use_mock_config(None, lab) == {}
    with pytest.raises(ClientError) as caught:
        lab.sfn.start_execution(stateMachineArn=f"{arn}#Fake")
    assert caught.value.response["Error"]["Code"] == "InvalidName"
    assert "SFN_MOCK_CONFIG is not set" in caught.value.response["Error"]["Message"]


def test_a_missing_or_broken_file_is_reported_at_once(lab, tmp_path):
    with pytest.raises(EmulatorError, match="does not exist"):
        use_mock_config(tmp_path / "nope.json", lab)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(EmulatorError, match="not valid JSON"):
        use_mock_config(bad, lab)
    bad.write_text('{"StateMachines": []}')
    with pytest.raises(EmulatorError, match="not a MockConfigFile"):
        use_mock_config(bad, lab)


def test_diagnostics_frame_has_one_row_per_diagnostic():
    response = {"result": "FAIL", "diagnostics": [
        {"severity": "ERROR", "code": "MISSING_END_STATE", "message": "Workflow has no terminal state"},
        {"severity": "ERROR", "code": "MISSING_TRANSITION_TARGET", "message": "m", "location": "/States/A/Next"}]}
    frame = diagnostics_frame(response)
    assert list(frame.columns) == ["severity", "code", "location", "message"]
    assert list(frame["location"]) == ["", "/States/A/Next"]
    assert diagnostics_frame({"result": "OK", "diagnostics": []}).empty


def test_reachable_functions_follow_branches_choices_and_skip_orphans():
    fn = "arn:aws:lambda:us-east-1:123456789012:function:"
    machine = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Last", "Branches": [
            {"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "A"}],
                      "Default": "B"},
                "A": {"Type": "Task", "Resource": fn + "Fa", "End": True},
                "B": {"Type": "Task", "Resource": fn + "Fb:live", "End": True}}}]},
        "Last": {"Type": "Task", "Resource": fn + "Fl", "End": True},
        "Orphan": {"Type": "Task", "Resource": fn + "Fo", "End": True}}}
    assert reachable_functions(machine) == {"Fa", "Fb", "Fl"}
