"""Tests for labhelpers.flow: drawing ASL definitions and execution overlays."""

from __future__ import annotations

import copy
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from labhelpers.errors import DefinitionError
from labhelpers.flow import OUTCOME_COLORS, describe_choice_rule, draw_flow, state_outcomes

# Committed copies of the project's shared ground-truth data (tests/data/README.md): a missing
# file is a broken checkout, so the tests that read them fail; none of them is skipped.
DATA = Path(__file__).parent / "data"
CORPUS = DATA / "asl-corpus"
RECORDINGS = DATA / "aws-recordings"
CORPUS_FILES = sorted(p for p in CORPUS.glob("*.json") if p.name != "summary.json")
# pytest skips a test whose parametrize list is empty, without failing: refuse to collect instead.
if not CORPUS_FILES:
    raise FileNotFoundError(f"no ASL definitions in {CORPUS}: the corpus is committed under tests/data/, restore it")

FN = "arn:aws:lambda:us-east-1:123456789012:function:"

# The lab machine: a Parallel with a report branch and a Choice branch, then a metric task.
LAB = {
    "Comment": "Classroom lab",
    "StartAt": "StartTask",
    "States": {
        "StartTask": {
            "Type": "Parallel",
            "Next": "CWMetric",
            "Branches": [
                {
                    "StartAt": "Gen Report",
                    "States": {
                        "Gen Report": {
                            "Type": "Task",
                            "Resource": FN + "gen-report",
                            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}],
                            "End": True,
                        }
                    },
                },
                {
                    "StartAt": "UpdateDB",
                    "States": {
                        "UpdateDB": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.level", "StringEquals": "latest", "Next": "Last Level"}],
                            "Default": "Simple Level",
                        },
                        "Last Level": {"Type": "Task", "Resource": FN + "last-level", "End": True},
                        "Simple Level": {"Type": "Task", "Resource": FN + "simple-level", "End": True},
                    },
                },
            ],
        },
        "CWMetric": {"Type": "Task", "Resource": FN + "cw-metric", "End": True},
    },
}

P_START = ("StartTask",)
P_GEN = ("StartTask", "branch 1", "Gen Report")
P_UPDATE = ("StartTask", "branch 2", "UpdateDB")
P_LAST = ("StartTask", "branch 2", "Last Level")
P_SIMPLE = ("StartTask", "branch 2", "Simple Level")
P_CW = ("CWMetric",)


# --------------------------------------------------------------------------- helpers


