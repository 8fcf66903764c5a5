"""Draw Amazon States Language state machines with graphviz, optionally with an execution overlay.

Public API:

* ``draw_flow(definition, execution=None, *, lab=None)`` -> ``graphviz.Digraph``
* ``describe_choice_rule(rule)`` -> readable text of one Choice rule
* ``state_outcomes(definition, events)`` -> ``{state path: outcome}``

State paths
-----------
Every state is identified by a *path*: a tuple of names from the top of the definition.

* top-level state ``"A"``                      -> ``("A",)``
* state ``"X"`` in branch 2 of Parallel ``"P"`` -> ``("P", "branch 2", "X")``   (branches count from 1)
* state ``"Y"`` in the processor of Map ``"M"`` -> ``("M", "processor", "Y")``  (ItemProcessor or legacy Iterator)

so ``path[:-1]`` is the state's scope and ``path[:-2]`` the Parallel/Map that contains it.
Nesting repeats the pattern: ``("P", "branch 1", "M", "processor", "Z")``.

Outcomes are one of ``OUTCOMES``: "succeeded", "failed", "caught", "running", "not run".

Drawing conventions: Start/End markers (a red "Failed" marker for top-level Fail states);
a Parallel/Map node fans out to its branch clusters, branch terminals meet in a small join
point that continues to the state's Next; Choice rules label their edges, Default is dashed,
Catch edges are dashed red "catch <errors>"; Retry adds a "retry: <errors> ×N" line.
Node ids are hashes of the state path, all labels are HTML-like and escaped.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

import graphviz

from labhelpers.errors import DefinitionError

__all__ = [
    "OUTCOMES",
    "OUTCOME_COLORS",
    "FlowEdge",
    "describe_choice_rule",
    "draw_flow",
    "state_outcomes",
]

Path = tuple[str, ...]

OUTCOMES = ("succeeded", "failed", "caught", "running", "not run")

#: Fill colour of a state per outcome (single-execution overlay).
OUTCOME_COLORS: dict[str, str] = {
    "succeeded": "#8fd694",
    "failed": "#f28b82",
    "caught": "#fbbc6a",
    "running": "#8ab4f8",
    "not run": "#e5e7eb",
}

_OUTCOME_TEXT = {
    "succeeded": "succeeded",
    "failed": "failed",
    "caught": "caught error (Catch routed on)",
    "running": "running (entered, not exited)",
    "not run": "not run",
}

FONT = "Helvetica"
MAX_NAME = 60
MAX_EDGE_LABEL = 44

# shape, extra style, fill colour, extra attributes -- per state Type (definition-only look)
_TYPE_STYLE: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "Task": ("box", "rounded,filled", "#dbeafe", {}),
    "Pass": ("box", "rounded,filled", "#f3f4f6", {}),
    "Wait": ("box", "rounded,filled", "#fef9c3", {}),
    "Choice": ("diamond", "filled", "#fde68a", {"margin": "0.02,0.02"}),
    "Parallel": ("box", "filled", "#ede9fe", {"peripheries": "2"}),
    "Map": ("box3d", "filled", "#cffafe", {}),
    "Succeed": ("box", "rounded,filled", "#dcfce7", {"penwidth": "1.6"}),
    "Fail": ("octagon", "filled", "#fecaca", {}),
}
_UNKNOWN_STYLE = ("box", "filled", "#ffffff", {})

_CATCH_COLOR = "#dc2626"
_PARALLEL_COLOR = "#7c3aed"
_MAP_COLOR = "#0891b2"
_EDGE_COLOR = "#4b5563"


# --------------------------------------------------------------------------- Choice rules

_OPS = {"Equals": "==", "LessThan": "<", "GreaterThan": ">", "LessThanEquals": "<=", "GreaterThanEquals": ">="}
_FAMILIES = ("String", "Numeric", "Timestamp", "Boolean")
_IS_TESTS = {
    "IsPresent": "present",
    "IsNull": "null",
    "IsString": "string",
    "IsNumeric": "numeric",
    "IsBoolean": "boolean",
    "IsTimestamp": "timestamp",
}


def _literal(value: Any) -> str:
    """JSON-ish text of a literal (strings quoted, booleans true/false)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _comparison(key: str) -> tuple[str, bool] | None:
    """Map e.g. 'NumericGreaterThanPath' -> ('>', True); None if not a comparison operator."""
    is_path = key.endswith("Path")
    base = key[: -len("Path")] if is_path else key
    for family in _FAMILIES:
        if base.startswith(family):
            op = base[len(family):]
            if op in _OPS:
                return _OPS[op], is_path
    return None


