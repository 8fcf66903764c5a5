"""Static checks of an ASL definition that give AWS's ValidateStateMachineDefinition diagnostics.

moto only runs its ANTLR parser, whose errors read ``ASLParserException line 1:23, at ...``.
These checks work on the decoded JSON and report what AWS reports, with its codes, messages
and JSON-pointer locations; whatever they miss, the parser still catches (see
:func:`parser_diagnostic`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from labhelpers.emulator import asl_rules

Diagnostic = dict[str, str]

_TERMINAL_TYPES = {"Succeed", "Fail"}
_NO_TRANSITION_TYPES = {"Choice", "Succeed", "Fail"}
_STATE_TYPES = {"Task", "Pass", "Wait", "Choice", "Succeed", "Fail", "Parallel", "Map"}
#: Fields holding a reference path (JSONPath that must select one node).
_PATH_FIELDS = ("InputPath", "OutputPath", "ResultPath", "ItemsPath", "SecondsPath",
                "TimestampPath", "ErrorPath", "CausePath", "HeartbeatSecondsPath",
                "TimeoutSecondsPath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
                "ToleratedFailurePercentagePath")
#: Fields whose keys ending in ".$" hold paths or intrinsic functions.
_TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Assign", "Arguments")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_VARIABLE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*")
_INTRINSIC = re.compile(r"^States\.[A-Za-z0-9]+\(.*\)$", re.S)
#: A deploy-time substitution token (CloudFormation/SAM DefinitionSubstitutions, Terraform
#: templatefile): AWS sees the substituted value, so a path holding one is checked as a name.
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
#: Fields that take an intrinsic function as well as a reference path.
_INTRINSIC_PATH_FIELDS = ("ErrorPath", "CausePath")


def error(code: str, message: str, location: str | None) -> Diagnostic:
    """One ERROR diagnostic, with ``location`` left out when AWS gives none."""
    diagnostic = {"severity": "ERROR", "code": code, "message": message}
    if location is not None:
        diagnostic["location"] = location
    return diagnostic


def is_valid_path(path: Any, *, allow_context: bool = True) -> bool:
    """Whether ``path`` is a JSONPath AWS accepts ($..., $$..., or a $variable reference)."""
    if not isinstance(path, str) or not path.startswith("$"):
        return False
    path = _PLACEHOLDER.sub("placeholder", path)
    if path.startswith("$.["):  # Jayway (AWS's JSONPath) reads "$.[...]" as "$[...]"
        path = "$" + path[2:]
    if path in ("$", "$$"):
        return True
    body = path
    if path.startswith("$$"):
        if not allow_context:
            return False
        body = path[1:]
    elif not path.startswith(("$.", "$[")):
        match = _VARIABLE.match(path)
        if not match:
            return False
        body = "$" + path[match.end():]
        if body == "$":
            return True
    try:
        import warnings

        from jsonpath_ng.ext import parse

        with warnings.catch_warnings():  # jsonpath_ng deprecates unquoted words, which AWS accepts
            warnings.simplefilter("ignore", DeprecationWarning)
            parse(body)
    except Exception:  # jsonpath_ng raises several unrelated types for bad syntax
        return False
    return True


def _is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _template_errors(value: Any, location: str, field: str) -> Iterator[Diagnostic]:
    """Bad ``"key.$"`` values inside a payload template, reported at the template field."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$"):
                ok = isinstance(item, str) and (is_valid_path(item) or bool(_INTRINSIC.match(item)))
                if not ok:
                    yield error("SCHEMA_VALIDATION_FAILED",
                                f"The value for the field '{key}' must be a valid JSONPath", location)
            else:
                yield from _template_errors(item, location, field)
    elif isinstance(value, list):
        for item in value:
            yield from _template_errors(item, location, field)


