"""Data flow, step by step: TestState's inspection data as a table, and why a Choice took a branch.

Both work on the real TestState API (``lab.sfn.test_state``), so they answer the same on the
emulator and on AWS.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from labhelpers.lab import Lab, connect

if TYPE_CHECKING:
    import pandas as pd

#: TestState's inspection data in the order Step Functions applies it, with the field that
#: produced each step (JSONPath states; JSONata states have afterArguments and variables).
STEPS = (
    ("input", "(state input)"),
    ("afterInputPath", "InputPath"),
    ("afterParameters", "Parameters"),
    ("afterArguments", "Arguments"),
    ("result", "(result)"),
    ("afterResultSelector", "ResultSelector"),
    ("afterResultPath", "ResultPath"),
    ("variables", "Assign"),
)
_CAUSE_PREFIX = re.compile(r"^An error occurred while executing the state '[^']*' \(entered at the event id #\d+\)\. ")


def _compact(value: Any) -> str:
    """JSON text on one line, whether TestState sent it as a string or a decoded value."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def inspection_frame(response: dict) -> "pd.DataFrame":
    """A TestState response (``inspectionLevel="DEBUG"``) as a table: one row per step of the
    data flow, from the input to the output, each with the field that produced it."""
    import pandas as pd

    inspection = response.get("inspectionData") or {}
    rows = [{"step": key, "field": field, "value": _compact(inspection[key])}
            for key, field in STEPS if key in inspection]
    if "output" in response:
        field = "Output" if "afterArguments" in inspection else "OutputPath"
        rows.append({"step": "output", "field": field, "value": _compact(response["output"])})
    elif "error" in response:
        rows.append({"step": "error", "field": response["error"], "value": response.get("cause", "")})
    return pd.DataFrame(rows, columns=["step", "field", "value"]).set_index("step")


def _role_arn(lab: Lab) -> str:
    from labhelpers.playground import _states_role

    return _states_role(lab)


def _one_rule_choice(choice_state: dict, rule: dict) -> dict:
    """A Choice state with ``rule`` alone: "Match" when it is true, "NoMatch" otherwise."""
    single = {k: choice_state[k] for k in ("QueryLanguage", "InputPath") if k in choice_state}
    rule = {k: v for k, v in rule.items() if k not in ("Next", "Assign", "Output", "Comment")}
    single.update(Type="Choice", Choices=[{**rule, "Next": "Match"}], Default="NoMatch")
    return single


def explain_choice(choice_state: dict, input: Any, lab: Lab | None = None) -> "pd.DataFrame":
    """Every rule of a Choice state evaluated against ``input``, the one Step Functions takes marked.

    Each rule is tested alone with TestState (as a one-rule Choice state), so its truth comes from
    Step Functions itself. Columns: the rule as text, its ``Next``, ``result`` (True, False, or the
    error that rule raises, its ``cause`` in a column of its own) and ``taken``. Step Functions
    stops at the first true rule; the rows after it show what the later rules would have said.
    When no rule is true, the ``Default`` row is taken (without a Default the state fails with
    ``States.NoChoiceMatched``). A rule that fails (a path missing from the input) fails the real
    Choice state as well: no row is taken, and the Default is "not reached".
    """
    import pandas as pd

    from labhelpers.flow import describe_choice_rule

    lab = lab or connect()
    role = _role_arn(lab)
    text = json.dumps(input)
    rows, decided, failed = [], False, False
    for number, rule in enumerate(choice_state.get("Choices") or [], start=1):
        response = lab.sfn.test_state(definition=json.dumps(_one_rule_choice(choice_state, rule)),
                                      roleArn=role, input=text, inspectionLevel="INFO")
        cause = None
        if response.get("status") == "SUCCEEDED":
            result: Any = response.get("nextState") == "Match"
        else:
            result = response.get("error") or "error"
            cause = _CAUSE_PREFIX.sub("", response.get("cause") or "")
        taken = not decided and result is True
        # A rule that fails stops the real Choice state too: nothing after it is taken.
        failed = failed or (not decided and result is not True and result is not False)
        decided = decided or taken or failed
        rows.append({"rule": str(number), "condition": describe_choice_rule(rule), "next": rule.get("Next"),
                     "result": result, "taken": taken, "cause": cause})
    if "Default" in choice_state:
        rows.append({"rule": "Default", "condition": "no rule is true", "next": choice_state["Default"],
                     "result": "not reached" if failed else not decided, "taken": not decided, "cause": None})
    elif not decided:
        rows.append({"rule": "(none)", "condition": "no rule is true and there is no Default",
                     "next": None, "result": "States.NoChoiceMatched", "taken": False, "cause": None})
    frame = pd.DataFrame(rows, columns=["rule", "condition", "next", "result", "taken", "cause"]).set_index("rule")
    return frame if frame["cause"].notna().any() else frame.drop(columns="cause")
