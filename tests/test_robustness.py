"""One bad definition never breaks the account: parse state does not outlive a parse nor cross
threads, and an emulator fault fails its execution instead of leaving it RUNNING."""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

CORPUS = Path(__file__).parent / "data" / "asl-corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.json")) + sorted((CORPUS / "invalid").glob("*.json"))
CORPUS_FILES = [p for p in CORPUS_FILES if p.name != "summary.json"]
#: Invalid definitions that failed while moto's preprocessor had a JSONata scope open: before the
#: fix, every later definition inherited that scope.
POISONING = ["asl-validator__invalid-jsonata-path-fields.json", "asl-validator__invalid-map-items.json"]
ROLE = "arn:aws:iam::123456789012:role/lab-test"


def _verdict(sfn, text: str) -> tuple:
    answer = sfn.validate_state_machine_definition(definition=text)
    return answer["result"], tuple((d["code"], d.get("location")) for d in answer["diagnostics"])


def _fresh_verdict(text: str) -> tuple:
    """The verdict of a definition parsed alone: moto's scope stack empty, as in a new emulator."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    from labhelpers.emulator import fixes, sfn_extensions

    fixes._install_string_escapes_decoded(None)  # what the emulator's parser runs with
    saved = Preprocessor.__dict__["_query_language_per_scope"]
    try:
        Preprocessor._query_language_per_scope = []
        diagnostics = [d for d in sfn_extensions.definition_diagnostics(text) if d["severity"] == "ERROR"]
    finally:
        Preprocessor._query_language_per_scope = saved
    return ("FAIL" if diagnostics else "OK"), tuple((d["code"], d.get("location")) for d in diagnostics)


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    assert len(CORPUS_FILES) == 400, "the committed corpus is incomplete"
    return {p.name: p.read_text() for p in CORPUS_FILES}


@pytest.fixture(scope="module")
def fresh_verdicts(corpus) -> dict[str, tuple]:
    return {name: _fresh_verdict(text) for name, text in corpus.items()}


def test_a_failed_create_leaves_the_next_definition_unharmed(lab):
    from labhelpers.resources import render_definition

    for name in POISONING:
        with pytest.raises(ClientError) as caught:
            lab.sfn.create_state_machine(name=f"poison-{uuid.uuid4().hex[:6]}", roleArn=ROLE,
                                         definition=(CORPUS / "invalid" / name).read_text())
        assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    definition = render_definition(lab)
    assert _verdict(lab.sfn, definition) == ("OK", ())
    created = lab.sfn.create_state_machine(name=f"after-poison-{uuid.uuid4().hex[:6]}", roleArn=ROLE,
                                           definition=definition)
    assert created["stateMachineArn"]
    data_flow = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$.x"},
                                                  "ResultPath": "$.out", "OutputPath": "$.out", "End": True}}}
    assert _verdict(lab.sfn, json.dumps(data_flow)) == ("OK", ())


@pytest.mark.parametrize("order", ["file order", "reversed", "shuffled"])
def test_the_corpus_gets_each_file_its_own_verdict_in_any_order(lab, corpus, fresh_verdicts, order):
    names = sorted(corpus)
    if order == "reversed":
        names.reverse()
    elif order == "shuffled":
        random.Random(15).shuffle(names)
    verdicts = {name: _verdict(lab.sfn, corpus[name]) for name in names}
    wrong = {n: (verdicts[n], fresh_verdicts[n]) for n in names if verdicts[n] != fresh_verdicts[n]}
    assert not wrong, f"{len(wrong)} files judged differently than alone, e.g. {next(iter(wrong.items()))}"


def test_the_corpus_gets_the_same_verdicts_from_8_threads_at_once(lab, corpus, fresh_verdicts):
    names = sorted(corpus) * 2
    random.Random(8).shuffle(names)
    with ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda name: (name, _verdict(lab.sfn, corpus[name])), names))
    wrong = [(n, v, fresh_verdicts[n]) for n, v in verdicts if v != fresh_verdicts[n]]
    assert not wrong, f"{len(wrong)} verdicts differ from the file's own, e.g. {wrong[0]}"


def test_executions_started_while_definitions_fail_elsewhere_all_finish(lab, corpus):
    # A class at work: some students start executions while others validate broken definitions.
    from labhelpers.executions import start_execution, wait_all
    from labhelpers.playground import playground_machine

    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "ResultPath": "$.seen", "End": True}}}
    arn = playground_machine(definition, "RobustnessConcurrent", lab)
    broken = [corpus[n] for n in sorted(corpus) if n.startswith("asl-validator__invalid")] * 3

    def start(i: int):
        return start_execution({"i": i}, lab=lab, state_machine_arn=arn)

    with ThreadPoolExecutor(8) as pool:
        validating = [pool.submit(_verdict, lab.sfn, text) for text in broken]
        started = list(pool.map(start, range(60)))
        [f.result() for f in validating]
    statuses = [e.status for e in wait_all(started, lab=lab, timeout=120)]
    assert statuses == ["SUCCEEDED"] * 60


def test_an_emulator_fault_fails_the_execution_and_names_where(monkeypatch):
    # In this process, on moto's own backend: the fault is injected where only the emulator can fail.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.parser.backend import execution_worker

    from labhelpers.emulator import robustness

    for patch in robustness.PATCHES:
        patch.install(None)
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)

    def broken_parse(self):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(execution_worker.ExecutionWorker, "_get_evaluation_entrypoint", broken_parse)
    backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    machine = backend.create_state_machine(name=f"fault-{uuid.uuid4().hex[:6]}", roleArn=ROLE,
                                           definition=json.dumps({"StartAt": "A", "States": {
                                               "A": {"Type": "Pass", "End": True}}}))
    execution = backend.start_execution(machine.arn, name="faulty", execution_input="{}")
    arn = execution.exec_arn
    deadline = time.monotonic() + 30
    while backend.describe_execution(arn).status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.01)
    described = backend.describe_execution(arn)
    assert described.status == "FAILED"
    assert described.error == "States.Runtime"
    assert "before its first state" in described.cause and "RuntimeError: injected fault" in described.cause
    backend.stop_execution(arn)  # after the fault: no HTTP 500 ('NoneType'...)
