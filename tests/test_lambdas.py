"""Unit tests for the four lab Lambda handlers, run against moto in-process.

Each handler file is called lambda_function.py, so each is loaded under its own
module name with importlib. Modules are loaded inside mock_aws so that the
module-level boto3 clients they create are mocked too.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"
DATA = ROOT / "data"
REGION = "us-east-1"
BUCKET = "lab-reports-bucket"
TABLE = "CompletedLevel"
SEED = json.loads((DATA / "seed_input.json").read_text(encoding="utf-8"))
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def load_handler(function_name: str):
    """Import lambdas/<function_name>/lambda_function.py under a unique module name."""
    path = LAMBDAS / function_name / "lambda_function.py"
    mod_name = f"lab_lambda_{function_name}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(mod_name, None)
    return module


@pytest.fixture(autouse=True)
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("REPORT_BUCKET", BUCKET)
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB",
                "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_PROFILE", "TABLE_NAME"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def mocked():
    with mock_aws():
        yield


@pytest.fixture
def bucket(mocked):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture
def table(mocked):
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


# --------------------------------------------------------------- GenerateReport

def test_generate_report_writes_private_text_report(bucket):
    mod = load_handler("GenerateReport")
    event = dict(SEED)
    result = mod.lambda_handler(event, None)
    assert result == SEED  # passes the event on unchanged

    key = "12345678901234567890_report_latest.txt"
    obj = bucket.get_object(Bucket=BUCKET, Key=key)
    assert obj["Body"].read() == b"Completed Level: latest\nMy Score: 10/100\n"
    assert obj["ContentType"] == "text/plain"

    grants = bucket.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert not any(g["Grantee"].get("URI") == ALL_USERS for g in grants)
    assert [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]] == [key]


def test_generate_report_unicode_user(bucket):
    mod = load_handler("GenerateReport")
    event = {"user_id": "Zoë-東京", "level": "level-2", "score": 7, "max_score": 9}
    assert mod.lambda_handler(event, None) == event
    body = bucket.get_object(Bucket=BUCKET, Key="Zoë-東京_report_level-2.txt")["Body"].read()
    assert body.decode("utf-8") == "Completed Level: level-2\nMy Score: 7/9\n"


@pytest.mark.parametrize("field", ["user_id", "level"])
def test_generate_report_missing_field(bucket, field):
    mod = load_handler("GenerateReport")
    event = {k: v for k, v in SEED.items() if k != field}
    with pytest.raises(ValueError, match=field):
        mod.lambda_handler(event, None)
    assert "Contents" not in bucket.list_objects_v2(Bucket=BUCKET)


def test_generate_report_needs_bucket_env(bucket, monkeypatch):
    monkeypatch.delenv("REPORT_BUCKET")
    mod = load_handler("GenerateReport")
    with pytest.raises(ValueError, match="REPORT_BUCKET"):
        mod.lambda_handler(dict(SEED), None)


# -------------------------------------------------------------- EndsSimpleLevel

def test_ends_simple_level_updates_item(table):
    mod = load_handler("EndsSimpleLevel")
    event = dict(SEED, level="level-3")
    assert mod.lambda_handler(event, None) == event

    item = table.get_item(TableName=TABLE, Key={"user_id": {"S": SEED["user_id"]}})["Item"]
    assert item["last_level"] == {"S": "level-3"}
    assert float(item["timestamp"]["S"]) > 0
    assert "completed" not in item


def test_ends_simple_level_keeps_other_attributes(table):
    """update_item only touches last_level and timestamp, unlike put_item."""
    load_handler("EndsLastLevel").lambda_handler(dict(SEED), None)
    load_handler("EndsSimpleLevel").lambda_handler(dict(SEED, level="level-4"), None)
    item = table.get_item(TableName=TABLE, Key={"user_id": {"S": SEED["user_id"]}})["Item"]
    assert item["completed"] == {"BOOL": True}
    assert item["total_score"] == {"N": "10000"}
    assert item["last_level"] == {"S": "level-4"}


def test_ends_simple_level_table_name_from_env(table, monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "OtherTable")
    table.create_table(
        TableName="OtherTable",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    load_handler("EndsSimpleLevel").lambda_handler(dict(SEED, level="level-1"), None)
    assert table.scan(TableName="OtherTable")["Count"] == 1
    assert table.scan(TableName=TABLE)["Count"] == 0


@pytest.mark.parametrize("field", ["user_id", "level"])
def test_ends_simple_level_missing_field(table, field):
    mod = load_handler("EndsSimpleLevel")
    with pytest.raises(ValueError, match=field):
        mod.lambda_handler({k: v for k, v in SEED.items() if k != field}, None)
    assert table.scan(TableName=TABLE)["Count"] == 0


# ---------------------------------------------------------------- EndsLastLevel

def test_ends_last_level_puts_item(table):
    mod = load_handler("EndsLastLevel")
    event = dict(SEED)
    assert mod.lambda_handler(event, None) == SEED

    item = table.get_item(TableName=TABLE, Key={"user_id": {"S": SEED["user_id"]}})["Item"]
    assert item["completed"] == {"BOOL": True}
    assert item["total_score"] == {"N": "10000"}
    assert float(item["timestamp"]["S"]) > 0


@pytest.mark.parametrize("field", ["user_id", "total_score"])
def test_ends_last_level_missing_field(table, field):
    mod = load_handler("EndsLastLevel")
    with pytest.raises(ValueError, match=field):
        mod.lambda_handler({k: v for k, v in SEED.items() if k != field}, None)
    assert table.scan(TableName=TABLE)["Count"] == 0


def test_ends_last_level_rejects_non_number_score(table):
    mod = load_handler("EndsLastLevel")
    with pytest.raises(ValueError, match="total_score"):
        mod.lambda_handler(dict(SEED, total_score="lots"), None)


# -------------------------------------------------------------------- PutMetric

def _datapoints(value_window_minutes: int = 10):
    cw = boto3.client("cloudwatch", region_name=REGION)
    now = dt.datetime.now(dt.timezone.utc)
    return cw.get_metric_statistics(
        Namespace="FLOW",
        MetricName="CompleteLevel",
        StartTime=now - dt.timedelta(minutes=value_window_minutes),
        EndTime=now + dt.timedelta(minutes=value_window_minutes),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]


def test_put_metric_publishes_time_played(mocked):
    mod = load_handler("PutMetric")
    # The Parallel state's output: one entry per branch.
    parallel_output = [dict(SEED), dict(SEED)]
    assert mod.lambda_handler(parallel_output, None) is True

    points = _datapoints()
    assert len(points) == 1
    assert points[0]["Sum"] == 9885983982
    assert points[0]["SampleCount"] == 1
    assert points[0]["Unit"] == "Seconds"

    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="FLOW")["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["CompleteLevel"]


def test_put_metric_zero_is_a_value(mocked):
    mod = load_handler("PutMetric")
    assert mod.lambda_handler([dict(SEED, time_played=0)], None) is True
    points = _datapoints()
    assert len(points) == 1 and points[0]["Sum"] == 0


@pytest.mark.parametrize(
    "event, expected",
    [
        ([{k: v for k, v in SEED.items() if k != "time_played"}], "time_played"),
        ([dict(SEED, time_played="soon")], "time_played"),
        ([dict(SEED, time_played=False)], "time_played"),
        ([], "non-empty list"),
        (dict(SEED), "non-empty list"),
        (None, "non-empty list"),
        (["not an object"], "non-empty list"),
    ],
)
def test_put_metric_bad_input(mocked, event, expected):
    mod = load_handler("PutMetric")
    with pytest.raises(ValueError, match=expected) as info:
        mod.lambda_handler(event, None)
    assert "got" in str(info.value)  # says what arrived, too
    assert _datapoints() == []


# ------------------------------------------------------------------- data files

SEED_ASL = {
    "StartAt": "StartTask",
    "States": {
        "StartTask": {
            "Type": "Parallel",
            "Next": "CWMetric",
            "Branches": [
                {"StartAt": "Gen Report",
                 "States": {"Gen Report": {"Type": "Task", "End": True}}},
                {"StartAt": "UpdateDB",
                 "States": {
                     "UpdateDB": {"Type": "Choice",
                                  "Choices": [{"Variable": "$.level", "StringEquals": "latest",
                                               "Next": "Last Level"}],
                                  "Default": "Simple Level"},
                     "Last Level": {"Type": "Task", "End": True},
                     "Simple Level": {"Type": "Task", "End": True}}},
            ],
        },
        "CWMetric": {"Type": "Task", "End": True},
    },
}

PLACEHOLDERS = {
    "Partition": "aws",
    "Region": "us-west-2",
    "AccountId": "123456789012",
    "GenerateReportFunctionName": "GenerateReport",
    "EndsLastLevelFunctionName": "EndsLastLevel",
    "EndsSimpleLevelFunctionName": "EndsSimpleLevel",
    "PutMetricFunctionName": "PutMetric",
}


def _strip(node):
    """Drop Comment and Resource so only the flow structure is compared."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in ("Comment", "Resource")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def test_state_machine_template_matches_seed():
    from labhelpers.lab import Lab
    from labhelpers.resources import _PLACEHOLDER, render_definition

    text = (DATA / "state_machine.asl.json").read_text(encoding="utf-8")
    assert set(_PLACEHOLDER.findall(text)) == set(PLACEHOLDERS)  # no other placeholders
    # A Lab handle only names things here: it makes no AWS call.
    definition = json.loads(render_definition(Lab(target="emulator", region="us-west-2")))

    assert definition["Comment"]
    assert _strip(definition) == SEED_ASL

    arn = "arn:aws:lambda:us-west-2:123456789012:function:%s"
    states = definition["States"]
    report_branch, db_branch = states["StartTask"]["Branches"]
    assert report_branch["States"]["Gen Report"]["Resource"] == arn % "GenerateReport"
    assert db_branch["States"]["Last Level"]["Resource"] == arn % "EndsLastLevel"
    assert db_branch["States"]["Simple Level"]["Resource"] == arn % "EndsSimpleLevel"
    assert states["CWMetric"]["Resource"] == arn % "PutMetric"


