"""JSONata for moto's interpreter, evaluated by the pure-Python ``jsonata-python`` package.

moto (a port of LocalStack) evaluates JSONata on a JVM it never starts here, and builds the
expression as text (``($states := {...}; $x := "..."; expr)``), which breaks on strings with
quotes. Instead the expression is compiled once and ``$states``, the workflow variables and
the Step Functions JSONata functions are passed as bindings.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import threading
import uuid
from typing import Any

from jsonata import Jsonata
from jsonata.utils import Utils

_lock = threading.Lock()


@functools.lru_cache(maxsize=512)
def _compiled(expression: str) -> Jsonata:
    return Jsonata(expression)


def to_jsonata(value: Any) -> Any:
    """JSON null as JSONata null (jsonata-python reads Python None as 'undefined')."""
    if value is None:
        return Utils.NULL_VALUE
    if isinstance(value, dict):
        return {k: to_jsonata(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_jsonata(v) for v in value]
    return value


class Undefined:
    """The result of an expression that returned nothing."""


UNDEFINED = Undefined()


def _partition(array: list, size: int) -> list:
    return [array[i:i + int(size)] for i in range(0, len(array), int(size))]


def _range(first: float, last: float, step: float) -> list:
    out, value = [], first
    while (step > 0 and value <= last) or (step < 0 and value >= last):
        out.append(value)
        value += step
    return out


def _hash(value: str, algorithm: str) -> str:
    names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
    return hashlib.new(names[algorithm], str(value).encode()).hexdigest()


def _random_seeded(seed: Any) -> float:
    return random.Random(seed).random()


def _parse(text: str) -> Any:
    return to_jsonata(json.loads(text))


_FUNCTIONS = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "randomSeeded": _random_seeded,
    "uuid": lambda: str(uuid.uuid4()),
    "parse": _parse,
}


def evaluate(expression: str, bindings: dict[str, Any]) -> Any:
    """Evaluate ``expression`` with ``bindings`` (names without ``$``); UNDEFINED if it returns nothing."""
    compiled = _compiled(expression)
    frame = {name: Jsonata.JLambda(func) for name, func in _FUNCTIONS.items()}
    frame.update({name: to_jsonata(value) for name, value in bindings.items()})
    # evaluate() sets per-call state on the compiled object ($now); serialise the calls.
    with _lock:
        compiled.set_output_convert_nulls(False)
        result = compiled.evaluate(None, frame)
    if result is None:
        return UNDEFINED
    return _from_jsonata(result)


def _from_jsonata(value: Any) -> Any:
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, dict):
        return {k: _from_jsonata(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_jsonata(v) for v in value]
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return int(value)
    return value
