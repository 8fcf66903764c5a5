"""Benchmark the local emulator against plain moto, on the lab state machine and the lab's Lambda code.

    make benchmark                      # or: .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --quick          # a smaller run (about a minute)

Measures, in one run: the emulator's cold start; the warm latency of one execution
(p50/p95, started and awaited with ``labhelpers.run_execution``); the throughput of 1,000
executions with varied inputs started at once; the wall time of the notebook series; the
emulator's resident memory after 1,000 and 10,000 executions. The same latency and
throughput are measured for plain moto in-process (``mock_aws``, Lambda echoing instead of
running code), in a child process, and both are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (after the path set-up)

ROOT = common.ROOT
#: Executions started together before the throughput run, to start the Lambda workers.
WARM_BURST = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process from /proc (Linux only; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


def children_rss_mb(pid: int) -> float | None:
    """Summed RSS of a process's direct children (the Lambda workers), Linux only."""
    if not Path("/proc").is_dir():
        return None
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            total += rss_mb(int(entry.name)) or 0.0
    return total


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def children_cpu_s(pid: int) -> float:
    """Summed CPU seconds of a process's direct children (the Lambda workers), Linux only."""
    total = 0.0
    if Path("/proc").is_dir():
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                        total += cpu_s(int(entry.name))
                except (OSError, ValueError, IndexError):
                    continue
    return total


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import boto3
    import moto

    return {"platform": platform.platform(), "cpu": cpu or platform.processor() or "unknown",
            "cores": str(os.cpu_count()), "python": platform.python_version(),
            "moto": moto.__version__, "boto3": boto3.__version__}


# --- the emulator ----------------------------------------------------------------------------------

def measure_emulator(args: argparse.Namespace) -> dict[str, Any]:
    from labhelpers import connect, deploy, run_execution, start_execution
    from labhelpers.emulator import control
    from labhelpers.executions import wait_all

    port = _free_port()
    os.environ.update(LAB_STATE_DIR=tempfile.mkdtemp(prefix="labhelpers-bench-"),
                      LAB_EMULATOR_PORT=str(port), LAB_TARGET="emulator")
    out: dict[str, Any] = {}
    starts = []
    for attempt in range(args.cold_starts):
        t0 = time.perf_counter()
        info = control.start(port)
        starts.append(time.perf_counter() - t0)
        if attempt < args.cold_starts - 1:
            control.stop(port)
    out["cold_start_s"] = sorted(starts)[len(starts) // 2]
    out["cold_starts_s"] = starts
    pid = info.pid
    try:
        lab = connect(port=port)
        t0 = time.perf_counter()
        deploy(lab)
        out["deploy_s"] = time.perf_counter() - t0
        out["rss_deployed_mb"] = rss_mb(pid)
        print(f"  emulator: cold start {out['cold_start_s']:.2f} s, deploy {out['deploy_s']:.2f} s", flush=True)

        out["latency"] = common.latency(lambda p: run_execution(p, lab=lab).status, args.latency_runs)
        done = args.latency_runs + 5
        print(f"  emulator: latency p50 {out['latency']['p50_ms']:.1f} ms", flush=True)

        def wait(handles: list) -> list[str]:
            return [e.status for e in wait_all(handles, lab=lab, timeout=600)]

        # A first burst starts the Lambda workers (up to 4 per function, ~0.3 s of CPU each to
        # import boto3): measured apart, so the throughput below is that of a warm emulator.
        burst = common.throughput(lambda p: start_execution(p, lab=lab), wait, WARM_BURST, offset=50_000)
        out["first_burst"] = burst
        done += WARM_BURST
        cpu0, workers0 = cpu_s(pid), children_cpu_s(pid)
        out["throughput"] = common.throughput(lambda p: start_execution(p, lab=lab), wait, args.throughput)
        out["throughput"]["emulator_cpu_ms"] = (cpu_s(pid) - cpu0) * 1000 / args.throughput
        out["throughput"]["workers_cpu_ms"] = (children_cpu_s(pid) - workers0) * 1000 / args.throughput
        done += args.throughput
        print(f"  emulator: {args.throughput} executions, {out['throughput']['per_second']:.0f}/s", flush=True)
        out["rss_small_mb"], out["rss_small_at"] = rss_mb(pid), done

        batches = []
        while done < args.memory_executions:
            n = min(args.memory_batch, args.memory_executions - done)
            batch = common.throughput(lambda p: start_execution(p, lab=lab), wait, n, offset=done)
            done += n
            batches.append({"after": done, "per_second": batch["per_second"], "rss_mb": rss_mb(pid),
                            "statuses": batch["statuses"]})
            print(f"  emulator: {done} executions, batch at {batch['per_second']:.0f}/s, "
                  f"RSS {batches[-1]['rss_mb'] or 0:.0f} MB", flush=True)
        out["batches"] = batches
        out["rss_large_mb"], out["rss_large_at"] = rss_mb(pid), done
        out["workers_rss_mb"] = children_rss_mb(pid)
        health = control.probe(port) or {}
        out["lambda_workers"] = health.get("lambda", {}).get("workers")
        out["pinned_cpu"] = health.get("cpu")
    finally:
        control.stop(port)
    return out


# --- plain moto, the notebooks ---------------------------------------------------------------------

def measure_plain_moto(args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).with_name("plain_moto.py")),
           "--latency-runs", str(args.latency_runs), "--throughput", str(args.throughput)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - t0
    print(f"  plain moto: latency p50 {result['latency']['p50_ms']:.1f} ms, "
          f"{result['throughput']['per_second']:.0f}/s", flush=True)
    return result