class History:
    """Builds get_execution_history events with ids and previousEventId links."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.add("ExecutionStarted", prev=0, executionStartedEventDetails={"input": "{}"})

    def add(self, type_: str, prev: int | None = None, **details: Any) -> int:
        eid = len(self.events) + 1
        event = {"id": eid, "previousEventId": eid - 1 if prev is None else prev, "type": type_,
                 "timestamp": f"2026-01-01T00:00:{eid:02d}Z"}
        event.update(details)
        self.events.append(event)
        return eid

    def enter(self, kind: str, name: str, prev: int | None = None) -> int:
        return self.add(f"{kind}StateEntered", prev, stateEnteredEventDetails={"name": name, "input": "{}"})

    def exit(self, kind: str, name: str, prev: int | None = None) -> int:
        return self.add(f"{kind}StateExited", prev, stateExitedEventDetails={"name": name, "output": "{}"})

    def lambda_call(self, ok: bool = True, prev: int | None = None) -> int:
        self.add("LambdaFunctionScheduled", prev, lambdaFunctionScheduledEventDetails={"resource": FN + "x"})
        self.add("LambdaFunctionStarted")
        if ok:
            return self.add("LambdaFunctionSucceeded", lambdaFunctionSucceededEventDetails={"output": "{}"})
        return self.add("LambdaFunctionFailed",
                        lambdaFunctionFailedEventDetails={"error": "Boom", "cause": "it broke"})

    def task(self, name: str, prev: int | None = None, fails: int = 0, ok: bool = True) -> int:
        """A Task visit: `fails` failed attempts, then a success (or nothing more if not ok)."""
        last = self.enter("Task", name, prev)
        for _ in range(fails):
            last = self.lambda_call(False, last)
        if ok:
            last = self.lambda_call(True, last)
            return self.exit("Task", name, last)
        return last


def lab_history(level: str = "latest", *, gen_fails: int = 0, cw_fails: bool = False,
                running: bool = False) -> list[dict]:
    """History of one run of the lab machine (branches interleaved as AWS does)."""
    h = History()
    h.enter("Parallel", "StartTask")
    started = h.add("ParallelStateStarted")
    gen_in = h.enter("Task", "Gen Report", started)
    upd_in = h.enter("Choice", "UpdateDB", started)
    if running:
        h.add("LambdaFunctionScheduled", gen_in, lambdaFunctionScheduledEventDetails={"resource": FN})
        return h.events
    last = gen_in
    for _ in range(gen_fails):
        last = h.lambda_call(False, last)
    last = h.lambda_call(True, last)
    gen_out = h.exit("Task", "Gen Report", last)
    upd_out = h.exit("Choice", "UpdateDB", upd_in)
    branch_task = "Last Level" if level == "latest" else "Simple Level"
    leaf_out = h.task(branch_task, upd_out)
    assert gen_out < leaf_out
    h.add("ParallelStateSucceeded", leaf_out)
    par_out = h.exit("Parallel", "StartTask")
    if cw_fails:
        h.task("CWMetric", par_out, fails=1, ok=False)
        h.add("ExecutionFailed", executionFailedEventDetails={"error": "Boom", "cause": "it broke"})
    else:
        h.task("CWMetric", par_out)
        h.add("ExecutionSucceeded", executionSucceededEventDetails={"output": "{}"})
    return h.events


def node_line(g: Any, path: tuple[str, ...]) -> str:
    """The DOT line declaring the node of a state path."""
    nid = g.lab_nodes[path]
    for line in g.source.splitlines():
        if line.strip().startswith(f"{nid} ["):
            return line
    raise AssertionError(f"no node line for {path}")


def fill_of(g: Any, path: tuple[str, ...]) -> str:
    match = re.search(r'fillcolor="(#[0-9a-f]{6})"', node_line(g, path))
    assert match, node_line(g, path)
    return match.group(1)


def expected_structure(machine: dict, scope: tuple[str, ...] = ()) -> tuple[set, set]:
    """Independent walker: (all state paths, set of (src, dst, kind) transitions)."""
    nodes: set[tuple[str, ...]] = set()
    trans: set[tuple[Any, Any, str]] = set()
    if not scope and isinstance(machine.get("StartAt"), str):
        trans.add(("start", (machine["StartAt"],), "start"))
    for name, spec in (machine.get("States") or {}).items():
        path = scope + (name,)
        nodes.add(path)
        if spec.get("Type") == "Choice":
            for rule in spec.get("Choices") or []:
                if "Next" in rule:
                    trans.add((path, scope + (rule["Next"],), "choice"))
            if "Default" in spec:
                trans.add((path, scope + (spec["Default"],), "default"))
        elif "Next" in spec:
            trans.add((path, scope + (spec["Next"],), "next"))
        for catcher in spec.get("Catch") or []:
            trans.add((path, scope + (catcher["Next"],), "catch"))
        subs = []
        if spec.get("Type") == "Parallel":
            subs = [(f"branch {i}", b) for i, b in enumerate(spec.get("Branches") or [], 1)]
        elif spec.get("Type") == "Map":
            proc = spec.get("ItemProcessor") or spec.get("Iterator")
            subs = [("processor", proc)] if proc else []
        for label, sub in subs:
            sub_scope = path + (label,)
            trans.add((path, sub_scope + (sub["StartAt"],), "branch"))
            sub_nodes, sub_trans = expected_structure(sub, sub_scope)
            nodes |= sub_nodes
            trans |= sub_trans
    return nodes, trans


def check_structure(definition: dict) -> Any:
    g = draw_flow(definition)
    nodes, trans = expected_structure(definition)
    source = g.source
    assert set(g.lab_nodes) == nodes
    assert len(set(g.lab_nodes.values())) == len(nodes), "node ids must be unique per scope"
    for path in nodes:
        assert f"\t{g.lab_nodes[path]} [label=" in source or f"\t\t{g.lab_nodes[path]} [label=" in source \
            or re.search(rf"^\s*{g.lab_nodes[path]} \[label=", source, re.M), path
    drawn = {(e.src, e.dst, e.kind) for e in g.lab_edges if e.kind in {"start", "next", "choice", "default",
                                                                         "catch", "branch"}}
    assert drawn == trans
    for edge in g.lab_edges:
        assert f"{edge.tail} -> {edge.head}" in source
    return g


def svg_text(g: Any) -> str:
    return html.unescape(g.pipe(format="svg").decode("utf-8"))


# --------------------------------------------------------------------------- corpus


def test_the_committed_corpus_is_there() -> None:
    """Every definition listed in the corpus's summary.json is on disk, and nothing else is."""
    listed = {f["file"] for f in json.loads((CORPUS / "summary.json").read_text(encoding="utf-8"))["files"]}
    on_disk = {p.name for p in CORPUS_FILES} | {f"invalid/{p.name}" for p in (CORPUS / "invalid").glob("*.json")}
    assert on_disk == listed
    assert len(CORPUS_FILES) == len([f for f in listed if not f.startswith("invalid/")]) == 354


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name[:80])
def test_corpus_definition_structure(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "States" not in data:
        with pytest.raises(DefinitionError) if not isinstance(data, dict) else _nullcontext():
            draw_flow(data)
        return
    check_structure(data)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def test_corpus_renders_with_dot() -> None:
    """dot accepts every corpus drawing and every state name shows up in the SVG."""
    for path in CORPUS_FILES:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "States" not in data:
            continue
        g = draw_flow(data)
        svg = svg_text(g)
        for state_path in g.lab_nodes:
            name = " ".join(state_path[-1].split())
            assert name[:50] in svg, (path.name, state_path)


def test_non_object_definitions() -> None:
    with pytest.raises(DefinitionError):
        draw_flow("[1, 2, 3]")
    with pytest.raises(DefinitionError):
        draw_flow("{not json")
    g = draw_flow({"Comment": "no states"})  # drawable, just a Start marker
    assert "__start" in g.source


def test_json_string_definition_and_determinism() -> None:
    a = draw_flow(json.dumps(LAB)).source
    b = draw_flow(copy.deepcopy(LAB)).source
    assert a == b
    assert draw_flow(LAB, lab_history()).source == draw_flow(LAB, lab_history()).source
    batch = [lab_history(), lab_history("x"), lab_history(cw_fails=True)]
    assert draw_flow(LAB, batch).source == draw_flow(LAB, batch).source


def test_lab_machine_structure() -> None:
    g = check_structure(LAB)
    assert g.source.count("subgraph cluster_") == 2
    assert 'rankdir=TB' in g.source and "fontname=Helvetica" in g.source
    assert "$.level == &quot;latest&quot;" in g.source
    default = [e for e in g.lab_edges if e.kind == "default"]
    assert default and default[0].label == "Default"
    svg = svg_text(g)
    for name in ("StartTask", "Gen Report", "UpdateDB", "Last Level", "Simple Level", "CWMetric",
                 "retry: States.TaskFailed ×3", "Start", "End"):
        assert name in svg


# --------------------------------------------------------------------------- awkward names

NASTY = [
    'say "hi"',
    "a:b:c",
    "back\\slash\\n",
    "<b>not bold</b>",
    "{braces}",
    "pipe|bar",
    "Ünïcødé ✓ 日本",
    "amp & 'single'",
    "record {a|b} <x>",
]


def test_awkward_names_render_literally() -> None:
    states: dict[str, dict] = {}
    for i, name in enumerate(NASTY):
        nxt = NASTY[i + 1] if i + 1 < len(NASTY) else None
        states[name] = {"Type": "Pass", **({"Next": nxt} if nxt else {"End": True})}
    states[NASTY[0]] = {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "<\"|\\>",
                                                        "Next": NASTY[1]}], "Default": NASTY[2]}
    states[NASTY[3]]["Catch"] = [{"ErrorEquals": ["My<Error>|{x}"], "Next": NASTY[4]}]
    definition = {
        "StartAt": NASTY[0],
        "States": {
            **states,
            "Par:{x}": {
                "Type": "Parallel",
                "Branches": [{"StartAt": n, "States": {n: {"Type": "Pass", "End": True}}} for n in NASTY],
                "End": True,
            },
        },
    }
    definition["States"][NASTY[-1]]["Next"] = "Par:{x}"
    definition["States"][NASTY[-1]].pop("End")
    g = check_structure(definition)
    svg = svg_text(g)
    for name in NASTY + ["Par:{x}"]:
        assert name in svg, name
    assert "catch My<Error>|{x}" in svg
    assert '$.x == "<\\"|\\\\>"' in svg  # JSON-quoted literal, shown as written


