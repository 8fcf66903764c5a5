"""Exercises of 10 · Data flow."""

from __future__ import annotations

import copy
import json
from typing import Any

from botocore.exceptions import ClientError

from labhelpers.checks import NotRight, exercise, submitted
from labhelpers.lab import Lab

#: What the game client sends (the notebook shows it), and a second player the check also tries.
SAMPLE_INPUT = {"client": {"version": "2.3.1"},
                "session": {"user_id": "p-042", "name": "Ada", "level": "level-7", "score": 64,
                            "max_score": 100, "time_played": 812}}
OTHER_INPUT = {"client": {"version": "2.4.0"},
               "session": {"user_id": "p-777", "name": "Grace", "level": "latest", "score": 93,
                           "max_score": 120, "time_played": 1500}}


def expected_output(given: dict) -> dict:
    """The input, unchanged, plus the "report" the report step needs."""
    session = given["session"]
    return {**copy.deepcopy(given), "report": {"user_id": session["user_id"], "level": session["level"],
                                               "score_line": f"{session['score']}/{session['max_score']}"}}


def _run(lab: Lab, state: dict, given: dict) -> Any:
    from labhelpers.playground import _states_role

    try:
        response = lab.sfn.test_state(definition=json.dumps(state), roleArn=_states_role(lab),
                                      input=json.dumps(given), inspectionLevel="INFO")
    except ClientError as err:
        error = err.response.get("Error", {})
        raise NotRight(f"Step Functions refused the state: {error.get('Code')}: {error.get('Message')}",
                       hint="Submit one state as a dict, with Type, Parameters and ResultPath.") from None
    if response.get("status") != "SUCCEEDED":
        raise NotRight(f"On the sample input the state failed: {response.get('error')}: {response.get('cause')}",
                       hint="Check each path against the input shown above the exercise.")
    return json.loads(response["output"])


@exercise("shape-the-report-input", "shape the report's input with Parameters and ResultPath", "10",
          hint="InputPath \"$.session\" picks the session; Parameters builds the report (States.Format for "
               "score_line); ResultPath \"$.report\" puts it next to the whole input instead of replacing it.")
def check_shape_the_report_input(lab: Lab) -> str:
    state = submitted("shape-the-report-input")
    if not isinstance(state, dict) or "Type" not in state:
        raise NotRight(f"Submit the state as a dict with a Type; you submitted {type(state).__name__}.")
    if state.get("Type") != "Pass":
        raise NotRight(f"The state is a {state.get('Type')}, not a Pass state.", where="Type",
                       hint='"Type": "Pass": reshaping data needs no Lambda.')
    state = {**state}
    state.pop("Next", None)
    state["End"] = True
    output = _run(lab, state, SAMPLE_INPUT)
    expected = expected_output(SAMPLE_INPUT)
    if not isinstance(output, dict) or "client" not in output or "session" not in output:
        raise NotRight(f"The input is gone: the output is {json.dumps(output)}.", where="ResultPath",
                       hint='Without ResultPath the result replaces the whole input; "ResultPath": "$.report" '
                            "adds it under report instead.")
    report = output.get("report")
    if not isinstance(report, dict):
        raise NotRight(f"The output has no report object: {json.dumps(output)}.", where="ResultPath",
                       hint='"ResultPath": "$.report".')
    for field in ("user_id", "level", "score_line"):
        if report.get(field) != expected["report"][field]:
            raise NotRight(f"report.{field} is {json.dumps(report.get(field))}; it should be "
                           f"{json.dumps(expected['report'][field])}.", where=f"Parameters → {field}",
                           hint="\"score_line.$\": \"States.Format('{}/{}', $.score, $.max_score)\" "
                                "(after \"InputPath\": \"$.session\")" if field == "score_line" else
                                f"A key ending in .$ takes its value from a path, e.g. \"{field}.$\".")
    if output != expected:
        raise NotRight(f"The output has more or less than expected: {json.dumps(output)}.",
                       where="Parameters", hint="Exactly user_id, level and score_line in report; the input unchanged.")
    if _run(lab, state, OTHER_INPUT) != expected_output(OTHER_INPUT):
        raise NotRight("It works for Ada's input only: for another player the report is wrong.",
                       where="Parameters", hint="Take every value from the input with paths (.$), "
                                                "never write the sample's values into the state.")
    return "Right: the report is built from the input and added next to it, for any player."
