"""The seed workflow, end to end on the emulator: real handler code, real side effects."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from labhelpers import config, deploy, run_execution, start_execution
from labhelpers.errors import InputError

SEED = json.loads((config.DATA_DIR / "seed_input.json").read_text())


def _state_names(execution) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution.events if "stateEnteredEventDetails" in e]


def _metric_values(lab, since: datetime) -> list[float]:
    resp = lab.cloudwatch.get_metric_statistics(
        Namespace="FLOW", MetricName="CompleteLevel", StartTime=since - timedelta(minutes=5),
        EndTime=datetime.now(timezone.utc) + timedelta(minutes=5), Period=60,
        Statistics=["Maximum", "SampleCount"], Unit="Seconds")
    return [p["Maximum"] for p in resp["Datapoints"]]


def test_seed_input_succeeds_with_every_side_effect(lab):
    since = datetime.now(timezone.utc)
    execution = run_execution(config.DATA_DIR / "seed_input.json", lab=lab)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output is True

    body = lab.s3.get_object(Bucket=lab.names.bucket, Key="12345678901234567890_report_latest.txt")["Body"].read()
    assert body.decode() == "Completed Level: latest\nMy Score: 10/100\n"
    grants = lab.s3.get_object_acl(Bucket=lab.names.bucket, Key="12345678901234567890_report_latest.txt")["Grants"]
    assert not [g for g in grants if "AllUsers" in g["Grantee"].get("URI", "")]

    item = lab.dynamodb.get_item(TableName=lab.names.table, Key={"user_id": {"S": SEED["user_id"]}})["Item"]
    assert item["completed"] == {"BOOL": True}
    assert item["total_score"] == {"N": "10000"}

    assert 9885983982.0 in _metric_values(lab, since)
    names = _state_names(execution)
    assert "Last Level" in names and "Simple Level" not in names


def test_other_level_takes_simple_level_and_records_it(lab):
    execution = run_execution({**SEED, "user_id": "simple-player", "level": "level-3"}, lab=lab)
    assert execution.status == "SUCCEEDED", execution.cause
    names = _state_names(execution)
    assert "Simple Level" in names and "Last Level" not in names
    item = lab.dynamodb.get_item(TableName=lab.names.table, Key={"user_id": {"S": "simple-player"}})["Item"]
    assert item["last_level"] == {"S": "level-3"}


def test_forty_unnamed_executions_at_once_all_succeed(lab):
    inputs = [{**SEED, "user_id": f"player-{i:02d}", "level": "latest" if i % 2 else f"level-{i}"} for i in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        executions = list(pool.map(lambda i: start_execution(i, lab=lab), inputs))
    assert len({e.arn for e in executions}) == 40
    for execution in executions:
        execution.wait(timeout=120)
    assert [e.status for e in executions] == ["SUCCEEDED"] * 40
    for payload in inputs:
        key = f"{payload['user_id']}_report_{payload['level']}.txt"
        assert lab.s3.get_object(Bucket=lab.names.bucket, Key=key)["Body"].read().startswith(b"Completed Level")
        item = lab.dynamodb.get_item(TableName=lab.names.table, Key={"user_id": {"S": payload["user_id"]}})["Item"]
        assert ("completed" in item) == (payload["level"] == "latest")


def test_deploy_is_idempotent_and_picks_up_changed_definitions(lab):
    first = deploy(lab)
    second = deploy(lab)
    assert first == second
    assert len(lab.sfn.list_state_machines()["stateMachines"]) >= 1


def test_missing_time_played_fails_the_execution_with_a_clear_cause(lab):
    payload = {k: v for k, v in SEED.items() if k != "time_played"}
    execution = run_execution({**payload, "user_id": "no-time"}, lab=lab)
    assert execution.status == "FAILED"
    assert execution.error == "ValueError"
    assert "time_played" in execution.cause


def test_bad_input_file_names_the_file(tmp_path, lab):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="broken.json"):
        run_execution(bad, lab=lab)
