"""Tables and plots of what the lab did: histories, batches, side effects, metrics and logs.

Every function takes an optional ``lab``; none creates a client before it is called.
"""

from __future__ import annotations

import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable

from labhelpers.executions import Execution, start_execution, wait_all
from labhelpers.lab import Lab, connect

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

_FAILURE_DETAILS = ("executionFailedEventDetails", "taskFailedEventDetails", "lambdaFunctionFailedEventDetails",
                    "lambdaFunctionTimedOutEventDetails", "taskTimedOutEventDetails", "executionTimedOutEventDetails",
                    "executionAbortedEventDetails", "mapIterationFailedEventDetails", "evaluationFailedEventDetails")


def _events(execution: Execution | Iterable[dict] | str, lab: Lab | None) -> list[dict]:
    if isinstance(execution, str):
        execution = Execution(execution, lab)
    if isinstance(execution, Execution):
        return execution.events
    return list(execution)


def _state_of_events(events: list[dict]) -> dict[int, str | None]:
    """The state each event belongs to, following previousEventId back to a StateEntered event."""
    by_id: dict[int, str | None] = {}
    for event in events:
        if "stateEnteredEventDetails" in event:
            by_id[event["id"]] = event["stateEnteredEventDetails"]["name"]
        elif "stateExitedEventDetails" in event:
            by_id[event["id"]] = event["stateExitedEventDetails"]["name"]
        elif event["type"].startswith("Execution"):
            by_id[event["id"]] = None
        else:
            by_id[event["id"]] = by_id.get(event.get("previousEventId", 0))
    return by_id


def history_frame(execution: Execution | Iterable[dict] | str, lab: Lab | None = None) -> "pd.DataFrame":
    """The execution history as a table: id, timestamp, type, state, elapsed ms, error, cause."""
    import pandas as pd

    events = _events(execution, lab)
    states = _state_of_events(events)
    start = events[0]["timestamp"] if events else None
    rows = []
    for event in events:
        details = next((event[k] for k in _FAILURE_DETAILS if k in event), {})
        rows.append({"id": event["id"], "timestamp": event["timestamp"], "type": event["type"],
                     "state": states.get(event["id"]),
                     "elapsed_ms": round((event["timestamp"] - start).total_seconds() * 1000, 1),
                     "error": details.get("error"), "cause": details.get("cause")})
    frame = pd.DataFrame(rows, columns=["id", "timestamp", "type", "state", "elapsed_ms", "error", "cause"])
    return frame.set_index("id")


