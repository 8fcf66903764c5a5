"""Helpers shared by the emulator and plain-moto measurements: inputs, timing, statistics."""

from __future__ import annotations

import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make labhelpers importable
    sys.path.insert(0, str(ROOT))

#: Threads that start the 1,000 executions "at once" (a classroom of clients, roughly).
START_THREADS = 16
#: How the batch is awaited: labhelpers.executions.wait_all, which polls ListExecutions
#: (statusFilter RUNNING) for the whole batch, then reads the final statuses from ListExecutions.
WAIT_HOW = "ListExecutions for the whole batch (labhelpers.executions.wait_all)"


def varied_inputs(n: int, offset: int = 0) -> list[dict]:
    """``n`` execution inputs: both Choice branches, distinct players and scores, and every
    tenth one an edge case from data/varied_inputs.json (some of which fail, as they should)."""
    edge = [e["input"] for e in json.loads((ROOT / "data" / "varied_inputs.json").read_text())]
    out = []
    for i in range(offset, offset + n):
        if i % 10 == 9:
            out.append(edge[(i // 10) % len(edge)])
            continue
        out.append({"user_id": f"player-{i % 500:03d}", "level": "latest" if i % 3 == 0 else f"level-{i % 7}",
                    "score": i % 101, "max_score": 100, "time_played": 30 + i % 900, "total_score": 10 * i})
    return out


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-p * len(ordered) // 100)))
    return ordered[int(rank) - 1]


def latency(run_one: Callable[[dict], str], runs: int, warmup: int = 5) -> dict[str, Any]:
    """Wall time of ``run_one`` (start one execution and wait for it), one at a time."""
    inputs = varied_inputs(runs + warmup)
    for payload in inputs[:warmup]:
        run_one(payload)
    times, statuses = [], {}
    for payload in inputs[warmup:]:
        t0 = time.perf_counter()
        status = run_one(payload)
        times.append((time.perf_counter() - t0) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    return {"runs": runs, "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
            "mean_ms": statistics.fmean(times), "statuses": statuses}


def throughput(start: Callable[[dict], Any], wait_all: Callable[[list], list[str]], n: int,
               offset: int = 0) -> dict[str, Any]:
    """Start ``n`` executions at once, wait for all; executions per second over the whole batch.

    ``wait_all(handles)`` waits for the whole batch and returns the final statuses."""
    inputs = varied_inputs(n, offset)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(START_THREADS) as pool:
        handles = list(pool.map(start, inputs))
    started = time.perf_counter() - t0
    statuses_list = wait_all(handles)
    elapsed = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    for s in statuses_list:
        statuses[s] = statuses.get(s, 0) + 1
    return {"executions": n, "seconds": elapsed, "per_second": n / elapsed, "start_seconds": started,
            "statuses": statuses}