def test_missing_targets_drawn_as_missing_nodes() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Ghost"}],
                  "Default": "Nowhere"},
            "B": {"Type": "Task", "Resource": FN, "Next": "Ghost",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Lost \"one\""}]},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "Missing start", "States": {}}], "End": True},
        },
    }
    g = draw_flow(definition)
    assert ("Ghost",) in g.lab_missing and ("Nowhere",) in g.lab_missing
    assert ("P", "branch 1", "Missing start") in g.lab_missing
    svg = svg_text(g)
    assert 'Lost "one"' in svg and "(missing state)" in svg
    # one missing node per (scope, name), reused by several edges
    assert len(re.findall(rf"^\s*{g.lab_missing[('Ghost',)]} \[", g.source, re.M)) == 1


def test_start_at_missing_and_odd_values() -> None:
    g = draw_flow({"StartAt": "Nope", "States": {"X": {"Type": "Pass", "Next": 42}, "Y": "not a dict",
                                                 "Z": {"Type": "Weird", "End": True}}})
    assert ("Nope",) in g.lab_missing and ("42",) in g.lab_missing
    svg_text(g)


def test_nested_parallel_map_parallel_and_same_names() -> None:
    inner_par = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}},
            {"StartAt": "Work", "States": {"Work": {"Type": "Fail", "Error": "E"}}},
        ],
        "End": True,
    }
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Outer",
        "States": {
            "Outer": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Inner", "States": {"Inner": inner_par}}, "End": True}}},
                    {"StartAt": "Legacy", "States": {"Legacy": {"Type": "Map", "Iterator": {
                        "StartAt": "Work", "States": {"Work": {"Type": "Wait", "Seconds": 1, "End": True}}},
                        "Next": "Work"}, "Work": {"Type": "Succeed"}}},
                ],
                "Next": "Work",
            },
            "Work": {"Type": "Succeed"},
        },
    }
    g = check_structure(definition)
    assert ("Outer", "branch 1", "M", "processor", "Inner", "branch 2", "Work") in g.lab_nodes
    assert g.source.count("subgraph cluster_") == 6
    svg = svg_text(g)
    assert "Map (distributed)" in svg and "iterator" in svg


