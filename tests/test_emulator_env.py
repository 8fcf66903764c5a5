"""`python -m labhelpers emulator env`: the local account from the AWS CLI and plain boto3.

Each tool runs in a process whose environment is only the printed variables plus PATH and an
empty HOME, so nothing of this machine's AWS set-up (profiles, ~/.aws) can help it along.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from labhelpers import config

AWS = Path(sys.executable).with_name("aws")
PASS_MACHINE = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})
PASS_STATE = json.dumps({"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True})
ROLE_ARN = f"arn:aws:iam::{config.EMULATOR_ACCOUNT_ID}:role/lab-env-test"


def _parse(stdout: str) -> tuple[dict[str, str], list[str]]:
    """The exported variables and the unset names of the env command's output."""
    exports: dict[str, str] = {}
    unset: list[str] = []
    for line in stdout.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            exports[name] = value
        elif words[0] == "unset":
            unset += words[1:]
        else:
            pytest.fail(f"unexpected line in the env output: {line!r}")
    return exports, unset


@pytest.fixture(scope="module")
def env_output(lab, emulator_port: int) -> tuple[dict[str, str], list[str]]:
    result = subprocess.run([sys.executable, "-m", "labhelpers", "emulator", "env", "--port", str(emulator_port)],
                            capture_output=True, text=True, timeout=120, check=True)
    assert result.stderr == "", "an emulator was running: nothing to say on stderr"
    return _parse(result.stdout)


