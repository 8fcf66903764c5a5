"""The emulator's Lambda runtime, through the same boto3 calls a student makes."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest

from labhelpers import run_execution
from labhelpers.resources import ensure_function, ensure_role, ensure_state_machine, lambda_role_policy

CODE = {
    "Boom": '''
class ScoreTooHigh(Exception):
    pass

def lambda_handler(event, context):
    raise ScoreTooHigh(f"score {event.get('score')} is too high")
''',
    "Flaky": '''
import os
calls = 0

def lambda_handler(event, context):
    global calls
    calls += 1
    if calls <= 2:
        raise RuntimeError(f"attempt {calls} fails")
    return {"attempts": calls}
''',
    "Sleepy": '''
import time

def lambda_handler(event, context):
    time.sleep(event.get("sleep", 30))
    return "woke up"
''',
    "Crashy": '''
import os
loaded = 0
loaded += 1

def lambda_handler(event, context):
    if event.get("crash"):
        os._exit(7)
    return {"loaded": loaded}
''',
    "Affinity": '''
import os

def lambda_handler(event, context):
    return [sorted(os.sched_getaffinity(int(task))) for task in os.listdir("/proc/self/task")]
''',
    "Chatty": '''
import logging
import os
print("cold start")

def lambda_handler(event, context):
    print("hello from", context.function_name)
    logging.getLogger().warning("careful: %s", event.get("word"))
    secrets = {k: v for k, v in os.environ.items() if "host-secret" in v}
    return {"leaked": sorted(secrets), "profile": os.environ.get("AWS_PROFILE"),
            "region": os.environ.get("AWS_REGION"), "table": os.environ.get("TABLE_NAME")}
''',
}


@pytest.fixture(scope="module")
def fns(lab, tmp_path_factory):
    root = tmp_path_factory.mktemp("fns")
    role = ensure_role(lab, "RuntimeTestRole", "lambda.amazonaws.com", lambda_role_policy(lab))
    names = {}
    for name, code in CODE.items():
        folder = root / name
        folder.mkdir()
        (folder / "lambda_function.py").write_text(code)
        timeout = 1 if name == "Sleepy" else 10
        cfg = ensure_function(lab, f"rt{name}", role, source_dir=folder, timeout=timeout,
                              environment={"TABLE_NAME": "from-config"})
        names[name] = cfg["FunctionArn"]
    return names


def _invoke(lab, arn, payload, **kw):
    resp = lab.lambda_.invoke(FunctionName=arn, Payload=json.dumps(payload).encode(), **kw)
    return resp, json.loads(resp["Payload"].read() or b"null")


def _machine(lab, fns, name, definition):
    role = ensure_role(lab, "RuntimeTestStatesRole", "states.amazonaws.com", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": list(fns.values())}]})
    return ensure_state_machine(lab, json.dumps(definition), role, name=name)


def test_exception_is_an_unhandled_function_error_with_aws_payload(lab, fns):
    resp, body = _invoke(lab, fns["Boom"], {"score": 99})
    assert resp["FunctionError"] == "Unhandled"
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorType"] == "ScoreTooHigh"
    assert body["errorMessage"] == "score 99 is too high"
    assert "lambda_function.py" in body["stackTrace"][0]


def test_catch_matches_the_exception_class_name(lab, fns):
    arn = _machine(lab, fns, "CatchByClass", {"StartAt": "Play", "States": {
        "Play": {"Type": "Task", "Resource": fns["Boom"], "End": True,
                 "Catch": [{"ErrorEquals": ["ScoreTooHigh"], "ResultPath": "$.error", "Next": "Fallback"}]},
        "Fallback": {"Type": "Pass", "End": True}}})
    execution = run_execution({"score": 5}, lab=lab, state_machine_arn=arn)
    assert execution.status == "SUCCEEDED"
    assert execution.output["error"]["Error"] == "ScoreTooHigh"
    assert json.loads(execution.output["error"]["Cause"])["errorMessage"] == "score 5 is too high"


def test_retry_attempts_show_in_the_history_and_module_state_stays_warm(lab, fns):
    arn = _machine(lab, fns, "RetryFlaky", {"StartAt": "Try", "States": {
        "Try": {"Type": "Task", "Resource": fns["Flaky"], "End": True,
                "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 1, "MaxAttempts": 3,
                           "BackoffRate": 1.0}]}}})
    execution = run_execution({}, lab=lab, state_machine_arn=arn)
    assert execution.status == "SUCCEEDED", execution.cause
    types = [e["type"] for e in execution.events]
    assert types.count("LambdaFunctionFailed") == 2
    assert types.count("LambdaFunctionScheduled") == 3
    assert execution.output == {"attempts": 3}


def test_timeout_is_enforced_and_reported_as_aws_does(lab, fns):
    started = time.monotonic()
    resp, body = _invoke(lab, fns["Sleepy"], {"sleep": 30})
    assert time.monotonic() - started < 2.5  # Timeout 1 s + at most 1 s
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    # The next invocation gets a fresh worker and works.
    resp, body = _invoke(lab, fns["Sleepy"], {"sleep": 0})
    assert body == "woke up"


def test_a_crashed_worker_fails_its_invocation_and_is_replaced(lab, fns):
    resp, body = _invoke(lab, fns["Crashy"], {"crash": True})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in body["errorMessage"]
    resp, body = _invoke(lab, fns["Crashy"], {})
    assert "FunctionError" not in resp and body == {"loaded": 1}


def test_prints_go_to_the_log_group_and_tail(lab, fns):
    resp, body = _invoke(lab, fns["Chatty"], {"word": "hot"}, LogType="Tail")
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert "hello from rtChatty" in tail and "careful: hot" in tail
    assert "START RequestId" in tail and "REPORT RequestId" in tail
    group = "/aws/lambda/rtChatty"
    messages = [e["message"] for e in lab.logs.filter_log_events(logGroupName=group)["events"]]
    assert any("hello from rtChatty" in m for m in messages)
    assert any("cold start" in m for m in messages)


def test_host_credentials_never_reach_the_handler(lab, fns):
    # conftest gives this test session (the "host") AWS_SECRET_ACCESS_KEY=host-secret-do-not-leak.
    resp, body = _invoke(lab, fns["Chatty"], {})
    assert body["leaked"] == [] and body["profile"] is None
    assert body["region"] == lab.region
    assert body["table"] == "from-config"


def test_update_function_code_takes_effect_on_the_next_invocation(lab, fns, tmp_path):
    role = ensure_role(lab, "RuntimeTestRole", "lambda.amazonaws.com", lambda_role_policy(lab))
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "lambda_function.py").write_text("def lambda_handler(e, c):\n    return 'v1'\n")
    ensure_function(lab, "rtVersioned", role, source_dir=folder)
    assert _invoke(lab, "rtVersioned", {})[1] == "v1"
    (folder / "lambda_function.py").write_text("def lambda_handler(e, c):\n    return 'v2'\n")
    ensure_function(lab, "rtVersioned", role, source_dir=folder)
    assert _invoke(lab, "rtVersioned", {})[1] == "v2"


def test_deleting_a_function_stops_its_warm_workers(lab, tmp_path):
    from labhelpers.emulator import control

    role = ensure_role(lab, "RuntimeTestRole", "lambda.amazonaws.com", lambda_role_policy(lab))
    folder = tmp_path / "gone"
    folder.mkdir()
    (folder / "lambda_function.py").write_text("def lambda_handler(e, c):\n    return 'here'\n")
    ensure_function(lab, "rtSoonGone", role, source_dir=folder)
    assert _invoke(lab, "rtSoonGone", {})[1] == "here"
    port = int(lab.endpoint_url.rsplit(":", 1)[1])
    before = control.probe(port)
    lab.lambda_.delete_function(FunctionName="rtSoonGone")
    after = control.probe(port)
    assert after["lambda"]["workers"] == before["lambda"]["workers"] - 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="pinning needs Linux and two CPUs")
def test_the_emulator_shares_one_cpu_and_its_lambda_workers_use_them_all(lab, fns):
    from labhelpers.emulator import control

    allowed = sorted(os.sched_getaffinity(0))  # the session started the emulator with these
    _, worker_cpus = _invoke(lab, fns["Affinity"], {})
    health = control.probe(int(lab.endpoint_url.rsplit(":", 1)[1]))
    assert health["cpu"] in allowed
    threads = os.listdir(f"/proc/{health['pid']}/task")
    # The main thread and at least one other (kept-alive connections add more; without the speed
    # group each connection's thread ends with its request).
    assert len(threads) >= 2
    for task in threads:
        try:
            assert os.sched_getaffinity(int(task)) == {health["cpu"]}
        except ProcessLookupError:
            pass  # a thread that ended meanwhile
    assert worker_cpus == [allowed] * len(worker_cpus)