# --------------------------------------------------------------------------- choice rules


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"Variable": "$.level", "StringEquals": "latest"}, '$.level == "latest"'),
        ({"Variable": "$.score", "NumericGreaterThan": 100}, "$.score > 100"),
        ({"Variable": "$.x", "NumericGreaterThanEqualsPath": "$.y"}, "$.x >= $.y"),
        ({"Variable": "$.x", "NumericLessThan": 1.5}, "$.x < 1.5"),
        ({"Variable": "$.x", "NumericLessThanEquals": 0}, "$.x <= 0"),
        ({"Variable": "$.x", "NumericEquals": -2}, "$.x == -2"),
        ({"Variable": "$.s", "StringLessThanPath": "$.t"}, "$.s < $.t"),
        ({"Variable": "$.s", "StringGreaterThanEquals": "m"}, '$.s >= "m"'),
        ({"Variable": "$.f", "BooleanEquals": True}, "$.f == true"),
        ({"Variable": "$.f", "BooleanEqualsPath": "$.g"}, "$.f == $.g"),
        ({"Variable": "$.t", "TimestampGreaterThan": "2026-01-01T00:00:00Z"}, '$.t > "2026-01-01T00:00:00Z"'),
        ({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.u"}, "$.t <= $.u"),
        ({"Variable": "$.t", "TimestampEquals": "2026-01-01T00:00:00Z"}, '$.t == "2026-01-01T00:00:00Z"'),
        ({"Variable": "$.name", "StringMatches": "a*"}, '$.name matches "a*"'),
        ({"Variable": "$.a", "IsPresent": True}, "$.a is present"),
        ({"Variable": "$.a", "IsPresent": False}, "$.a is not present"),
        ({"Variable": "$.a", "IsNull": True}, "$.a is null"),
        ({"Variable": "$.a", "IsString": True}, "$.a is string"),
        ({"Variable": "$.a", "IsNumeric": False}, "$.a is not numeric"),
        ({"Variable": "$.a", "IsBoolean": True}, "$.a is boolean"),
        ({"Variable": "$.a", "IsTimestamp": True}, "$.a is timestamp"),
        ({"Variable": "$.v", "StringEquals": 'say "hi"'}, '$.v == "say \\"hi\\""'),
        ({"Condition": "{% $states.input.x > 3 %}", "Next": "N"}, "$states.input.x > 3"),
        ({"Condition": True}, "true"),
        (
            {"And": [{"Variable": "$.a", "NumericGreaterThanEquals": 20},
                     {"Variable": "$.a", "NumericLessThan": 30}], "Next": "X"},
            "($.a >= 20 and $.a < 30)",
        ),
        (
            {"Or": [{"Variable": "$.a", "IsNull": True},
                    {"And": [{"Variable": "$.b", "StringEquals": "x"},
                             {"Not": {"Variable": "$.c", "BooleanEquals": False}}]}]},
            '($.a is null or ($.b == "x" and not ($.c == false)))',
        ),
        (
            {"Not": {"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.b", "IsPresent": True}]}},
            "not ($.a is present and $.b is present)",
        ),
        ({"Variable": "$.a", "FancyNewOperator": 1}, "$.a FancyNewOperator 1"),
    ],
)
def test_describe_choice_rule(rule: dict, text: str) -> None:
    assert describe_choice_rule(rule) == text


