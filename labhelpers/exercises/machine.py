"""Exercises of 04 · Creating the state machine."""

from __future__ import annotations

import json

from labhelpers.checks import NotDone, NotRight, exercise
from labhelpers.exercises._common import cause_message, failure, machine_definition
from labhelpers.executions import Execution
from labhelpers.lab import Lab

THREE_BRANCH_FLOW = "ThreeBranchFlow"
_LAB_BRANCHES = ("Gen Report", "UpdateDB")
_RECENT = 5


def _parallel_output(execution: Execution) -> list | None:
    for event in execution.events:
        details = event.get("stateExitedEventDetails")
        if details and details.get("name") == "StartTask":
            output = json.loads(details.get("output") or "null")
            return output if isinstance(output, list) else None
    return None


@exercise("parallel-third-branch", "a third branch in the Parallel state", "04",
          hint="Append a branch to StartTask's Branches (its own StartAt and States), create the machine, run it once.")
def check_parallel_third_branch(lab: Lab) -> str:
    name = lab.names.prefixed(THREE_BRANCH_FLOW)
    found = machine_definition(lab, name)
    if found is None:
        raise NotDone(f"No state machine {name} yet.")
    arn, definition = found
    states = definition.get("States", {})
    start_task = states.get("StartTask")
    if not isinstance(start_task, dict) or start_task.get("Type") != "Parallel":
        raise NotRight(f"{name} has no Parallel state StartTask.", where=f"{name} › States",
                       hint="Start from a copy of the lab's definition: json.loads(lh.render_definition(lab)).")
    starts = [b.get("StartAt") for b in start_task.get("Branches", []) if isinstance(b, dict)]
    where = f"{name} › StartTask › Branches"
    missing = [b for b in _LAB_BRANCHES if b not in starts]
    if missing:
        raise NotRight(f"StartTask lost the lab's {' and '.join(missing)} branch; its branches start at "
                       f"{', '.join(map(str, starts)) or 'nothing'}.", where=where,
                       hint="Keep the two branches of the lab and append a third one.")
    if len(starts) < 3:
        extra = sorted(set(states) - {"StartTask", "CWMetric"})
        if extra:
            raise NotRight(f"{extra[0]} is a top-level state: it runs after StartTask, not beside its branches. "
                           f"StartTask still has {len(starts)} branches.", where=f"{name} › States › {extra[0]}",
                           hint="A branch goes into StartTask's Branches list: "
                                '{"StartAt": "Notify", "States": {"Notify": {"Type": "Pass", "End": true}}}.')
        raise NotRight(f"StartTask has {len(starts)} branches; the task asks for a third.", where=where)
    if len(starts) > 3:
        raise NotRight(f"StartTask has {len(starts)} branches; the task asks for exactly three.", where=where)
    third = next(s for s in starts if s not in _LAB_BRANCHES)

    listed = lab.sfn.list_executions(stateMachineArn=arn, maxResults=20)["executions"]
    recent = sorted(listed, key=lambda e: e["startDate"], reverse=True)[:_RECENT]
    finished = [e for e in recent if e["status"] != "RUNNING"]
    if not finished:
        raise NotDone(f"{name} has three branches; run it once.")
    item = finished[0]
    execution = Execution(item["executionArn"], lab)
    if item["status"] == "SUCCEEDED":
        output = _parallel_output(execution)
        if output is not None and len(output) == 3:
            return f"Right: StartTask runs Gen Report, UpdateDB and {third} side by side; its output had 3 elements."
        raise NotRight(f"The last successful run's StartTask output had "
                       f"{len(output) if output is not None else 'no'} elements: it ran an older definition.",
                       where=f"{name}, last execution", hint="Run the machine again.")
    failed_in, error, cause = failure(execution.events)
    raise NotRight(f"The last execution {item['status']}: {error} in {failed_in}. {cause_message(cause)}".rstrip(),
                   where=f"{name} › {failed_in}", hint="Read its history (lh.history_frame), fix, run again.")
