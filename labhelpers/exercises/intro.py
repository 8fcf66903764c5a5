"""Exercises of 00 · Introduction."""

from __future__ import annotations

import json

from labhelpers.checks import NotRight, exercise, submitted
from labhelpers.lab import Lab


def count_states(machine: dict) -> int:
    """Every state of a definition, including those inside Parallel branches and Map processors."""
    total = 0
    for state in machine.get("States", {}).values():
        total += 1
        for branch in state.get("Branches", []):
            total += count_states(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            total += count_states(processor)
    return total


@exercise("count-states", "count every state of the lab's definition", "00",
          hint="Count the top-level States, then add the States of each branch of StartTask.")
def check_count_states(lab: Lab) -> str:
    from labhelpers.resources import render_definition

    answer = submitted("count-states")
    expected = count_states(json.loads(render_definition(lab)))
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise NotRight(f"The answer should be a whole number of states; you submitted {answer!r}.")
    if answer == 2:
        raise NotRight("2 is only the top level: StartTask and CWMetric.", where="States of StartTask's Branches",
                       hint="The Parallel state's branches have States of their own; count those too.")
    if answer != expected:
        raise NotRight(f"{answer} is not the number of states; count again, branch by branch.",
                       hint="Top level: 2. Branch 1: 1. Branch 2: 3 (UpdateDB and its two targets).")
    return f"Right: {expected} states, {expected - 2} of them inside StartTask's two branches."