def test_long_choice_labels_truncated() -> None:
    rule = {"Variable": "$.some.very.long.path.to.a.value", "StringEquals": "x" * 80, "Next": "B"}
    g = draw_flow({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [rule], "Default": "B"},
                                              "B": {"Type": "Succeed"}}})
    label = re.search(r"label=<([^>]*…)>", g.source)
    assert label and len(html.unescape(label.group(1))) <= 44


# --------------------------------------------------------------------------- overlay: lab machine


def test_outcomes_last_level_branch() -> None:
    out = state_outcomes(LAB, lab_history("latest"))
    assert out == {P_START: "succeeded", P_GEN: "succeeded", P_UPDATE: "succeeded",
                   P_LAST: "succeeded", P_SIMPLE: "not run", P_CW: "succeeded"}
    g = draw_flow(LAB, lab_history("latest"))
    assert fill_of(g, P_LAST) == OUTCOME_COLORS["succeeded"]
    assert fill_of(g, P_SIMPLE) == OUTCOME_COLORS["not run"]
    assert "cluster_legend" in g.source
    svg = svg_text(g)
    for word in ("succeeded", "failed", "not run", "caught error", "running"):
        assert word in svg


def test_outcomes_simple_level_branch() -> None:
    out = state_outcomes(LAB, lab_history("other"))
    assert out[P_SIMPLE] == "succeeded" and out[P_LAST] == "not run"


