"""Accelerated waits on the emulator: a long Wait takes a moment, and the history keeps its full duration."""

from __future__ import annotations

import datetime
import io
import json
import time
import uuid

import pytest

from labhelpers import connect, run_execution
from labhelpers.emulator import wait_speedup as ws
from labhelpers.errors import TargetError
from labhelpers.lab import Lab
from labhelpers.waits import accelerated_waits, execution_seconds, set_wait_speedup, wait_frame
from labhelpers.waits import wait_speedup as current_speedup

ROLE = "arn:aws:iam::123456789012:role/lab-test"


@pytest.fixture(scope="module")
def lab(emulator_port):
    return connect()


@pytest.fixture
def speedup(lab):
    """Set a factor for one test; real time again afterwards, whatever happened."""
    yield lambda factor: set_wait_speedup(factor, lab)
    set_wait_speedup(1, lab)


def _machine(lab, states: dict, start: str | None = None) -> str:
    definition = {"StartAt": start or next(iter(states)), "States": states}
    return lab.sfn.create_state_machine(name=f"wait-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition),
                                        roleArn=ROLE)["stateMachineArn"]


def _timed_run(lab, arn: str, payload=None, timeout: float = 30):
    started = time.monotonic()
    execution = run_execution(payload if payload is not None else {}, lab=lab, state_machine_arn=arn,
                              timeout=timeout)
    return execution, time.monotonic() - started


def _event_times(execution, event_type: str) -> list[datetime.datetime]:
    return [e["timestamp"] for e in execution.events if e["type"] == event_type]


def test_an_hour_long_wait_takes_a_second_and_the_history_keeps_the_hour(lab, speedup):
    assert speedup(3600) == 3600
    arn = _machine(lab, {"Nap": {"Type": "Wait", "Seconds": 3600, "Next": "After"},
                         "After": {"Type": "Pass", "End": True}})
    execution, real = _timed_run(lab, arn)
    assert execution.status == "SUCCEEDED"
    assert real < 5
    (entered,), (exited,) = _event_times(execution, "WaitStateEntered"), _event_times(execution, "WaitStateExited")
    assert abs((exited - entered).total_seconds() - 3600) <= 1
    assert wait_frame(execution)["seconds"].tolist() == [3600]
    # Every later event is on the execution's clock too, and so is the stop date.
    assert min(_event_times(execution, "PassStateEntered")) >= exited
    described = lab.sfn.describe_execution(executionArn=execution.arn)
    assert (described["stopDate"] - described["startDate"]).total_seconds() >= 3600
    assert execution_seconds(execution) == 3600


def test_seconds_path_and_entered_time_follow_the_virtual_clock(lab, speedup):
    speedup(100_000)
    arn = _machine(lab, {
        "Nap": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Stamp"},
        "Stamp": {"Type": "Pass", "Parameters": {"entered.$": "$$.State.EnteredTime",
                                                 "started.$": "$$.Execution.StartTime"}, "End": True}})
    execution, real = _timed_run(lab, arn, {"delay": 86_400})
    assert execution.status == "SUCCEEDED" and real < 5
    entered = datetime.datetime.fromisoformat(execution.output["entered"].replace("Z", "+00:00"))
    started = datetime.datetime.fromisoformat(execution.output["started"].replace("Z", "+00:00"))
    assert 86_400 <= (entered - started).total_seconds() < 86_400 + 5
    assert wait_frame(execution)["seconds"].tolist() == [86_400]


