"""The patch layer: pinned to the moto it was written for, and each fix observable."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import moto
import pytest

from labhelpers.emulator import patching, registry, speed_interpreter
from labhelpers.emulator.control import log_file

ROOT = Path(__file__).parent.parent
EMULATOR = ROOT / "labhelpers" / "emulator"
STORED = patching.load_stored()
TARGETS = patching.targets_of(registry.all_patches())
#: The patch layer: its mechanism, its registry and every module that holds patches.
PATCH_MODULES = tuple(sorted(
    {"patching", "moto_compat", "registry", "speed_gains"}
    | {p.stem for p in EMULATOR.glob("*.py") if "\nPATCHES: list[Patch] = [" in p.read_text()}))


def test_moto_is_the_release_the_patches_were_written_for_and_the_lock_pins():
    assert moto.__version__ == STORED["written_for"]["moto"]
    lock = (ROOT / "requirements.lock").read_text()
    assert re.search(rf"^moto==({re.escape(moto.__version__)})\b", lock, re.M), "requirements.lock pins another moto"


@pytest.mark.parametrize("target", TARGETS)
def test_patched_moto_code_is_the_code_the_patch_was_written_for(target):
    # A moto upgrade that changes what a patch replaces or relies on must be looked at, not
    # silently patched over: `python -m labhelpers.emulator.registry --check` shows the diff.
    assert patching.target_source(target) == STORED["sources"].get(target), (
        f"moto changed {target}; re-check the patches that name it")


def test_every_stored_source_belongs_to_a_patch():
    assert sorted(STORED["sources"]) == TARGETS


def test_every_patch_has_a_unique_name_a_group_and_targets():
    patches = registry.all_patches()
    assert len({p.name for p in patches}) == len(patches)
    assert {p.group for p in patches} == {"correctness", "added_apis", "speed"}
    assert all(p.targets and p.why for p in patches)


def test_each_speed_patch_states_its_measured_gain():
    from labhelpers.emulator.speed_gains import GAINS

    speed = [p for p in registry.all_patches() if p.group == "speed"]
    assert speed and all(p.gain for p in speed), [p.name for p in speed if not p.gain]
    assert set(GAINS) == {p.name for p in speed}, "speed_gains.py names a patch that is not a speed patch"


def test_the_speed_group_can_be_left_out(monkeypatch):
    monkeypatch.setenv("LAB_EMULATOR_FAST", "0")
    assert {p.group for p in registry.selected()} == {"correctness", "added_apis"}
    monkeypatch.setenv("LAB_EMULATOR_FAST", "1")
    assert registry.selected() == registry.all_patches()
    monkeypatch.setenv("LAB_EMULATOR_SKIP_PATCHES", "jsonpath_parsed_once")
    assert "jsonpath_parsed_once" not in {p.name for p in registry.selected()}
    monkeypatch.setenv("LAB_EMULATOR_SKIP_PATCHES", "no_such_patch")
    with pytest.raises(ValueError, match="no_such_patch"):
        registry.selected()


def test_the_session_emulator_installed_the_groups_this_run_asked_for(lab, emulator_port):
    from labhelpers.emulator.control import probe

    health = probe(emulator_port)
    assert health["fast"] == registry.fast_enabled()
    assert health["patches"] == len(registry.selected())


def _altered(stored: dict, target: str) -> dict:
    sources = dict(stored["sources"])
    sources[target] = sources[target].replace("def ", "def old_", 1)
    return {"written_for": {**stored["written_for"], "moto": "5.2.5"}, "sources": sources}


def test_a_changed_target_is_reported_with_a_diff_and_the_versions():
    target = "moto.stepfunctions.parser.models:StepFunctionsParserBackend.start_execution"
    stored = _altered(STORED, target)
    with pytest.raises(patching.MotoMismatch) as caught:
        registry.verify_moto(stored=stored)
    message = str(caught.value)
    assert "written for moto 5.2.5" in message and f"has moto {moto.__version__}" in message
    assert "start_execution_names_like_aws" in message and "make" in message
    assert list(caught.value.changed) == [target]
    assert "-    def old_start_execution" in caught.value.changed[target]


def _server_with_stored(stored: dict, tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    """The emulator's server process, comparing moto with ``stored`` (nothing is installed)."""
    fake = tmp_path / "sources.json"
    fake.write_text(json.dumps(stored))
    script = ("import sys; from pathlib import Path; from labhelpers.emulator import patching; "
              f"patching.SOURCES_FILE = Path({str(fake)!r}); "
              "from labhelpers.emulator import server; server.main(sys.argv[1:])")
    environ = {k: v for k, v in os.environ.items() if k != "LAB_MOTO_CHECK"}
    return subprocess.Popen([sys.executable, "-c", script, "--port", str(port), "--cpu", "all",
                             "--log-file", str(tmp_path / "log")], cwd=ROOT, env={**environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_the_emulator_refuses_to_start_on_a_moto_it_was_not_written_for(tmp_path):
    target = "moto.cloudwatch.models:CloudWatchBackend.get_metric_data"
    server = _server_with_stored(_altered(STORED, target), tmp_path, port=1)
    _, stderr = server.communicate(timeout=120)
    assert server.returncode == 3, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("labhelpers emulator: The emulator's patches were written for")
    assert "moto 5.2.5" in lines[0] and f"moto {moto.__version__}" in lines[0]
    assert "metric_data_match_exact_dimensions" in lines[0] and "`make`" in lines[0]


def test_lab_moto_check_warn_starts_anyway_and_logs_the_difference(tmp_path):
    # For `make moto-next`: the behaviour tests run against a moto the patches were not written for.
    from labhelpers.emulator import control

    port = _free_port()
    target = "moto.cloudwatch.models:CloudWatchBackend.get_metric_data"
    server = _server_with_stored(_altered(STORED, target), tmp_path, port, LAB_MOTO_CHECK="warn")
    try:
        deadline = time.monotonic() + 60
        while control.probe(port) is None:
            assert server.poll() is None and time.monotonic() < deadline, server.communicate()[1]
            time.sleep(0.05)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert "written for moto 5.2.5" in stderr and "starting anyway: LAB_MOTO_CHECK=warn" in stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_aws_errors_are_built_for_either_moto_error_base(monkeypatch):
    import moto.core.exceptions as exceptions

    from labhelpers.emulator import moto_compat

    moto_compat._error_class.cache_clear()
    new = moto_compat.aws_error("InvalidName", "bad name")
    assert isinstance(new, exceptions.ServiceException) and (new.code, new.message) == ("InvalidName", "bad name")
    assert moto_compat.error_code(new) == "InvalidName" and moto_compat.error_message(new) == "bad name"

    class AWSError(exceptions.JsonRESTError):  # moto 5.2.5's base, as it was there
        TYPE: str | None = None
        STATUS = 400

        def __init__(self, message: str, exception_type: str | None = None, status: int | None = None):
            super().__init__(exception_type or self.TYPE, message)
            self.code = status or self.STATUS

    monkeypatch.delattr(exceptions, "ServiceException")
    monkeypatch.setattr(exceptions, "AWSError", AWSError, raising=False)
    moto_compat._error_class.cache_clear()
    try:
        old = moto_compat.aws_error("InvalidName", "bad name")
        assert isinstance(old, AWSError) and old.code == 400
        assert json.loads(old.get_body()) == {"__type": "InvalidName", "message": "bad name"}
        assert moto_compat.error_code(old) == "InvalidName" and moto_compat.moto_errors() == (
            exceptions.JsonRESTError,)
    finally:
        moto_compat._error_class.cache_clear()


def test_the_emulator_answers_an_invalid_definition_as_aws_does(lab):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        lab.sfn.create_state_machine(name="compat-invalid", roleArn="arn:aws:iam::123456789012:role/r",
                                     definition=json.dumps({"StartAt": "Nowhere", "States": {}}))
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidDefinition"
    assert error["Error"]["Message"].startswith("Invalid State Machine Definition: ")


def _imports(module: str) -> set[str]:
    tree = ast.parse((EMULATOR / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "labhelpers.emulator":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("labhelpers.emulator."):
                found.add(node.module.rsplit(".", 1)[1])
            elif node.module.startswith("labhelpers"):
                found.add(node.module)
    return found


def test_the_patch_modules_import_no_cycle_and_the_mechanism_is_a_leaf():
    assert not {m for m in _imports("patching") | _imports("moto_compat") if m.startswith("labhelpers")}
    assert _imports("patching") == set() and _imports("moto_compat") == set()
    graph = {m: _imports(m) & set(PATCH_MODULES) for m in PATCH_MODULES}

    def reaches(start: str, goal: str, seen: set) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert [m for m in PATCH_MODULES if reaches(m, m, set())] == []


def test_every_module_with_patches_is_installed_by_the_registry():
    import importlib

    declared = {p.name for m in PATCH_MODULES
                for p in getattr(importlib.import_module(f"labhelpers.emulator.{m}"), "PATCHES", [])}
    assert declared == {p.name for p in registry.all_patches()}


@pytest.mark.parametrize("module", PATCH_MODULES)
def test_each_patch_module_stays_readable(module):
    assert len((EMULATOR / f"{module}.py").read_text().splitlines()) <= 500


def test_every_module_importing_boto_client_for_is_patched(moto_sources):
    users = sorted(name for name, text in moto_sources.items() if "import boto_client_for" in text)
    assert users == sorted(speed_interpreter.BOTO_CLIENT_USERS)


def test_unnamed_executions_get_unique_uuid_names(lab):
    arns = [lab.sfn.start_execution(stateMachineArn=lab.state_machine_arn,
                                    input=json.dumps({"user_id": f"n{i}", "level": "x", "score": 1,
                                                      "max_score": 2, "time_played": 3}))["executionArn"]
            for i in range(2)]
    names = [arn.rsplit(":", 1)[-1] for arn in arns]
    assert names[0] != names[1]
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", n) for n in names)


def test_list_metrics_lists_each_metric_once(lab):
    for value in (1.0, 2.0, 3.0):
        lab.cloudwatch.put_metric_data(Namespace="PatchTest", MetricData=[
            {"MetricName": "NoDimensions", "Value": value, "Unit": "Seconds"}])
    metrics = lab.cloudwatch.list_metrics(Namespace="PatchTest")["Metrics"]
    assert metrics == [{"Namespace": "PatchTest", "MetricName": "NoDimensions", "Dimensions": []}]


def test_a_failing_execution_does_not_dump_the_definition_into_the_log(lab, emulator_port):
    from labhelpers import run_execution

    execution = run_execution({"user_id": "dump", "level": "latest", "score": 1, "max_score": 2,
                               "total_score": 3}, lab=lab)  # no time_played: PutMetric fails
    assert execution.status == "FAILED"
    text = log_file(emulator_port).read_text()
    assert "StateTaskLambda|" not in text and "'resource_arn'" not in text


def test_percentile_statistics_are_computed_from_raw_datapoints(lab):
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    for value in range(1, 101):
        lab.cloudwatch.put_metric_data(Namespace="PatchPercentiles", MetricData=[
            {"MetricName": "Played", "Value": float(value), "Unit": "Seconds", "Timestamp": now}])
    resp = lab.cloudwatch.get_metric_data(
        StartTime=now - timedelta(minutes=1), EndTime=now + timedelta(minutes=1),
        MetricDataQueries=[{"Id": f"p{p}", "MetricStat": {
            "Metric": {"Namespace": "PatchPercentiles", "MetricName": "Played"}, "Period": 300, "Stat": f"p{p}"}}
            for p in (10, 50, 90)])
    values = {r["Id"]: r["Values"] for r in resp["MetricDataResults"]}
    assert values == {"p10": [10.0], "p50": [50.0], "p90": [90.0]}


def test_describe_execution_returns_json_text_for_a_string_output(lab):
    from labhelpers.playground import run_playground

    execution = run_playground({"StartAt": "Say", "States": {"Say": {"Type": "Pass", "Result": "done", "End": True}}},
                               {}, base="DescribePatchTest", lab=lab)
    described = lab.sfn.describe_execution(executionArn=execution.arn)
    assert described["output"] == '"done"'
    assert described["stopDate"] >= described["startDate"]
    assert json.loads(described["input"]) == {}


def test_escaped_characters_in_definition_strings_mean_what_json_says(lab):
    from labhelpers.playground import run_playground

    definition = {"StartAt": "Pick", "States": {"Pick": {"Type": "Pass", "End": True, "Parameters": {
        "literal": "say \"hi\"", "backslash": "a\\b", "unicode": "caf\u00e9",
        "double_quoted.$": "$.items[?(@.name == \"b\")].v", "single_quoted.$": "$.items[?(@.name == 'b')].v"}}}}
    execution = run_playground(definition, {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]},
                               base="EscapesPatchTest", lab=lab)
    assert execution.status == "SUCCEEDED", execution.description.get("cause")
    assert execution.output == {"literal": 'say "hi"', "backslash": "a\\b", "unicode": "caf\u00e9",
                                "double_quoted": [2], "single_quoted": [2]}


def test_a_choice_on_a_missing_path_fails_with_states_runtime(lab):
    from labhelpers.playground import try_choice

    table = try_choice([{"Variable": "$.level", "StringEquals": "latest", "Next": "Last"}],
                       [{"user_id": "x"}, {"level": "latest"}], lab=lab)
    assert table["error"].iloc[0] == "States.Runtime" and table["error"].isna().iloc[1]
    assert table["branch"].iloc[1] == "Last"
    present = try_choice([{"Variable": "$.level", "IsPresent": False, "Next": "Missing"}], [{}], lab=lab)
    assert present["branch"].tolist() == ["Missing"]


def test_a_states_error_in_a_parallel_branch_fails_the_execution_with_its_own_name(lab):
    from labhelpers.playground import run_playground

    branch = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.level", "StringEquals": "x", "Next": "A"}], "Default": "A"},
        "A": {"Type": "Pass", "End": True}}}
    execution = run_playground({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [branch]}}},
                               {}, base="ParallelRuntimeError", lab=lab)
    assert execution.error == "States.Runtime"
    assert "Invalid path '$.level'" in execution.cause and "Custom Error" not in execution.cause