def test_outcomes_failed_run() -> None:
    events = lab_history(cw_fails=True)
    out = state_outcomes(LAB, events)
    assert out[P_CW] == "failed" and out[P_START] == "succeeded" and out[P_GEN] == "succeeded"
    g = draw_flow(LAB, events)
    assert fill_of(g, P_CW) == OUTCOME_COLORS["failed"]
    assert fill_of(g, P_START) == OUTCOME_COLORS["succeeded"]


def test_outcomes_running() -> None:
    out = state_outcomes(LAB, lab_history(running=True))
    assert out[P_START] == "running" and out[P_GEN] == "running" and out[P_UPDATE] == "running"
    assert out[P_CW] == "not run"
    g = draw_flow(LAB, lab_history(running=True))
    assert fill_of(g, P_GEN) == OUTCOME_COLORS["running"]


def test_retry_then_success_shows_attempts() -> None:
    events = lab_history(gen_fails=2)
    assert state_outcomes(LAB, events)[P_GEN] == "succeeded"
    g = draw_flow(LAB, events)
    assert "attempts: 3" in node_line(g, P_GEN)
    assert "attempts" not in node_line(g, P_CW)


CATCH_MACHINE = {
    "StartAt": "Charge",
    "States": {
        "Charge": {"Type": "Task", "Resource": FN + "charge", "Next": "Ship",
                   "Catch": [{"ErrorEquals": ["Boom", "States.Timeout"], "Next": "Refund"}]},
        "Ship": {"Type": "Pass", "End": True},
        "Refund": {"Type": "Pass", "Next": "Give up"},
        "Give up": {"Type": "Fail", "Error": "Refunded"},
    },
}


def test_caught_error() -> None:
    h = History()
    last = h.task("Charge", fails=1, ok=False)
    out_id = h.exit("Task", "Charge", last)
    h.enter("Pass", "Refund", out_id)
    h.exit("Pass", "Refund")
    h.enter("Fail", "Give up")
    h.add("ExecutionFailed", executionFailedEventDetails={"error": "Refunded"})
    out = state_outcomes(CATCH_MACHINE, h.events)
    assert out == {("Charge",): "caught", ("Ship",): "not run", ("Refund",): "succeeded", ("Give up",): "failed"}
    g = draw_flow(CATCH_MACHINE, h.events)
    assert fill_of(g, ("Charge",)) == OUTCOME_COLORS["caught"]
    catch = [e for e in g.lab_edges if e.kind == "catch"]
    assert catch[0].label == "catch Boom, States.Timeout"
    assert re.search(rf"{catch[0].tail} -> {catch[0].head} \[[^\]]*penwidth=2.2", g.source)
    assert re.search(rf"{g.lab_nodes[('Give up',)]} -> __failed", g.source)


def test_execution_forms_object_dict_and_arn() -> None:
    events = lab_history()

    class Execution:
        def __init__(self, evs: list[dict]) -> None:
            self.events = evs

    class Paginator:
        def paginate(self, executionArn: str) -> list[dict]:
            assert executionArn == "arn:aws:states:us-east-1:1:execution:lab:run1"
            return [{"events": events[:5], "nextToken": "t"}, {"events": events[5:]}]

    class Sfn:
        def get_paginator(self, name: str) -> Paginator:
            assert name == "get_execution_history"
            return Paginator()

    class Lab:
        sfn = Sfn()

    expected = draw_flow(LAB, events).source
    assert draw_flow(LAB, Execution(events)).source == expected
    assert draw_flow(LAB, {"events": events}).source == expected
    assert draw_flow(LAB, "arn:aws:states:us-east-1:1:execution:lab:run1", lab=Lab()).source == expected
    with pytest.raises(TypeError):
        draw_flow(LAB, 42)


