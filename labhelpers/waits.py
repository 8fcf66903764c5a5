"""Wait states: speed them up on the emulator, and read how long each one lasted.

On the emulator, ``set_wait_speedup(3600, lab)`` makes a one-hour ``Wait`` take about a second
of real time; the history still shows the full hour. Real AWS has no such switch: a Wait of an
hour takes an hour.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from labhelpers.errors import EmulatorError, TargetError
from labhelpers.lab import Lab, connect

if TYPE_CHECKING:
    import pandas as pd

    from labhelpers.executions import Execution

_PATH = "/_lab/wait-speedup"


def _call(lab: Lab, body: dict | None = None) -> float:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(lab.endpoint_url + _PATH, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(request, timeout=5) as response:
            return float(json.loads(response.read())["factor"])
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read()).get("message", "")
        except ValueError:
            message = ""
        if err.code == 400:
            raise ValueError(message or "the emulator refused that factor") from None
        raise EmulatorError(f"The emulator at {lab.endpoint_url} has no wait speed-up ({err.code}); "
                            "restart it: python -m labhelpers emulator stop, then start.") from None
    except (urllib.error.URLError, OSError) as err:
        raise EmulatorError(f"No emulator answers on {lab.endpoint_url}: {err}") from None


def set_wait_speedup(factor: float, lab: Lab | None = None) -> float:
    """Make the emulator's Wait states (and Retry intervals) ``factor`` times faster; 1 is real time.

    The history keeps the full durations. Returns the factor now in force. On AWS this raises
    :class:`TargetError`: real Step Functions waits for real.
    """
    lab = lab or connect()
    if lab.target == "aws":
        raise TargetError("Real AWS waits for real: a Wait of 3600 seconds takes an hour there. "
                          "Speeding up waits is a feature of the local emulator only; on AWS, "
                          "use short waits while you experiment.")
    return _call(lab, {"factor": factor})


def wait_speedup(lab: Lab | None = None) -> float:
    """The emulator's current speed-up factor (1 on AWS, which always waits for real)."""
    lab = lab or connect()
    return 1.0 if lab.target == "aws" else _call(lab)


@contextmanager
def accelerated_waits(factor: float, lab: Lab | None = None) -> Iterator[float]:
    """Within the block, waits run ``factor`` times faster on the emulator (no change on AWS);
    the previous factor is restored after it."""
    lab = lab or connect()
    if lab.target == "aws":
        yield 1.0
        return
    previous = wait_speedup(lab)
    try:
        yield set_wait_speedup(factor, lab)
    finally:
        set_wait_speedup(previous, lab)


def wait_frame(execution: "Execution | Iterable[dict] | str", lab: Lab | None = None) -> "pd.DataFrame":
    """One row per Wait state visit: when it was entered and left, and the seconds in between,
    read from the execution's history."""
    import pandas as pd

    from labhelpers.views import _events

    rows, entered = [], {}
    for event in _events(execution, lab):
        if event["type"] == "WaitStateEntered":
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif event["type"] == "WaitStateExited":
            name = event["stateExitedEventDetails"]["name"]
            start = entered.pop(name, None)
            if start is not None:
                rows.append({"state": name, "entered": start, "exited": event["timestamp"],
                             "seconds": round((event["timestamp"] - start).total_seconds())})
    return pd.DataFrame(rows, columns=["state", "entered", "exited", "seconds"])


def execution_seconds(execution: Any, lab: Lab | None = None) -> int:
    """Whole seconds from the execution's start to its stop, as Step Functions recorded them."""
    lab = lab or getattr(execution, "lab", None) or connect()
    arn = execution if isinstance(execution, str) else execution.arn
    described = lab.sfn.describe_execution(executionArn=arn)
    return round((described["stopDate"] - described["startDate"]).total_seconds())
