"""Failure injection with a MockConfigFile, and validation diagnostics as a table.

A MockConfigFile (the format of AWS Step Functions Local) names, per state machine, test cases
that replace chosen states' results with ``Return`` values or ``Throw`` errors, invocation by
invocation. An execution started as ``<stateMachineArn>#<TestCase>`` uses them. Step Functions
Local and LocalStack read the file named by ``SFN_MOCK_CONFIG`` when they start, and so does the
lab's emulator (at each ``start_execution``); :func:`use_mock_config` points the *running* emulator
at a file. The AWS service itself has no mock config: there, ``TestState``'s ``mock`` parameter
mocks one state's result.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from labhelpers import config
from labhelpers.errors import EmulatorError, TargetError
from labhelpers.lab import Lab, connect

if TYPE_CHECKING:
    import pandas as pd

MOCK_CONFIG_PATH = "/_lab/mock-config"

AWS_REFUSAL = ("A MockConfigFile is not a feature of the AWS service: it works in the lab's emulator, "
               "in Step Functions Local and in LocalStack (SFN_MOCK_CONFIG). On AWS, mock one state's "
               "result with TestState's `mock` parameter (lab.sfn.test_state(..., mock={...})) instead.")


def _post(lab: Lab, body: dict) -> dict:
    request = urllib.request.Request(lab.endpoint_url + MOCK_CONFIG_PATH, method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the emulator is local
    try:
        with opener.open(request, timeout=10) as response:
            answer = json.loads(response.read() or b"{}")
    except OSError as err:
        raise EmulatorError(f"The emulator at {lab.endpoint_url} did not take the mock config: {err}") from err
    if "error" in answer:
        raise EmulatorError(answer["error"])
    return answer


def use_mock_config(source: str | Path | dict | None, lab: Lab | None = None) -> dict[str, list[str]]:
    """Point the running emulator at a MockConfigFile (a path, or a dict saved to a file first).

    Returns the test cases the file defines, per state machine name. ``None`` switches mocking
    off. Refused on AWS, which has no mock config (see :data:`AWS_REFUSAL`).
    """
    lab = lab or connect()
    if lab.target != "emulator":
        raise TargetError(AWS_REFUSAL)
    if source is None:
        _post(lab, {"path": None})
        return {}
    if isinstance(source, dict):
        path = config.state_dir() / f"mock-config-{lab.endpoint_url.rsplit(':', 1)[-1]}.json"
        path.write_text(json.dumps(source, indent=2), encoding="utf-8")
    else:
        path = Path(source)
    # The emulator runs in another folder: give it the absolute path.
    return _post(lab, {"path": str(path.resolve())})["state_machines"]


def diagnostics_frame(response: dict) -> "pd.DataFrame":
    """A ValidateStateMachineDefinition response's diagnostics as a table (code, location, message)."""
    import pandas as pd

    rows = [{"severity": d.get("severity"), "code": d.get("code"), "location": d.get("location", ""),
             "message": d.get("message")} for d in response.get("diagnostics", [])]
    return pd.DataFrame(rows, columns=["severity", "code", "location", "message"])


__all__ = ["AWS_REFUSAL", "diagnostics_frame", "use_mock_config"]
