"""Start executions, wait for them, and read their results and histories."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any, Callable

from labhelpers.errors import ExecutionError, InputError
from labhelpers.lab import Lab, connect

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def load_input(source: Any) -> Any:
    """An execution input from a dict/list, JSON text, or the path of a JSON file."""
    if source is None:
        return {}
    if not isinstance(source, (str, Path)):
        return source
    text = str(source)
    path = Path(text)
    if isinstance(source, Path) or (len(text) < 4096 and not text.lstrip().startswith(("{", "[", '"'))
                                    and path.suffix == ".json"):
        if not path.is_file():
            raise InputError(f"Input file {path} does not exist.")
        text = path.read_text(encoding="utf-8")
        where = f"file {path}"
    else:
        where = "the input text"
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{where} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}.") from None


class Execution:
    """One execution of a state machine, on any target.

    ``status``, ``output`` and ``events`` are read from the service when needed
    and cached once the execution has finished. In a notebook, the object shows
    an HTML summary.
    """

    def __init__(self, arn: str, lab: Lab | None = None) -> None:
        self.arn = arn
        self.lab = lab or connect()
        self._description: dict | None = None
        self._events: list[dict] | None = None
        self._listed_status: str | None = None  # final status seen by wait_all, if any

    # -- reading ----------------------------------------------------------------
    def describe(self) -> dict:
        """The DescribeExecution response (cached once the execution finished)."""
        if self._description is None or self._description["status"] not in TERMINAL:
            self._description = self.lab.sfn.describe_execution(executionArn=self.arn)
        return self._description

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]

    @property
    def status(self) -> str:
        if self._description is None and self._listed_status is not None:
            return self._listed_status  # a final status read by wait_all from ListExecutions
        return self.describe()["status"]

    @property
    def input(self) -> Any:
        return json.loads(self.describe().get("input") or "null")

    @property
    def output(self) -> Any:
        """The execution's output, parsed from JSON (None while running or after a failure)."""
        text = self.describe().get("output")
        return json.loads(text) if text is not None else None

    @property
    def error(self) -> str | None:
        return self.describe().get("error")

    @property
    def cause(self) -> str | None:
        return self.describe().get("cause")

    @property
    def duration_ms(self) -> float | None:
        d = self.describe()
        if "stopDate" not in d:
            return None
        return (d["stopDate"] - d["startDate"]).total_seconds() * 1000

    @property
    def events(self) -> list[dict]:
        """Every history event, all pages (cached once the execution finished)."""
        if self._events is None or self.status not in TERMINAL:
            pages = self.lab.sfn.get_paginator("get_execution_history").paginate(executionArn=self.arn)
            events = [event for page in pages for event in page["events"]]
            if self.status in TERMINAL:
                self._events = events
            return events
        return self._events

    # -- waiting ----------------------------------------------------------------
    def wait(self, timeout: float = 60.0) -> "Execution":
        """Block until the execution finishes; raises ExecutionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        # The emulator answers in milliseconds; on AWS, poll gently.
        delay, cap = (0.005, 0.1) if self.lab.target == "emulator" else (0.25, 2.0)
        while self.status not in TERMINAL:
            if time.monotonic() > deadline:
                raise ExecutionError(f"Execution {self.name} still {self.status} after {timeout:.0f} s.")
            time.sleep(delay)
            delay = min(delay * 1.5, cap)
        return self

    # -- display ----------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Execution {self.name} {self.status}>"

    def _repr_html_(self) -> str:
        d = self.describe()
        colour = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "RUNNING": "#1565c0"}.get(d["status"], "#6d4c41")
        rows = [("Status", f'<b style="color:{colour}">{html.escape(d["status"])}</b>'),
                ("Execution", html.escape(self.name)),
                ("State machine", html.escape(d["stateMachineArn"].rsplit(":", 1)[-1]))]
        if self.duration_ms is not None:
            rows.append(("Duration", f"{self.duration_ms:.0f} ms"))
        rows.append(("Input", _pre(d.get("input"))))
        if d.get("output") is not None:
            rows.append(("Output", _pre(d["output"])))
        if d.get("error"):
            rows.append(("Error", f"<code>{html.escape(d['error'])}</code>"))
        if d.get("cause"):
            rows.append(("Cause", _pre(d["cause"])))
        body = "".join(f'<tr><th style="text-align:left;vertical-align:top">{k}</th>'
                       f'<td style="text-align:left">{v}</td></tr>' for k, v in rows)
        return f'<table class="labhelpers-execution">{body}</table>'


def _pre(text: str | None) -> str:
    if text is None:
        return ""
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (TypeError, json.JSONDecodeError):
        pass
    return f'<pre style="margin:0;text-align:left">{html.escape(text)}</pre>'


def start_execution(input: Any = None, *, lab: Lab | None = None, state_machine_arn: str | None = None,
                    name: str | None = None) -> Execution:
    """Start an execution of the lab's state machine (or ``state_machine_arn``) without waiting."""
    lab = lab or connect()
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn or lab.state_machine_arn,
                              "input": json.dumps(load_input(input))}
    if name:
        kwargs["name"] = name
    return Execution(lab.sfn.start_execution(**kwargs)["executionArn"], lab)


