"""Exercises of 06 · Metrics and logs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

from labhelpers.checks import NotDone, NotRight, exercise
from labhelpers.exercises._common import (
    _MISSING,
    _code,
    error_text,
    invoke,
    poll,
    require_function,
)
from labhelpers.lab import Lab

PUT_METRIC_BY_LEVEL = "PutMetricByLevel"
GENERATE_REPORT_LOGGED = "GenerateReportLogged"
_PROBE = {"user_id": "exercise-level-check", "level": "latest", "score": 50, "max_score": 100,
          "time_played": 60, "total_score": 5000}
_LOG_PROBE = {"user_id": "exercise-log-check", "level": "level-1", "score": 5, "max_score": 10}
_PLATFORM_LINES = ("START RequestId", "END RequestId", "REPORT RequestId")


def _level_metrics(lab: Lab) -> tuple[set[str], list[list[str]]]:
    """The Level values of FLOW/CompleteLevel metrics whose only dimension is Level, and the
    dimension names of every other FLOW/CompleteLevel metric (account-wide: a class shares them)."""
    levels: set[str] = set()
    others: list[list[str]] = []
    pages = lab.cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=lab.names.metric_namespace, MetricName=lab.names.metric_name)
    for page in pages:
        for metric in page["Metrics"]:
            dimensions = metric.get("Dimensions", [])
            if [d["Name"] for d in dimensions] == ["Level"]:
                levels.add(dimensions[0]["Value"])
            else:
                others.append([d["Name"] for d in dimensions])
    return levels, others


Dimensions = tuple[tuple[str, str], ...]


def _sample_counts(lab: Lab, dimension_sets: list[Dimensions], minutes: int = 15) -> list[float]:
    """Datapoints of FLOW/CompleteLevel in the last ``minutes`` for each exact set of dimensions."""
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    queries = [{"Id": f"m{i}", "MetricStat": {
        "Metric": {"Namespace": lab.names.metric_namespace, "MetricName": lab.names.metric_name,
                   "Dimensions": [{"Name": n, "Value": v} for n, v in dims]},
        "Period": 60 * (minutes + 1), "Stat": "SampleCount", "Unit": "Seconds"}}
        for i, dims in enumerate(dimension_sets)]
    counts = {r["Id"]: sum(r["Values"]) for r in lab.cloudwatch.get_metric_data(
        MetricDataQueries=queries, StartTime=end - timedelta(minutes=minutes + 1), EndTime=end)["MetricDataResults"]}
    return [counts.get(f"m{i}", 0.0) for i in range(len(dimension_sets))]


def _candidates(lab: Lab, value: str) -> list[Dimensions]:
    """The dimension sets of FLOW/CompleteLevel metrics that have a dimension equal to ``value``."""
    found: set[Dimensions] = {(("Level", value),)}
    pages = lab.cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=lab.names.metric_namespace, MetricName=lab.names.metric_name)
    for page in pages:
        for metric in page["Metrics"]:
            dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            if any(v == value for _, v in dims):
                found.add(dims)
    return sorted(found)[:100]


@exercise("metric-per-level", "the metric with a Level dimension", "06",
          hint='Copy PutMetric, add Dimensions=[{"Name": "Level", "Value": <the player\'s level>}], '
               "deploy it as PutMetricByLevel and invoke it for at least 3 levels.")
def check_metric_per_level(lab: Lab) -> str:
    name = require_function(lab, PUT_METRIC_BY_LEVEL)
    level = _PROBE["level"]
    candidates = _candidates(lab, level)
    before = dict(zip(candidates, _sample_counts(lab, candidates)))
    ok, result, _ = invoke(lab, name, [_PROBE, _PROBE])
    if not ok:
        raise NotRight(f"Invoked with a Parallel output for level {level!r}, it failed: {error_text(result)}",
                       where=f"{name}, invoked with [player, player]",
                       hint="Its input is the Parallel state's output, a list, as for PutMetric.")
    # Which metric did this very invocation write to? The one whose count went up.
    written: list[Dimensions] = []

    def arrived() -> bool:
        now = _candidates(lab, level)
        written[:] = [dims for dims, count in zip(now, _sample_counts(lab, now)) if count > before.get(dims, 0.0)]
        return bool(written)

    where = f"{name}, put_metric_data › Dimensions"
    if not poll(arrived, lab):
        if lab.target == "aws":
            raise NotDone(f"The function ran; its datapoint for level {level!r} is not visible yet.",
                          hint="CloudWatch on AWS can take a minute: run the check again.")
        raise NotRight(f"Invoked for a player of level {level!r}, it wrote no datapoint with a dimension "
                       f"Level={level}.", where=where,
                       hint='Add Dimensions=[{"Name": "Level", "Value": <the player\'s level>}].')
    if (("Level", level),) not in written:
        names = [n for n, _ in written[0]]
        if names != ["Level"] and [n.lower() for n in names] == ["level"]:
            raise NotRight(f"The dimension is called {names[0]!r}; the task says 'Level' (names are "
                           "case-sensitive).", where=where, hint='{"Name": "Level", "Value": level}.')
        raise NotRight(f"The metric has the dimensions {', '.join(names)}: CloudWatch keeps one metric per "
                       "combination, so a plot per level would have to add them up.", where=where,
                       hint="Keep only the Level dimension.")
    levels = _level_metrics(lab)[0]
    if len(levels) < 3:
        raise NotRight(f"Only {len(levels)} level(s) so far ({', '.join(sorted(levels))}).",
                       where="FLOW/CompleteLevel, dimension Level", hint="Invoke it for players of at least 3 levels.")
    return f"Right: FLOW/CompleteLevel has a Level dimension, with datapoints for {len(levels)} levels."


@exercise("report-log-line", "GenerateReport logs one line per report", "06",
          hint="logging.info(...) naming the object key, and logging.getLogger().setLevel(logging.INFO) "
               "at module level; deploy it as GenerateReportLogged.")
def check_report_log_line(lab: Lab) -> str:
    name = require_function(lab, GENERATE_REPORT_LOGGED)
    key = f"{_LOG_PROBE['user_id']}_report_{_LOG_PROBE['level']}.txt"
    ok, result, tail = invoke(lab, name, _LOG_PROBE, log_tail=True)
    if not ok:
        raise NotRight(f"Invoked with a player's event, it failed: {error_text(result)}", where=name,
                       hint="Start from a copy of lambdas/GenerateReport and only add the logging.")
    try:
        lab.s3.head_object(Bucket=lab.names.bucket, Key=key)
    except ClientError as err:
        if _code(err) not in _MISSING:
            raise
        raise NotRight(f"It ran, but wrote no report {key}.", where=f"s3://{lab.names.bucket}",
                       hint="Keep GenerateReport's put_object: only add the logging.") from None
    own = [line for line in tail.splitlines() if line.strip() and not line.startswith(_PLATFORM_LINES)]
    naming = [line for line in own if key in line]
    if not naming:
        if not own:
            raise NotRight("The log has only Lambda's START, END and REPORT lines: your line was dropped, or "
                           "never written. Lambda's root logger stays at WARNING, so logging.info is ignored.",
                           where=f"/aws/lambda/{name}", hint="logging.getLogger().setLevel(logging.INFO) at module level.")
        raise NotRight(f"The log has a line of yours, but it does not name the report's key {key}: {own[0][:80]!r}.",
                       where=f"/aws/lambda/{name}", hint="Put the object key in the message.")
    if not naming[0].startswith("[INFO]"):
        raise NotRight("The line is printed, not logged at level INFO.", where=f"/aws/lambda/{name}",
                       hint="Use logging.info(...), so the line carries its level and the request id.")
    return f"Right: each report logs an INFO line naming its key ({key})."
