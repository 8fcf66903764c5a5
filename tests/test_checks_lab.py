"""The self-checks of notebooks 01-06 against a right answer, no answer, and typical wrong answers.

Each case runs under a prefix of its own (a fresh lab deployed for it when the check needs one),
so "no answer" really finds nothing and one case's resources never satisfy another's check.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from labhelpers import checks, render_definition
from labhelpers import resources as r
from labhelpers.executions import run_execution

pytestmark = pytest.mark.usefixtures("no_submissions")

SEED = {"user_id": "12345678901234567890", "level": "latest", "score": 10, "max_score": 100,
        "time_played": 9885983982, "total_score": 10000}








def check(exercise_id, lab):
    result = checks.check(exercise_id, lab)
    text = repr(result)
    assert "Traceback" not in text and "raised" not in result.message, text
    return result


def lambda_role(lab) -> str:
    return lab.iam.get_role(RoleName=lab.names.lambda_role)["Role"]["Arn"]


def states_role(lab) -> str:
    return lab.iam.get_role(RoleName=lab.names.states_role)["Role"]["Arn"]


def deploy_code(lab, base: str, code: str, tmp_path: Path) -> None:
    folder = tmp_path / base
    folder.mkdir(exist_ok=True)
    (folder / "lambda_function.py").write_text(code)
    r.ensure_function(lab, base, lambda_role(lab), source_dir=folder)


def lab_definition(lab) -> dict:
    return json.loads(render_definition(lab))


# --- 01 report-for-player ---------------------------------------------------------------------

def invoke_report(lab, level):
    payload = {**SEED, "user_id": "exercise-player", "level": level}
    lab.lambda_.invoke(FunctionName=lab.names.function("GenerateReport"), Payload=json.dumps(payload))


def test_report_for_player_right(deployed_lab):
    invoke_report(deployed_lab, "level-2")
    assert check("report-for-player", deployed_lab).status == checks.DONE


def test_report_for_player_no_answer(fresh_lab):
    result = check("report-for-player", fresh_lab)
    assert result.status == checks.NOT_DONE and result.hint


def test_report_for_player_no_answer_with_bucket(deployed_lab):
    assert check("report-for-player", deployed_lab).status == checks.NOT_DONE


def test_report_for_player_other_level_is_wrong(deployed_lab):
    invoke_report(deployed_lab, "level-3")
    result = check("report-for-player", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "'level-3'" in result.message
    assert "exercise-player_report_level-3.txt" in result.where


def test_report_for_player_hand_written_object_is_wrong(deployed_lab):
    deployed_lab.s3.put_object(Bucket=deployed_lab.names.bucket, Key="exercise-player_report_level-2.txt", Body=b"hello")
    assert check("report-for-player", deployed_lab).status == checks.NOT_RIGHT


# --- 02 choice-high-score ----------------------------------------------------------------------

RECORD_HIGH_SCORE = '''\
import os
import boto3

dynamodb_client = boto3.client("dynamodb")
TABLE_NAME = os.environ.get("TABLE_NAME", "CompletedLevel")


def lambda_handler(event, context):
    dynamodb_client.update_item(
        TableName=TABLE_NAME, Key={"user_id": {"S": str(event["user_id"])}},
        UpdateExpression="SET high_score = :score",
        ExpressionAttributeValues={":score": {"N": str(event["score"])}})
    return event
'''


def high_score_flow(lab, rule=None, first=True, state=None, name="HighScoreFlow", whole=False):
    """The notebook's answer: the lab's UpdateDB branch as a machine (``whole``: a copy of the whole lab)."""
    definition = lab_definition(lab)
    if not whole:
        definition = definition["States"]["StartTask"]["Branches"][1]
    branch = (definition["States"]["StartTask"]["Branches"][1] if whole else definition)["States"]
    rule = rule or {"Variable": "$.score", "NumericGreaterThan": 90, "Next": "High Score"}
    choices = branch["UpdateDB"]["Choices"]
    choices.insert(0 if first else len(choices), rule)
    branch["High Score"] = state or {"Type": "Task", "Resource": lab.function_arn("RecordHighScore"), "End": True}
    return r.ensure_state_machine(lab, json.dumps(definition), states_role(lab), name=lab.names.prefixed(name))


def test_choice_high_score_right(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab)
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.DONE, repr(result)


def test_choice_high_score_right_as_a_copy_of_the_whole_lab(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab, whole=True)
    assert check("choice-high-score", deployed_lab).status == checks.DONE


def test_choice_high_score_whole_lab_copy_without_put_metric_says_what_is_missing(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab, whole=True)
    deployed_lab.lambda_.delete_function(FunctionName=deployed_lab.names.function("PutMetric"))
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and result.where.endswith("CWMetric") and "not deployed" in result.hint


def test_choice_high_score_no_answer(fresh_lab):
    started = time.monotonic()
    result = check("choice-high-score", fresh_lab)
    assert result.status == checks.NOT_DONE and time.monotonic() - started < 1


def test_choice_high_score_function_only_is_not_done(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_DONE and "RecordHighScore is deployed" in result.message


def test_choice_high_score_string_operator_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab, {"Variable": "$.score", "StringGreaterThan": "90", "Next": "High Score"})
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "StringGreaterThan" in result.message
    assert result.where.endswith("UpdateDB › Choices[0] › StringGreaterThan")


def test_choice_high_score_quoted_number_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab, {"Variable": "$.score", "NumericGreaterThan": "90", "Next": "High Score"})
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "string '90'" in result.message


def test_choice_high_score_rule_after_latest_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab, first=False)
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "first true one wins" in result.message
    assert result.where.endswith("Choices[1]") and "insert" in result.hint


def test_choice_high_score_next_to_a_pass_state_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab, state={"Type": "Pass", "End": True})
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "Pass state" in result.message


def test_choice_high_score_function_missing_is_wrong(deployed_lab):
    high_score_flow(deployed_lab)
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "not deployed" in result.message


def test_choice_high_score_next_to_a_missing_state_is_wrong(deployed_lab, tmp_path, monkeypatch):
    # AWS (and the emulator) refuse such a definition; an older machine may still hold one.
    from labhelpers.exercises import choice

    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    arn = high_score_flow(deployed_lab)
    definition = lab_definition(deployed_lab)["States"]["StartTask"]["Branches"][1]
    definition["States"]["UpdateDB"]["Choices"].insert(
        0, {"Variable": "$.score", "NumericGreaterThan": 90, "Next": "High score"})
    monkeypatch.setattr(choice, "machine_definition", lambda lab, name: (arn, definition))
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "'High score'" in result.message
    assert result.where.endswith("Choices[0] › Next")


def test_choice_high_score_function_that_stores_nothing_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", "def lambda_handler(event, context):\n    return event\n", tmp_path)
    high_score_flow(deployed_lab)
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "no high_score" in result.message


def test_choice_high_score_function_that_raises_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", "def lambda_handler(event, context):\n    return event['nope']\n",
                tmp_path)
    high_score_flow(deployed_lab)
    result = check("choice-high-score", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "KeyError" in result.message and "High Score" in result.where


# --- 03 putmetric-any-order ---------------------------------------------------------------------

PUT_METRIC_ANY_ORDER = '''\
import boto3


cw_client = boto3.client("cloudwatch")


def lambda_handler(event, context):
    player = next((e for e in event if isinstance(e, dict) and "time_played" in e), None)
    if player is None:
        raise ValueError(f"PutMetricAnyOrder: no branch output has a time_played: {event!r:.200}")
    cw_client.put_metric_data(Namespace="FLOW", MetricData=[
        {"MetricName": "CompleteLevel", "Value": player["time_played"], "Unit": "Seconds"}])
    return True
'''


def test_putmetric_any_order_right(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "PutMetricAnyOrder", PUT_METRIC_ANY_ORDER, tmp_path)
    assert check("putmetric-any-order", deployed_lab).status == checks.DONE


def test_putmetric_any_order_no_answer(fresh_lab):
    assert check("putmetric-any-order", fresh_lab).status == checks.NOT_DONE


def test_putmetric_any_order_original_event0_code_is_wrong(deployed_lab, tmp_path):
    original = (r.config.LAMBDAS_DIR / "PutMetric" / "lambda_function.py").read_text()
    deploy_code(deployed_lab, "PutMetricAnyOrder", original, tmp_path)
    result = check("putmetric-any-order", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "report branch second" in result.message
    assert "event[0]" in result.hint


def test_putmetric_any_order_silent_without_time_played_is_wrong(deployed_lab, tmp_path):
    lenient = PUT_METRIC_ANY_ORDER.replace("    if player is None:\n        raise", "    if player is None:\n        return True\n        raise")
    deploy_code(deployed_lab, "PutMetricAnyOrder", lenient, tmp_path)
    result = check("putmetric-any-order", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "instead of failing" in result.message


def test_putmetric_any_order_without_put_metric_data_is_wrong(deployed_lab, tmp_path):
    no_metric = PUT_METRIC_ANY_ORDER.replace("cw_client.put_metric_data(", "dict(")
    deploy_code(deployed_lab, "PutMetricAnyOrder", no_metric, tmp_path)
    result = check("putmetric-any-order", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "no new FLOW/CompleteLevel datapoint" in result.message


# --- 04 parallel-third-branch -----------------------------------------------------------------------

NOTIFY = {"StartAt": "Notify", "States": {"Notify": {"Type": "Pass", "Result": {"notified": True}, "End": True}}}


def three_branch_flow(lab, definition):
    return r.ensure_state_machine(lab, json.dumps(definition), states_role(lab),
                                  name=lab.names.prefixed("ThreeBranchFlow"))


def test_parallel_third_branch_right(deployed_lab):
    definition = lab_definition(deployed_lab)
    definition["States"]["StartTask"]["Branches"].append(NOTIFY)
    arn = three_branch_flow(deployed_lab, definition)
    assert check("parallel-third-branch", deployed_lab).status == checks.NOT_DONE  # not run yet
    assert run_execution(SEED, lab=deployed_lab, state_machine_arn=arn).status == "SUCCEEDED"
    result = check("parallel-third-branch", deployed_lab)
    assert result.status == checks.DONE and "Notify" in result.message


def test_parallel_third_branch_no_answer(fresh_lab):
    assert check("parallel-third-branch", fresh_lab).status == checks.NOT_DONE


def test_parallel_third_branch_state_after_start_task_is_wrong(deployed_lab):
    definition = lab_definition(deployed_lab)
    definition["States"]["StartTask"]["Next"] = "Notify"
    definition["States"]["Notify"] = {"Type": "Pass", "Next": "CWMetric"}
    three_branch_flow(deployed_lab, definition)
    result = check("parallel-third-branch", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "top-level state" in result.message
    assert result.where.endswith("States › Notify")


def test_parallel_third_branch_run_before_the_change_is_wrong(deployed_lab):
    definition = lab_definition(deployed_lab)
    arn = three_branch_flow(deployed_lab, definition)
    run_execution(SEED, lab=deployed_lab, state_machine_arn=arn)
    definition["States"]["StartTask"]["Branches"].append(NOTIFY)
    three_branch_flow(deployed_lab, definition)
    result = check("parallel-third-branch", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "older definition" in result.message


def test_parallel_third_branch_failed_run_is_wrong(deployed_lab):
    definition = lab_definition(deployed_lab)
    definition["States"]["StartTask"]["Branches"].insert(0, NOTIFY)  # PutMetric then reads Notify's output
    arn = three_branch_flow(deployed_lab, definition)
    run_execution(SEED, lab=deployed_lab, state_machine_arn=arn)
    result = check("parallel-third-branch", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "CWMetric" in result.where and "time_played" in result.message


# --- 05 longest-branch ------------------------------------------------------------------------

def untied_execution(lab):
    """A lab execution whose two branches did not take the same number of milliseconds."""
    from labhelpers.exercises.executions import branch_durations

    definition = lab_definition(lab)
    for _ in range(20):
        execution = run_execution(SEED, lab=lab)
        _, durations = branch_durations(definition, execution.events)
        if len(set(durations.values())) == 2:
            return execution, sorted(durations, key=durations.get)
    pytest.skip("the two branches always took exactly as long")


def test_longest_branch_right(deployed_lab):
    execution, (shorter, longer) = untied_execution(deployed_lab)
    checks.submit("longest-branch", {"execution": execution.arn, "branch": longer})
    assert check("longest-branch", deployed_lab).status == checks.DONE


def test_longest_branch_no_answer(fresh_lab):
    result = check("longest-branch", fresh_lab)
    assert result.status == checks.NOT_DONE and "submit" in result.hint


def test_longest_branch_shorter_branch_is_wrong(deployed_lab):
    execution, (shorter, longer) = untied_execution(deployed_lab)
    checks.submit("longest-branch", {"execution": execution.arn, "branch": shorter})
    result = check("longest-branch", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "shorter" in result.message


@pytest.mark.parametrize("branch, words", [("Last Level", "inside the UpdateDB branch"),
                                           ("CWMetric", "top-level state"), ("StartTask", "Parallel state itself")])
def test_longest_branch_a_state_that_is_not_a_branch_is_wrong(deployed_lab, branch, words):
    execution = run_execution(SEED, lab=deployed_lab)
    checks.submit("longest-branch", {"execution": execution.arn, "branch": branch})
    result = check("longest-branch", deployed_lab)
    assert result.status == checks.NOT_RIGHT and words in result.message and "Gen Report" in result.hint


def test_longest_branch_bad_answers_are_wrong(deployed_lab):
    checks.submit("longest-branch", "UpdateDB")
    assert "dict" in check("longest-branch", deployed_lab).message
    checks.submit("longest-branch", {"execution": deployed_lab.state_machine_arn.replace(
        "stateMachine", "execution") + ":nope", "branch": "UpdateDB"})
    result = check("longest-branch", deployed_lab)
    assert result.status == checks.NOT_RIGHT and result.where == "answer › execution"
    failed = run_execution({**SEED, "time_played": None}, lab=deployed_lab)
    checks.submit("longest-branch", {"execution": failed.arn, "branch": "UpdateDB"})
    assert "FAILED" in check("longest-branch", deployed_lab).message


# --- 06 metric-per-level ------------------------------------------------------------------------

PUT_METRIC_BY_LEVEL = PUT_METRIC_ANY_ORDER.replace(
    '"Unit": "Seconds"}', '"Unit": "Seconds",\n         "Dimensions": [{"Name": "Level", "Value": player["level"]}]}')


def invoke_levels(lab, levels, base="PutMetricByLevel"):
    for level in levels:
        player = {**SEED, "level": level, "time_played": 100}
        lab.lambda_.invoke(FunctionName=lab.names.prefixed(base), Payload=json.dumps([player, player]))


def test_metric_per_level_right(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "PutMetricByLevel", PUT_METRIC_BY_LEVEL, tmp_path)
    invoke_levels(deployed_lab, ["level-1", "level-2", "latest"])
    result = check("metric-per-level", deployed_lab)
    assert result.status == checks.DONE, repr(result)


def test_metric_per_level_no_answer(fresh_lab):
    assert check("metric-per-level", fresh_lab).status == checks.NOT_DONE


def test_metric_per_level_too_few_levels_is_wrong(deployed_lab, tmp_path, monkeypatch):
    from labhelpers.exercises import metrics_logs

    deploy_code(deployed_lab, "PutMetricByLevel", PUT_METRIC_BY_LEVEL, tmp_path)
    # Metrics are account-wide (a class shares them): other tests have written more levels already,
    # so show the check the account a student would have who invoked it for "latest" only.
    levels_now = metrics_logs._level_metrics
    monkeypatch.setattr(metrics_logs, "_level_metrics",
                        lambda lab: ({"latest"}, levels_now(lab)[1]))
    result = check("metric-per-level", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "Only 1 level" in result.message


def test_metric_per_level_lower_case_dimension_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "PutMetricByLevel", PUT_METRIC_BY_LEVEL.replace('"Name": "Level"', '"Name": "level"'),
                tmp_path)
    result = check("metric-per-level", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "'level'" in result.message


def test_metric_per_level_without_dimension_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "PutMetricByLevel", PUT_METRIC_ANY_ORDER, tmp_path)
    result = check("metric-per-level", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "wrote no datapoint" in result.message


def test_metric_per_level_extra_dimension_is_wrong(deployed_lab, tmp_path):
    two = PUT_METRIC_BY_LEVEL.replace('"Value": player["level"]}', '"Value": player["level"]}, '
                                      '{"Name": "Player", "Value": player["user_id"]}')
    deploy_code(deployed_lab, "PutMetricByLevel", two, tmp_path)
    result = check("metric-per-level", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "Level, Player" in result.message


# --- 06 report-log-line ---------------------------------------------------------------------------

def logged_report(set_level=True, use_print=False):
    code = (r.config.LAMBDAS_DIR / "GenerateReport" / "lambda_function.py").read_text()
    setup = "import logging\nimport os\n" + ("\nlogging.getLogger().setLevel(logging.INFO)\n" if set_level else "")
    line = ('    print("report written:", user_id, level, "%s_report_%s.txt" % (user_id, level))\n' if use_print else
            '    logging.info("report written: %s_report_%s.txt", user_id, level)\n')
    return code.replace("import os\n", setup, 1).replace("    return event", line + "    return event")


def test_report_log_line_right(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "GenerateReportLogged", logged_report(), tmp_path)
    assert check("report-log-line", deployed_lab).status == checks.DONE


def test_report_log_line_no_answer(fresh_lab):
    assert check("report-log-line", fresh_lab).status == checks.NOT_DONE


def test_report_log_line_without_set_level_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "GenerateReportLogged", logged_report(set_level=False), tmp_path)
    result = check("report-log-line", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "WARNING" in result.message and "setLevel" in result.hint


def test_report_log_line_print_is_wrong(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "GenerateReportLogged", logged_report(use_print=True), tmp_path)
    result = check("report-log-line", deployed_lab)
    assert result.status == checks.NOT_RIGHT and "printed" in result.message


# --- all of them --------------------------------------------------------------------------------

def test_exercise_resources_are_tagged_for_cleanup(deployed_lab, tmp_path):
    deploy_code(deployed_lab, "RecordHighScore", RECORD_HIGH_SCORE, tmp_path)
    high_score_flow(deployed_lab)
    machines, functions = r.exercise_resources(deployed_lab)
    assert [m.rsplit(":", 1)[-1] for m in machines] == [deployed_lab.names.prefixed("HighScoreFlow")]
    assert functions == [deployed_lab.names.prefixed("RecordHighScore")]
    r.cleanup(deployed_lab)
    assert check("choice-high-score", deployed_lab).status == checks.NOT_DONE


def test_progress_of_nobody_answers_quickly(fresh_lab):
    started = time.monotonic()
    table = checks.progress(fresh_lab)
    assert (table["status"] == checks.NOT_DONE).all()
    assert time.monotonic() - started < 5
