"""The self-checks of 09 · Wait and 10 · Data flow against a right answer, no answer and typical wrong answers.

Each case uses a prefix of its own, so "no answer" really finds nothing of the exercise.
"""

from __future__ import annotations

import copy
import json

import pytest

from labhelpers import checks
from labhelpers.exercises import data_flow
from labhelpers.playground import _states_role
from labhelpers.resources import ensure_state_machine
from labhelpers.waits import wait_speedup

pytestmark = pytest.mark.usefixtures("no_submissions")






# --- 09 wait-until-bonus ---------------------------------------------------------------------

def _bonus_machine(lab, wait: dict, after: dict | None = None) -> None:
    definition = {"StartAt": "WaitForBonus", "States": {
        "WaitForBonus": {"Type": "Wait", **wait, "Next": "GrantBonus"},
        "GrantBonus": after or {"Type": "Pass", "End": True}}}
    ensure_state_machine(lab, json.dumps(definition), _states_role(lab), name=lab.names.prefixed("BonusWaitFlow"))


def test_wait_until_bonus_right(fresh_lab):
    _bonus_machine(fresh_lab, {"SecondsPath": "$.bonus_delay_seconds"})
    result = checks.check("wait-until-bonus", fresh_lab)
    assert result.status == checks.DONE, result
    assert "5400 s" in result.message
    assert wait_speedup(fresh_lab) == 1  # the check put the emulator's factor back


def test_wait_until_bonus_no_answer(fresh_lab):
    result = checks.check("wait-until-bonus", fresh_lab)
    assert result.status == checks.NOT_DONE and "BonusWaitFlow" in result.message


def test_wait_until_bonus_fixed_seconds_is_wrong(fresh_lab):
    _bonus_machine(fresh_lab, {"Seconds": 3600})
    result = checks.check("wait-until-bonus", fresh_lab)
    assert result.status == checks.NOT_RIGHT
    assert result.where.endswith("WaitForBonus.SecondsPath") and "Seconds: 3600" in result.message


def test_wait_until_bonus_wrong_path_fails_the_run(fresh_lab):
    _bonus_machine(fresh_lab, {"SecondsPath": "$.delay"})
    result = checks.check("wait-until-bonus", fresh_lab)
    assert result.status == checks.NOT_RIGHT and "States.Runtime" in result.message


# --- 10 shape-the-report-input ----------------------------------------------------------------

RIGHT_STATE = {"Type": "Pass", "InputPath": "$.session", "Parameters": {
    "user_id.$": "$.user_id", "level.$": "$.level",
    "score_line.$": "States.Format('{}/{}', $.score, $.max_score)"},
    "ResultPath": "$.report", "End": True}


def test_shape_the_report_input_right(fresh_lab):
    checks.submit("shape-the-report-input", RIGHT_STATE)
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.DONE, result


def test_shape_the_report_input_in_jsonata_is_right_too(fresh_lab):
    checks.submit("shape-the-report-input", {"Type": "Pass", "QueryLanguage": "JSONata", "Output": (
        "{% $merge([$states.input, {'report': {'user_id': $states.input.session.user_id, 'level': "
        "$states.input.session.level, 'score_line': $string($states.input.session.score) & '/' & "
        "$string($states.input.session.max_score)}}]) %}"), "End": True})
    assert checks.check("shape-the-report-input", fresh_lab).status == checks.DONE


def test_shape_the_report_input_no_answer(fresh_lab):
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.NOT_DONE and "submit" in result.hint


def test_shape_the_report_input_result_path_inside_the_session_is_wrong(fresh_lab):
    # ResultPath applies to the state's whole input, not to what InputPath selected.
    checks.submit("shape-the-report-input", {**RIGHT_STATE, "ResultPath": "$.session.report"})
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.NOT_RIGHT and result.where == "ResultPath"


def test_shape_the_report_input_without_result_path_is_wrong(fresh_lab):
    state = {k: v for k, v in RIGHT_STATE.items() if k != "ResultPath"}
    checks.submit("shape-the-report-input", state)
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.NOT_RIGHT and result.where == "ResultPath"


def test_shape_the_report_input_wrong_score_line_names_the_field(fresh_lab):
    state = copy.deepcopy(RIGHT_STATE)
    state["Parameters"]["score_line.$"] = "$.score"
    checks.submit("shape-the-report-input", state)
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.NOT_RIGHT and result.where == "Parameters → score_line"
    assert "States.Format" in result.hint


def test_shape_the_report_input_hard_coded_is_wrong(fresh_lab):
    report = data_flow.expected_output(data_flow.SAMPLE_INPUT)["report"]
    checks.submit("shape-the-report-input", {"Type": "Pass", "Result": report, "ResultPath": "$.report", "End": True})
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.NOT_RIGHT and "Ada's input only" in result.message


def test_shape_the_report_input_bad_path_is_reported_in_words(fresh_lab):
    state = copy.deepcopy(RIGHT_STATE)
    state["Parameters"]["level.$"] = "$.game.level"
    checks.submit("shape-the-report-input", state)
    result = checks.check("shape-the-report-input", fresh_lab)
    assert result.status == checks.NOT_RIGHT and "States.Runtime" in result.message
