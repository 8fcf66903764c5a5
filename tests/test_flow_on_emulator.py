"""draw_flow colours real executions of the lab machine (not hand-written histories) correctly."""

from __future__ import annotations

import json

from labhelpers import config, run_execution
from labhelpers.flow import OUTCOME_COLORS, draw_flow, state_outcomes

SEED = json.loads((config.DATA_DIR / "seed_input.json").read_text())
BRANCH_2 = ("StartTask", "branch 2")


def _definition(lab) -> dict:
    return json.loads(lab.sfn.describe_state_machine(stateMachineArn=lab.state_machine_arn)["definition"])


def test_last_level_run(lab):
    outcomes = state_outcomes(_definition(lab), run_execution({**SEED, "user_id": "flow-last"}, lab=lab).events)
    assert outcomes[BRANCH_2 + ("Last Level",)] == "succeeded"
    assert outcomes[BRANCH_2 + ("Simple Level",)] == "not run"
    assert outcomes[("CWMetric",)] == "succeeded"


def test_simple_level_run(lab):
    execution = run_execution({**SEED, "user_id": "flow-simple", "level": "level-2"}, lab=lab)
    outcomes = state_outcomes(_definition(lab), execution.events)
    assert outcomes[BRANCH_2 + ("Simple Level",)] == "succeeded"
    assert outcomes[BRANCH_2 + ("Last Level",)] == "not run"


def test_failed_run_is_red_where_it_failed(lab):
    payload = {k: v for k, v in SEED.items() if k != "time_played"}
    execution = run_execution({**payload, "user_id": "flow-failed"}, lab=lab)
    assert execution.status == "FAILED"
    definition = _definition(lab)
    outcomes = state_outcomes(definition, execution.events)
    assert outcomes[("CWMetric",)] == "failed"
    assert outcomes[("StartTask", "branch 1", "Gen Report")] == "succeeded"
    graph = draw_flow(definition, execution)
    node = graph.lab_nodes[("CWMetric",)]
    line = next(line for line in graph.source.splitlines() if line.strip().startswith(node))
    assert OUTCOME_COLORS["failed"] in line