def test_a_timestamp_wait_ends_at_its_moment_on_the_virtual_clock(lab, speedup):
    speedup(3600)
    target = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).replace(microsecond=0)
    arn = _machine(lab, {"First": {"Type": "Wait", "Seconds": 1800, "Next": "Until"},
                         "Until": {"Type": "Wait", "TimestampPath": "$.until", "End": True}})
    execution, real = _timed_run(lab, arn, {"until": target.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert execution.status == "SUCCEEDED" and real < 8
    exited = _event_times(execution, "WaitStateExited")[-1]
    # Counted from the clock after the first (accelerated) wait: not 2 h more, but until the target.
    assert target <= exited <= target + datetime.timedelta(seconds=2)


def test_a_timestamp_wait_in_real_time_ends_at_its_moment(lab):
    # Factor 1: moto's own wait, but counted in UTC (moto used a naive local "now").
    target = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)).replace(microsecond=0)
    arn = _machine(lab, {"Until": {"Type": "Wait", "Timestamp": target.strftime("%Y-%m-%dT%H:%M:%SZ"), "End": True}})
    execution, real = _timed_run(lab, arn)
    assert execution.status == "SUCCEEDED" and real < 5
    assert target <= _event_times(execution, "WaitStateExited")[0] <= target + datetime.timedelta(seconds=2)


def test_parallel_branches_waiting_together_move_the_clock_once(lab, speedup):
    speedup(7200)
    branch = {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = _machine(lab, {"Both": {"Type": "Parallel", "Branches": [branch, branch], "End": True}})
    execution, real = _timed_run(lab, arn)
    assert execution.status == "SUCCEEDED" and real < 5
    assert 3600 <= execution_seconds(execution) <= 3602


def test_retry_intervals_are_accelerated_and_recorded_in_full(lab, speedup):
    speedup(3600)
    failing = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "always"}}}
    arn = _machine(lab, {"Try": {"Type": "Parallel", "Branches": [failing], "End": True,
                                 "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1800, "MaxAttempts": 1}]}})
    execution, real = _timed_run(lab, arn)
    assert execution.status == "FAILED" and execution.error == "Boom"
    assert real < 5
    starts = _event_times(execution, "ParallelStateStarted")
    assert len(starts) == 2 and (starts[1] - starts[0]).total_seconds() >= 1800


def test_factor_one_is_real_time_again(lab, speedup):
    speedup(3600)
    assert speedup(1) == 1
    arn = _machine(lab, {"Nap": {"Type": "Wait", "Seconds": 1, "End": True}})
    execution, real = _timed_run(lab, arn)
    assert real >= 1
    assert wait_frame(execution)["seconds"].tolist() == [1]
    assert execution_seconds(execution) in (1, 2)


def test_an_accelerated_wait_can_still_be_stopped(lab, speedup):
    speedup(10)  # a one-hour wait would now take six minutes
    arn = _machine(lab, {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}})
    running = lab.sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    time.sleep(0.3)
    lab.sfn.stop_execution(executionArn=running)
    deadline = time.monotonic() + 10
    while lab.sfn.describe_execution(executionArn=running)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert lab.sfn.describe_execution(executionArn=running)["status"] == "ABORTED"


def test_the_factor_is_read_back_and_restored(lab):
    with accelerated_waits(500, lab) as factor:
        assert factor == 500 and current_speedup(lab) == 500
    assert current_speedup(lab) == 1


@pytest.mark.parametrize("bad", [0, 0.5, -3, "fast", None, True, float("inf"), 2_000_000])
def test_a_bad_factor_is_refused_and_changes_nothing(lab, bad):
    with pytest.raises(ValueError, match="factor"):
        set_wait_speedup(bad, lab)
    assert current_speedup(lab) == 1


def test_the_endpoint_answers_get_and_post():
    def call(method: str, body: bytes = b"") -> tuple[str, dict]:
        return ws.handle({"REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)})

    before = ws.get_factor()
    try:
        assert call("POST", b'{"factor": 60}') == ("200 OK", {"factor": 60.0})
        assert call("GET") == ("200 OK", {"factor": 60.0})
        status, body = call("POST", b"not json")
        assert status == "400 Bad Request" and body["factor"] == 60.0
    finally:
        ws.set_factor(before)


def test_on_aws_the_speedup_is_refused_in_plain_words():
    aws = Lab(target="aws", region="us-east-1")
    with pytest.raises(TargetError, match="Real AWS waits for real"):
        set_wait_speedup(3600, aws)
    assert current_speedup(aws) == 1
