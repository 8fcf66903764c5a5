"""The AWS target without an AWS account: LAB_TARGET=aws pointed at the test emulator.

boto3 honours AWS_ENDPOINT_URL, so the code path used on a real account (standard credential
chain, STS for the account id, per-student prefixes, confirmation, cleanup) runs unchanged here.
moto enforces no IAM, so the least-privilege policies are asserted as JSON documents.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labhelpers import config, connect, resources
from labhelpers.errors import TargetError
from labhelpers.lab import LabNames

ACCOUNT, REGION = "123456789012", "us-west-2"
SEED = json.loads((config.DATA_DIR / "seed_input.json").read_text())
MUTATING = re.compile(r"^(Create|Put|Update|Delete|Start|Stop|Tag|Untag|Attach|Detach|Abort|Publish|Invoke|Send)")


@pytest.fixture(scope="module")
def aws_env(lab) -> dict[str, str]:
    """The environment of a student who chose AWS, with the emulator standing in for AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAB_"))}
    env.update(LAB_TARGET="aws", AWS_ENDPOINT_URL=lab.endpoint_url, AWS_ACCESS_KEY_ID="fake-key-id",
               AWS_SECRET_ACCESS_KEY="fake-secret", AWS_DEFAULT_REGION=REGION,
               # The developer's own ~/.aws must not change what these tests do.
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               LAB_STATE_DIR=os.environ["LAB_STATE_DIR"])
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # stdin is not a terminal: without --yes the CLI must refuse rather than wait for an answer.
    return subprocess.run([sys.executable, "-m", "labhelpers", *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def aws_connect(monkeypatch, aws_env):
    """connect(target="aws", prefix=...) in this process, with the AWS environment above."""
    for key in [k for k in os.environ if k.startswith(("AWS_", "LAB_"))]:
        monkeypatch.delenv(key)
    for key, value in aws_env.items():
        if key.startswith(("AWS_", "LAB_")):
            monkeypatch.setenv(key, value)
    return lambda prefix: connect(target="aws", prefix=prefix)


def _snapshot(lab) -> dict[str, Any]:
    """Everything in the emulator's account that the lab could create, to prove nothing changed."""
    fns = [f["FunctionName"] for p in lab.lambda_.get_paginator("list_functions").paginate() for f in p["Functions"]]
    roles = [r["RoleName"] for p in lab.iam.get_paginator("list_roles").paginate() for r in p["Roles"]]
    return {
        "functions": sorted(fns),
        "tables": sorted(lab.dynamodb.list_tables()["TableNames"]),
        "buckets": sorted(b["Name"] for b in lab.s3.list_buckets()["Buckets"]),
        "roles": sorted(roles),
        "role policies": {r: lab.iam.list_role_policies(RoleName=r)["PolicyNames"] for r in roles},
        "state machines": sorted(m["name"] for m in lab.sfn.list_state_machines()["stateMachines"]),
        "log groups": sorted(g["logGroupName"] for g in lab.logs.describe_log_groups()["logGroups"]),
    }


def _names_with(snapshot: dict[str, Any], needle: str) -> list[str]:
    return [name for key, names in snapshot.items() if key != "role policies" for name in names if needle in name]


@pytest.fixture(scope="module")
def two_labs(aws_env, lab) -> dict[str, subprocess.CompletedProcess]:
    """alice and bob deployed side by side through the CLI, as two students would."""
    out = {p: _cli(aws_env, "deploy", "--prefix", p, "--yes") for p in ("alice", "bob")}
    for p, result in out.items():
        assert result.returncode == 0, f"{p}: {result.stdout}\n{result.stderr}"
    return out


# --- names ---------------------------------------------------------------------------

BUCKET_RULE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


@pytest.mark.parametrize("region", ["us-west-2", "ap-southeast-2", "us-gov-west-1"])
def test_bucket_names_are_valid_and_unique_for_odd_prefixes(region):
    prefixes = ["", "alice", "Alice", "ALICE", "a" * 32, "a" * 31 + "b", "Weird_Pre.fix", "x-" * 20,
                "-dash-", "élève", "9" * 60]
    names = [LabNames(p, ACCOUNT, region).bucket for p in prefixes]
    for prefix, name in zip(prefixes, names):
        assert BUCKET_RULE.match(name), (prefix, name)
        assert "--" not in name and not name.startswith("xn--"), name
        assert ACCOUNT in name and name.endswith(region), name  # unique per account and region
    assert len(set(names)) == len(names)  # and per prefix, even when the prefix had to be changed
    assert LabNames("alice", ACCOUNT, region).bucket == f"sfn-lab-alice-{ACCOUNT}-{region}"
    assert LabNames("alice", "210987654321", region).bucket != names[1]


def test_prefixes_are_checked_and_lower_cased(aws_connect):
    lab = aws_connect("Alice")
    assert lab.prefix == "alice"  # IAM role names ignore case: Alice and alice are one student
    assert lab.names.state_machine == "alice-CompleteLevelFlow"
    long = aws_connect("s" * 32)
    assert len(long.names.lambda_role) <= 64 and len(long.names.function("EndsSimpleLevel")) <= 64
    assert BUCKET_RULE.match(long.names.bucket)
    for bad in ("alice_smith", "-alice", "alice-", "a" * 33, "al ice"):
        with pytest.raises(TargetError, match="LAB_PREFIX"):
            aws_connect(bad)


def test_every_resource_name_carries_the_prefix(aws_connect):
    n = aws_connect("alice").names
    names = [*n.functions.values(), n.table, n.state_machine, n.lambda_role, n.states_role, *n.log_groups]
    assert all("alice-" in name for name in names), names
    assert "-alice-" in n.bucket


# --- the danger case: no explicit target ---------------------------------------------

REAL_LOOKING = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "AWS_SESSION_TOKEN": "real-looking-session-token", "AWS_PROFILE": "production",
                "AWS_ENDPOINT_URL": "https://real-aws.invalid", "AWS_DEFAULT_REGION": "eu-central-1"}


def test_without_an_explicit_target_real_credentials_are_never_used(monkeypatch, emulator_port):
    monkeypatch.delenv("LAB_TARGET", raising=False)
    for key, value in REAL_LOOKING.items():
        monkeypatch.setenv(key, value)
    lab = connect()
    assert lab.target == "emulator"
    emulator = f"http://127.0.0.1:{emulator_port}"
    for service in ("stepfunctions", "lambda", "s3", "dynamodb", "iam", "logs", "cloudwatch", "sts"):
        assert lab.client(service).meta.endpoint_url == emulator, service
    credentials = lab.session.get_credentials().get_frozen_credentials()
    assert (credentials.access_key, credentials.secret_key) == ("testing", "testing")
    assert lab.account_id == ACCOUNT
    lab.sfn.list_state_machines()  # answered by the emulator, despite AWS_PROFILE and AWS_ENDPOINT_URL


def test_the_cli_without_an_explicit_target_stays_on_the_emulator(aws_env, emulator_port):
    env = {**{k: v for k, v in aws_env.items() if k != "LAB_TARGET"}, **REAL_LOOKING,
           "LAB_EMULATOR_PORT": str(emulator_port)}
    result = _cli(env, "deploy", "--prefix", "nobody", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"the local emulator at http://127.0.0.1:{emulator_port}" in result.stdout
    assert "AWS:" not in result.stdout


# --- two students side by side ------------------------------------------------------------

def test_deploy_shows_account_region_prefix_and_resources_before_creating(two_labs):
    out = two_labs["alice"].stdout
    head = out.splitlines()[0]
    assert head == f"Deploy to AWS: account {ACCOUNT}, region {REGION}, prefix alice"
    for name in ("alice-CompletedLevel", "alice-CompleteLevelFlow", "alice-StepFunctionsLabLambdaRole",
                 "alice-StepFunctionsLabStatesRole", "/aws/lambda/alice-PutMetric", "alice-GenerateReport",
                 f"sfn-lab-alice-{ACCOUNT}-{REGION}"):
        assert re.search(rf"^\s+create\s+.*{re.escape(name)}$", out, re.M), name
    assert out.count("Deploy to AWS") == 1  # the CLI's confirmation plan is not printed twice
    assert out.strip().splitlines()[-1] == (f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:alice-CompleteLevelFlow")


def test_two_prefixes_run_side_by_side_with_their_own_data(two_labs, aws_env, lab):
    for prefix in ("alice", "bob"):
        payload = json.dumps({**SEED, "user_id": f"{prefix}-player"})
        result = _cli(aws_env, "run", "--target", "aws", "--prefix", prefix, "--input", payload)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines()[0] == "SUCCEEDED"
    for prefix, other in (("alice", "bob"), ("bob", "alice")):
        bucket = LabNames(prefix, ACCOUNT, REGION).bucket
        keys = [o["Key"] for o in lab.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert keys == [f"{prefix}-player_report_latest.txt"]
        table = f"{prefix}-CompletedLevel"
        assert lab.dynamodb.get_item(TableName=table, Key={"user_id": {"S": f"{prefix}-player"}})["Item"]
        assert "Item" not in lab.dynamodb.get_item(TableName=table, Key={"user_id": {"S": f"{other}-player"}})
        env = lab.lambda_.get_function_configuration(FunctionName=f"{prefix}-GenerateReport")["Environment"]
        assert env["Variables"] == {"REPORT_BUCKET": bucket, "TABLE_NAME": table}


def test_role_policies_are_the_least_privilege_documents(two_labs, lab):
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:alice-"
    fns = ["GenerateReport", "EndsSimpleLevel", "EndsLastLevel", "PutMetric"]
    expected = {
        "alice-StepFunctionsLabLambdaRole": {"Version": "2012-10-17", "Statement": [
            {"Sid": "WriteReports", "Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::sfn-lab-alice-{ACCOUNT}-{REGION}/*"},
            {"Sid": "UpdateCompletedLevel", "Effect": "Allow", "Action": ["dynamodb:UpdateItem", "dynamodb:PutItem"],
             "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/alice-CompletedLevel"},
            {"Sid": "PutFlowMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": "FLOW"}}},
            {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/alice-{f}:*" for f in fns]},
        ]},
        "alice-StepFunctionsLabStatesRole": {"Version": "2012-10-17", "Statement": [
            {"Sid": "InvokeLabFunctions", "Effect": "Allow", "Action": "lambda:InvokeFunction",
             "Resource": [arn + f for f in fns] + [arn + f + ":*" for f in fns]},
        ]},
    }
    trusted = {"alice-StepFunctionsLabLambdaRole": "lambda.amazonaws.com",
               "alice-StepFunctionsLabStatesRole": "states.amazonaws.com"}
    for role, document in expected.items():
        assert lab.iam.list_role_policies(RoleName=role)["PolicyNames"] == [f"{role}Policy"]
        assert lab.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        policy = lab.iam.get_role_policy(RoleName=role, PolicyName=f"{role}Policy")["PolicyDocument"]
        assert policy == document
        trust = lab.iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        assert trust == {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": trusted[role]}, "Action": "sts:AssumeRole"}]}
    # The functions really use the lambda role, the state machine the states role.
    fn = lab.lambda_.get_function_configuration(FunctionName="alice-PutMetric")
    assert fn["Role"].endswith(":role/alice-StepFunctionsLabLambdaRole")
    sm = lab.sfn.describe_state_machine(
        stateMachineArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:alice-CompleteLevelFlow")
    assert sm["roleArn"].endswith(":role/alice-StepFunctionsLabStatesRole")
    groups = lab.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/alice-")["logGroups"]
    assert sorted(g["logGroupName"] for g in groups) == sorted(f"/aws/lambda/alice-{f}" for f in fns)
    assert {g.get("retentionInDays") for g in groups} == {resources.LOG_RETENTION_DAYS}


def test_without_yes_and_without_a_terminal_nothing_changes(two_labs, aws_env, lab):
    before = _snapshot(lab)
    refused = _cli(aws_env, "deploy", "--prefix", "carol")
    assert refused.returncode == 1
    assert "Refusing to change the AWS account without confirmation" in refused.stderr
    assert "--yes" in refused.stderr
    assert "prefix carol" in refused.stdout  # the plan was shown, then nothing done
    kept = _cli(aws_env, "cleanup", "--prefix", "alice")
    assert kept.returncode == 1 and "Refusing" in kept.stderr
    assert _snapshot(lab) == before


def test_dry_runs_list_the_plan_and_change_nothing(two_labs, aws_env, lab):
    before = _snapshot(lab)
    new = _cli(aws_env, "deploy", "--prefix", "dave", "--dry-run")
    assert new.returncode == 0, new.stderr
    assert len(re.findall(r"^\s+create\s", new.stdout, re.M)) == 13  # bucket, table, 2 roles, 4 groups, 4 fns, 1 sm
    assert "dry run: nothing was created or changed" in new.stdout
    existing = _cli(aws_env, "deploy", "--prefix", "alice", "--dry-run")
    assert len(re.findall(r"^\s+update\s.*\(exists\)$", existing.stdout, re.M)) == 13
    gone = _cli(aws_env, "cleanup", "--prefix", "alice", "--dry-run")
    assert gone.returncode == 0, gone.stderr
    assert len(re.findall(r"^\s+delete\s", gone.stdout, re.M)) == 13
    assert "running executions are stopped first" in gone.stdout
    nothing = _cli(aws_env, "cleanup", "--prefix", "dave", "--dry-run")
    assert "nothing to remove" in nothing.stdout
    assert _snapshot(lab) == before


def test_dry_run_in_python_makes_only_read_calls(two_labs, aws_connect):
    lab = aws_connect("alice")
    calls: list[str] = []
    # Registered on the session before any client exists, so every client reports every call.
    lab.session.events.register("before-call", lambda model, **_: calls.append(model.name))
    deploy_plan = resources.deploy(lab, dry_run=True)
    cleanup_plan = resources.cleanup(lab, dry_run=True)
    assert isinstance(deploy_plan, resources.Plan) and isinstance(cleanup_plan, resources.Plan)
    assert all(item.exists for item in deploy_plan.items + cleanup_plan.items)
    assert calls and not [c for c in calls if MUTATING.match(c)], calls
    assert "GetCallerIdentity" in calls  # the account id comes from STS on the AWS target


# --- Python: the plan once per Lab, cleanup reports, versions, failures -------------------

class _Denying:
    """A client stand-in that refuses one operation for one resource, as a missing IAM permission would."""

    def __init__(self, client: Any, operation: str, **match: str) -> None:
        self._client, self._operation, self._match = client, operation, match

    def __getattr__(self, attr: str) -> Any:
        real = getattr(self._client, attr)
        if attr != self._operation:
            return real

        def maybe_deny(**kwargs: Any) -> Any:
            if all(kwargs.get(k) == v for k, v in self._match.items()):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "User: arn:aws:iam::123456789012:"
                                   "user/student is not authorized to perform: iam:DeleteRole"}}, "DeleteRole")
            return real(**kwargs)

        return maybe_deny


def test_python_deploy_shows_the_plan_once_and_cleanup_reports_what_it_could_not_remove(aws_connect, capsys, lab):
    erin = aws_connect("erin")
    resources.deploy(erin)
    shown = capsys.readouterr().out
    assert shown.splitlines()[0] == f"Deploy to AWS: account {ACCOUNT}, region {REGION}, prefix erin"
    assert "create  state machine erin-CompleteLevelFlow" in shown
    resources.deploy(erin)
    resources.ensure_bucket(erin)
    assert capsys.readouterr().out == ""  # once per Lab

    # A versioned bucket with old versions and a delete marker must still be removed.
    bucket = erin.names.bucket
    erin.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        erin.s3.put_object(Bucket=bucket, Key="report.txt", Body=body)
    erin.s3.delete_object(Bucket=bucket, Key="report.txt")
    erin.s3.create_multipart_upload(Bucket=bucket, Key="half-uploaded.bin")
    # An execution still running at cleanup time (a long Wait) must be stopped first.
    erin.sfn.update_state_machine(stateMachineArn=erin.state_machine_arn, definition=json.dumps(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}))
    running = erin.sfn.start_execution(stateMachineArn=erin.state_machine_arn)["executionArn"]
    assert erin.sfn.describe_execution(executionArn=running)["status"] == "RUNNING"
    calls: list[str] = []
    erin.sfn.meta.events.register("before-parameter-build", lambda model, params, **_: calls.append(
        f"{model.name} {params.get('executionArn', params.get('stateMachineArn', ''))}"))

    erin._clients["iam"] = _Denying(erin.iam, "delete_role", RoleName=erin.names.lambda_role)
    report = resources.cleanup(erin)
    assert report.failed == [(f"role {erin.names.lambda_role}", "AccessDenied: User: arn:aws:iam::123456789012:"
                              "user/student is not authorized to perform: iam:DeleteRole")]
    assert f"could not remove role {erin.names.lambda_role}: AccessDenied" in str(report)
    n = erin.names
    assert report.removed == ([f"state machine {n.state_machine}"] + [f"function {f}" for f in n.functions.values()]
                              + [f"log group {g}" for g in n.log_groups]
                              + [f"table {n.table}", f"bucket {bucket}", f"role {n.states_role}"])
    assert bucket not in [b["Name"] for b in lab.s3.list_buckets()["Buckets"]]
    assert calls.index(f"StopExecution {running}") < calls.index(f"DeleteStateMachine {erin.state_machine_arn}")

    erin._clients.pop("iam")  # permission granted: the next run removes what is left, and only that
    second = resources.cleanup(erin)
    assert (second.removed, second.failed) == ([f"role {n.lambda_role}"], [])
    third = resources.cleanup(erin)
    assert (third.removed, third.failed, str(third)) == ([], [], "nothing to remove")
    assert _names_with(_snapshot(lab), "erin") == []


def test_new_roles_are_retried_on_the_documented_errors_within_a_bound(monkeypatch):
    class Clock:
        now = 0.0
        slept: list[float] = []

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.slept.append(seconds)
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(resources, "time", clock)
    not_yet = [ClientError({"Error": {"Code": "InvalidParameterValueException",
                                      "Message": "The role defined for the function cannot be assumed by Lambda."}},
                           "CreateFunction"),
               ClientError({"Error": {"Code": "AccessDeniedException", "Message": "Neither the global service "
                                      "principal states.amazonaws.com, nor the regional one is authorized to "
                                      "assume the provided role."}}, "CreateStateMachine")]

    def flaky() -> str:
        if not_yet:
            raise not_yet.pop(0)
        return "created"

    assert resources._retry_new_role(flaky, "test") == "created"
    assert clock.slept == [1.0, 2.0]

    def never() -> None:
        raise ClientError({"Error": {"Code": "InvalidParameterValueException",
                                     "Message": "The role defined for the function cannot be assumed by Lambda."}},
                          "CreateFunction")

    with pytest.raises(ClientError):
        resources._retry_new_role(never, "test", timeout_s=30)
    assert clock.now <= 2 * 30 + 3  # bounded, not a blind wait

    def other() -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "CreateFunction")

    clock.slept.clear()
    with pytest.raises(ClientError):
        resources._retry_new_role(other, "test")
    assert clock.slept == []  # a real permission problem is not retried


