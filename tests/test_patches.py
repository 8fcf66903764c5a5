"""The patch layer: pinned to the moto it was written for, and each fix observable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import moto
import pytest

from labhelpers.emulator import patches
from labhelpers.emulator.control import log_file


def test_moto_is_the_series_the_patches_were_written_for():
    assert moto.__version__.startswith(patches.MOTO_SERIES)
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    pin = re.search(r'"moto\[server\]~=([\d.]+)"', pyproject).group(1)
    assert pin.startswith(patches.MOTO_SERIES)


@pytest.mark.parametrize("patch", patches.all_patches(), ids=lambda p: p.name)
def test_patched_moto_function_is_unchanged(patch):
    # A moto upgrade that changes a patched function must be looked at, not silently patched over.
    assert patches.source_fingerprint(patch.original()) == patch.source_sha256, (
        f"moto changed {patch.module}.{patch.attribute}; re-check patch {patch.name} ({patch.why})")


def test_every_module_importing_boto_client_for_is_patched(moto_sources):
    users = sorted(name for name, text in moto_sources.items() if "import boto_client_for" in text)
    assert users == sorted(patches.BOTO_CLIENT_USERS)


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
