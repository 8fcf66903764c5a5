"""Every AWS recording in tests/data/aws-recordings (60 scenarios, see its README.md) replayed on the
session's emulator through boto3 and compared with what AWS answered.

Both sides go through the normalisation the recordings went through (README, "How LocalStack
normalised the recordings"; tests/recordings.py): JSON strings holding objects decoded, times, ids,
names, account, region and partition replaced by placeholders, ResponseMetadata reduced, and the
events of a Parallel state compared as a multiset where ``parallel_events_normalised`` says so.

A scenario the emulator cannot match yet is listed in KNOWN_GAPS, with why; the test asserts that
exactly those scenarios differ, so one that starts matching must be taken off the list.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from recordings import EmulatorNames, differences, normalised

RECORDINGS = Path(__file__).parent / "data" / "aws-recordings"
INDEX = json.loads((RECORDINGS / "index.json").read_text(encoding="utf-8"))
SCENARIOS = [entry["id"] for entry in INDEX["scenarios"]]

#: Scenarios the emulator does not reproduce yet: id -> why, in one line.
KNOWN_GAPS: dict[str, str] = {}

# --- Fake Lambda functions (notes.md describes each; handler.py, raising at line 2 as recorded) ----

HANDLERS = {
    "identity": "def handler(event, context):\n    return event\n",
    "ignores its event": 'def handler(event, context):\n    return {"Return": "HelloWorld"}\n',
    "raises": 'def handler(event, context):\n    raise Exception("Some exception was raised.")\n',
    "sleeps 60": "import time\ndef handler(event, context):\n    time.sleep(60)\n    return event\n",
}


def _handler_source(behaviour: str) -> str:
    return next(source for key, source in HANDLERS.items() if behaviour.startswith(key))


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


# --- One scenario's calls ------------------------------------------------------------------------

class Replay:
    """One scenario's calls on the emulator, and the names to map back to the recording's placeholders."""

    def __init__(self, lab: Any, role_arn: str, scenario: str) -> None:
        self.lab, self.sfn, self.role_arn, self.scenario = lab, lab.sfn, role_arn, scenario
        self.folder = RECORDINGS / scenario
        self.meta = self.read("scenario.json")
        self.names: dict[str, str] = {}  # emulator name -> recording placeholder
        self.functions: dict[str, str] = {}  # recorded ARN or name placeholder -> ours
        self.executions = 0

    def read(self, name: str) -> Any:
        return json.loads((self.folder / name).read_text(encoding="utf-8"))

    def deploy_functions(self) -> None:
        for fn in self.meta.get("lambda_functions", []):
            name = f"rec-{uuid.uuid4().hex[:16]}"  # 20 characters, as the recorded names (Content-Length)
            arn = self.lab.lambda_.create_function(
                FunctionName=name, Runtime="python3.12", Role=self.role_arn, Handler="handler.handler",
                Code={"ZipFile": _zip(_handler_source(fn["behaviour"]))}, Timeout=90)["FunctionArn"]
            self.functions[fn["arn_as_recorded"]] = arn
            self.functions[json.dumps(fn["name_placeholder"])] = json.dumps(name)  # as a JSON string
            self.names[name] = fn["name_placeholder"]

    def definition_text(self, definition: Any) -> str:
        """A definition or input as JSON, each recorded function ARN or name replaced by ours."""
        text = json.dumps(definition)
        for recorded, ours in self.functions.items():  # ARNs first: they hold the names
            text = text.replace(recorded, ours)
        return text

    def create(self, definition: Any) -> dict:
        name = f"rec-{uuid.uuid4().hex[:12]}"
        self.names[name] = "<ArnPart_0idx>"
        return self.sfn.create_state_machine(name=name, definition=self.definition_text(definition),
                                             roleArn=self.role_arn)

    def start(self, arn: str, raw_input: str | None, name: str | None = None) -> dict:
        kwargs: dict = {} if raw_input is None else {"input": raw_input}
        if name:
            kwargs["name"] = name
            self.names[name] = "<execution-name>"
        response = self.sfn.start_execution(stateMachineArn=arn, **kwargs)
        if not name:
            self.names[response["executionArn"].rsplit(":", 1)[1]] = f"<ExecArnPart_{self.executions}idx>"
        self.executions += 1
        return response

    def wait(self, execution_arn: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while (described := self.sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{execution_arn} did not end"
            time.sleep(0.1)
        return described

    def run(self, arn: str, payload: Any) -> str:
        execution = self.start(arn, self.definition_text(payload))["executionArn"]
        self.wait(execution)
        return execution

    def history(self, execution_arn: str) -> dict:
        return self.sfn.get_execution_history(executionArn=execution_arn)


def _error_response(err: ClientError) -> dict:
    """What the recordings keep of a ClientError: boto3's ``response`` (Error, message, metadata)."""
    return {k: v for k, v in err.response.items() if k in ("Error", "message", "ResponseMetadata")}


# --- Replaying each kind of scenario ---------------------------------------------------------------

