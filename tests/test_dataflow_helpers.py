"""labhelpers.dataflow: TestState's inspection data as a table, and explain_choice."""

from __future__ import annotations

import json

import pytest

from labhelpers import connect
from labhelpers.dataflow import explain_choice, inspection_frame

ROLE = "arn:aws:iam::123456789012:role/lab-test"

CHOICE = {"Type": "Choice", "Choices": [
    {"Variable": "$.level", "StringEquals": "latest", "Next": "Last Level"},
    {"And": [{"Variable": "$.score", "NumericGreaterThanEquals": 90}, {"Variable": "$.bonus", "IsPresent": True}],
     "Next": "Bonus"},
    {"Variable": "$.score", "NumericGreaterThan": 50, "Next": "Good"}],
    "Default": "Simple Level"}


@pytest.fixture(scope="module")
def lab(emulator_port):
    return connect()


def _taken(frame) -> list[str]:
    return frame.index[frame["taken"]].tolist()


# --- inspection_frame ------------------------------------------------------------------------

def test_inspection_frame_lists_the_steps_in_the_order_they_apply():
    response = {"status": "SUCCEEDED", "output": '{"t": 7}', "inspectionData": {
        "afterResultPath": '{"x": 1, "r": {"t": 7}}', "input": '{"x": 1}', "afterInputPath": '{"x": 1}',
        "afterParameters": '{"y": 1}', "result": '{"t": 7, "u": 0}', "afterResultSelector": '{"t": 7}'}}
    frame = inspection_frame(response)
    assert frame.index.tolist() == ["input", "afterInputPath", "afterParameters", "result",
                                    "afterResultSelector", "afterResultPath", "output"]
    assert frame.loc["afterResultSelector", "field"] == "ResultSelector"
    assert frame.loc["output", "field"] == "OutputPath"
    assert frame.loc["afterResultPath", "value"] == '{"x": 1, "r": {"t": 7}}'


def test_inspection_frame_ends_with_the_error_of_a_failed_state():
    frame = inspection_frame({"status": "FAILED", "error": "States.Runtime", "cause": "no $.x",
                              "inspectionData": {"input": "{}"}})
    assert frame.index.tolist() == ["input", "error"]
    assert frame.loc["error"].tolist() == ["States.Runtime", "no $.x"]


def test_inspection_frame_of_a_real_test_state_call(lab):
    state = {"Type": "Pass", "InputPath": "$.player", "Parameters": {"who.$": "$.name"},
             "ResultPath": "$.out", "OutputPath": "$.out", "End": True}
    response = lab.sfn.test_state(definition=json.dumps(state), roleArn=ROLE, inspectionLevel="DEBUG",
                                  input=json.dumps({"player": {"name": "Ada"}}))
    frame = inspection_frame(response)
    assert frame.loc["afterInputPath", "value"] == '{"name": "Ada"}'
    assert frame.loc["afterParameters", "value"] == '{"who": "Ada"}'
    assert frame.loc["output", "value"] == '{"who": "Ada"}'


# --- explain_choice ---------------------------------------------------------------------------

def test_the_first_true_rule_is_taken(lab):
    frame = explain_choice(CHOICE, {"level": "level-3", "score": 70}, lab)
    assert frame.index.tolist() == ["1", "2", "3", "Default"]
    assert frame["result"].tolist() == [False, False, True, False]
    assert _taken(frame) == ["3"]
    assert frame.loc["2", "condition"] == "($.score >= 90 and $.bonus is present)"
    assert frame.loc["3", "next"] == "Good"


def test_a_later_true_rule_is_shown_but_not_taken(lab):
    frame = explain_choice(CHOICE, {"level": "latest", "score": 70}, lab)
    assert frame["result"].tolist() == [True, False, True, False]
    assert _taken(frame) == ["1"]


def test_the_default_is_taken_when_no_rule_is_true(lab):
    frame = explain_choice(CHOICE, {"level": "level-1", "score": 10}, lab)
    assert _taken(frame) == ["Default"]
    assert frame.loc["Default", "next"] == "Simple Level"


def test_a_rule_on_a_missing_field_shows_the_error_and_nothing_is_taken(lab):
    frame = explain_choice(CHOICE, {"score": 95}, lab)
    assert frame.loc["1", "result"] == "States.Runtime"
    assert "$.level" in frame.loc["1", "cause"] and not frame.loc["1", "cause"].startswith("An error occurred")
    assert frame.loc["Default", "result"] == "not reached"
    assert _taken(frame) == []


def test_the_cause_column_appears_only_when_a_rule_fails(lab):
    assert "cause" not in explain_choice(CHOICE, {"level": "latest", "score": 1}, lab).columns


def test_without_default_no_match_is_named(lab):
    choice = {k: v for k, v in CHOICE.items() if k != "Default"}
    frame = explain_choice(choice, {"level": "x", "score": 1}, lab)
    assert frame.loc["(none)", "result"] == "States.NoChoiceMatched" and _taken(frame) == []


def test_input_path_and_jsonata_rules_are_respected(lab):
    nested = {"Type": "Choice", "InputPath": "$.game", "Choices": [
        {"Variable": "$.score", "NumericGreaterThan": 50, "Next": "Good"}], "Default": "Bad"}
    assert _taken(explain_choice(nested, {"game": {"score": 60}}, lab)) == ["1"]
    jsonata = {"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [
        {"Condition": "{% $states.input.score > 50 %}", "Next": "Good", "Output": "{% 'ignored' %}"}],
        "Default": "Bad"}
    frame = explain_choice(jsonata, {"score": 10}, lab)
    assert frame.loc["1", "condition"] == "$states.input.score > 50"
    assert _taken(frame) == ["Default"]
