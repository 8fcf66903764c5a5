"""What each speed patch saves: the emulator measured with all patches, then without each one.

    .venv/bin/python benchmarks/ablation.py                 # every speed patch, 2 rounds
    .venv/bin/python benchmarks/ablation.py --rounds 3 --only jsonpath_parsed_once

For each configuration a fresh emulator (``LAB_EMULATOR_SKIP_PATCHES=<patch>``, or
``LAB_EMULATOR_FAST=0`` for the whole speed group) deploys the lab, runs a warm-up burst that
starts the Lambda workers, then a batch of executions with varied inputs started at once. Per
execution of that batch it reports the emulator's CPU (ms) and resident-memory growth (KB), and
the batch's throughput. Configurations alternate with the all-patches baseline inside each
round, so a drift of the machine's speed hits both sides; the gain quoted for a patch is the
median over rounds of (without the patch) - (baseline of the same round).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (after the path set-up)
import run  # noqa: E402

BASELINE = "(all patches)"
NO_SPEED = "(speed group off)"


def measure(config: str, executions: int) -> dict[str, Any]:
    """One fresh emulator with ``config`` left out; the batch's figures per execution."""
    from labhelpers import connect, deploy, run_execution, start_execution
    from labhelpers.emulator import control
    from labhelpers.executions import wait_all

    port = run._free_port()
    env = {"LAB_STATE_DIR": tempfile.mkdtemp(prefix="labhelpers-ablation-"), "LAB_EMULATOR_PORT": str(port),
           "LAB_TARGET": "emulator", "LAB_EMULATOR_SKIP_PATCHES": "", "LAB_EMULATOR_FAST": "1"}
    if config == NO_SPEED:
        env["LAB_EMULATOR_FAST"] = "0"
    elif config != BASELINE:
        env["LAB_EMULATOR_SKIP_PATCHES"] = config
    os.environ.update(env)
    info = control.start(port)
    try:
        lab = connect(port=port)
        deploy(lab)

        def wait(handles: list) -> list[str]:
            return [e.status for e in wait_all(handles, lab=lab, timeout=600)]

        common.throughput(lambda p: start_execution(p, lab=lab), wait, 100, offset=50_000)
        cpu0, rss0 = run.cpu_s(info.pid), run.rss_mb(info.pid) or 0.0
        batch = common.throughput(lambda p: start_execution(p, lab=lab), wait, executions)
        cpu1, rss1 = run.cpu_s(info.pid), run.rss_mb(info.pid) or 0.0
        latency = common.latency(lambda p: run_execution(p, lab=lab).status, 30)
    finally:
        control.stop(port)
    return {"cpu_ms": (cpu1 - cpu0) * 1000 / executions, "rss_kb": (rss1 - rss0) * 1024 / executions,
            "per_second": batch["per_second"], "latency_ms": latency["p50_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--executions", type=int, default=300, help="the measured batch (default 300)")
    parser.add_argument("--only", nargs="*", help="these patches only (a,b: left out together)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    from labhelpers.emulator import registry

    speed = [p.name for p in registry.all_patches() if p.group == "speed"]
    configs = [NO_SPEED, *(args.only or speed)]
    results: dict[str, list[dict]] = {c: [] for c in [BASELINE, *configs]}
    for round_no in range(args.rounds):
        for config in configs:
            for name in (BASELINE, config):
                figures = measure(name, args.executions)
                results[name].append({"round": round_no, **figures})
                print(f"round {round_no + 1} {name}: {figures['cpu_ms']:.2f} ms CPU, "
                      f"{figures['rss_kb']:.1f} KB, {figures['per_second']:.0f} exec/s, "
                      f"latency p50 {figures['latency_ms']:.1f} ms", flush=True)
    print()
    print("| left out | emulator CPU per execution (gain) | RSS growth per execution (gain) | exec/s |")
    print("|---|---|---|---|")
    for config in configs:
        # Each configuration's run is paired with the baseline run just before it.
        pairs = list(zip(results[BASELINE][configs.index(config)::len(configs)], results[config]))
        cpu = statistics.median(b["cpu_ms"] for _, b in pairs)
        cpu_gain = statistics.median(b["cpu_ms"] - a["cpu_ms"] for a, b in pairs)
        rss = statistics.median(b["rss_kb"] for _, b in pairs)
        rss_gain = statistics.median(b["rss_kb"] - a["rss_kb"] for a, b in pairs)
        rate = statistics.median(b["per_second"] for _, b in pairs)
        print(f"| {config} | {cpu:.2f} ms ({cpu_gain:+.2f}) | {rss:.1f} KB ({rss_gain:+.1f}) | {rate:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