def test_a_states_error_in_a_map_iteration_can_be_caught_by_name(lab):
    from labhelpers.playground import run_playground

    processor = {"StartAt": "Read", "States": {"Read": {"Type": "Pass", "InputPath": "$.missing", "End": True}}}
    definition = {"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True,
              "Catch": [{"ErrorEquals": ["States.Runtime"], "ResultPath": "$.error", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}
    execution = run_playground(definition, {"items": [{"a": 1}]}, base="MapRuntimeError", lab=lab)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["error"]["Error"] == "States.Runtime"


def test_metric_queries_match_the_exact_dimension_set(lab):
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    put = lab.cloudwatch.put_metric_data
    put(Namespace="PatchDims", MetricData=[{"MetricName": "Played", "Value": 1.0, "Timestamp": now}])
    put(Namespace="PatchDims", MetricData=[{"MetricName": "Played", "Value": 10.0, "Timestamp": now,
                                             "Dimensions": [{"Name": "Level", "Value": "latest"}]}])
    window = {"StartTime": now - timedelta(minutes=1), "EndTime": now + timedelta(minutes=1)}
    stats = lab.cloudwatch.get_metric_statistics(Namespace="PatchDims", MetricName="Played", Period=300,
                                                 Statistics=["Sum"], **window)["Datapoints"]
    assert [p["Sum"] for p in stats] == [1.0]
    level = lab.cloudwatch.get_metric_statistics(Namespace="PatchDims", MetricName="Played", Period=300,
                                                 Statistics=["Sum"], Dimensions=[{"Name": "Level", "Value": "latest"}],
                                                 **window)["Datapoints"]
    assert [p["Sum"] for p in level] == [10.0]
    metric = {"Namespace": "PatchDims", "MetricName": "Played"}
    data = lab.cloudwatch.get_metric_data(MetricDataQueries=[
        {"Id": "plain", "MetricStat": {"Metric": metric, "Period": 300, "Stat": "Sum"}},
        {"Id": "latest", "MetricStat": {"Metric": {**metric, "Dimensions": [{"Name": "Level", "Value": "latest"}]},
                                        "Period": 300, "Stat": "Sum"}}], **window)["MetricDataResults"]
    assert {r["Id"]: r["Values"] for r in data} == {"plain": [1.0], "latest": [10.0]}
