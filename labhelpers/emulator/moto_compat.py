"""AWS errors raised by the emulator's own code, built for whichever error base moto has.

moto 5.2.5 and older serialize ``AWSError`` (a werkzeug ``HTTPException`` carrying ``TYPE`` and
``STATUS``); moto 5.2.6 moved its Step Functions errors to ``ServiceException`` (``code`` is the
AWS error code, the HTTP status comes from the service model). The patches build and recognise
errors only through this module, never through moto's classes.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=None)
def _error_class(code: str) -> type:
    import moto.core.exceptions as exceptions

    if hasattr(exceptions, "ServiceException"):
        # The serializer finds the error's shape (and its HTTP status) by ``code`` in the model.
        return type(code, (exceptions.ServiceException,), {"code": code})
    return type(code, (exceptions.AWSError,), {"TYPE": code, "STATUS": 400})


def aws_error(code: str, message: str) -> Exception:
    """A client error (HTTP 400) with AWS's error ``code``: a code of the service's model, as
    InvalidDefinition, InvalidName or InvalidExecutionInput of Step Functions."""
    return _error_class(code)(message)


def error_code(error: BaseException) -> str | None:
    """The AWS error code of an exception moto raised (either base), else None."""
    import moto.core.exceptions as exceptions

    service_exception = getattr(exceptions, "ServiceException", None)
    if service_exception is not None and isinstance(error, service_exception):
        return str(error.code)
    if isinstance(error, exceptions.JsonRESTError):
        return error.error_type
    return None


def error_message(error: BaseException) -> str:
    return str(getattr(error, "message", None) or (error.args[0] if error.args else type(error).__name__))


def moto_errors() -> tuple[type, ...]:
    """The base classes of moto's AWS errors in this moto, for an ``except`` clause."""
    import moto.core.exceptions as exceptions

    bases: list[Any] = [exceptions.JsonRESTError]
    if hasattr(exceptions, "ServiceException"):
        bases.append(exceptions.ServiceException)
    return tuple(bases)
