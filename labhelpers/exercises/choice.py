"""Exercises of 02 · The Choice state and the DynamoDB Lambdas."""

from __future__ import annotations

import json

from labhelpers.checks import NotDone, NotRight, exercise
from labhelpers.exercises._common import (
    cause_message,
    entered_states,
    failure,
    find_state,
    function_config,
    function_name_of,
    lambda_target,
    machine_definition,
    run,
)
from labhelpers.lab import Lab

HIGH_SCORE_FLOW = "HighScoreFlow"
RECORD_HIGH_SCORE = "RecordHighScore"
HIGH_SCORER = "exercise-high-scorer"
_HIGH_SCORE_INPUT = {"user_id": HIGH_SCORER, "level": "latest", "score": 95, "max_score": 100,
                     "time_played": 600, "total_score": 9500}


def _mentions(rule: dict, text: str) -> bool:
    return text in json.dumps(rule)


def _score_rule_problem(rule: dict, where: str) -> NotRight | None:
    """What is wrong with a simple ``{"Variable": "$.score", <operator>: <value>}`` rule, if anything."""
    operators = [k for k in rule if k not in ("Variable", "Next", "Comment")]
    if len(operators) != 1:
        return None  # And/Or/Not or something unusual: the executions below judge it
    op, value = operators[0], rule[operators[0]]
    if op.startswith("String"):
        return NotRight(f"The rule compares $.score with {op}: a string operator never matches a number, "
                        "so no score ever reaches your state.", where=f"{where} › {op}",
                        hint="Use NumericGreaterThan with the number 90.")
    if op == "NumericGreaterThanEquals":
        return NotRight("NumericGreaterThanEquals also lets a score of exactly 90 through; the task says above 90.",
                        where=f"{where} › {op}", hint="Use NumericGreaterThan: 90.")
    if op != "NumericGreaterThan":
        return NotRight(f"The rule uses {op}; a score above 90 needs NumericGreaterThan.", where=f"{where} › {op}",
                        hint="Use NumericGreaterThan: 90.")
    if isinstance(value, str):
        return NotRight(f"The value is the string {value!r}: a numeric operator needs a number.",
                        where=f"{where} › {op}", hint="Write 90 without quotes.")
    if isinstance(value, bool) or value != 90:
        return NotRight(f"The rule compares with {value!r}; the task says above 90.", where=f"{where} › {op}",
                        hint="NumericGreaterThan: 90.")
    return None


def _failure_hint(failed_in: str | None, target: str, text: str) -> str:
    if "AccessDenied" in text or "not authorized" in text:
        return "The Step Functions role must be allowed to invoke your function (lambda:InvokeFunction)."
    if "not found" in text.lower() or "ResourceNotFound" in text:
        return ("A function this machine invokes is not deployed: build the machine from the UpdateDB "
                "branch only, or deploy the whole lab first (lh.deploy(lab)).")
    if failed_in == target:
        return "Your function raised: read the message, fix the code and deploy it again."
    return "Read the execution's history (lh.history_frame) to see what failed."


def _item(lab: Lab, user_id: str) -> dict:
    return lab.dynamodb.get_item(TableName=lab.names.table, Key={"user_id": {"S": user_id}}).get("Item", {})


@exercise("choice-high-score", "a Choice rule sends a high score to RecordHighScore", "02",
          hint="From a copy of the lab's UpdateDB branch: a $.score rule at the start of UpdateDB's Choices, "
               "a High Score Task state beside it; deploy the function and the machine.")
