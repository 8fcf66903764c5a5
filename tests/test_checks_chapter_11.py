"""Chapter 11's self-checks against a right answer, no answer, and typical wrong answers.

Each case uses a prefix of its own, so "no answer" really finds nothing of the exercise.
"""

from __future__ import annotations

import copy
import json

import pytest
from conftest import restore_mock_config  # the root conftest.py

from labhelpers import checks, config, connect, render_definition, use_mock_config
from labhelpers.executions import run_execution
from labhelpers.resources import ensure_state_machine

pytestmark = pytest.mark.usefixtures("no_submissions")

SEED = json.loads((config.DATA_DIR / "seed_input.json").read_text())
RETRY = [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1.0}]








@pytest.fixture
def mock_config_restored(emulator_port):
    """Point the emulator back at what it read before (tests/test_sfn_extensions.py sets one)."""
    yield
    restore_mock_config(connect())


def _role(lab) -> str:
    return lab.iam.get_role(RoleName=lab.names.states_role)["Role"]["Arn"]


def _broken(lab) -> dict:
    return json.loads(render_definition(lab, config.DATA_DIR / "broken_flow.asl.json"))


def _fixed(lab) -> dict:
    fixed = _broken(lab)
    fixed["States"]["StartTask"]["Next"] = "CWMetric"
    fixed["States"]["CWMetric"]["End"] = True
    update_db = fixed["States"]["StartTask"]["Branches"][1]["States"]["UpdateDB"]
    update_db["Choices"][0]["Variable"] = "$.level"
    update_db["Default"] = "Simple Level"
    return fixed


def _create_and_run(lab, definition: dict, base: str = "FixedFlow"):
    arn = ensure_state_machine(lab, json.dumps(definition), _role(lab), name=lab.names.prefixed(base))
    return arn, run_execution(SEED, lab=lab, state_machine_arn=arn)


# --- fix-the-definition ---------------------------------------------------------------------------

def test_the_broken_flow_has_four_mistakes_and_the_fix_is_valid(deployed_lab):
    lab = deployed_lab
    broken = lab.sfn.validate_state_machine_definition(definition=json.dumps(_broken(lab)), type="STANDARD")
    assert broken["result"] == "FAIL" and len(broken["diagnostics"]) == 5
    fixed = lab.sfn.validate_state_machine_definition(definition=json.dumps(_fixed(lab)), type="STANDARD")
    assert fixed["result"] == "OK"


def test_fix_the_definition_right(deployed_lab):
    lab = deployed_lab
    _, execution = _create_and_run(lab, _fixed(lab))
    assert execution.status == "SUCCEEDED"
    checks.submit("fix-the-definition", json.dumps(_fixed(lab)))
    result = checks.check("fix-the-definition", lab)
    assert result.status == checks.DONE, result
    checks._SUBMITTED.clear()  # without a submission, the check reads the machine itself
    assert checks.check("fix-the-definition", lab).status == checks.DONE


def test_fix_the_definition_no_answer(fresh_lab):
    result = checks.check("fix-the-definition", fresh_lab)
    assert result.status == checks.NOT_DONE and "FixedFlow" in result.message


def test_fix_the_definition_still_invalid_names_code_and_location(fresh_lab):
    partly = _broken(fresh_lab)
    partly["States"]["StartTask"]["Next"] = "CWMetric"
    checks.submit("fix-the-definition", json.dumps(partly))
    result = checks.check("fix-the-definition", fresh_lab)
    assert result.status == checks.NOT_RIGHT
    assert "SCHEMA_VALIDATION_FAILED" in result.message and "more diagnostic" in result.message
    assert result.where == "/States/StartTask/Branches[1]/States/UpdateDB/Choices[0]/Variable"


