"""AWS Step Functions Local's MockConfigFile, read from ``$SFN_MOCK_CONFIG`` at each start.

Format (as documented for Step Functions Local)::

    {"StateMachines": {"<machine name>": {"TestCases": {"<case>": {"<state>": "<response name>"}}}},
     "MockedResponses": {"<response name>": {"0": {"Return": {...}}, "1-2": {"Throw": {"Error": "E", "Cause": "C"}}}}}

Start an execution as ``<stateMachineArn>#<case>``; invocation ``n`` of a mocked state (the
first try is 0, each retry adds one) gets the response whose range holds ``n``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV_VAR = "SFN_MOCK_CONFIG"


def _invalid_name(message: str) -> Exception:
    from labhelpers.emulator.moto_compat import aws_error

    return aws_error("InvalidName", message)


def _range(key: str) -> tuple[int, int]:
    start, _, end = key.strip().partition("-")
    return int(start), int(end or start)


def mock_test_case_for(state_machine_name: str, test_case_name: str) -> Any:
    """The moto MockTestCase for ``test_case_name``; InvalidName (as AWS) when it cannot be had."""
    from moto.stepfunctions.parser.mocking.mock_config import (
        MockedResponseReturn, MockedResponseThrow, MockTestCase, StateMockedResponses)

    path = os.environ.get(ENV_VAR)
    if not path:
        raise _invalid_name(f"Invalid mock test case name '{test_case_name}': "
                            f"no mock configuration file ({ENV_VAR} is not set in the emulator's environment).")
    try:
        config = json.loads(Path(path).read_text())
        case = config["StateMachines"][state_machine_name]["TestCases"][test_case_name]
    except FileNotFoundError:
        raise _invalid_name(f"Mock configuration file {path} does not exist.") from None
    except json.JSONDecodeError as err:
        raise _invalid_name(f"Mock configuration file {path} is not valid JSON: {err}") from None
    except (KeyError, TypeError):
        raise _invalid_name(f"Invalid mock test case name '{test_case_name}' for state machine "
                            f"'{state_machine_name}': not defined in {path}.") from None
    states = []
    try:
        for state_name, response_name in case.items():
            responses = []
            for key, spec in config["MockedResponses"][response_name].items():
                start, end = _range(key)
                if "Return" in spec:
                    responses.append(MockedResponseReturn(start, end, spec["Return"]))
                else:
                    throw = spec["Throw"]
                    responses.append(MockedResponseThrow(start, end, throw.get("Error", ""), throw.get("Cause", "")))
            states.append(StateMockedResponses(state_name, response_name, responses))
        return MockTestCase(state_machine_name, test_case_name, states)
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as err:
        raise _invalid_name(f"Invalid mock configuration for test case '{test_case_name}' in {path}: "
                            f"{type(err).__name__}: {err}") from None


def point_at(path: str | None) -> dict:
    """Set ``$SFN_MOCK_CONFIG`` in this (the emulator's) process, or unset it with ``None``.

    Answers POST /_lab/mock-config: a notebook cannot change the environment of an emulator that
    is already running. The file is checked here (it exists and is a MockConfigFile), so a typo
    is reported at once instead of at the next start_execution.
    """
    if not path:
        os.environ.pop(ENV_VAR, None)
        return {"path": None, "state_machines": {}}
    try:
        config = json.loads(Path(path).read_text())
        machines = {name: sorted(spec.get("TestCases", {}))
                    for name, spec in config.get("StateMachines", {}).items()}
        responses = config.get("MockedResponses", {})
        if not isinstance(responses, dict):
            raise TypeError("MockedResponses must be an object")
    except FileNotFoundError:
        return {"error": f"Mock configuration file {path} does not exist."}
    except json.JSONDecodeError as err:
        return {"error": f"Mock configuration file {path} is not valid JSON: {err}"}
    except (AttributeError, TypeError) as err:
        return {"error": f"{path} is not a MockConfigFile (StateMachines -> name -> TestCases, "
                         f"MockedResponses): {err}"}
    os.environ[ENV_VAR] = str(path)
    return {"path": str(path), "state_machines": machines}