def _strip_jsonata(expr: Any) -> str:
    """Text of a JSONata expression without the {% %} delimiters."""
    text = expr if isinstance(expr, str) else _literal(expr)
    text = text.strip()
    if text.startswith("{%") and text.endswith("%}"):
        text = text[2:-2].strip()
    return text


def describe_choice_rule(rule: dict) -> str:
    """Readable text of one Choice rule, e.g. ``($.a > 1 and not ($.b is null))``.

    And/Or are wrapped in parentheses, Not is written ``not (...)``; *Path variants show the
    other path unquoted; JSONata rules show their ``Condition`` without ``{% %}``.
    """
    if not isinstance(rule, dict):
        return _literal(rule)
    if "Condition" in rule:
        return _strip_jsonata(rule["Condition"])
    for junction, word in (("And", " and "), ("Or", " or ")):
        if junction in rule:
            parts = rule[junction]
            if not isinstance(parts, list):
                parts = [parts]
            return "(" + word.join(describe_choice_rule(p) for p in parts) + ")"
    if "Not" in rule:
        inner = describe_choice_rule(rule["Not"])
        # And/Or already bring their own parentheses
        return f"not {inner}" if inner.startswith("(") and inner.endswith(")") else f"not ({inner})"
    var = rule.get("Variable", "?")
    var = var if isinstance(var, str) else _literal(var)
    for key in sorted(k for k in rule if k not in ("Variable", "Next", "Comment", "Assign", "Output")):
        value = rule[key]
        if key in _IS_TESTS:
            negate = value is False
            return f"{var} is {'not ' if negate else ''}{_IS_TESTS[key]}"
        if key in ("StringMatches",):
            return f"{var} matches {_literal(value)}"
        comp = _comparison(key)
        if comp is not None:
            op, is_path = comp
            rhs = value if is_path and isinstance(value, str) else _literal(value)
            return f"{var} {op} {rhs}"
    # unknown operator: show it verbatim rather than failing
    rest = {k: v for k, v in rule.items() if k not in ("Variable", "Next", "Comment", "Assign", "Output")}
    if rest:
        key = sorted(rest)[0]
        return f"{var} {key} {_literal(rest[key])}"
    return var


# --------------------------------------------------------------------------- definition walking


@dataclass
class _State:
    """One state of the definition, with its scope path."""

    path: Path
    spec: dict

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def type(self) -> str:
        t = self.spec.get("Type")
        return t if isinstance(t, str) else "?"


def _parse_definition(definition: dict | str) -> dict:
    """Accept a dict or JSON text; anything else is a DefinitionError."""
    if isinstance(definition, (str, bytes, bytearray)):
        try:
            definition = json.loads(definition)
        except ValueError as exc:
            raise DefinitionError(f"definition is not valid JSON: {exc}") from exc
    if not isinstance(definition, dict):
        raise DefinitionError(
            f"definition must be a JSON object with StartAt and States, got {type(definition).__name__}"
        )
    return definition


def _states_of(machine: Any) -> dict[str, dict]:
    """The States mapping of a (sub-)machine; non-dict state specs become empty dicts."""
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return {}
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in states.items()}


def _sub_machines(state: _State) -> list[tuple[str, dict]]:
    """(scope label, machine) pairs nested in a Parallel or Map state."""
    spec = state.spec
    if state.type == "Parallel":
        branches = spec.get("Branches")
        if not isinstance(branches, list):
            return []
        return [(f"branch {i}", b) for i, b in enumerate(branches, 1) if isinstance(b, dict)]
    if state.type == "Map":
        proc = spec.get("ItemProcessor", spec.get("Iterator"))
        if isinstance(proc, dict):
            return [("processor", proc)]
    return []


def _walk(machine: dict, scope: Path = ()) -> list[_State]:
    """All states, depth first, in definition order."""
    out: list[_State] = []
    for name, spec in _states_of(machine).items():
        st = _State(scope + (name,), spec)
        out.append(st)
        for label, sub in _sub_machines(st):
            out.extend(_walk(sub, st.path + (label,)))
    return out


def _as_name(value: Any) -> str | None:
    """A transition target as text (placeholders such as ${X} stay as they are)."""
    if value is None:
        return None
    return value if isinstance(value, str) else _literal(value)


def _is_terminal(st: _State) -> bool:
    return st.spec.get("End") is True or st.type in ("Succeed", "Fail")


def _errors_text(catcher: dict) -> str:
    errs = catcher.get("ErrorEquals")
    if isinstance(errs, list):
        return ", ".join(str(e) for e in errs) or "?"
    return str(errs) if errs is not None else "?"