def replay_execution(r: Replay) -> dict:
    arn = r.create(r.read("definition.json"))["stateMachineArn"]
    keys = r.meta["recorded_keys"]
    # The one execution recorded with a name was started without input (its notes.md).
    named = "<execution-name>" in (r.folder / "recorded.json").read_text(encoding="utf-8")
    execution = r.start(arn, None if named else r.definition_text(r.read("input.json")),
                        name=f"rec-exec-{uuid.uuid4().hex[:8]}" if named else None)["executionArn"]
    r.wait(execution)
    actual = {}
    if "describe_execution" in keys:
        actual["describe_execution"] = r.sfn.describe_execution(executionArn=execution)
    if "get_execution_history" in keys:
        actual["get_execution_history"] = r.history(execution)
    return actual


def replay_executions(r: Replay) -> dict:
    arn = r.create(r.read("definition.json"))["stateMachineArn"]
    return {f"exec_hist_resp_{i}": r.history(r.run(arn, payload))
            for i, payload in enumerate(r.read("input.json"))}


def replay_choice_cases(r: Replay) -> dict:
    inputs = r.read("input.json")
    definitions = r.read("definitions.json") if (r.folder / "definitions.json").exists() else None
    cases = []
    for i, payload in enumerate(inputs):
        arn = r.create(definitions[i] if definitions else r.read("definition.json"))["stateMachineArn"]
        history = r.history(r.run(arn, payload))["events"]
        output = history[-1].get("executionSucceededEventDetails", {}).get("output", history[-1]["type"])
        cases.append({"input": payload, "output": output})
    return {"cases": cases}


def replay_create_error(r: Replay) -> dict:
    try:
        r.create(r.read("definition.json"))
    except ClientError as err:
        key = r.meta["recorded_keys"][0]
        if key == "exception":  # recorded as the exception's type name and str()
            return {key: {"exception_typename": err.response["Error"]["Code"], "exception_value": str(err)}}
        return {key: _error_response(err)}
    return {r.meta["recorded_keys"][0]: "CreateStateMachine accepted the definition"}


def replay_validate(r: Replay) -> dict:
    request = r.read("request.json")
    return {"validation_response": r.sfn.validate_state_machine_definition(
        definition=(r.folder / "definition.json").read_text(encoding="utf-8"), type=request["type"])}


def replay_start_inputs(r: Replay) -> dict:
    created = r.create(r.read("definition.json"))
    actual: dict = {"creation_resp": created}
    for key, raw in zip(r.meta["recorded_keys"][1:], r.read("input.json")):
        try:
            actual[key] = r.start(created["stateMachineArn"], raw)
        except ClientError as err:
            actual[key] = _error_response(err)
    return actual


def replay_test_state(r: Replay) -> dict:
    requests, payloads = r.read("request.json"), r.read("input.json")
    if isinstance(requests, dict):
        requests, payloads = [dict(requests, recorded_key=r.meta["recorded_keys"][0])], [payloads]
    actual = {}
    for request, payload in zip(requests, payloads):
        kwargs = {k: request[k] for k in ("stateName", "mock", "inspectionLevel") if k in request}
        actual[request["recorded_key"]] = r.sfn.test_state(
            definition=r.definition_text(r.read("definition.json")), roleArn=r.role_arn,
            input=r.definition_text(payload), **kwargs)
    return actual


REPLAYS = {"execution": replay_execution, "describe-execution": replay_execution,
           "executions": replay_executions, "choice-cases": replay_choice_cases,
           "create-error": replay_create_error, "validate-definition": replay_validate,
           "start-execution-inputs": replay_start_inputs, "test-state": replay_test_state}


def compare(lab: Any, role_arn: str, scenario: str) -> list[str]:
    r = Replay(lab, role_arn, scenario)
    r.deploy_functions()
    recorded = r.read("recorded.json")
    actual = REPLAYS[r.meta["kind"]](r)
    names = EmulatorNames(r.names, role_arn, lab.account_id, lab.region)
    return differences(*normalised(r.meta, names, recorded, actual))


# --- The tests -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def role_arn(lab) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}
    return lab.iam.create_role(RoleName=f"recordings-{uuid.uuid4().hex[:8]}",
                               AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def test_every_recording_is_replayed():
    folders = {p.name for p in RECORDINGS.iterdir() if (p / "scenario.json").exists()}
    assert len(SCENARIOS) == 60 and set(SCENARIOS) == folders
    assert set(KNOWN_GAPS) <= set(SCENARIOS)
    assert {json.loads((RECORDINGS / s / "scenario.json").read_text())["kind"] for s in SCENARIOS} <= set(REPLAYS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_recording_matches_aws(lab, role_arn, scenario):
    found = compare(lab, role_arn, scenario)
    if scenario in KNOWN_GAPS:
        assert found, f"{scenario} now matches AWS: remove it from KNOWN_GAPS"
    else:
        assert not found, f"{scenario} differs from AWS:\n" + "\n".join(found[:15])