def _choice_rule_paths(rule: Any, location: str) -> Iterator[Diagnostic]:
    if not isinstance(rule, dict):
        return
    if "Variable" in rule and not is_valid_path(rule["Variable"]):
        yield error("SCHEMA_VALIDATION_FAILED",
                    "The value for the field 'Variable' must be a valid JSONPath", f"{location}/Variable")
    for key, item in rule.items():
        if key.endswith("Path") and key != "Variable" and not is_valid_path(item):
            yield error("SCHEMA_VALIDATION_FAILED",
                        f"The value for the field '{key}' must be a valid JSONPath", f"{location}/{key}")
    for key in ("And", "Or"):
        for i, sub in enumerate(rule.get(key) or []):
            yield from _choice_rule_paths(sub, f"{location}/{key}[{i}]")
    if "Not" in rule:
        yield from _choice_rule_paths(rule["Not"], f"{location}/Not")


def _state_errors(name: str, state: dict, loc: str, language: str,
                  machine_language: str) -> Iterator[Diagnostic]:
    """Checks of one state on its own (schema, paths, timestamps)."""
    state_type = state.get("Type")
    if state_type is None:
        yield error("SCHEMA_VALIDATION_FAILED", "These fields are required: [Type]", loc)
        return
    if state_type not in _STATE_TYPES:
        yield error("SCHEMA_VALIDATION_FAILED", f"Invalid State Type: {state_type}", f"{loc}/Type")
        return
    own_language = state.get("QueryLanguage")
    if own_language == "JSONPath" and machine_language == "JSONata":
        yield error("SCHEMA_VALIDATION_FAILED",
                    "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", loc)
    if state_type not in _NO_TRANSITION_TYPES:
        if "Next" not in state and state.get("End") is not True:
            yield error("SCHEMA_VALIDATION_FAILED", "These fields are required: [Next]", loc)
        elif "Next" in state and state.get("End") is True:
            yield error("SCHEMA_VALIDATION_FAILED", "Only one of 'Next' or 'End' can be set", loc)
    if state_type == "Choice" and not state.get("Choices"):
        yield error("SCHEMA_VALIDATION_FAILED", "These fields are required: [Choices]", loc)
    if state_type == "Task" and "Resource" not in state:
        yield error("SCHEMA_VALIDATION_FAILED", "These fields are required: [Resource]", loc)
    if language == "JSONPath":
        for field in _PATH_FIELDS:
            if field in state and state[field] is not None and not is_valid_path(
                    state[field], allow_context=field not in ("ResultPath",)) and not (
                    field in _INTRINSIC_PATH_FIELDS and isinstance(state[field], str)
                    and _INTRINSIC.match(state[field])):
                yield error("SCHEMA_VALIDATION_FAILED",
                            f"The value for the field '{field}' must be a valid JSONPath", f"{loc}/{field}")
        for field in _TEMPLATE_FIELDS:
            if field in state:
                yield from _template_errors(state[field], f"{loc}/{field}", field)
        for i, rule in enumerate(state.get("Choices") or []):
            yield from _choice_rule_paths(rule, f"{loc}/Choices[{i}]")
    yield from asl_rules.state_rules(state, loc, language)
    timestamp = state.get("Timestamp")
    if state_type == "Wait" and isinstance(timestamp, str) and not _is_jsonata(timestamp) \
            and not _RFC3339.match(timestamp):
        yield error("SCHEMA_VALIDATION_FAILED", "String does not match RFC3339 timestamp", f"{loc}/Timestamp")


def _transitions(state: dict, loc: str) -> Iterator[tuple[str, str]]:
    """(target, location) of every transition a state declares."""
    if isinstance(state.get("Next"), str):
        yield state["Next"], f"{loc}/Next"
    for i, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            yield rule["Next"], f"{loc}/Choices[{i}]/Next"
    if isinstance(state.get("Default"), str):
        yield state["Default"], f"{loc}/Default"
    for i, catcher in enumerate(state.get("Catch") or []):
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            yield catcher["Next"], f"{loc}/Catch[{i}]/Next"


