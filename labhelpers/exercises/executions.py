"""Exercises of 05 · Running executions."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from labhelpers.checks import NotRight, exercise, submitted
from labhelpers.exercises._common import _MISSING, _code, walk_states
from labhelpers.executions import Execution
from labhelpers.lab import Lab

_ANSWER_HINT = 'Hand in lh.submit("longest-branch", {"execution": execution.arn, "branch": "Gen Report" or "UpdateDB"}).'


def branch_durations(definition: dict, events: list[dict]) -> tuple[str, dict[str, float]]:
    """The first Parallel state of a definition and, per branch (named by its first state),
    the milliseconds from its first state entered to its last state exited."""
    parallel, state = next(((n, s) for n, s in definition.get("States", {}).items() if s.get("Type") == "Parallel"),
                           (None, None))
    if state is None:
        return "", {}
    durations = {}
    for branch in state.get("Branches", []):
        names = {name for _, name, _, _ in walk_states(branch)}
        entered = [e["timestamp"] for e in events
                   if e.get("stateEnteredEventDetails", {}).get("name") in names]
        exited = [e["timestamp"] for e in events
                  if e.get("stateExitedEventDetails", {}).get("name") in names]
        if entered and exited:
            durations[branch["StartAt"]] = (max(exited) - min(entered)).total_seconds() * 1000
    return parallel, durations


@exercise("longest-branch", "which branch took longest, from the history", "05",
          hint="For each branch, from its first state entered to its last state exited (history_frame).")
def check_longest_branch(lab: Lab) -> str:
    answer = submitted("longest-branch")
    if not isinstance(answer, dict) or not {"execution", "branch"} <= set(answer):
        raise NotRight(f"The answer should be a dict with 'execution' and 'branch'; you submitted {answer!r:.80}.",
                       hint=_ANSWER_HINT)
    arn, branch = answer["execution"], answer["branch"]
    try:
        described = lab.sfn.describe_execution(executionArn=str(arn))
    except ClientError as err:
        if _code(err) not in _MISSING and "ValidationException" != _code(err):
            raise
        raise NotRight(f"There is no execution {str(arn)[-40:]!r} on this target.", where="answer › execution",
                       hint="Hand in execution.arn, the ARN of a finished execution.") from None
    if described["status"] != "SUCCEEDED":
        raise NotRight(f"That execution is {described['status']}; choose one where both branches finished.",
                       where="answer › execution")
    definition = json.loads(lab.sfn.describe_state_machine(
        stateMachineArn=described["stateMachineArn"])["definition"])
    parallel, durations = branch_durations(definition, Execution(arn, lab).events)
    if len(durations) < 2:
        raise NotRight("That execution has no Parallel state with two finished branches.", where="answer › execution",
                       hint="Use an execution of the lab's state machine, such as execution in section 1.")
    if branch not in durations:
        owner = next((b["StartAt"] for b in definition["States"][parallel]["Branches"]
                      if branch in {name for _, name, _, _ in walk_states(b)}), None)
        if owner:
            message = f"{branch!r} is a state inside the {owner} branch, not a branch."
        elif branch in definition.get("States", {}):
            message = (f"{branch!r} is the Parallel state itself." if branch == parallel
                       else f"{branch!r} is a top-level state, not a branch of {parallel}.")
        else:
            message = f"{branch!r} is not a branch of {parallel}."
        raise NotRight(message, where="answer › branch",
                       hint=f"Name a branch by its first state: {' or '.join(durations)}.")
    longest = max(durations.values())
    others = ", ".join(f"{ms:.0f} ms" for b, ms in durations.items() if b != branch)
    if durations[branch] < longest:
        raise NotRight(f"That branch took {durations[branch]:.0f} ms; the other took {others}: it is the shorter one.",
                       where="answer › branch",
                       hint="Compare, per branch, first state entered to last state exited.")
    return f"Right: that branch took longest in that execution ({durations[branch]:.0f} ms, against {others})."
