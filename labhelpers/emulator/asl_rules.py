"""More static checks of one ASL state, beside :mod:`labhelpers.emulator.asl_validation`.

What AWS rejects and moto's parser lets through: data-flow fields on a state type that has none
(statelint's rules, which AWS's schema enforces), JSONata expressions that are not well
delimited or do not parse, intrinsic-function string literals with escapes the ASL spec does not
define, and Map fields out of range or given twice. Each returns AWS-style diagnostics
(SCHEMA_VALIDATION_FAILED, with the JSON-pointer location of the state or field).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

Diagnostic = dict[str, str]

#: Fields a state type does not have (ASL spec, "State type field summary"): AWS's schema
#: rejects them instead of ignoring them.
_NOT_ALLOWED = {
    "Pass": ("ResultSelector",),
    "Wait": ("ResultPath", "ResultSelector", "Parameters"),
    "Choice": ("ResultPath", "ResultSelector"),
    "Succeed": ("ResultPath", "ResultSelector", "Parameters"),
    "Fail": ("ResultPath", "ResultSelector", "Parameters", "InputPath", "OutputPath"),
}
#: Keys whose string values are names or ARNs, never JSONata expressions.
_LITERAL_KEYS = {"Type", "Comment", "Next", "Default", "StartAt", "Resource", "QueryLanguage",
                 "ErrorEquals", "Mode", "ExecutionType", "InputType", "CSVHeaderLocation", "Label",
                 "JitterStrategy", "Version"}
#: Escapes the ASL spec defines inside an intrinsic function's '...' string literal.
_INTRINSIC_ESCAPES = set("'{}\\")
_INTRINSIC_CALL = re.compile(r"^States\.[A-Za-z0-9]+\(")


def _error(message: str, location: str) -> Diagnostic:
    return {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message, "location": location}


def state_rules(state: dict, loc: str, language: str) -> Iterator[Diagnostic]:
    """Every rule of this module for one state (``language``: the state's own query language)."""
    yield from _fields_of_type(state, loc)
    yield from _map_rules(state, loc)
    if language == "JSONata":
        yield from _jsonata_rules(state, loc)
    else:
        for field in ("Parameters", "ResultSelector", "ItemSelector", "Assign"):
            if field in state:
                yield from _intrinsic_rules(state[field], f"{loc}/{field}")


def _fields_of_type(state: dict, loc: str) -> Iterator[Diagnostic]:
    for field in _NOT_ALLOWED.get(state.get("Type"), ()):
        if field in state:
            yield _error(f'The field "{field}" is not supported by Step Functions', loc)


def _map_rules(state: dict, loc: str) -> Iterator[Diagnostic]:
    if state.get("Type") != "Map":
        return
    percentage = state.get("ToleratedFailurePercentage")
    if isinstance(percentage, (int, float)) and not isinstance(percentage, bool) \
            and not 0 <= percentage <= 100:
        yield _error("ToleratedFailurePercentage must be between 0 and 100",
                     f"{loc}/ToleratedFailurePercentage")
    reader = state.get("ItemReader")
    config = reader.get("ReaderConfig") if isinstance(reader, dict) else None
    if isinstance(config, dict) and "MaxItems" in config and "MaxItemsPath" in config:
        yield _error("Only one of 'MaxItems' or 'MaxItemsPath' can be set", f"{loc}/ItemReader/ReaderConfig")


# --- JSONata -----------------------------------------------------------------------------------

def jsonata_syntax_error(expression: str) -> str | None:
    """Why a JSONata expression does not parse (jsonata-python's message), or None."""
    from jsonata import Jsonata

    try:
        Jsonata(expression)
    except Exception as err:  # jsonata raises JException (and a few others) for bad syntax
        return str(err) or type(err).__name__
    return None


def _jsonata_strings(value: Any, location: str, key: str | None = None) -> Iterator[tuple[str, str]]:
    """(string, location) of every string of a JSONata state that may hold an expression."""
    if isinstance(value, str):
        if key not in _LITERAL_KEYS:
            yield value, location
    elif isinstance(value, dict):
        for k, item in value.items():
            if k in ("States", "Branches", "ItemProcessor", "Iterator"):
                continue  # states of their own, checked with their own query language
            yield from _jsonata_strings(item, f"{location}/{k}", k)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _jsonata_strings(item, f"{location}[{i}]", key)


def _jsonata_rules(state: dict, loc: str) -> Iterator[Diagnostic]:
    for text, where in _jsonata_strings(state, loc):
        opens, closes = text.startswith("{%"), text.endswith("%}")
        if opens != closes or (opens and len(text) < 4):
            yield _error("JSONata expressions must be surrounded by '{%' and '%}'", where)
        elif opens:
            why = jsonata_syntax_error(text[2:-2])
            if why is not None:
                yield _error(f"Invalid JSONata expression: {why}", where)


# --- intrinsic functions -----------------------------------------------------------------------

def illegal_escape(call: str) -> str | None:
    """The first escape sequence in a '...' literal of an intrinsic call the ASL spec does not
    define (only \\' \\{ \\} \\\\ are), or None."""
    in_string, i = False, 0
    while i < len(call):
        char = call[i]
        if in_string and char == "\\":
            following = call[i + 1:i + 2]
            if following not in _INTRINSIC_ESCAPES:
                return "\\" + following
            i += 2
            continue
        if char == "'":
            in_string = not in_string
        i += 1
    return None


def _intrinsic_rules(value: Any, location: str) -> Iterator[Diagnostic]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str) and _INTRINSIC_CALL.match(item):
                escape = illegal_escape(item)
                if escape is not None:
                    yield _error(f"The value for the field '{key}' must be a valid intrinsic function call: "
                                 f"illegal escape sequence '{escape}'", location)
            else:
                yield from _intrinsic_rules(item, location)
    elif isinstance(value, list):
        for item in value:
            yield from _intrinsic_rules(item, location)
