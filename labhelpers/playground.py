"""Small state machines for trying one idea at a time (Choice rules, Parallel output...).

They run on the current target like any other state machine; their names carry the
lab's prefix, and :func:`labhelpers.cleanup` removes them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from labhelpers.executions import Execution, run_execution
from labhelpers.lab import Lab, connect

if TYPE_CHECKING:
    import pandas as pd


def _states_role(lab: Lab) -> str:
    from labhelpers.resources import ensure_role, states_role_policy

    return ensure_role(lab, lab.names.states_role, "states.amazonaws.com", states_role_policy(lab))


def playground_machine(definition: dict, base: str, lab: Lab | None = None) -> str:
    """Create or update the playground state machine ``base`` with ``definition``; returns its ARN."""
    from labhelpers.resources import ensure_state_machine

    lab = lab or connect()
    return ensure_state_machine(lab, json.dumps(definition), _states_role(lab), name=lab.names.prefixed(base))


def choice_definition(rules: list[dict], default: str | None = "Default") -> dict:
    """A machine whose Choice state has ``rules``; each rule's ``Next`` names a Pass state that ends the run."""
    rules = [dict(rule) for rule in rules]
    targets = sorted({rule["Next"] for rule in rules} | ({default} if default else set()))
    choice: dict[str, Any] = {"Type": "Choice", "Choices": rules}
    if default:
        choice["Default"] = default
    states: dict[str, Any] = {"Decide": choice}
    for target in targets:
        states[target] = {"Type": "Pass", "Result": target, "End": True}
    return {"Comment": "A Choice state alone, to see which rule matches which input.",
            "StartAt": "Decide", "States": states}


def try_choice(rules: list[dict], inputs: list[Any], lab: Lab | None = None, *,
               default: str | None = "Default") -> "pd.DataFrame":
    """Run a Choice state with ``rules`` once per input; a table of input and the branch taken (or the error)."""
    import pandas as pd

    lab = lab or connect()
    arn = playground_machine(choice_definition(rules, default), "ChoicePlayground", lab)
    rows = []
    for item in inputs:
        execution = run_execution(item, lab=lab, state_machine_arn=arn)
        rows.append({"input": json.dumps(item, ensure_ascii=False),
                     "branch": execution.output if execution.status == "SUCCEEDED" else None,
                     "error": execution.error})
    frame = pd.DataFrame(rows, columns=["input", "branch", "error"])
    return frame.dropna(axis="columns", how="all")


def run_playground(definition: dict, input: Any, base: str = "ParallelPlayground",
                   lab: Lab | None = None) -> Execution:
    """Create or update a playground machine with ``definition`` and run it once on ``input``."""
    lab = lab or connect()
    arn = playground_machine(definition, base, lab)
    return run_execution(input, lab=lab, state_machine_arn=arn)