def _compact(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except json.JSONDecodeError:
        return text


def state_io_frame(execution: Execution | Iterable[dict] | str, lab: Lab | None = None) -> "pd.DataFrame":
    """One row per state visit: what the state received and what it passed on."""
    import pandas as pd

    rows: list[dict] = []
    open_visits: dict[str, dict] = {}
    for event in _events(execution, lab):
        if "stateEnteredEventDetails" in event:
            d = event["stateEnteredEventDetails"]
            visit = {"state": d["name"], "type": event["type"].removesuffix("StateEntered"),
                     "input": _compact(d.get("input")), "output": None}
            open_visits[d["name"]] = visit
            rows.append(visit)
        elif "stateExitedEventDetails" in event:
            d = event["stateExitedEventDetails"]
            if d["name"] in open_visits:
                open_visits.pop(d["name"])["output"] = _compact(d.get("output"))
    return pd.DataFrame(rows, columns=["state", "type", "input", "output"])


def branch_taken(execution: Execution) -> str | None:
    """Which UpdateDB branch ran: "Last Level", "Simple Level", or None."""
    names = {e["stateEnteredEventDetails"]["name"] for e in execution.events if "stateEnteredEventDetails" in e}
    return next((b for b in ("Last Level", "Simple Level") if b in names), None)


# --- batches ------------------------------------------------------------------------------

LEVELS = tuple(f"level-{i}" for i in range(1, 10)) + ("latest",)


def player_inputs(count: int, seed: int = 2024) -> list[dict]:
    """``count`` reproducible execution inputs, one per player: same seed, same players."""
    rng = random.Random(seed)
    players = []
    for i in range(count):
        level = rng.choice(LEVELS)
        max_score = 100
        score = rng.randint(0, max_score)
        players.append({"user_id": f"player-{i:04d}", "level": level, "score": score, "max_score": max_score,
                        "time_played": rng.randint(30, 1800), "total_score": score * rng.randint(50, 150)})
    return players


def run_batch(inputs: list[Any], lab: Lab | None = None, *, progress: bool = True, max_workers: int = 16,
              timeout: float = 300.0, state_machine_arn: str | None = None) -> list[Execution]:
    """Start one execution per input (concurrently, as a class would), wait for all, keep input order.

    The batch is awaited with :func:`labhelpers.executions.wait_all` (ListExecutions for the
    whole batch rather than DescribeExecution polls for each execution)."""
    from tqdm import tqdm

    lab = lab or connect()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        executions = list(pool.map(lambda item: start_execution(item, lab=lab, state_machine_arn=state_machine_arn),
                                   inputs))
    # tqdm's text bar on stdout: it ends as one 100% line, not a widget that needs live state.
    with tqdm(total=len(inputs), desc="executions", unit="run", file=sys.stdout,
              disable=not progress, ascii=False, bar_format="{desc}: {percentage:3.0f}%|{bar:20}| "
              "{n_fmt}/{total_fmt}") as bar:
        wait_all(executions, lab=lab, timeout=timeout, on_progress=bar.update)
    return executions


def batch_frame(executions: list[Execution]) -> "pd.DataFrame":
    """One row per execution: player, level, status, branch taken, duration and error."""
    import pandas as pd

    rows = []
    for execution in executions:
        payload = execution.input if isinstance(execution.input, dict) else {}
        rows.append({"user_id": payload.get("user_id"), "level": payload.get("level"),
                     "status": execution.status, "branch": branch_taken(execution),
                     "duration_ms": round(execution.duration_ms or 0.0, 1), "error": execution.error})
    return pd.DataFrame(rows, columns=["user_id", "level", "status", "branch", "duration_ms", "error"])


def duration_histogram(summary: "pd.DataFrame", bins: int = 30) -> "Figure":
    """A histogram of the ``duration_ms`` column of :func:`batch_frame`."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    ax.hist(summary["duration_ms"].dropna(), bins=bins, color="#1f77b4")
    ax.set_title(f"Execution duration, {len(summary)} executions")
    ax.set_xlabel("duration (ms)")
    ax.set_ylabel("executions")
    plt.close(fig)  # returned for display; not drawn twice by the inline backend
    return fig


# --- side effects ---------------------------------------------------------------------------

def reports_frame(lab: Lab | None = None, prefix: str = "", limit: int | None = None) -> "pd.DataFrame":
    """The report objects in the lab bucket: key, size and text (sorted by key)."""
    import pandas as pd

    lab = lab or connect()
    rows = []
    for page in lab.s3.get_paginator("list_objects_v2").paginate(Bucket=lab.names.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rows.append({"key": obj["Key"], "size": obj["Size"]})
    rows.sort(key=lambda r: r["key"])
    for row in rows[:limit]:
        body = lab.s3.get_object(Bucket=lab.names.bucket, Key=row["key"])["Body"].read()
        row["text"] = body.decode("utf-8", errors="replace")
    return pd.DataFrame(rows[:limit], columns=["key", "size", "text"])


def table_frame(lab: Lab | None = None, table: str | None = None) -> "pd.DataFrame":
    """Every item of the lab table (or ``table``) as plain Python values, sorted by user_id.

    The handlers store ``timestamp`` as Unix time in a string; it is shown as a UTC date.
    """
    import pandas as pd
    from boto3.dynamodb.types import TypeDeserializer

    lab = lab or connect()
    decode = TypeDeserializer().deserialize
    items = []
    for page in lab.dynamodb.get_paginator("scan").paginate(TableName=table or lab.names.table):
        items += [{k: decode(v) for k, v in item.items()} for item in page["Items"]]
    frame = pd.DataFrame(items)
    if "timestamp" in frame:
        seconds = pd.to_numeric(frame["timestamp"], errors="coerce")
        frame["timestamp"] = pd.to_datetime(seconds, unit="s", utc=True).dt.floor("s")
    if "user_id" in frame:
        frame = frame.sort_values("user_id").reset_index(drop=True)
        frame = frame[["user_id"] + sorted(c for c in frame.columns if c != "user_id")]
    return frame


# --- CloudWatch ---------------------------------------------------------------------------------

PERCENTILES = tuple(range(5, 100, 5))


def _metric_query(lab: Lab, stat: str, period: int, qid: str) -> dict:
    return {"Id": qid, "MetricStat": {"Metric": {"Namespace": lab.names.metric_namespace,
                                                 "MetricName": lab.names.metric_name},
                                      "Period": period, "Stat": stat, "Unit": "Seconds"}}


def metric_frame(lab: Lab | None = None, *, period: int = 60, hours: float = 3.0) -> "pd.DataFrame":
    """FLOW/CompleteLevel per period over the last ``hours``: Sum, SampleCount, Average, Maximum."""
    import pandas as pd

    lab = lab or connect()
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    stats = ("Sum", "SampleCount", "Average", "Maximum")
    resp = lab.cloudwatch.get_metric_data(
        MetricDataQueries=[_metric_query(lab, s, period, s.lower()) for s in stats],
        StartTime=end - timedelta(hours=hours), EndTime=end)
    columns = {}
    for result in resp["MetricDataResults"]:
        stat = next(s for s in stats if s.lower() == result["Id"])
        columns[stat] = pd.Series(result["Values"], index=pd.to_datetime(result["Timestamps"]))
    frame = pd.DataFrame(columns, columns=list(stats)).sort_index()
    frame.index.name = "timestamp"
    return frame


def metric_percentiles(lab: Lab | None = None, *, hours: float = 3.0) -> "pd.Series":
    """The distribution of FLOW/CompleteLevel values: CloudWatch percentiles p5..p95 over the window."""
    import pandas as pd

    lab = lab or connect()
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=1)
    period = int(hours * 3600)
    resp = lab.cloudwatch.get_metric_data(
        MetricDataQueries=[_metric_query(lab, f"p{p}", period, f"p{p}") for p in PERCENTILES],
        StartTime=end - timedelta(hours=hours), EndTime=end)
    values = {int(r["Id"][1:]): (max(r["Values"]) if r["Values"] else float("nan"))
              for r in resp["MetricDataResults"]}
    series = pd.Series(values, name="seconds").sort_index()
    series.index.name = "percentile"
    return series


def plot_metric(lab: Lab | None = None, *, period: int = 60, hours: float = 3.0) -> "Figure":
    """Two panels: FLOW/CompleteLevel per period (sum and count), and the distribution of its values."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import pandas as pd

    lab = lab or connect()
    frame = metric_frame(lab, period=period, hours=hours)
    dist = metric_percentiles(lab, hours=hours)
    fig, (series_ax, dist_ax) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    title = f"{lab.names.metric_namespace}/{lab.names.metric_name}"
    if frame.empty:
        series_ax.text(0.5, 0.5, "no datapoints yet", ha="center", va="center", transform=series_ax.transAxes)
    else:
        width = pd.Timedelta(seconds=period * 0.8)
        series_ax.bar(frame.index, frame["SampleCount"], width=width, align="edge", color="#9ecae1",
                      label="levels completed")
        series_ax.set_ylabel("levels completed (count per period)")
        sum_ax = series_ax.twinx()
        # One outlier (the seed's 313 years) would flatten every other point: a log scale keeps both visible.
        sum_ax.plot(frame.index + width / 2, frame["Sum"] / 3600, "o-", color="#d62728", label="sum of time played")
        sum_ax.set_yscale("log")
        sum_ax.set_ylabel("time played (hours per period, log scale)")
        # At least a quarter of an hour on the axis, so a short class run still reads as a time line.
        start = min(frame.index.min(), frame.index.max() - pd.Timedelta(minutes=14))
        series_ax.set_xlim(start - pd.Timedelta(minutes=1), frame.index.max() + pd.Timedelta(minutes=2))
        series_ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        series_ax.legend(loc="upper left")
        sum_ax.legend(loc="lower left")
    series_ax.set_title(f"{title}: sum and count per {period} s")
    series_ax.set_xlabel("time (UTC)")
    dist_ax.plot(dist.index, dist.values / 60, "o-", color="#2ca02c")
    dist_ax.set_title(f"{title}: distribution of values")
    dist_ax.set_xlabel("percentile (%)")
    dist_ax.set_ylabel("time played (minutes)")
    dist_ax.grid(alpha=0.3)
    plt.close(fig)  # returned for display; not drawn twice by the inline backend
    return fig


# --- logs -----------------------------------------------------------------------------------------

def lambda_log_frame(function: str, lab: Lab | None = None, *, request_id: str | None = None,
                     limit: int = 200) -> "pd.DataFrame":
    """Log events of one lab function (``function`` as in the seed, e.g. "GenerateReport")."""
    import pandas as pd

    lab = lab or connect()
    group = f"/aws/lambda/{lab.names.function(function)}"
    kwargs: dict[str, Any] = {"logGroupName": group, "limit": limit}
    if request_id:
        kwargs["filterPattern"] = f'"{request_id}"'
    events = lab.logs.filter_log_events(**kwargs)["events"]
    rows = [{"timestamp": datetime.fromtimestamp(e["timestamp"] / 1000, tz=timezone.utc),
             "stream": e["logStreamName"], "message": e["message"].rstrip("\n")} for e in events]
    return pd.DataFrame(rows, columns=["timestamp", "stream", "message"])