def check_choice_high_score(lab: Lab) -> str:
    machine_name = lab.names.prefixed(HIGH_SCORE_FLOW)
    function_name = lab.names.prefixed(RECORD_HIGH_SCORE)
    found = machine_definition(lab, machine_name)
    if found is None:
        deployed = function_config(lab, function_name) is not None
        raise NotDone(f"{function_name} is deployed; no state machine {machine_name} yet." if deployed
                      else f"No state machine {machine_name} yet.")
    arn, definition = found
    located = find_state(definition, "UpdateDB")
    if located is None or located[1].get("Type") != "Choice":
        raise NotRight(f"{machine_name} has no Choice state UpdateDB.", where=machine_name,
                       hint="Start from a copy of the lab's UpdateDB branch (StartAt and States).")
    where, update_db, branch_states = located
    where = f"{machine_name} › {where}"
    choices = update_db.get("Choices", [])
    score_rules = [i for i, rule in enumerate(choices) if _mentions(rule, '"$.score"')]
    if not score_rules:
        raise NotRight("UpdateDB has no rule on $.score yet.", where=f"{where} › Choices",
                       hint='Add {"Variable": "$.score", "NumericGreaterThan": 90, "Next": "High Score"}.')
    index = score_rules[0]
    rule, rule_where = choices[index], f"{where} › Choices[{index}]"
    if rule.get("Variable") == "$.score" and (problem := _score_rule_problem(rule, rule_where)):
        raise problem
    latest = next((i for i, r in enumerate(choices) if _mentions(r, '"latest"')), None)
    if latest is None:
        raise NotRight('The lab\'s rule that sends level "latest" to Last Level is gone.', where=f"{where} › Choices",
                       hint="Add the score rule in front of the lab's rule; keep the lab's rule.")
    if latest < index:
        raise NotRight(f"The $.score rule comes after the level rule (Choices[{latest}]). Rules are tried in order "
                       "and the first true one wins: a last-level player with 95 goes to Last Level and never "
                       "reaches your state.", where=rule_where,
                       hint="Insert the score rule at the start: Choices.insert(0, rule).")
    target = rule.get("Next")
    if target not in branch_states:
        names = ", ".join(sorted(branch_states))
        raise NotRight(f"The rule's Next is {target!r}, but that branch has no state of that name ({names}).",
                       where=f"{rule_where} › Next",
                       hint="Add the Task state to the same branch's States; names are case-sensitive.")
    state = branch_states[target]
    state_where = f"{where.rsplit(' › ', 1)[0]} › {target}"
    invoked = lambda_target(state) if state.get("Type") == "Task" else None
    if state.get("Type") != "Task":
        raise NotRight(f"{target} is a {state.get('Type')} state; it must be a Task that invokes {function_name}.",
                       where=state_where, hint='"Type": "Task", "Resource": lab.function_arn("RecordHighScore").')
    if invoked is None or function_name_of(invoked) != function_name:
        raise NotRight(f"{target} invokes {invoked or state.get('Resource')!r}, not {function_name}.",
                       where=f"{state_where} › Resource", hint='Use lab.function_arn("RecordHighScore").')
    if function_config(lab, function_name) is None:
        raise NotRight(f"{target} invokes {function_name}, which is not deployed.", where=f"function {function_name}",
                       hint='resources.ensure_function(lab, "RecordHighScore", role_arn, source_dir=...).')

    # The rules look right: two executions show what they do.
    lab.dynamodb.delete_item(TableName=lab.names.table, Key={"user_id": {"S": HIGH_SCORER}})
    high = run(lab, arn, _HIGH_SCORE_INPUT)
    if high.status != "SUCCEEDED":
        failed_in, error, cause = failure(high.events)
        raise NotRight(f"With score 95 the execution {high.status}: {error} in {failed_in}. "
                       f"{cause_message(cause)}".rstrip(), where=f"{machine_name} › {failed_in}",
                       hint=_failure_hint(failed_in, target, f"{error} {cause}"))
    if target not in entered_states(high.events):
        raise NotRight(f"A last-level player with score 95 did not reach {target}.", where=rule_where,
                       hint="Check the rule's operator, value and place in Choices.")
    stored = _item(lab, HIGH_SCORER).get("high_score")
    table_where = f"table {lab.names.table}, item {HIGH_SCORER}"
    if stored is None:
        raise NotRight(f"{target} ran, but the player's item has no high_score.", where=table_where,
                       hint='In RecordHighScore: update_item with "SET high_score = :score".')
    if "N" not in stored or float(stored["N"]) != 95:
        raise NotRight(f"high_score is stored as {stored}, not the number 95.", where=table_where,
                       hint='Store the score as a number: {":score": {"N": str(event["score"])}}.')
    low = run(lab, arn, {**_HIGH_SCORE_INPUT, "score": 50, "total_score": 5000})
    low_states = entered_states(low.events)
    if low.status != "SUCCEEDED" or target in low_states or "Last Level" not in low_states:
        went = target if target in low_states else ("Last Level" if "Last Level" in low_states else "no Task")
        raise NotRight(f"A last-level player with score 50 went to {went} ({low.status}); "
                       "they should reach Last Level.", where=rule_where,
                       hint="Only scores above 90 may take the new rule.")
    return (f"Right: UpdateDB tries $.score > 90 first. With 95, {target} ran and stored high_score 95; "
            "with 50, Last Level ran.")
