"""Self-checks of 07 · Error handling and 08 · The Map state: right answer, no answer, typical wrong answers.

Each case runs under a prefix of its own, so "no answer" really finds nothing of the exercise.
"""

from __future__ import annotations

import copy
import json

import pytest

from labhelpers import checks, config, deploy
from labhelpers.resources import (ensure_function, ensure_role, ensure_state_machine, lambda_role_policy,
                                  states_role_policy)

pytestmark = pytest.mark.usefixtures("no_submissions")




def _create(lab, base: str, definition: dict) -> str:
    role = ensure_role(lab, lab.names.states_role, "states.amazonaws.com", states_role_policy(lab))
    return ensure_state_machine(lab, json.dumps(definition), role, name=lab.names.prefixed(base))


# --- 07 retry-flaky ----------------------------------------------------------------------------

@pytest.fixture
def flaky_lab(fresh_lab):
    role = ensure_role(fresh_lab, fresh_lab.names.lambda_role, "lambda.amazonaws.com", lambda_role_policy(fresh_lab))
    ensure_function(fresh_lab, "FlakyLevelCheck", role, source_dir=config.LAMBDAS_DIR / "FlakyLevelCheck",
                    environment={}, timeout=2)
    return fresh_lab


def _retry_machine(lab) -> dict:
    """The notebook's solution."""
    return {"StartAt": "Check level", "States": {
        "Check level": {"Type": "Task", "Resource": lab.function_arn("FlakyLevelCheck"),
                        "Parameters": {"player.$": "$", "attempt.$": "$$.State.RetryCount"},
                        "Retry": [{"ErrorEquals": ["LevelServiceBusy"], "IntervalSeconds": 1, "BackoffRate": 1.0,
                                   "MaxAttempts": 2, "JitterStrategy": "FULL"}],
                        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fallback"}],
                        "End": True},
        "Fallback": {"Type": "Pass", "End": True}}}


def _check_retry(lab, definition: dict) -> checks.CheckResult:
    _create(lab, "RetryExercise", definition)
    return checks.check("retry-flaky", lab)


def test_retry_flaky_right(flaky_lab):
    result = _check_retry(flaky_lab, _retry_machine(flaky_lab))
    assert result.status == checks.DONE, result
    assert "2 failed attempts" in result.message


def test_retry_flaky_no_answer(flaky_lab):
    result = checks.check("retry-flaky", flaky_lab)
    assert result.status == checks.NOT_DONE and "RetryExercise" in result.message


def test_retry_flaky_without_retry_is_wrong(flaky_lab):
    definition = _retry_machine(flaky_lab)
    del definition["States"]["Check level"]["Retry"]
    result = _check_retry(flaky_lab, definition)
    assert result.status == checks.NOT_RIGHT and result.where.endswith("Retry"), result


def test_retry_flaky_too_few_attempts_is_wrong(flaky_lab):
    definition = _retry_machine(flaky_lab)
    definition["States"]["Check level"]["Retry"][0]["MaxAttempts"] = 1
    result = _check_retry(flaky_lab, definition)
    assert result.status == checks.NOT_RIGHT and result.where.endswith("MaxAttempts"), result


def test_retry_flaky_retrying_timeouts_only_is_wrong(flaky_lab):
    definition = _retry_machine(flaky_lab)
    definition["States"]["Check level"]["Retry"][0]["ErrorEquals"] = ["States.Timeout"]
    result = _check_retry(flaky_lab, definition)
    assert result.status == checks.NOT_RIGHT and "States.Timeout" in result.hint, result


def test_retry_flaky_retrying_everything_is_wrong(flaky_lab):
    definition = _retry_machine(flaky_lab)
    definition["States"]["Check level"]["Retry"][0]["ErrorEquals"] = ["States.ALL"]
    result = _check_retry(flaky_lab, definition)
    assert result.status == checks.NOT_RIGHT and "LevelServiceBusy" in result.hint, result


def test_retry_flaky_without_attempt_number_is_wrong(flaky_lab):
    definition = _retry_machine(flaky_lab)
    definition["States"]["Check level"]["Parameters"] = {"player.$": "$"}
    result = _check_retry(flaky_lab, definition)
    assert result.status == checks.NOT_RIGHT and result.where.endswith("Parameters"), result


def test_retry_flaky_catch_replacing_the_input_is_wrong(flaky_lab):
    definition = _retry_machine(flaky_lab)
    del definition["States"]["Check level"]["Catch"][0]["ResultPath"]
    result = _check_retry(flaky_lab, definition)
    assert result.status == checks.NOT_RIGHT and "ResultPath" in result.where, result


# --- 08 map-players ----------------------------------------------------------------------------

@pytest.fixture
def map_lab(fresh_lab):
    deploy(fresh_lab)  # the bucket and GenerateReport
    return fresh_lab


def _map_machine(lab) -> dict:
    """The notebook's solution."""
    return {"StartAt": "Reports", "States": {"Reports": {
        "Type": "Map", "ItemsPath": "$.players", "MaxConcurrency": 2,
        "ItemSelector": {"user_id.$": "$$.Map.Item.Value.user_id", "score.$": "$$.Map.Item.Value.score",
                         "max_score.$": "$$.Map.Item.Value.max_score", "level.$": "$.level"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Report", "States": {
            "Report": {"Type": "Task", "Resource": lab.function_arn("GenerateReport"), "End": True}}},
        "End": True}}}


def _check_map(lab, definition: dict) -> checks.CheckResult:
    _create(lab, "MapExercise", definition)
    return checks.check("map-players", lab)


def test_map_players_right(map_lab):
    result = _check_map(map_lab, _map_machine(map_lab))
    assert result.status == checks.DONE, result
    key = "check-map-1_report_level-map-check.txt"
    body = map_lab.s3.get_object(Bucket=map_lab.names.bucket, Key=key)["Body"].read().decode()
    assert "91/100" in body


def test_map_players_no_answer(map_lab):
    result = checks.check("map-players", map_lab)
    assert result.status == checks.NOT_DONE and "MapExercise" in result.message


def test_map_players_unlimited_concurrency_is_wrong(map_lab):
    definition = _map_machine(map_lab)
    del definition["States"]["Reports"]["MaxConcurrency"]
    result = _check_map(map_lab, definition)
    assert result.status == checks.NOT_RIGHT and result.where.endswith("MaxConcurrency"), result


def test_map_players_items_without_the_level_is_wrong(map_lab):
    definition = _map_machine(map_lab)
    del definition["States"]["Reports"]["ItemSelector"]
    result = _check_map(map_lab, definition)
    assert result.status == checks.NOT_RIGHT and "level" in result.message and "$.level" in result.hint, result


def test_map_players_without_the_score_is_wrong(map_lab):
    definition = copy.deepcopy(_map_machine(map_lab))
    selector = definition["States"]["Reports"]["ItemSelector"]
    del selector["score.$"], selector["max_score.$"]
    result = _check_map(map_lab, definition)
    assert result.status == checks.NOT_RIGHT and result.where.endswith("ItemSelector"), result


def test_map_players_without_a_map_is_wrong(map_lab):
    result = _check_map(map_lab, {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "End": True}}})
    assert result.status == checks.NOT_RIGHT and "no Map state" in result.message, result