@pytest.fixture(scope="module")
def tool_env(env_output, tmp_path_factory) -> dict[str, str]:
    """Only the printed variables, PATH and an empty HOME."""
    exports, _ = env_output
    home = tmp_path_factory.mktemp("home")
    return {**exports, "PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)}


def _aws(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run([str(AWS), *args, "--output", "json"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"aws {' '.join(args)} failed:\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_prints_what_connect_uses(lab, env_output):
    exports, unset = env_output
    credentials = lab.session.get_credentials().get_frozen_credentials()
    assert exports["AWS_ENDPOINT_URL"] == lab.endpoint_url
    assert exports["AWS_ACCESS_KEY_ID"] == credentials.access_key
    assert exports["AWS_SECRET_ACCESS_KEY"] == credentials.secret_key
    assert exports["AWS_SESSION_TOKEN"] == credentials.token
    assert exports["AWS_DEFAULT_REGION"] == exports["AWS_REGION"] == lab.region
    assert exports["AWS_DISABLE_HOST_PREFIX_INJECTION"] == "true"
    assert {"AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} <= set(unset)


def test_values_are_shell_quoted(emulator_port, monkeypatch):
    from labhelpers import cli

    monkeypatch.setenv("LAB_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://elsewhere:1")
    lines = cli._emulator_env_lines(emulator_port)
    for line in lines:
        assert shlex.join(shlex.split(line, comments=True)) == line or line.startswith("#")
    assert "AWS_ENDPOINT_URL_S3" in _parse("\n".join(lines))[1], "a per-service endpoint would win over it"


def test_starts_an_emulator_when_none_runs(tmp_path):
    import socket

    from labhelpers.emulator import control

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "LAB_STATE_DIR": str(tmp_path)}
    try:
        result = subprocess.run([sys.executable, "-m", "labhelpers", "emulator", "env", "--port", str(port)],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "one was started" in result.stderr
        assert _parse(result.stdout)[0]["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
    finally:
        subprocess.run([sys.executable, "-m", "labhelpers", "emulator", "stop", "--port", str(port)],
                       env=env, capture_output=True, timeout=60)
    assert control.probe(port) is None


def test_aws_cli_step_functions(tool_env):
    name = f"env-test-{uuid.uuid4().hex[:8]}"
    listed = _aws(tool_env, "stepfunctions", "list-state-machines")
    assert "stateMachines" in listed
    arn = _aws(tool_env, "stepfunctions", "create-state-machine", "--name", name, "--definition", PASS_MACHINE,
               "--role-arn", ROLE_ARN)["stateMachineArn"]
    assert f":{config.EMULATOR_ACCOUNT_ID}:" in arn
    execution = _aws(tool_env, "stepfunctions", "start-execution", "--state-machine-arn", arn,
                     "--input", "{}")["executionArn"]
    deadline = time.monotonic() + 60
    while True:
        described = _aws(tool_env, "stepfunctions", "describe-execution", "--execution-arn", execution)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"ok": True}

    tested = _aws(tool_env, "stepfunctions", "test-state", "--definition", PASS_STATE, "--role-arn", ROLE_ARN,
                  "--input", '{"n": 21}')
    assert tested["status"] == "SUCCEEDED" and json.loads(tested["output"]) == {"doubled": 42}

    express = _aws(tool_env, "stepfunctions", "create-state-machine", "--name", f"{name}-express",
                   "--type", "EXPRESS", "--definition", PASS_MACHINE, "--role-arn", ROLE_ARN)["stateMachineArn"]
    synced = _aws(tool_env, "stepfunctions", "start-sync-execution", "--state-machine-arn", express, "--input", "{}")
    assert synced["status"] == "SUCCEEDED" and json.loads(synced["output"]) == {"ok": True}


def test_aws_cli_s3_dynamodb_logs(tool_env, tmp_path):
    bucket = f"env-test-{uuid.uuid4().hex[:8]}"
    _aws(tool_env, "s3api", "create-bucket", "--bucket", bucket,
         "--create-bucket-configuration", f"LocationConstraint={tool_env['AWS_DEFAULT_REGION']}")
    body = tmp_path / "hello.txt"
    body.write_text("hello")
    _aws(tool_env, "s3api", "put-object", "--bucket", bucket, "--key", "hello.txt", "--body", str(body))
    keys = [o["Key"] for o in _aws(tool_env, "s3api", "list-objects-v2", "--bucket", bucket)["Contents"]]
    assert keys == ["hello.txt"]

    table = f"env-test-{uuid.uuid4().hex[:8]}"
    _aws(tool_env, "dynamodb", "create-table", "--table-name", table,
         "--attribute-definitions", "AttributeName=id,AttributeType=S",
         "--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
    _aws(tool_env, "dynamodb", "put-item", "--table-name", table, "--item", '{"id": {"S": "a"}}')
    assert _aws(tool_env, "dynamodb", "scan", "--table-name", table)["Items"] == [{"id": {"S": "a"}}]

    assert "logGroups" in _aws(tool_env, "logs", "describe-log-groups")


BOTO3_SCRIPT = """
import json, sys, boto3
sfn = boto3.client("stepfunctions")
assert "stateMachines" in sfn.list_state_machines()
tested = sfn.test_state(definition=sys.argv[1], roleArn=sys.argv[2], input='{"n": 2}')
assert json.loads(tested["output"]) == {"doubled": 4}, tested
synced = sfn.start_sync_execution(stateMachineArn=sys.argv[3], input="{}")
assert synced["status"] == "SUCCEEDED", synced
print("ok")
"""


def test_plain_boto3(tool_env):
    express = _aws(tool_env, "stepfunctions", "create-state-machine", "--name", f"env-boto3-{uuid.uuid4().hex[:8]}",
                   "--type", "EXPRESS", "--definition", PASS_MACHINE, "--role-arn", ROLE_ARN)["stateMachineArn"]
    result = subprocess.run([sys.executable, "-c", BOTO3_SCRIPT, PASS_STATE, ROLE_ARN, express], env=tool_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_without_the_host_prefix_variable_test_state_fails(tool_env):
    """Why the variable is printed: the CLI would send TestState to sync-127.0.0.1."""
    env = {k: v for k, v in tool_env.items() if k != "AWS_DISABLE_HOST_PREFIX_INJECTION"}
    env["AWS_MAX_ATTEMPTS"] = "1"
    result = subprocess.run([str(AWS), "stepfunctions", "test-state", "--definition", PASS_STATE,
                             "--role-arn", ROLE_ARN, "--input", '{"n": 1}', "--cli-connect-timeout", "5"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "sync-127.0.0.1" in result.stderr