def _retry_lines(spec: dict) -> list[str]:
    """'retry: States.TaskFailed ×3' lines (at most two plus a '+n more')."""
    retriers = spec.get("Retry")
    if not isinstance(retriers, list) or not retriers:
        return []
    lines = []
    for r in retriers[:2]:
        if not isinstance(r, dict):
            continue
        attempts = r.get("MaxAttempts", 3)
        lines.append(f"retry: {_truncate(_errors_text(r), 32)} ×{attempts}")
    if len(retriers) > 2:
        lines.append(f"+{len(retriers) - 2} more retriers")
    return lines


# --------------------------------------------------------------------------- execution analysis

_CONTAINER_START = {"ParallelStateStarted", "MapStateStarted", "MapIterationStarted"}
_NOT_STATE_FAILURE = {"ExecutionFailed", "ExecutionTimedOut", "MapIterationFailed"}
_NOT_STATE_SUCCESS = {"ExecutionSucceeded", "MapIterationSucceeded"}
_EXEC_END = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


@dataclass
class _Visit:
    """One entry into a state (a Map iteration re-enters its states)."""

    path: Path
    exited: bool = False
    last_failed: bool = False
    attempts: int = 0


@dataclass
class _Run:
    """What one execution did, per state path."""

    visits: dict[Path, list[_Visit]] = field(default_factory=dict)
    finished: bool = False
    status: str = "running"
    # (source path or None for Start, target path, caught?)
    transitions: set[tuple[Path | None, Path, bool]] = field(default_factory=set)