def test_batch_visit_counts() -> None:
    batch = [lab_history("latest"), lab_history("latest"), lab_history("other"), lab_history(cw_fails=True)]
    g = draw_flow(LAB, tuple(batch))
    assert "visited 4/4 · ok 4" in node_line(g, P_GEN)
    assert "visited 3/4 · ok 3" in node_line(g, P_LAST)
    assert "visited 1/4 · ok 1" in node_line(g, P_SIMPLE)
    assert "visited 4/4 · ok 3 · failed 1" in node_line(g, P_CW)
    # heat map: more visits -> more blue; failures tint red
    assert fill_of(g, P_GEN) == "#6ea8fe"
    assert fill_of(g, P_SIMPLE) != fill_of(g, P_LAST)
    assert fill_of(g, P_CW) != fill_of(g, P_GEN)
    default = next(e for e in g.lab_edges if e.kind == "default")
    assert re.search(rf"{default.tail} -> {default.head} \[label=<Default<BR/><FONT POINT-SIZE=\"8\">1 run</FONT>>",
                     g.source)
    svg = svg_text(g)
    assert "3 runs" in svg and "share of the 4 runs" in svg


def test_same_names_in_sibling_branches() -> None:
    definition = {
        "StartAt": "Step",
        "States": {
            "Step": {"Type": "Pass", "Next": "P"},
            "P": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "Step", "States": {"Step": {"Type": "Pass", "End": True}}},
                {"StartAt": "Step", "States": {"Step": {"Type": "Task", "Resource": FN, "Next": "After"},
                                               "After": {"Type": "Pass", "End": True}}},
            ]},
        },
    }
    h = History()
    h.enter("Pass", "Step")
    out = h.exit("Pass", "Step")
    h.enter("Parallel", "P", out)
    started = h.add("ParallelStateStarted")
    b1 = h.enter("Pass", "Step", started)
    b2 = h.enter("Task", "Step", started)
    h.exit("Pass", "Step", b1)
    h.add("LambdaFunctionScheduled", b2)
    h.add("LambdaFunctionStarted")
    failed = h.add("LambdaFunctionFailed", lambdaFunctionFailedEventDetails={"error": "E"})
    h.add("ParallelStateFailed", failed)
    h.add("ExecutionFailed", executionFailedEventDetails={"error": "E"})
    out = state_outcomes(definition, h.events)
    assert out[("Step",)] == "succeeded"
    assert out[("P",)] == "failed"
    assert out[("P", "branch 1", "Step")] == "succeeded"
    assert out[("P", "branch 2", "Step")] == "failed"
    assert out[("P", "branch 2", "After")] == "not run"


# --------------------------------------------------------------------------- overlay: AWS recordings


def recording(name: str, key: str = "get_execution_history") -> tuple[dict, list[dict]]:
    folder = RECORDINGS / name
    definition = json.loads((folder / "definition.json").read_text(encoding="utf-8"))
    recorded = json.loads((folder / "recorded.json").read_text(encoding="utf-8"))
    return definition, recorded[key]["events"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test_base_scenarios__test_parallel_state_catch",
         {("ParallelState",): "caught", ("ParallelState", "branch 1", "Branch1"): "failed",
          ("FinalCaught",): "succeeded", ("Final",): "not run"}),
        ("test_task_lambda__test_raise_exception_catch",
         {("Start",): "caught", ("EndWithStateTaskFailedHandler",): "succeeded",
          ("EndWithLambdaUnknownHandler",): "not run", ("EndWithAllHandler",): "not run",
          ("EndWithFinal",): "not run"}),
        ("test_base_scenarios__test_map_state_catch",
         {("StartState",): "succeeded", ("MapState",): "caught",
          ("MapState", "processor", "HandleItemFail"): "failed", ("FinalCaught",): "succeeded",
          ("Final",): "not run"}),
        ("test_base_scenarios__test_lambda_invoke_with_retry_base",
         {("InvokeLambdaWithRetry",): "caught", ("HandleError",): "succeeded"}),
        ("test_base_scenarios__test_retry_interval_features", None),
        ("test_base_scenarios__test_parallel_state__PARALLEL_STATE", None),
        ("test_base_scenarios__test_map_state", None),
        ("test_base_scenarios__test_parallel_state_retry",
         {("ParallelState",): "failed", ("ParallelState", "branch 1", "Branch1"): "failed"}),
        ("test_assign_reference_variables__test_undefined_reference__BASE_UNDEFINED_OUTPUT", None),
    ],
)
def test_recorded_histories(name: str, expected: dict | None) -> None:
    definition, events = recording(name)
    out = state_outcomes(definition, events)
    if expected is not None:
        assert {k: out[k] for k in expected} == expected
    else:
        # whole-history sanity: nothing left running in a finished execution
        assert "running" not in out.values()
        assert all(v != "not run" for k, v in out.items() if len(k) == 1) or "Failed" in events[-1]["type"]
    g = draw_flow(definition, events)
    for path, outcome in out.items():
        assert fill_of(g, path) == OUTCOME_COLORS[outcome]
    svg_text(g)