def measure_notebooks() -> dict[str, Any]:
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        return {"skipped": "no notebooks yet"}
    from labhelpers import notebook
    from labhelpers.emulator import control

    env = notebook.fresh_emulator_env()
    t0 = time.perf_counter()
    each: dict[str, float] = {}
    try:
        with notebook._environ(env):
            for path in paths:
                t1 = time.perf_counter()
                notebook.execute(path)  # executed in memory, never saved
                each[path.name] = time.perf_counter() - t1
    except Exception as err:  # a notebook being written may fail: report it, keep the rest
        return {"error": f"{type(err).__name__}: {str(err)[:300]}", "each_s": each}
    finally:
        control.stop(int(env["LAB_EMULATOR_PORT"]))
    return {"wall_s": time.perf_counter() - t0, "each_s": each, "count": len(paths)}


# --- the report ------------------------------------------------------------------------------------

def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f} {unit}"


def _ratio(emulator: float | None, plain: float | None, higher_is_better: bool) -> str:
    if not emulator or not plain:
        return ""
    return f"{(emulator / plain if higher_is_better else plain / emulator):.2f}x"


def table(result: dict[str, Any]) -> str:
    emu, plain, nb = result["emulator"], result.get("plain_moto", {}), result.get("notebooks", {})
    pl, pt = plain.get("latency", {}), plain.get("throughput", {})
    rows = [
        ("cold start (process start to first answer)", _fmt(emu["cold_start_s"], "s", 2),
         _fmt(plain.get("import_s"), "s", 2) + " (import)", ""),
        ("latency p50, warm", _fmt(emu["latency"]["p50_ms"], "ms"), _fmt(pl.get("p50_ms"), "ms"),
         _ratio(emu["latency"]["p50_ms"], pl.get("p50_ms"), False)),
        ("latency p95, warm", _fmt(emu["latency"]["p95_ms"], "ms"), _fmt(pl.get("p95_ms"), "ms"),
         _ratio(emu["latency"]["p95_ms"], pl.get("p95_ms"), False)),
        (f"throughput, {emu['throughput']['executions']:,} started at once",
         _fmt(emu["throughput"]["per_second"], "exec/s", 0), _fmt(pt.get("per_second"), "exec/s", 0),
         _ratio(emu["throughput"]["per_second"], pt.get("per_second"), True)),
        ("notebook series, wall time", nb.get("skipped") or (f"error: {nb['error'][:40]}" if "error" in nb
                                                               else _fmt(nb.get("wall_s"), "s")), "", ""),
        (f"RSS after {emu['rss_small_at']:,} executions", _fmt(emu["rss_small_mb"], "MB", 0), "n/a", ""),
        (f"RSS after {emu['rss_large_at']:,} executions", _fmt(emu["rss_large_mb"], "MB", 0), "n/a",
         "" if not (emu["rss_large_mb"] and emu["rss_small_mb"])
         else f"growth {emu['rss_large_mb'] / emu['rss_small_mb']:.2f}x"),
    ]
    header = ("", "emulator", "plain moto", "ratio")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run: 300 executions, memory to 1,500")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--skip-plain-moto", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    args.latency_runs = 50 if args.quick else 100
    args.throughput = 300 if args.quick else 1000
    args.memory_executions = 1500 if args.quick else 10_000
    args.memory_batch = 1000
    args.cold_starts = 1 if args.quick else 3

    info = machine()
    print(f"Benchmark{' (--quick: a smaller run)' if args.quick else ''} on {info['cores']} cores, "
          f"{info['cpu']}", flush=True)
    result: dict[str, Any] = {"machine": info, "quick": args.quick}
    result["emulator"] = measure_emulator(args)
    result["plain_moto"] = {"skipped": True} if args.skip_plain_moto else measure_plain_moto(args)
    result["notebooks"] = {"skipped": "skipped (--skip-notebooks)"} if args.skip_notebooks else measure_notebooks()

    print()
    if args.quick:
        print("QUICK RUN (--quick): fewer executions than the full benchmark; figures are indicative.")
    print(table(result))
    print()
    print(f"Machine: {info['platform']}, {info['cpu']}, {info['cores']} cores; "
          f"Python {info['python']}, moto {info['moto']}, boto3 {info['boto3']}.")
    emu = result["emulator"]
    print(f"Latency: run_execution (StartExecution, then DescribeExecution polls) for {args.latency_runs} "
          f"executions one at a time, after 5 warm-up runs. Throughput: started by {common.START_THREADS} "
          f"threads, awaited with {common.WAIT_HOW} (plain moto too), after a first burst of {WARM_BURST} that "
          f"started the Lambda workers ({emu['first_burst']['per_second']:.0f} exec/s cold); the emulator's threads "
          f"{'on CPU ' + str(emu['pinned_cpu']) if emu.get('pinned_cpu') is not None else 'on every CPU'} "
          f"(LAB_EMULATOR_CPU); CPU per execution: "
          f"emulator {_fmt(emu['throughput'].get('emulator_cpu_ms'), 'ms')}, Lambda workers "
          f"{_fmt(emu['throughput'].get('workers_cpu_ms'), 'ms')}. RSS: the emulator process "
          f"(its {emu.get('lambda_workers')} Lambda workers: {_fmt(emu.get('workers_rss_mb'), 'MB', 0)} more).")
    if "error" in result["plain_moto"]:
        print("plain moto failed:\n" + result["plain_moto"]["error"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