def _event_id(value: Any) -> int | None:
    """Integer event id, or None (normalised recordings use '[0]' / 0 placeholders)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _details_name(event: dict, key: str) -> str | None:
    det = event.get(key)
    if isinstance(det, dict) and isinstance(det.get("name"), str):
        return det["name"]
    return None


def _analyse(states: list[_State], events: Iterable[dict]) -> _Run:
    """Attribute history events to state paths and record visits and transitions."""
    by_path = {s.path: s for s in states}
    by_name: dict[str, list[Path]] = {}
    for s in states:
        by_name.setdefault(s.name, []).append(s.path)

    evs = [e for e in events if isinstance(e, dict)]
    ids = [_event_id(e.get("id")) for e in evs]
    if evs and all(i is not None for i in ids):
        # history pages may come in reverse order; ids are the true order
        evs = [e for _, e in sorted(zip(ids, evs), key=lambda p: p[0])]

    run = _Run()
    ctx: dict[int, Path] = {}  # event id -> state path it belongs to
    ev_type: dict[int, str] = {}
    exit_caught: dict[int, bool] = {}
    open_visits: list[_Visit] = []  # in order of entry
    visit_of: dict[int, _Visit] = {}  # event id -> the visit it belongs to (iterations interleave)

    def kind_of(path: Path) -> str:
        st = by_path.get(path)
        return st.type if st else "?"

    def open_containers() -> set[Path]:
        return {v.path for v in open_visits if kind_of(v.path) in ("Parallel", "Map")}

    def resolve_entered(name: str, prev: int | None) -> Path | None:
        cands = by_name.get(name, [])
        if len(cands) <= 1:
            return cands[0] if cands else None
        narrowed: list[Path] = []
        if prev is not None and prev in ctx:
            ppath = ctx[prev]
            if ev_type.get(prev) in _CONTAINER_START:
                narrowed = [c for c in cands if c[:-2] == ppath]
            else:
                narrowed = [c for c in cands if c[:-1] == ppath[:-1]]
        if len(narrowed) == 1:
            return narrowed[0]
        pool = narrowed or cands
        active = open_containers()
        live = [c for c in pool if c[:-2] == () or c[:-2] in active]
        pool = live or pool
        # sibling branches may reuse a name: prefer a scope that is not busy with that state yet
        idle = [c for c in pool if open_visit(c) is None]
        pool = idle or pool
        # the deepest active scope is where execution currently is
        return max(pool, key=len)

    def open_visit(path: Path) -> _Visit | None:
        for v in reversed(open_visits):
            if v.path == path:
                return v
        return None

    def container_for(kind: str, prev: int | None, name: str | None) -> Path | None:
        if prev is not None and prev in ctx:
            p = ctx[prev]
            while p:
                if kind_of(p) == kind and (name is None or p[-1] == name):
                    return p
                p = p[:-2]
        for v in reversed(open_visits):
            if kind_of(v.path) == kind and (name is None or v.path[-1] == name):
                return v.path
        if name is not None:
            return container_for(kind, prev, None)
        return None

    for ev in evs:
        etype = ev.get("type")
        if not isinstance(etype, str):
            continue
        eid = _event_id(ev.get("id"))
        prev = _event_id(ev.get("previousEventId"))
        path: Path | None = None

        if etype in _EXEC_END:
            run.finished = True
            run.status = {"ExecutionSucceeded": "succeeded"}.get(etype, "failed")
        elif etype.startswith("Execution"):
            pass
        elif etype.endswith("StateEntered"):
            name = _details_name(ev, "stateEnteredEventDetails")
            path = resolve_entered(name, prev) if name is not None else None
            if path is not None:
                visit = _Visit(path)
                run.visits.setdefault(path, []).append(visit)
                open_visits.append(visit)
                if eid is not None:
                    visit_of[eid] = visit
                if prev is not None and prev in exit_caught and ctx.get(prev, ())[:-1] == path[:-1]:
                    run.transitions.add((ctx[prev], path, exit_caught[prev]))
                elif prev is not None and ev_type.get(prev) in _CONTAINER_START and ctx.get(prev) == path[:-2]:
                    run.transitions.add((path[:-2], path, False))
                elif len(path) == 1 and (prev is None or ev_type.get(prev) == "ExecutionStarted"):
                    if not any(len(p) == 1 for p in run.visits if p != path) and len(run.visits[path]) == 1:
                        run.transitions.add((None, path, False))
        elif etype.endswith("StateExited"):
            name = _details_name(ev, "stateExitedEventDetails")
            visit = visit_of.get(prev) if prev is not None else None
            if visit is not None and (visit.exited or visit.path[-1:] != (name,)):
                visit = None
            if visit is None and prev is not None and prev in ctx and ctx[prev][-1:] == (name,):
                visit = open_visit(ctx[prev])
            if visit is None:
                visit = next((v for v in reversed(open_visits) if v.path[-1] == name), None)
            if visit is not None:
                visit.exited = True
                open_visits.remove(visit)
                path = visit.path
                if eid is not None:
                    exit_caught[eid] = visit.last_failed
        else:
            if etype.startswith(("Parallel", "Map")):
                kind = "Parallel" if etype.startswith("Parallel") else "Map"
                name = None
                for key, det in ev.items():
                    if key.endswith("EventDetails") and isinstance(det, dict) and isinstance(det.get("name"), str):
                        name = det["name"]
                path = container_for(kind, prev, name)
            else:
                det = ev.get("evaluationFailedEventDetails")
                named = det.get("state") if isinstance(det, dict) else None
                if prev is not None and prev in ctx:
                    path = ctx[prev]
                elif isinstance(named, str):
                    v = next((v for v in reversed(open_visits) if v.path[-1] == named), None)
                    path = v.path if v else None
                else:
                    v = next(
                        (v for v in reversed(open_visits) if kind_of(v.path) not in ("Parallel", "Map")),
                        open_visits[-1] if open_visits else None,
                    )
                    path = v.path if v else None
            # Follow the event chain to its own visit: with interleaved Map iterations the most
            # recent open visit of the same state may be another iteration's.
            visit = visit_of.get(prev) if prev is not None else None
            if visit is None or visit.path != path or visit.exited:
                visit = open_visit(path) if path is not None else None
            if visit is not None:
                if eid is not None:
                    visit_of[eid] = visit
                if etype.endswith(("Failed", "TimedOut")) and etype not in _NOT_STATE_FAILURE:
                    visit.last_failed = True
                elif etype.endswith("Succeeded") and etype not in _NOT_STATE_SUCCESS:
                    visit.last_failed = False
                if etype.endswith("Scheduled") or etype in ("ParallelStateStarted", "MapStateStarted"):
                    visit.attempts += 1
        if eid is not None:
            ev_type[eid] = etype
            if path is not None:
                ctx[eid] = path
    return run


def _outcome(st: _State, run: _Run) -> str:
    """Outcome of one state in one run (see module docstring)."""
    visits = run.visits.get(st.path, [])
    if not visits:
        return "not run"
    if st.type == "Fail":
        return "failed"
    if any(not v.exited for v in visits):
        return "failed" if run.finished else "running"
    if any(v.last_failed for v in visits):
        return "caught"
    return "succeeded"


def state_outcomes(definition: dict | str, events: Iterable[dict]) -> dict[Path, str]:
    """Map every state path (see module docstring) to its outcome in one execution history.

    ``events`` is the ``events`` list of ``get_execution_history``. Rules: not entered ->
    "not run"; Fail state entered -> "failed"; entered but not exited -> "failed" if the
    execution ended, else "running"; exited after its own last attempt failed (a Catch
    routed on) -> "caught"; otherwise "succeeded" (also after successful retries).
    """
    states = _walk(_parse_definition(definition))
    run = _analyse(states, events)
    return {s.path: _outcome(s, run) for s in states}


# --------------------------------------------------------------------------- execution input


def _is_event_list(value: Any) -> bool:
    """A list of history event dicts (as opposed to a batch of executions)."""
    return isinstance(value, (list, tuple)) and all(isinstance(e, dict) and "events" not in e for e in value)


def _fetch_history(arn: str, lab: Any) -> list[dict]:
    """All pages of get_execution_history for an execution ARN."""
    paginator = lab.sfn.get_paginator("get_execution_history")
    events: list[dict] = []
    for page in paginator.paginate(executionArn=arn):
        events.extend(page.get("events", []))
    return events


def _single_events(item: Any, get_lab: Any) -> list[dict]:
    """Events of one execution given as events list, {'events': ...}, .events object or ARN."""
    if isinstance(item, str):
        return _fetch_history(item, get_lab())
    if isinstance(item, dict) and "events" in item:
        return list(item["events"] or [])
    if _is_event_list(item):
        return list(item)
    events = getattr(item, "events", None)
    if events is not None:
        return list(events)
    raise TypeError(
        "execution must be None, a list of history events, an object with .events, "
        f"an execution ARN, or a list of those; got {type(item).__name__}"
    )


def _collect_runs(execution: Any, lab: Any) -> tuple[list[list[dict]], bool]:
    """(histories, is_batch)."""
    cache: list[Any] = [lab]

    def get_lab() -> Any:
        if cache[0] is None:
            from labhelpers import connect  # lazy: only needed for ARNs

            cache[0] = connect()
        return cache[0]

    if isinstance(execution, (list, tuple)) and not _is_event_list(execution):
        return [_single_events(item, get_lab) for item in execution], True
    return [_single_events(execution, get_lab)], False


# --------------------------------------------------------------------------- drawing helpers


class FlowEdge(NamedTuple):
    """One drawn edge: DOT tail/head ids plus the logical source/target (path or marker)."""

    tail: str
    head: str
    kind: str  # start, next, choice, default, catch, branch, join, end
    src: Path | str
    dst: Path | str
    label: str


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())  # newlines/tabs would break the compact layout
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _node_id(prefix: str, path: Path) -> str:
    """Stable DOT id for a path: a hash, so names never need escaping in ids."""
    digest = hashlib.sha1("\x1f".join(path).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{prefix}{digest}"


def _esc(text: str) -> str:
    """Escape for an HTML-like label.

    dot still expands escString sequences (\\N, \\G, \\\\) inside HTML labels, so every
    backslash is doubled to come out literally.
    """
    return html.escape(text, quote=True).replace("\\", "\\\\")


def _html_label(title: str, *lines: str, small_color: str = "#4b5563", bold: bool = True) -> str:
    """HTML-like label: escaped bold title plus small extra lines."""
    parts = [f"<B>{_esc(title)}</B>" if bold else _esc(title)]
    for line in lines:
        parts.append(f'<FONT POINT-SIZE="8" COLOR="{small_color}">{_esc(line)}</FONT>')
    return "<" + "<BR/>".join(parts) + ">"


def _edge_label(text: str, extra: str | None = None) -> str:
    parts = [_esc(_truncate(text, MAX_EDGE_LABEL))] if text else []
    if extra:
        parts.append(f'<FONT POINT-SIZE="8">{_esc(extra)}</FONT>')
    return "<" + "<BR/>".join(parts) + ">" if parts else ""


def _mix(a: str, b: str, t: float) -> str:
    """Blend two #rrggbb colours, t=0 -> a, t=1 -> b."""
    t = min(1.0, max(0.0, t))
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb))


