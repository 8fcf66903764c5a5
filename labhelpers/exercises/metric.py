"""Exercises of 03 · The CloudWatch metric Lambda."""

from __future__ import annotations

import json

from labhelpers.checks import NotDone, NotRight, exercise
from labhelpers.exercises._common import error_text, invoke, metric_sample_count, poll, require_function
from labhelpers.lab import Lab

PUT_METRIC_ANY_ORDER = "PutMetricAnyOrder"
_PLAYER = {"user_id": "exercise-any-order", "level": "level-3", "score": 70, "max_score": 100,
           "time_played": 321, "total_score": 7000}
_DB_BRANCH = {"db": "updated"}  # a branch output without time_played


@exercise("putmetric-any-order", "PutMetric that finds time_played in any branch", "03",
          hint="Look through every element of the event for the first object that has a time_played.")
def check_putmetric_any_order(lab: Lab) -> str:
    name = require_function(lab, PUT_METRIC_ANY_ORDER)
    before = metric_sample_count(lab)
    for label, event in (("report branch first", [_PLAYER, _DB_BRANCH]),
                         ("report branch second", [_DB_BRANCH, _PLAYER])):
        ok, result, _ = invoke(lab, name, event)
        if not ok:
            raise NotRight(f"With the {label} it failed: {error_text(result)}",
                           where=f"{name}, invoked with [{', '.join(_keys(e) for e in event)}]",
                           hint="Do not assume event[0]: find the element that has time_played.")
        if result is not True:
            raise NotRight(f"With the {label} it returned {result!r}; it should return True, like PutMetric.",
                           where=f"{name}, return value", hint="End the handler with return True.")
    ok, result, _ = invoke(lab, name, [_DB_BRANCH, {"user_id": "exercise-any-order"}])
    if ok:
        raise NotRight(f"With no time_played in any branch it returned {result!r} instead of failing.",
                       where=f"{name}, invoked without time_played",
                       hint="Raise a ValueError that names time_played when no element has it.")
    if "time_played" not in str(result.get("errorMessage", "") if isinstance(result, dict) else result):
        raise NotRight(f"With no time_played it failed, but the message does not say why: {error_text(result)}",
                       where=f"{name}, error message", hint="Name the missing field, time_played, in the message.")
    if not poll(lambda: metric_sample_count(lab) >= before + 2, lab):
        if lab.target == "aws":
            raise NotDone("The invocations worked; their datapoints are not visible in CloudWatch yet.",
                          hint="CloudWatch on AWS can take a minute: run the check again.")
        raise NotRight("The invocations succeeded, but no new FLOW/CompleteLevel datapoint arrived.",
                       where=f"{name}, put_metric_data",
                       hint='put_metric_data(Namespace="FLOW", MetricData=[{"MetricName": "CompleteLevel", '
                            '"Value": time_played, "Unit": "Seconds"}]).')
    return "Right: it puts the metric whatever the branch order, and fails clearly without time_played."


def _keys(element: object) -> str:
    if isinstance(element, dict) and "time_played" in element:
        return "{..., time_played}"
    return json.dumps(element)