def run_execution(input: Any = None, *, lab: Lab | None = None, state_machine_arn: str | None = None,
                  name: str | None = None, timeout: float = 60.0) -> Execution:
    """Start an execution and wait until it finishes; returns the finished :class:`Execution`."""
    return start_execution(input, lab=lab, state_machine_arn=state_machine_arn, name=name).wait(timeout)



def _state_machine_arn_of(execution_arn: str) -> str | None:
    """arn:...:execution:<machine>:<name> -> arn:...:stateMachine:<machine> (None if not that shape)."""
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        return None
    return ":".join(parts[:5] + ["stateMachine", parts[6]])


def _listed(lab: Lab, state_machine_arn: str, status: str | None, wanted: set[str],
            max_pages: int) -> dict[str, str]:
    """{arn: status} of the ``wanted`` executions found in ListExecutions (newest first)."""
    found: dict[str, str] = {}
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 1000}
    if status:
        kwargs["statusFilter"] = status
    for _ in range(max_pages):
        page = lab.sfn.list_executions(**kwargs)
        for item in page.get("executions", []):
            if item["executionArn"] in wanted:
                found[item["executionArn"]] = item["status"]
        if not page.get("nextToken") or len(found) == len(wanted):
            break
        kwargs["nextToken"] = page["nextToken"]
    return found


def wait_all(executions: list[Execution], lab: Lab | None = None, timeout: float = 300.0,
             on_progress: Callable[[int], None] | None = None) -> list[Execution]:
    """Wait until every execution has finished; returns them, in the same order.

    Where :meth:`Execution.wait` polls DescribeExecution once per execution, this polls
    ``ListExecutions(statusFilter="RUNNING")`` for the whole batch (less often while many are
    running), then reads the final statuses from ``ListExecutions``: a few requests for a class
    of 200 instead of hundreds. Outputs are read with DescribeExecution when first asked for.
    On AWS, or for executions ListExecutions does not show, it falls back to ``wait``.
    ``on_progress(n)`` is called as ``n`` more executions are seen finished.
    Raises ExecutionError after ``timeout`` seconds.
    """
    report = on_progress or (lambda n: None)
    lab = lab or (executions[0].lab if executions else connect())
    deadline = time.monotonic() + timeout
    by_machine: dict[str, set[str]] = {}
    rest: list[Execution] = []
    for execution in executions:
        machine = _state_machine_arn_of(execution.arn) if execution.lab.target == "emulator" else None
        if machine is None or (execution._description and execution._description["status"] in TERMINAL):
            rest.append(execution)
        else:
            by_machine.setdefault(machine, set()).add(execution.arn)
    finals: dict[str, str] = {}
    counted: set[str] = set()
    for machine, arns in by_machine.items():
        pending = set(arns)
        try:
            while True:
                # A page of RUNNING executions costs the service about 10 us per execution listed:
                # poll less often while many are running, every 50 ms near the end.
                still = set(_listed(lab, machine, "RUNNING", pending, max_pages=100))
                if len(still) < len(pending):
                    counted |= pending - still
                    report(len(pending) - len(still))
                pending = still
                if not pending:
                    break
                if time.monotonic() > deadline:
                    raise ExecutionError(f"{len(pending)} executions still RUNNING after {timeout:.0f} s.")
                time.sleep(min(1.0, max(0.05, len(pending) / 1000)))
            finals.update(_listed(lab, machine, None, arns, max_pages=100))
        except lab.sfn.exceptions.ClientError:
            pass  # not listable (an Express machine, a permission): waited one by one below
    for execution in executions:
        status = finals.get(execution.arn)
        if status in TERMINAL:
            execution._listed_status = status
        elif execution not in rest:
            rest.append(execution)
    for execution in rest:
        execution.wait(timeout=max(0.0, deadline - time.monotonic()))
        if execution.arn not in counted:
            counted.add(execution.arn)
            report(1)
    return executions