def test_recorded_retry_attempts_and_map_iterations() -> None:
    definition, events = recording("test_base_scenarios__test_lambda_invoke_with_retry_base")
    g = draw_flow(definition, events)
    assert "attempts: 4" in node_line(g, ("InvokeLambdaWithRetry",))
    definition, events = recording("test_base_scenarios__test_map_state")
    assert state_outcomes(definition, events) == {
        ("StartState",): "succeeded", ("MapState",): "succeeded",
        ("MapState", "processor", "HandleItem"): "succeeded", ("Final",): "succeeded"}


def test_recorded_batch() -> None:
    folder = RECORDINGS / "test_json_manipulation__test_string_to_json"
    definition = json.loads((folder / "definition.json").read_text(encoding="utf-8"))
    recorded = json.loads((folder / "recorded.json").read_text(encoding="utf-8"))
    runs = [v["events"] for k, v in sorted(recorded.items()) if isinstance(v, dict) and "events" in v]
    assert len(runs) >= 2
    g = draw_flow(definition, runs)
    assert f"visited {len(runs)}/{len(runs)}" in g.source
    svg_text(g)


def test_interleaved_map_iterations_do_not_add_attempts_to_each_other():
    from labhelpers.flow import draw_flow

    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
                                         "End": True}}}}}}

    def ev(i, prev, etype, **details):
        return {"id": i, "previousEventId": prev, "type": etype, **details}

    events = [
        ev(1, 0, "ExecutionStarted"),
        ev(2, 1, "MapStateEntered", stateEnteredEventDetails={"name": "M"}),
        ev(3, 2, "MapStateStarted"),
        ev(4, 3, "MapIterationStarted", mapIterationStartedEventDetails={"name": "M", "index": 0}),
        ev(5, 3, "MapIterationStarted", mapIterationStartedEventDetails={"name": "M", "index": 1}),
        ev(6, 4, "TaskStateEntered", stateEnteredEventDetails={"name": "T"}),
        ev(7, 5, "TaskStateEntered", stateEnteredEventDetails={"name": "T"}),
        ev(8, 6, "LambdaFunctionScheduled"), ev(9, 7, "LambdaFunctionScheduled"),
        ev(10, 8, "LambdaFunctionStarted"), ev(11, 9, "LambdaFunctionStarted"),
        ev(12, 10, "LambdaFunctionSucceeded"), ev(13, 11, "LambdaFunctionSucceeded"),
        ev(14, 12, "TaskStateExited", stateExitedEventDetails={"name": "T"}),
        ev(15, 13, "TaskStateExited", stateExitedEventDetails={"name": "T"}),
        ev(16, 14, "MapIterationSucceeded"), ev(17, 15, "MapIterationSucceeded"),
        ev(18, 17, "MapStateSucceeded"),
        ev(19, 18, "MapStateExited", stateExitedEventDetails={"name": "M"}),
        ev(20, 19, "ExecutionSucceeded"),
    ]
    source = draw_flow(definition, events).source
    assert "attempts" not in source