def test_seed_input_is_the_labs_input():
    assert SEED == {
        "user_id": "12345678901234567890",
        "level": "latest",
        "score": 10,
        "max_score": 100,
        "time_played": 9885983982,
        "total_score": 10000,
    }


def test_varied_inputs_shape():
    entries = json.loads((DATA / "varied_inputs.json").read_text(encoding="utf-8"))
    assert isinstance(entries, list) and 8 <= len(entries) <= 10
    names = [e["name"] for e in entries]
    assert len(set(names)) == len(names)
    for e in entries:
        assert set(e) == {"name", "description", "input"}
        assert e["name"] and e["name"] == e["name"].lower() and " " not in e["name"]
        assert isinstance(e["description"], str) and e["description"].strip()
        assert isinstance(e["input"], dict)
    inputs = {e["name"]: e["input"] for e in entries}
    assert SEED in inputs.values()
    levels = [i.get("level") for i in inputs.values()]
    assert "latest" in levels and "Latest" in levels and None in levels
    assert any(l not in (None, "latest") for l in levels)  # a simple level
    assert any("time_played" not in i for i in inputs.values())
    assert any("user_id" not in i for i in inputs.values())
    assert any(i.get("time_played") == 0 for i in inputs.values())
    assert any(i.get("score") == 10**12 and i.get("time_played") == 10**9 for i in inputs.values())
    assert any(not str(i.get("user_id", "")).isascii() for i in inputs.values())