def test_fix_the_definition_deleting_the_unreachable_state_is_wrong(deployed_lab):
    lab = deployed_lab
    shortcut = _fixed(lab)
    update_db_branch = shortcut["States"]["StartTask"]["Branches"][1]
    del update_db_branch["States"]["UpdateDB"]["Default"]
    del update_db_branch["States"]["Simple Level"]
    assert lab.sfn.validate_state_machine_definition(definition=json.dumps(shortcut))["result"] == "OK"
    _create_and_run(lab, shortcut)
    checks.submit("fix-the-definition", json.dumps(shortcut))
    result = checks.check("fix-the-definition", lab)
    assert result.status == checks.NOT_RIGHT and "EndsSimpleLevel" in result.message
    assert "Default" in result.where


def test_fix_the_definition_valid_but_not_created_yet(fresh_lab):
    checks.submit("fix-the-definition", json.dumps(_fixed(fresh_lab)))
    result = checks.check("fix-the-definition", fresh_lab)
    assert result.status == checks.NOT_DONE and "create" in result.message


# --- inject-a-failure -----------------------------------------------------------------------------

def _retry_demo(lab) -> str:
    definition = json.loads(render_definition(lab))
    definition["States"]["StartTask"]["Branches"][0]["States"]["Gen Report"]["Retry"] = RETRY
    definition["States"]["CWMetric"]["Retry"] = RETRY
    return ensure_state_machine(lab, json.dumps(definition), _role(lab), name=lab.names.prefixed("RetryDemoFlow"))


def _run_case(lab, arn: str, responses: dict, state: str = "CWMetric") -> str:
    config_ = json.loads((config.DATA_DIR / "mock_config.json").read_text())
    config_["StateMachines"] = {lab.names.prefixed(k): copy.deepcopy(v) for k, v in config_["StateMachines"].items()}
    config_["StateMachines"][lab.names.prefixed("RetryDemoFlow")]["TestCases"]["Mine"] = {state: "MyResponse"}
    config_["MockedResponses"]["MyResponse"] = responses
    assert "Mine" in use_mock_config(config_, lab)[lab.names.prefixed("RetryDemoFlow")]
    execution = lab.sfn.start_execution(stateMachineArn=f"{arn}#Mine", input=json.dumps(SEED))["executionArn"]
    from labhelpers.executions import Execution

    return Execution(execution, lab).wait().status


THROW = {"Throw": {"Error": "Lambda.ServiceException", "Cause": "injected"}}
TRUE = {"Return": {"StatusCode": 200, "Payload": True}}


def test_inject_a_failure_right(deployed_lab, mock_config_restored):
    lab = deployed_lab
    arn = _retry_demo(lab)
    assert _run_case(lab, arn, {"0": THROW, "1": TRUE}) == "SUCCEEDED"
    result = checks.check("inject-a-failure", lab)
    assert result.status == checks.DONE, result


def test_inject_a_failure_no_answer(fresh_lab):
    assert checks.check("inject-a-failure", fresh_lab).status == checks.NOT_DONE


def test_inject_a_failure_demo_run_only_is_not_done(deployed_lab, mock_config_restored):
    lab = deployed_lab
    arn = _retry_demo(lab)
    assert _run_case(lab, arn, {"0-1": THROW, "2": {"Return": {"StatusCode": 200, "Payload": SEED}}},
                     state="Gen Report") == "SUCCEEDED"
    result = checks.check("inject-a-failure", lab)
    assert result.status == checks.NOT_DONE and "CWMetric" in result.message


def test_inject_a_failure_an_error_the_retry_does_not_catch_is_wrong(deployed_lab, mock_config_restored):
    lab = deployed_lab
    arn = _retry_demo(lab)
    wrong = {"0": {"Throw": {"Error": "Level.Boom", "Cause": "not retried"}}, "1": TRUE}
    assert _run_case(lab, arn, wrong) == "FAILED"
    result = checks.check("inject-a-failure", lab)
    assert result.status == checks.NOT_RIGHT and "Level.Boom" in result.message
    assert result.where == "CWMetric"


def test_inject_a_failure_twice_is_not_once(deployed_lab, mock_config_restored):
    lab = deployed_lab
    arn = _retry_demo(lab)
    assert _run_case(lab, arn, {"0-1": THROW, "2": TRUE}) == "SUCCEEDED"
    result = checks.check("inject-a-failure", lab)
    assert result.status == checks.NOT_RIGHT and "2 times" in result.message
