"""The AWS recordings' normalisation (tests/data/aws-recordings/README.md, "How LocalStack
normalised the recordings"), applied to the emulator's responses so they compare with AWS's, and
the comparison itself (tests/test_recordings.py replays the scenarios)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# --- Normalisation (README: "How LocalStack normalised the recordings") ----------------------------

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAP_RUN = re.compile(r"(:mapRun:[^/]+/)[^:]+:[0-9a-f-]+")
TIME_WILDCARDS = {"timestamp", "datetime", "date", "start-time", "entered-time"}


def decode_objects(value: Any) -> Any:
    """Rule 1: a string holding a JSON object (in an object, or an object in an array) is decoded,
    once: JSON strings inside the decoded object stay strings."""
    if isinstance(value, dict):
        return {k: _decode_string(decode_objects(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_objects(v) if isinstance(v, dict) else v for v in value]
    return value


def _decode_string(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class EmulatorNames:
    """What the emulator called things, to be replaced by the recording's placeholders."""

    placeholders: dict[str, str]  # name (of a state machine, execution, function) -> placeholder
    role_arn: str
    account: str
    region: str


def emulator_side(e: EmulatorNames, response: Any) -> Any:
    """Rules 3-8 applied to the emulator's responses: its names, ids, account and region."""
    account, region = e.account, e.region
    names = sorted(e.placeholders.items(), key=lambda item: -len(item[0]))
    uuids: dict[str, str] = {}

    def text(value: str, key: str) -> str:
        if value == e.role_arn:
            return "snf_role_arn"
        for name, placeholder in names:
            value = value.replace(name, placeholder)
        value = MAP_RUN.sub(r"\1<MapRunArnPart0_0idx>:<MapRunArnPart1_0idx>", value)
        if key.lower().endswith("id"):
            for found in UUID.findall(value):
                uuids.setdefault(found, f"<uuid:{len(uuids) + 1}>")
        for found, placeholder in uuids.items():
            value = value.replace(found, placeholder)
        value = value.replace(account, "111111111111").replace(region, "<region>")
        return value.replace("arn:aws:", "arn:<partition>:")

    def walk(value: Any, key: str = "") -> Any:
        if key == "ResponseMetadata":
            return {"HTTPHeaders": {}, "HTTPStatusCode": value["HTTPStatusCode"]}
        if isinstance(value, datetime):
            return "datetime"
        if isinstance(value, dict):
            return {k: walk(value[k], k) for k in sorted(value)}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        return text(value, key) if isinstance(value, str) else value

    return walk(decode_objects(response))


def lambda_headers(value: Any) -> Any:
    """Rule 8, on both sides (some recordings have the UUID rule's <uuid:N> there instead):
    lambda:invoke request ids, trace ids and dates are placeholders."""
    if isinstance(value, dict):
        out = {k: lambda_headers(v) for k, v in value.items()}
        for header in ("x-amzn-RequestId", "X-Amzn-Trace-Id"):
            if header in out:
                out[header] = header
        if isinstance(out.get("SdkResponseMetadata"), dict) and "RequestId" in out["SdkResponseMetadata"]:
            out["SdkResponseMetadata"]["RequestId"] = "RequestId"
        if "Date" in out and ("x-amzn-RequestId" in out or "Content-Type" in out):
            out["Date"] = "date"
        return out
    if isinstance(value, list):
        return [lambda_headers(v) for v in value]
    return value


def wildcards(value: Any, key: str = "") -> Any:
    """Both sides: every time is one wildcard; TestState's <resource:N> names are one wildcard."""
    if isinstance(value, dict):
        return {k: wildcards(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [wildcards(v, key) for v in value]
    if isinstance(value, str):
        if "timestamp" in key.lower() or value in TIME_WILDCARDS:
            return "date"
        return re.sub(r"<resource:\d+>", "<resource>", ISO_DATE.sub("date", value))
    return value


def _without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"} | {
        "ResponseMetadata": {"HTTPStatusCode": response["ResponseMetadata"]["HTTPStatusCode"]}}


def resources_as_wildcards(value: Any) -> Any:
    """Rule 6 for TestState: the last segment of every ARN (and that name anywhere) is <resource:N>."""
    text = json.dumps(value)
    segments = {re.split(r"[:/]", arn)[-1] for arn in re.findall(r'arn:[^"\\\s]+', text)}
    for segment in sorted(segments - {""}, key=len, reverse=True):
        text = text.replace(segment, "<resource:0>")
    return json.loads(text)


def parallel_as_multiset(events: list[dict], recorded: bool) -> list[dict]:
    """Rule 10: the events inside a Parallel state sorted by their JSON text, with id [0] and
    previousEventId 0 (AWS's ParallelStateSucceeded is not in that block). The event after the
    block points at an event of the block, so its previousEventId is not compared."""
    out: list[dict] = []
    block: list[dict] | None = None
    for event in events:
        inside = event.get("id") == [0] if recorded else block is not None and event["type"] not in (
            "ParallelStateExited", "ParallelStateFailed")
        if inside:
            if event["type"] != "ParallelStateSucceeded":
                block = (block or []) + [dict(event, id=[0], previousEventId=0)]
            continue
        if block is not None:
            out += sorted(block, key=lambda e: json.dumps(e, sort_keys=True))
            event = {k: v for k, v in event.items() if k != "previousEventId"}
            block = None
        out.append(event)
        if not recorded and event["type"] == "ParallelStateStarted":
            block = []
    return out + sorted(block or [], key=lambda e: json.dumps(e, sort_keys=True))


def normalised(meta: dict, e: EmulatorNames, recorded: dict, actual: dict) -> tuple[dict, dict]:
    """Both sides as the recording's normaliser leaves them (``meta``: the scenario.json)."""
    if meta["kind"] == "test-state":
        actual = resources_as_wildcards({k: _without_metadata(v) for k, v in actual.items()})
    actual = emulator_side(e, actual)
    if meta.get("parallel_events_normalised"):
        for key, response in actual.items():
            response["events"] = parallel_as_multiset(response["events"], recorded=False)
            recorded[key]["events"] = parallel_as_multiset(recorded[key]["events"], recorded=True)
    return wildcards(lambda_headers(recorded)), wildcards(lambda_headers(actual))


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where the two differ, one line each (the first few)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = [f"{path}.{k}: missing (AWS: {json.dumps(expected[k])[:150]})" for k in expected if k not in actual]
        out += [f"{path}.{k}: not in AWS (emulator: {json.dumps(actual[k])[:150]})"
                for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += differences(expected[k], actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            types = [e.get("type") for e in expected if isinstance(e, dict)], \
                [e.get("type") for e in actual if isinstance(e, dict)]
            return [f"{path}: {len(expected)} items in AWS, {len(actual)} on the emulator"
                    + (f"\n  AWS:      {types[0]}\n  emulator: {types[1]}" if any(types[0]) else "")]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, f"{path}[{i}]")]
    if expected != actual or type(expected) is not type(actual):
        return [f"{path}: AWS {json.dumps(expected)[:300]} != emulator {json.dumps(actual)[:300]}"]
    return []