# light enough at 100% that black text stays readable
_HEAT_LOW, _HEAT_HIGH, _HEAT_RED = "#ffffff", "#6ea8fe", "#f87171"


def _heat_color(visit_share: float, fail_share: float) -> str:
    color = _mix(_HEAT_LOW, _HEAT_HIGH, visit_share)
    if fail_share > 0:
        color = _mix(color, _HEAT_RED, 0.55 + 0.45 * fail_share)
    return color


# --------------------------------------------------------------------------- the drawing


class _Drawer:
    """Builds the Digraph scope by scope, recording nodes and edges."""

    def __init__(self, machine: dict, runs: list[_Run] | None, batch: bool) -> None:
        self.machine = machine
        self.states = _walk(machine)
        self.by_path = {s.path: s for s in self.states}
        self.runs = runs
        self.batch = batch
        self.nodes: dict[Path, str] = {}
        self.missing: dict[Path, str] = {}
        self.edges: list[FlowEdge] = []
        self.edge_attrs: list[dict[str, str]] = []
        self.g = graphviz.Digraph(name="state_machine")
        self.g.attr(rankdir="TB", fontname=FONT, fontsize="11", nodesep="0.3", ranksep="0.35")
        self.g.attr("node", fontname=FONT, fontsize="11", margin="0.12,0.05", height="0.4")
        self.g.attr("edge", fontname=FONT, fontsize="9", arrowsize="0.7", color=_EDGE_COLOR)

    # -- overlay helpers
    def _overlay(self, st: _State) -> tuple[str | None, list[str], dict[str, str]]:
        """(fill colour, extra label lines, extra attrs) for a state under the overlay."""
        if not self.runs:
            return None, [], {}
        if not self.batch:
            run = self.runs[0]
            outcome = _outcome(st, run)
            attempts = max((v.attempts for v in run.visits.get(st.path, [])), default=0)
            lines = [f"attempts: {attempts}"] if attempts > 1 else []
            extra = {"fontcolor": "#6b7280", "color": "#9ca3af"} if outcome == "not run" else {}
            return OUTCOME_COLORS[outcome], lines, extra
        total = len(self.runs)
        counts = {o: 0 for o in OUTCOMES}
        for run in self.runs:
            counts[_outcome(st, run)] += 1
        visited = total - counts["not run"]
        text = f"visited {visited}/{total}"
        if visited:
            text += f" · ok {counts['succeeded']}"
            for key, word in (("failed", "failed"), ("caught", "caught"), ("running", "running")):
                if counts[key]:
                    text += f" · {word} {counts[key]}"
        share = visited / total if total else 0.0
        fail_share = counts["failed"] / total if total else 0.0
        extra: dict[str, str] = {}
        if counts["failed"]:
            extra.update(color=_CATCH_COLOR, penwidth="2")
        return _heat_color(share, fail_share), [text], extra

    def _edge_overlay(self, src: Path | None, dst: Path, kind: str) -> tuple[str | None, dict[str, str]]:
        """(count text, extra attrs) for a transition under the overlay."""
        if not self.runs:
            return None, {}
        caught = kind == "catch"

        def took(run: _Run) -> bool:
            return (src, dst, caught) in run.transitions or (
                kind not in ("catch",) and (src, dst, True) in run.transitions and not self._has_catch(src, dst)
            )

        n = sum(1 for run in self.runs if took(run))
        if not n:
            return None, {}
        if self.batch:
            return f"{n} run{'s' if n != 1 else ''}", {"penwidth": str(round(1 + 3 * n / len(self.runs), 2))}
        return None, {"penwidth": "2.2"}

    def _has_catch(self, src: Path | None, dst: Path) -> bool:
        st = self.by_path.get(src) if src else None
        if st is None:
            return False
        catchers = st.spec.get("Catch")
        return isinstance(catchers, list) and any(
            isinstance(c, dict) and _as_name(c.get("Next")) == dst[-1] for c in catchers
        )

    # -- nodes and edges
    def _edge(self, tail: str, head: str, kind: str, src: Path | str, dst: Path | str, text: str = "",
              **attrs: str) -> None:
        self.edges.append(FlowEdge(tail, head, kind, src, dst, text))
        self.edge_attrs.append(attrs)

    def _target(self, graph: graphviz.Digraph, scope: Path, name: str) -> tuple[str, Path]:
        """Node id for a transition target in scope; draws a red 'missing' node if unknown."""
        path = scope + (name,)
        if path in self.nodes:
            return self.nodes[path], path
        if path not in self.missing:
            nid = _node_id("m", path)
            self.missing[path] = nid
            graph.node(
                nid,
                label=_html_label(_truncate(name, MAX_NAME), "(missing state)", small_color=_CATCH_COLOR),
                shape="box",
                style="dashed",
                color=_CATCH_COLOR,
                fontcolor=_CATCH_COLOR,
            )
        return self.missing[path], path

    def _state_node(self, graph: graphviz.Digraph, st: _State) -> None:
        shape, style, fill, attrs = _TYPE_STYLE.get(st.type, _UNKNOWN_STYLE)
        lines = [self._type_text(st)] + _retry_lines(st.spec)
        color, extra_lines, extra_attrs = self._overlay(st)
        node_attrs = dict(attrs)
        node_attrs.update(extra_attrs)
        graph.node(
            self.nodes[st.path],
            label=_html_label(_truncate(st.name, MAX_NAME), *(lines + extra_lines)),
            shape=shape,
            style=style,
            fillcolor=color or fill,
            **node_attrs,
        )

    def _draw_scope(self, graph: graphviz.Digraph, machine: dict, scope: Path, join: str | None,
                    container: Path | None) -> None:
        """Draw one (sub-)machine into graph; terminals go to join (or to the End markers)."""
        states = [_State(scope + (n,), s) for n, s in _states_of(machine).items()]
        for st in states:
            self.nodes[st.path] = _node_id("s", st.path)
        for st in states:
            self._state_node(graph, st)
            subs = _sub_machines(st)
            if subs:
                color = _PARALLEL_COLOR if st.type == "Parallel" else _MAP_COLOR
                join_id = _node_id("j", st.path)
                for label, sub in subs:
                    sub_scope = st.path + (label,)
                    cluster_label = label
                    if st.type == "Map":
                        cluster_label = "item processor" if "ItemProcessor" in st.spec else "iterator"
                        if "Map (distributed)" in self._type_text(st):
                            cluster_label += " · distributed (child executions)"
                    position = len(self.edges)  # fan-out edge goes before the branch's own edges
                    with graph.subgraph(name="cluster_" + _node_id("", sub_scope)) as sg:
                        sg.attr(label=_html_label(_truncate(f"{st.name} › {cluster_label}", MAX_NAME), bold=False),
                                style="rounded,dashed", color=color, fontcolor=color, fontsize="9",
                                labeljust="l", margin="8")
                        self._draw_scope(sg, sub, sub_scope, join_id, st.path)
                    start = _as_name(sub.get("StartAt"))
                    if start is not None:
                        head, dst = self._target(graph, sub_scope, start)
                        text, extra = self._edge_overlay(st.path, dst, "branch")
                        lbl = "for each item" if st.type == "Map" else ""
                        label = _edge_label(lbl, text)
                        self._edge(self.nodes[st.path], head, "branch", st.path, dst, lbl,
                                   color=color, fontcolor=color, **({"label": label} if label else {}), **extra)
                        self.edges.insert(position, self.edges.pop())
                        self.edge_attrs.insert(position, self.edge_attrs.pop())
                graph.node(join_id, label="", shape="point", width="0.09", color=color, tooltip="join")
        # transitions are added after all nodes of this scope exist, in definition order
        for st in states:
            tail = self.nodes[st.path]
            # a Parallel/Map continues from its join point once all branches are done
            tail_next = _node_id("j", st.path) if _sub_machines(st) else tail
            if st.type == "Choice":
                rules = st.spec.get("Choices")
                for rule in rules if isinstance(rules, list) else []:
                    nxt = _as_name(rule.get("Next")) if isinstance(rule, dict) else None
                    if nxt is None:
                        continue
                    head, dst = self._target(graph, scope, nxt)
                    text = describe_choice_rule(rule)
                    count, extra = self._edge_overlay(st.path, dst, "choice")
                    self._edge(tail, head, "choice", st.path, dst, text,
                               label=_edge_label(text, count), **extra)
                default = _as_name(st.spec.get("Default"))
                if default is not None:
                    head, dst = self._target(graph, scope, default)
                    count, extra = self._edge_overlay(st.path, dst, "default")
                    self._edge(tail, head, "default", st.path, dst, "Default",
                               label=_edge_label("Default", count), style="dashed", **extra)
            nxt = _as_name(st.spec.get("Next"))
            if nxt is not None and st.type != "Choice":
                head, dst = self._target(graph, scope, nxt)
                count, extra = self._edge_overlay(st.path, dst, "next")
                self._edge(tail_next, head, "next", st.path, dst, "",
                           **({"label": _edge_label("", count)} if count else {}), **extra)
            catchers = st.spec.get("Catch")
            for catcher in catchers if isinstance(catchers, list) else []:
                nxt = _as_name(catcher.get("Next")) if isinstance(catcher, dict) else None
                if nxt is None:
                    continue
                head, dst = self._target(graph, scope, nxt)
                text = "catch " + _errors_text(catcher)
                count, extra = self._edge_overlay(st.path, dst, "catch")
                self._edge(tail, head, "catch", st.path, dst, text, label=_edge_label(text, count),
                           style="dashed", color=_CATCH_COLOR, fontcolor=_CATCH_COLOR, **extra)
            if _is_terminal(st):
                failing = st.type == "Fail"
                if join is not None:
                    color = _CATCH_COLOR if failing else (
                        _PARALLEL_COLOR if self.by_path.get(container, st).type == "Parallel" else _MAP_COLOR)
                    attrs = {"color": color}
                    if failing:
                        attrs["style"] = "dashed"
                    self._edge(tail_next, join, "join", st.path, container or (), "", **attrs)
                elif failing:
                    self._edge(tail, "__failed", "end", st.path, "failed", "", color=_CATCH_COLOR)
                else:
                    self._edge(tail_next, "__end", "end", st.path, "end", "")

    def _type_text(self, st: _State) -> str:
        proc = st.spec.get("ItemProcessor")
        config = proc.get("ProcessorConfig") if isinstance(proc, dict) else None
        mode = config.get("Mode") if isinstance(config, dict) else None
        if st.type == "Map" and isinstance(mode, str) and mode.upper() == "DISTRIBUTED":
            return "Map (distributed)"
        return st.type

    def _legend(self) -> None:
        if not self.runs:
            return
        rows: list[str] = []
        if not self.batch:
            for outcome in OUTCOMES:
                rows.append(
                    f'<TR><TD BGCOLOR="{OUTCOME_COLORS[outcome]}" WIDTH="18"> </TD>'
                    f'<TD ALIGN="LEFT">{_esc(_OUTCOME_TEXT[outcome])}</TD></TR>'
                )
            rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT">bold edge: transition taken</TD></TR>')
        else:
            n = len(self.runs)
            cells = "".join(
                f'<TD BGCOLOR="{_heat_color(s, 0)}" WIDTH="22">{int(s * 100)}%</TD>' for s in (0, 0.25, 0.5, 0.75, 1)
            )
            rows.append(f'<TR><TD ALIGN="LEFT">share of the {n} runs that visited the state</TD>{cells}</TR>')
            rows.append(
                f'<TR><TD ALIGN="LEFT">red tint and border: at least one run failed there</TD>'
                f'<TD BGCOLOR="{_heat_color(0.5, 0.25)}" COLSPAN="5"> </TD></TR>'
            )
            rows.append('<TR><TD ALIGN="LEFT" COLSPAN="6">label: visited v/N · ok · failed · caught · running;'
                        ' edges: runs that took them</TD></TR>')
        table = '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>>"
        with self.g.subgraph(name="cluster_legend") as lg:
            lg.attr(label="legend", fontsize="9", style="rounded", color="#9ca3af", fontcolor="#6b7280")
            lg.node("__legend", label=table, shape="plaintext", fontsize="9")

    def draw(self) -> graphviz.Digraph:
        g = self.g
        g.node("__start", label="Start", shape="circle", style="filled", fillcolor="#111827",
               fontcolor="#ffffff", fontsize="8", width="0.45", fixedsize="true")
        self._draw_scope(g, self.machine, (), None, None)
        start = _as_name(self.machine.get("StartAt"))
        if start is not None:
            head, dst = self._target(g, (), start)
            _, extra = self._edge_overlay(None, dst, "start")
            self.edges.insert(0, FlowEdge("__start", head, "start", "start", dst, ""))
            self.edge_attrs.insert(0, extra)
        ends = {e.head for e in self.edges}
        if "__end" in ends:
            g.node("__end", label="End", shape="doublecircle", style="filled", fillcolor="#111827",
                   fontcolor="#ffffff", fontsize="8", width="0.4", fixedsize="true")
        if "__failed" in ends:
            g.node("__failed", label="Failed", shape="doublecircle", style="filled", fillcolor=_CATCH_COLOR,
                   fontcolor="#ffffff", fontsize="8", width="0.5", fixedsize="true")
        for edge, attrs in zip(self.edges, self.edge_attrs):
            g.edge(edge.tail, edge.head, **attrs)
        self._legend()
        # structured record for callers and tests (plain attributes on the Digraph)
        g.lab_nodes = dict(self.nodes)  # type: ignore[attr-defined]
        g.lab_missing = dict(self.missing)  # type: ignore[attr-defined]
        g.lab_edges = list(self.edges)  # type: ignore[attr-defined]
        return g


def draw_flow(definition: dict | str, execution: Any = None, *, lab: Any = None) -> graphviz.Digraph:
    """Draw a state machine definition as a graphviz Digraph (renders inline in Jupyter).

    ``execution`` adds an overlay: a list of history events, an object with ``.events``,
    a ``{"events": [...]}`` response, an execution ARN (fetched with ``lab.sfn``; ``lab``
    defaults to ``labhelpers.connect()``), or a list/tuple of those for a classroom batch.
    The returned Digraph also carries ``lab_nodes`` (path -> node id), ``lab_missing`` and
    ``lab_edges`` (list of FlowEdge).
    """
    machine = _parse_definition(definition)
    runs: list[_Run] | None = None
    batch = False
    if execution is not None:
        histories, batch = _collect_runs(execution, lab)
        states = _walk(machine)
        runs = [_analyse(states, h) for h in histories]
    return _Drawer(machine, runs, batch).draw()
