"""ValidateStateMachineDefinition and CreateStateMachine agree with AWS on the ASL corpus
(issue 15, point 2): the top-level files of tests/data/asl-corpus/ are valid on AWS, those in
invalid/ are rejected. What moto's grammar cannot run is accepted, and its executions fail with
States.Runtime naming the feature."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "data" / "asl-corpus"
VALID = sorted(p for p in CORPUS.glob("*.json") if p.name != "summary.json")
INVALID = sorted((CORPUS / "invalid").glob("*.json"))
ROLE = "arn:aws:iam::123456789012:role/lab-test"

#: Every file the emulator judges differently from the corpus label, and why. The test fails when
#: one is fixed (remove it here) or another appears.
KNOWN_DISAGREEMENTS = {
    "asl-validator__valid-map-with-item-batcher-jsonata.json":
        "labelled valid by asl-validator, but its machine is JSONata and an inner state sets QueryLanguage "
        "JSONPath: AWS rejects that ('QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole "
        "state machine, recorded in aws-recordings ..._INVALID_DOWNGRADE_QUERY_LANGUAGE); we follow AWS",
    "asl-validator__valid-task-intrisic-function.json":
        "its Resources are CloudFormation objects ({'Fn::GetAtt': ...}, {'Ref': ...}) that CloudFormation "
        "resolves before AWS sees the definition; a Resource that is not a string is not valid ASL",
    "behave-asl__execution--task--catch--s03-errors-that-can-be-caught-and-not-retried-are-caught.json":
        "validity unknown (a behave-asl test of its own interpreter): a Retrier with a 'Next' field, which "
        "the ASL Retrier has no field for",
    "localstack__services--lambda_list_functions.json":
        "validity unknown (a localstack test template): arn:aws:states:::lambda:listFunctions is no "
        "optimised integration (Lambda's has only invoke); AWS rejects such ARNs, as recorded for "
        "invalid/localstack__services--invalid_integration_dynamodb_query.json",
    "statelint__parallel-with-resultselector.json":
        "labelled valid by statelint (its test is about ResultSelector), but its Parameters is a string "
        "('$.foo'): ASL's Parameters is a payload template, a JSON object; moto's grammar requires one and "
        "no AWS recording shows a string accepted",
    "invalid/asl-validator__invalid-json-surround-syntax-extra-spaces.json":
        "asl-validator rejects '{% \\n10 %}' for its whitespace; no AWS rule or recording says so, and "
        "the expression parses",
    "invalid/asl-validator__invalid-jsonata-surround-syntax-no-spaces.json":
        "asl-validator rejects '{%10%}' for lacking spaces; AWS's own samples write '{%$lowercase(...) %}' "
        "without the space, so we accept it",
}


def _key(path: Path) -> str:
    return f"invalid/{path.name}" if path.parent.name == "invalid" else path.name


@pytest.fixture(scope="module")
def verdicts(lab) -> dict[str, dict]:
    assert len(VALID) == 354 and len(INVALID) == 46, "the committed corpus is incomplete"
    return {_key(p): lab.sfn.validate_state_machine_definition(definition=p.read_text())
            for p in VALID + INVALID}


def test_validation_agrees_with_aws_on_98_percent_of_the_corpus(verdicts):
    disagreeing = {name for name, answer in verdicts.items()
                   if (answer["result"] == "OK") == name.startswith("invalid/")}
    assert disagreeing == set(KNOWN_DISAGREEMENTS), (
        f"newly disagreeing: {sorted(disagreeing - set(KNOWN_DISAGREEMENTS))}; "
        f"now agreeing: {sorted(set(KNOWN_DISAGREEMENTS) - disagreeing)}")
    assert 1 - len(disagreeing) / len(verdicts) >= 0.98


@pytest.mark.parametrize("name, code, location", [
    ("invalid/statelint__choice-with-resultpath.json", "SCHEMA_VALIDATION_FAILED", "/States/p"),
    ("invalid/statelint__pass-with-resultselector.json", "SCHEMA_VALIDATION_FAILED", "/States/p"),
    ("invalid/asl-validator__invalid-jsonata-syntax-arithmetic.json", "SCHEMA_VALIDATION_FAILED",
     "/States/X/Output"),
    ("invalid/asl-validator__invalid-jsonata-surround-syntax-no-close.json", "SCHEMA_VALIDATION_FAILED",
     "/States/X/Output"),
    ("invalid/localstack__scenarios--escape_sequences_illegal_intrinsic_function.json",
     "SCHEMA_VALIDATION_FAILED", "/States/IntrinsicEscape/Parameters"),
    ("invalid/asl-validator__invalid-map-tolerated-value.json", "SCHEMA_VALIDATION_FAILED",
     "/States/Map/ToleratedFailurePercentage"),
    ("invalid/localstack__validation--invalid_downgrade_query_language.json", "SCHEMA_VALIDATION_FAILED",
     "/States/Pass"),
])
def test_rejections_name_the_code_and_the_location(verdicts, name, code, location):
    diagnostics = verdicts[name]["diagnostics"]
    assert verdicts[name]["result"] == "FAIL"
    assert (diagnostics[0]["code"], diagnostics[0].get("location")) == (code, location)


# --- what moto's grammar cannot run: accepted, and failed at run time -------------------------------

DISTRIBUTED_MAP = {"StartAt": "Fan out", "States": {"Fan out": {
    "Type": "Map", "ToleratedFailurePercentage": 100, "ItemBatcher": {"MaxItemsPerBatch": 2},
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                      "StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": True}}},
    "End": True}}}
HTTP_TASK = {"StartAt": "Call", "States": {"Call": {
    "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
    "Parameters": {"ApiEndpoint": "https://example.com/api", "Method": "GET",
                   "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/c/1"}},
    "Retry": [{"ErrorEquals": ["States.Http.Socket"], "MaxAttempts": 1}], "End": True}}}
ACTIVITY_TASK = {"StartAt": "Work", "States": {"Work": {
    "Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:lab-work",
    "HeartbeatSeconds": 60, "TimeoutSeconds": 300, "End": True}}}
#: A JSONPath machine whose JSONata Map hands over to a JSONPath state; a States.-prefixed custom
#: error raised and caught by name (AWS's samples do both).
HANDOVER = {"StartAt": "Map", "QueryLanguage": "JSONPath", "States": {
    "Map": {"Type": "Map", "QueryLanguage": "JSONata", "Items": "{% [1, 2] %}",
            "Output": "{% {'mapped': $states.result} %}",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Back to JSONPath",
                              "States": {"Back to JSONPath": {"QueryLanguage": "JSONPath", "Type": "Pass",
                                                              "Parameters": {"seen.$": "$"}, "End": True}}},
            "Next": "Quorum"},
    "Quorum": {"Type": "Parallel", "Branches": [{"StartAt": "Met", "States": {
        "Met": {"Type": "Fail", "Error": "States.QuorumMet", "Cause": "enough"}}}],
        "Catch": [{"ErrorEquals": ["States.QuorumMet"], "ResultPath": "$.quorum", "Next": "Done"}],
        "Next": "Done"},
    "Done": {"Type": "Succeed"}}}


def _create(sfn, definition: dict) -> str:
    return sfn.create_state_machine(name=f"verdict-{uuid.uuid4().hex[:10]}", roleArn=ROLE,
                                    definition=json.dumps(definition))["stateMachineArn"]


def _run(sfn, arn: str, timeout: float = 30) -> dict:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3]}))["executionArn"]
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution is still RUNNING"
        time.sleep(0.1)
    return described


@pytest.mark.parametrize("definition", [DISTRIBUTED_MAP, HTTP_TASK, ACTIVITY_TASK, HANDOVER],
                         ids=["distributed-map", "http-task", "activity", "jsonata-to-jsonpath"])
def test_create_state_machine_accepts_what_aws_accepts(lab, definition):
    assert lab.sfn.validate_state_machine_definition(definition=json.dumps(definition))["result"] == "OK"
    arn = _create(lab.sfn, definition)
    assert lab.sfn.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(definition)


@pytest.mark.parametrize("path", [
    "aws-stepfunctions-examples__sam--demo-distributed-map-data-processing--statemachines--dmap-temperatures.json",
    "step-functions-workflows-collection__activity-state-machine-tf--statemachines--statemachine.json",
    "aws-stepfunctions-examples__usecases--genai-prompt-chaining-hitl--src--workflow.json",
])
def test_create_state_machine_accepts_the_corpus_samples_moto_could_not_parse(lab, path):
    assert lab.sfn.create_state_machine(name=f"verdict-{uuid.uuid4().hex[:10]}", roleArn=ROLE,
                                        definition=(CORPUS / path).read_text())["stateMachineArn"]


@pytest.mark.parametrize("definition, feature", [
    (DISTRIBUTED_MAP, "Distributed Map with ExecutionType EXPRESS"),
    (DISTRIBUTED_MAP, "ItemBatcher"),
    (HTTP_TASK, "HTTP Task (arn:aws:states:::http:invoke)"),
])
def test_what_the_emulator_cannot_run_fails_with_states_runtime_naming_it(lab, definition, feature):
    described = _run(lab.sfn, _create(lab.sfn, definition))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert feature in described["cause"] and "AWS accepts" in described["cause"]


def test_a_jsonata_state_hands_over_to_jsonpath_and_states_errors_are_caught_by_name(lab):
    described = _run(lab.sfn, _create(lab.sfn, HANDOVER))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output["quorum"]["Error"] == "States.QuorumMet"