def _block_errors(block: dict, loc: str, language: str, machine_language: str) -> list[Diagnostic]:
    """Checks of a StartAt/States block (the machine, a Parallel branch, a Map processor)."""
    prefix = "" if loc == "/" else loc
    missing = [f for f in ("StartAt", "States") if f not in block]
    if missing:
        return [error("SCHEMA_VALIDATION_FAILED", f"These fields are required: [{', '.join(missing)}]", loc)]
    states = block["States"]
    if not isinstance(states, dict) or not states:
        return [error("SCHEMA_VALIDATION_FAILED", "States must be a non-empty object", f"{prefix}/States")]
    diagnostics: list[Diagnostic] = []
    transitions: dict[str, list[str]] = {}
    for name, state in states.items():
        sloc = f"{prefix}/States/{name}"
        if not isinstance(state, dict):
            diagnostics.append(error("SCHEMA_VALIDATION_FAILED", "State must be an object", sloc))
            continue
        state_language = state.get("QueryLanguage") or language
        diagnostics.extend(_state_errors(name, state, sloc, state_language, machine_language))
        transitions[name] = []
        for target, tloc in _transitions(state, sloc):
            if target in states:
                transitions[name].append(target)
            else:
                diagnostics.append(error("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {target}", tloc))
        for i, branch in enumerate(state.get("Branches") or []):
            if isinstance(branch, dict):
                diagnostics.extend(_block_errors(branch, f"{sloc}/Branches[{i}]", state_language, machine_language))
        for field in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(field), dict):
                diagnostics.extend(_block_errors(state[field], f"{sloc}/{field}", state_language, machine_language))
    start = block["StartAt"]
    if start not in states:
        diagnostics.insert(0, error("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {start}", f"{prefix}/StartAt"))
        return diagnostics
    has_terminal = any(isinstance(s, dict) and (s.get("Type") in _TERMINAL_TYPES or s.get("End") is True)
                       for s in states.values())
    if not has_terminal:
        # AWS reports this alone, without the reachability walk.
        diagnostics.append(error("MISSING_END_STATE", "Workflow has no terminal state", None))
        return diagnostics
    reached, todo = {start}, [start]
    while todo:
        for target in transitions.get(todo.pop(), []):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    for name in states:
        if name not in reached:
            diagnostics.append(error("MISSING_TRANSITION_TARGET", f'State "{name}" is not reachable.',
                                     f"{prefix}/States/{name}"))
    return diagnostics


def json_error_diagnostic(err: json.JSONDecodeError) -> Diagnostic:
    return error("INVALID_JSON_DESCRIPTION",
                 f"{err.msg} at (line: {err.lineno}, column: {err.colno})", None)


def validate(definition: str) -> list[Diagnostic]:
    """AWS-style diagnostics of a whole state machine definition (empty when it is valid)."""
    if not definition or not definition.strip():
        return [error("MISSING_DESCRIPTION", "Received a null or empty workflow input", None)]
    try:
        document = json.loads(definition)
    except json.JSONDecodeError as err:
        return [json_error_diagnostic(err)]
    if not isinstance(document, dict):
        return [error("SCHEMA_VALIDATION_FAILED", "Definition must be a JSON object", "/")]
    language = document.get("QueryLanguage", "JSONPath")
    if language not in ("JSONPath", "JSONata"):
        return [error("SCHEMA_VALIDATION_FAILED", f"Invalid QueryLanguage: {language}", "/QueryLanguage")]
    return _block_errors(document, "/", language, language)


def parser_diagnostic(exc: Exception) -> Diagnostic:
    """A one-line diagnostic for what only moto's parser caught."""
    errors = getattr(exc, "errors", None)
    if errors:
        message = str(errors[0])
    else:
        message = str(exc.args[0]) if exc.args else type(exc).__name__
    message = " ".join(message.split())
    if len(message) > 300:
        message = message[:297] + "..."
    return error("SCHEMA_VALIDATION_FAILED", message, "/")


def invalid_definition_message(diagnostics: list[Diagnostic]) -> str:
    """The one-line InvalidDefinition message AWS gives for the ERROR diagnostics."""
    parts = [f"{d['code']}: {d['message']} at {d.get('location', 'null')}"
             for d in diagnostics if d["severity"] == "ERROR"]
    return f"Invalid State Machine Definition: '{', '.join(parts)}'"