def test_the_emulator_takes_a_prefix_too(emulator_port):
    from labhelpers import run_execution

    frank = connect(target="emulator", prefix="frank")
    resources.deploy(frank)
    assert run_execution({**SEED, "user_id": "frank-player"}, lab=frank).status == "SUCCEEDED"
    assert frank.s3.get_object(Bucket=frank.names.bucket, Key="frank-player_report_latest.txt")
    report = resources.cleanup(frank)
    assert not report.failed and len(report.removed) == 13


# --- cleanup of one student leaves the other working (last: it removes alice) -------------

def test_cleanup_of_one_prefix_removes_all_of_it_and_nothing_else(two_labs, aws_env, lab):
    before = _snapshot(lab)
    assert len(_names_with(before, "alice")) == 13
    result = _cli(aws_env, "cleanup", "--prefix", "alice", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == f"Clean up in AWS: account {ACCOUNT}, region {REGION}, prefix alice"
    removed = [line for line in result.stdout.splitlines() if line.startswith("removed ")]
    assert len(removed) == 13 and "could not remove" not in result.stdout
    after = _snapshot(lab)
    assert _names_with(after, "alice") == []
    # Everything else, bob's lab and the unprefixed one included, is still there. (Other tests'
    # Lambda invocations may still be writing their first logs: new items are not cleanup's doing.)
    for kind, names in before.items():
        if kind != "role policies":
            assert {x for x in names if "alice" not in x} <= set(after[kind]), kind
    bob = _cli(aws_env, "run", "--prefix", "bob", "--input", json.dumps({**SEED, "user_id": "bob-again"}))
    assert bob.returncode == 0 and bob.stdout.startswith("SUCCEEDED"), bob.stdout + bob.stderr
    assert lab.dynamodb.get_item(TableName="bob-CompletedLevel", Key={"user_id": {"S": "bob-again"}})["Item"]

    again = _cli(aws_env, "cleanup", "--prefix", "alice")  # nothing left: no question, no change
    assert again.returncode == 0 and "nothing to remove" in again.stdout, again.stdout + again.stderr
    _cli(aws_env, "cleanup", "--prefix", "bob", "--yes")
    assert _names_with(_snapshot(lab), "bob") == []


def test_cleanup_also_removes_playgrounds_and_exercise_resources_of_its_prefix_only(emulator_port, tmp_path):
    from labhelpers import connect
    from labhelpers.playground import run_playground
    from labhelpers.resources import cleanup, ensure_function, ensure_role, lambda_role_policy

    mine, other = connect(prefix="extra-a"), connect(prefix="extra-b")
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "lambda_function.py").write_text("def lambda_handler(event, context):\n    return event\n")
    for lab in (mine, other):
        ensure_role(lab, lab.names.prefixed("ChapterRole"), "states.amazonaws.com", {"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}]})
        run_playground({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}, lab=lab)
        ensure_function(lab, "ExerciseFn", ensure_role(lab, lab.names.lambda_role, "lambda.amazonaws.com",
                                                       lambda_role_policy(lab)), source_dir=folder)
    report = cleanup(mine)
    assert "state machine extra-a-ParallelPlayground" in report.removed
    assert "function extra-a-ExerciseFn" in report.removed
    assert "role extra-a-ChapterRole" in report.removed
    assert other.iam.get_role(RoleName="extra-b-ChapterRole")
    names = {sm["name"] for sm in other.sfn.list_state_machines()["stateMachines"]}
    assert "extra-b-ParallelPlayground" in names and "extra-a-ParallelPlayground" not in names
    assert other.lambda_.get_function(FunctionName="extra-b-ExerciseFn")
    assert cleanup(mine).removed == []
