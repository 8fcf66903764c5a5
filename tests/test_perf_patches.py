"""Behaviour of the performance patches (benchmarks/run.py measures their speed; nothing here is timed)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
import uuid

import pytest

from labhelpers.emulator import speed_interpreter, speed_records, speed_server


def _state_machine(lab, definition: dict) -> str:
    role = lab.iam.get_role(RoleName=lab.names.states_role)["Role"]["Arn"]
    return lab.sfn.create_state_machine(name=f"perf-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                        roleArn=role)["stateMachineArn"]


def _run(lab, arn: str, payload: dict | None = None):
    from labhelpers import Execution

    started = lab.sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}))
    return Execution(started["executionArn"], lab).wait(timeout=30)


# --- the parsed-definition cache ----------------------------------------------------------------

def test_an_updated_definition_is_the_one_that_runs(lab):
    arn = _state_machine(lab, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "first", "End": True}}})
    assert _run(lab, arn).output == "first"
    lab.sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "second", "End": True}}}))
    assert _run(lab, arn).output == "second"
    assert _run(lab, arn).output == "second"


def test_retry_counters_are_per_execution_with_a_shared_program(lab):
    # Retry counts live in each execution's heap under the component's heap key; the cached
    # program is shared, so the keys must be fixed before two executions use it.
    definition = {"StartAt": "Fail", "States": {"Fail": {
        "Type": "Task", "Resource": lab.function_arn("PutMetric"), "End": True,
        "Retry": [{"ErrorEquals": ["ValueError"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1.0}]}}}
    arn = _state_machine(lab, definition)
    for _ in range(2):
        execution = _run(lab, arn, {"not": "a list"})
        assert execution.status == "FAILED" and execution.error == "ValueError"
        scheduled = [e for e in execution.events if e["type"] == "LambdaFunctionScheduled"]
        assert len(scheduled) == 3  # the first attempt and two retries, again for the second run


def test_parsed_programs_have_their_heap_keys_drawn_and_are_reused():
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    calls = []

    def original(worker):
        calls.append(worker)
        return AmazonStateLanguageParser.parse(worker._evaluation_details.state_machine_details.definition)[0]

    class Worker:
        def __init__(self, definition: str) -> None:
            details = type("D", (), {"definition": definition})()
            self._evaluation_details = type("E", (), {"state_machine_details": details})()

    entrypoint = speed_interpreter._definition_parsed_once(original)
    one = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    two = json.dumps({"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}})
    first = entrypoint(Worker(one))
    assert entrypoint(Worker(one)) is first and len(calls) == 1
    assert entrypoint(Worker(two)) is not first and len(calls) == 2
    components = [c for c in speed_interpreter._walk_components(first) if isinstance(c, EvalComponent)]
    assert components and all(c._EvalComponent__heap_key for c in components)


# --- threads ------------------------------------------------------------------------------------

def test_a_state_machine_timeout_still_stops_the_execution(lab):
    # Without TimeoutSeconds the program runs inline; with it, moto's watchdog must still fire.
    arn = _state_machine(lab, {"TimeoutSeconds": 1, "StartAt": "W",
                               "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}})
    assert _run(lab, arn).status == "TIMED_OUT"


def test_reused_threads_run_tasks_at_once_and_are_reused(monkeypatch):
    import threading

    pool = speed_interpreter._ReusedThreads(keep_idle=2)
    first_done, second_may_finish, idents, names = threading.Event(), threading.Event(), [], []

    def waits_for_the_other():  # a branch may wait for its sibling: tasks never queue
        second_may_finish.wait(5)
        idents.append(threading.get_ident())
        first_done.set()

    pool.start(waits_for_the_other, "A")
    pool.start(lambda: (idents.append(threading.get_ident()), second_may_finish.set()), "B")
    assert first_done.wait(5)
    deadline = time.monotonic() + 5
    while len(pool._idle) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    reported = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_type))
    done = threading.Event()
    pool.start(lambda: 1 / 0, "C")  # reported as an unhandled thread exception, and the thread lives on
    pool.start(lambda: (idents.append(threading.get_ident()), names.append(threading.current_thread().name),
                        done.set()), "D")
    assert done.wait(5)
    deadline = time.monotonic() + 5
    while not reported and time.monotonic() < deadline:  # C and D run at once: C may report last
        time.sleep(0.01)
    assert reported == [ZeroDivisionError]
    assert names == ["D"] and len(pool._idle) <= 2
    assert idents[2] in idents[:2]  # D ran on a thread that A or B had used
    assert threading.active_count() < 50


def test_parallel_branches_still_run_and_keep_their_order(lab):
    arn = _state_machine(lab, {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": f"B{i}", "States": {f"B{i}": {"Type": "Pass", "Result": i, "End": True}}} for i in range(4)]}}})
    assert _run(lab, arn).output == [0, 1, 2, 3]


# --- lookups ------------------------------------------------------------------------------------

def test_backend_lookup_is_computed_once_per_host():
    seen = []

    def original(self, host):
        seen.append(host)
        return f"backend-of-{host}"

    lookup = speed_server._backend_lookup_cached(original)
    assert lookup(None, "a") == lookup(None, "a") == "backend-of-a"
    assert lookup(None, "b") == "backend-of-b"
    assert seen == ["a", "b"]


def test_jsonpath_lookups_answer_as_before_from_the_cache():
    from moto.stepfunctions.parser.asl.utils import json_path

    speed_interpreter._install_jsonpath_parsed_once(None)
    data = {"level": "latest", "items": [{"n": 1}, {"n": 2}]}
    assert json_path.extract_json("$.level", data) == "latest"
    assert json_path.extract_json("$.items[*].n", data) == [1, 2]
    assert json_path.extract_json("$.items[1]", data) == {"n": 2}
    with pytest.raises(json_path.NoSuchJsonPathError):
        json_path.extract_json("$.missing", data)
    assert json_path.parse.cache_info().hits >= 0


# --- HTTP keep-alive ----------------------------------------------------------------------------

_HEADERS = {"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-west-2/states/aws4_request, "
                             "SignedHeaders=host, Signature=x"}


def test_connections_stay_open_between_requests_with_bodies(lab, emulator_port):
    conn = http.client.HTTPConnection("127.0.0.1", emulator_port, timeout=10)
    try:
        for _ in range(3):
            conn.request("POST", "/", body=b"{}", headers=_HEADERS)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200 and "stateMachines" in json.loads(body)
            assert (response.getheader("Connection") or "").lower() != "close"
        sock = conn.sock
        conn.request("GET", "/_lab/health")
        assert json.loads(conn.getresponse().read())["emulator"] == "labhelpers"
        assert conn.sock is sock  # the same TCP connection answered every request
    finally:
        conn.close()


def test_expect_100_continue_is_answered_before_the_body_is_sent(lab, emulator_port):
    # botocore sends "Expect: 100-continue" for S3 uploads and holds the body until the interim
    # answer arrives: a buffered "100 Continue" left every S3 PutObject of a Lambda hanging.
    import socket

    body = b"{}"
    head = "".join(f"{k}: {v}\r\n" for k, v in {**_HEADERS, "Host": f"127.0.0.1:{emulator_port}",
                                                 "Content-Length": len(body), "Expect": "100-continue"}.items())
    with socket.create_connection(("127.0.0.1", emulator_port), timeout=5) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\n{head}\r\n".encode())
        answer = sock.recv(1024)
        assert answer.startswith(b"HTTP/1.1 100 Continue")  # before any body was sent
        sock.sendall(body)
        while b"stateMachines" not in answer:
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
        interim = b"HTTP/1.1 100 Continue\r\n\r\n"  # http.server and werkzeug each send one
        while answer.startswith(interim):
            answer = answer[len(interim):]
        assert answer.startswith(b"HTTP/1.1 200 OK")


def test_a_chunked_request_is_answered_and_then_closed(lab, emulator_port):
    conn = http.client.HTTPConnection("127.0.0.1", emulator_port, timeout=10)
    try:
        conn.request("POST", "/", body=iter([b"{", b"}"]), headers=_HEADERS, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 200 and "stateMachines" in json.loads(response.read())
        assert response.getheader("Connection", "").lower() == "close"
    finally:
        conn.close()


def test_werkzeug_drains_through_selectors_only_after_a_response():
    # The emulator hands werkzeug.serving a stand-in for ``selectors`` (server._NothingToDrain):
    # it must still be the drain after each response, the only use werkzeug makes of the module.
    import inspect

    import werkzeug.serving

    from labhelpers.emulator import server

    assert set(re.findall(r"\bselectors\.(\w+)", inspect.getsource(werkzeug.serving))) == {
        "DefaultSelector", "EVENT_READ"}
    drain = server._NothingToDrain()
    server._request_state.body_buffered = True
    try:
        assert drain.DefaultSelector().select(timeout=0.01) == []
    finally:
        server._request_state.body_buffered = False
    with drain.DefaultSelector() as real:  # a body not read in full: werkzeug drains it as before
        assert type(real).__module__ == "selectors"


_HEADER_BLOCKS = [
    b"Host: 127.0.0.1:7544\r\nX-Amz-Target: DynamoDB_20120810.UpdateItem\r\nContent-Length: 2\r\n\r\n",
    b"host:x\r\nX-Amz-Meta-My_Key:  spaced value  \r\nx-amz-meta-my_key: second\r\nA: b: c\r\n\r\n",
    b"Expect: 100-continue\r\nContent-Type: text/plain\nEmpty:\r\n\r\n",
    b"Folded: first\r\n  continued\r\nNext: 1\r\n\r\n",  # obs-fold: the email parser's case
    b"Bad Name: x\r\nOther: y\r\n\r\n",  # a space in a name: also the email parser's
    b":no name\r\nX: 1\r\n\r\n",
    b"\r\n",  # no headers at all
]


@pytest.mark.parametrize("block", _HEADER_BLOCKS)
def test_request_headers_read_as_http_client_reads_them(block):
    import io

    from labhelpers.emulator import server

    expected = http.client.parse_headers(io.BytesIO(block + b"GET / HTTP/1.1\r\n"))
    stream = io.BytesIO(block + b"GET / HTTP/1.1\r\n")
    headers = server.read_headers(stream, http.client.HTTPMessage)
    assert stream.read() == b"GET / HTTP/1.1\r\n"  # the next request is left unread
    assert headers.items() == expected.items() and headers.keys() == expected.keys()
    for name in ("host", "X-AMZ-META-MY_KEY", "Expect", "content-type", "Empty", "folded", "missing", "", "a"):
        assert headers.get(name) == expected.get(name) and headers.get(name, "-") == expected.get(name, "-")
        assert headers[name] == expected[name] and (name in headers) == (name in expected)


def test_request_header_limits_are_http_clients():
    import io

    from labhelpers.emulator import server

    with pytest.raises(http.client.LineTooLong):
        server.read_headers(io.BytesIO(b"X: " + b"a" * 70000 + b"\r\n\r\n"), http.client.HTTPMessage)
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        server.read_headers(io.BytesIO(b"X: 1\r\n" * 101 + b"\r\n"), http.client.HTTPMessage)


def test_the_request_handler_asks_headers_only_what_they_answer():
    # server._Headers answers get/[]/in/items/keys: werkzeug's and moto's handlers, and
    # http.server's request handling, must ask nothing else of ``self.headers``.
    import http.server
    import inspect

    import werkzeug.serving
    from moto.moto_server import werkzeug_app

    from labhelpers.emulator import server

    asked = set()
    for source in (inspect.getsource(werkzeug.serving.WSGIRequestHandler), inspect.getsource(
            werkzeug_app.MotoRequestHandler), inspect.getsource(server.keep_alive_handler),
            inspect.getsource(http.server.BaseHTTPRequestHandler)):
        asked |= set(re.findall(r"self\.headers\.(\w+)", source))
    assert {"get", "items", "keys"} >= asked >= {"get", "items"}


def test_requests_with_odd_lines_are_still_answered(lab, emulator_port):
    # An HTTP/1.0 request line and a folded header both take http.server's own parsing.
    for request in (b"GET /_lab/health HTTP/1.0\r\nHost: x\r\n\r\n",
                    b"GET /_lab/health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n",
                    b"GET //_lab/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", emulator_port), timeout=10) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n")[0], answer[:200]
        assert b'"emulator": "labhelpers"' in answer


def test_s3_metadata_keys_keep_their_underscores(lab):
    # The emulator's request handler is moto's (which keeps them), with keep-alive added.
    lab.s3.put_object(Bucket=lab.names.bucket, Key="perf/meta.json", Body=b"{}", Metadata={"player_id": "p1"})
    assert lab.s3.head_object(Bucket=lab.names.bucket, Key="perf/meta.json")["Metadata"] == {"player_id": "p1"}
    lab.s3.delete_object(Bucket=lab.names.bucket, Key="perf/meta.json")


def test_boto3_works_over_kept_alive_connections(lab):
    # S3 PUT and GET with bodies, DynamoDB, then Step Functions, all on pooled connections.
    for i in range(3):
        lab.s3.put_object(Bucket=lab.names.bucket, Key=f"keepalive-{i}.txt", Body=b"x" * (i * 70_000 + 1))
        assert len(lab.s3.get_object(Bucket=lab.names.bucket, Key=f"keepalive-{i}.txt")["Body"].read()) == i * 70_000 + 1
    assert lab.dynamodb.describe_table(TableName=lab.names.table)["Table"]["TableName"] == lab.names.table
    assert lab.sfn.describe_state_machine(stateMachineArn=lab.state_machine_arn)["name"] == lab.names.state_machine


# --- copies, caches and inline states -------------------------------------------------------------

def test_json_copy_is_a_deep_copy():
    value = {"a": [1, {"b": "c"}], "d": None, "e": 1.5, "f": True}
    copied = speed_interpreter._json_copy(value)
    assert copied == value and copied is not value
    copied["a"][1]["b"] = "changed"
    assert value["a"][1]["b"] == "c"
    odd = {"when": {1, 2}}  # not JSON: copy.deepcopy takes over
    assert speed_interpreter._json_copy(odd) == odd and speed_interpreter._json_copy(odd)["when"] is not odd["when"]


def test_method_names_follow_new_methods():
    calls = []

    def original(cls):
        calls.append(cls)
        return sorted(n for n in dir(cls) if not n.startswith("_"))

    names = speed_server._method_names_cached(original)

    class Response:
        def one(self): ...

    assert names(Response) == ["one"] and names(Response) == ["one"] and len(calls) == 1
    Response.two = lambda self: None
    assert names(Response) == ["one", "two"]


def test_a_caught_task_failure_still_takes_the_catch_path(lab):
    arn = _state_machine(lab, {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": lab.function_arn("PutMetric"), "End": True,
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}})
    execution = _run(lab, arn, {"not": "a list"})
    assert execution.status == "SUCCEEDED" and execution.output["error"]["Error"] == "ValueError"


# --- waiting for a batch --------------------------------------------------------------------------

def test_wait_all_returns_the_final_statuses_in_order(lab):
    from labhelpers.executions import wait_all

    arn = _state_machine(lab, {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Ok"}],
              "Default": "No"},
        "Ok": {"Type": "Succeed"}, "No": {"Type": "Fail", "Error": "Nope"}}})
    from labhelpers import start_execution

    executions = [start_execution({"ok": i % 2 == 0}, lab=lab, state_machine_arn=arn) for i in range(6)]
    seen = []
    assert wait_all(executions, lab=lab, timeout=30, on_progress=seen.append) is executions
    assert [e.status for e in executions] == ["SUCCEEDED", "FAILED"] * 3
    assert sum(seen) == 6
    assert executions[1].error == "Nope"  # read with DescribeExecution when asked for


# --- finding an execution without a scan; one state machine snapshot per revision -----------------

def test_executions_are_indexed_and_the_list_is_unchanged():
    executions = speed_records._IndexedExecutions()
    first = type("E", (), {"execution_arn": "arn:1", "name": "a"})()
    second = type("E", (), {"execution_arn": "arn:2", "name": "a"})()
    executions.append(first)
    executions.append(second)
    assert list(executions) == [first, second]
    assert executions.by_arn == {"arn:1": first, "arn:2": second}
    assert executions.by_name["a"] is first  # the first one, as moto's scan found it


def test_executions_are_found_by_arn_and_name_and_listed_newest_first(lab):
    from botocore.exceptions import ClientError

    arn = _state_machine(lab, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    names = [f"idx-{i}" for i in range(5)]
    arns = [lab.sfn.start_execution(stateMachineArn=arn, name=n, input="{}")["executionArn"] for n in names]
    for execution_arn, name in zip(arns, names):
        assert lab.sfn.describe_execution(executionArn=execution_arn)["name"] == name
        assert lab.sfn.get_execution_history(executionArn=execution_arn)["events"]
        assert lab.sfn.describe_state_machine_for_execution(executionArn=execution_arn)["stateMachineArn"] == arn
    listed = lab.sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == names[::-1]
    with pytest.raises(ClientError) as err:
        lab.sfn.start_execution(stateMachineArn=arn, name="idx-0", input='{"other": 1}')
    assert err.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    with pytest.raises(ClientError) as err:
        lab.sfn.describe_execution(executionArn=arns[0][:-1] + "x")
    assert err.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_the_state_machine_snapshot_is_shared_until_the_machine_changes():
    from moto.stepfunctions.models import StateMachine

    shim = speed_records._SnapshotCopyModule()
    machine = StateMachine(arn="arn:aws:states:us-east-1:123456789012:stateMachine:s", name="s",
                           definition='{"v": 1}', roleArn="arn:aws:iam::123456789012:role/r", backend=object())

    def snapshot():
        return shim.deepcopy(machine, {id(machine.executions): [], id(machine.backend): machine.backend})

    first = snapshot()
    assert snapshot() is first and first is not machine and first.definition == '{"v": 1}'
    machine.executions.append(type("E", (), {"execution_arn": "arn:x", "name": "x"})())
    assert snapshot() is first  # a new execution does not change the snapshot
    machine.update(definition='{"v": 2}')
    second = snapshot()
    assert second is not first and second.definition == '{"v": 2}' and first.definition == '{"v": 1}'
    assert shim.deepcopy([1, [2]]) == [1, [2]]


def test_running_executions_keep_the_old_definition_and_new_ones_get_the_new(lab):
    arn = _state_machine(lab, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "Result": "old", "End": True}}})
    from labhelpers import Execution

    running = lab.sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    lab.sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "new", "End": True}}}))
    assert _run(lab, arn).output == "new"
    assert Execution(running, lab).wait(timeout=30).output == "old"


# --- what a finished execution keeps --------------------------------------------------------------

def _answers(backend, execution_arn: str, machine_arn: str) -> dict:
    """What the read APIs (and a no-op StopExecution) answer for one finished execution."""
    from moto.stepfunctions.parser.api import InvalidToken

    execution = backend.describe_execution(execution_arn)
    answers = {"describe": execution.to_describe_output(),
               "history": execution.to_history_output(),
               "machine": vars(backend.describe_state_machine_for_execution(execution_arn)).get("arn"),
               "list": [e.to_execution_list_item() for e in backend.list_executions(machine_arn)[0]],
               "map_runs": backend.list_map_runs(execution_arn)}
    for run in answers["map_runs"]["mapRuns"]:
        backend.update_map_run(run["mapRunArn"], 2, None, None)
        answers[run["mapRunArn"]] = backend.describe_map_run(run["mapRunArn"])
    backend.stop_execution(execution_arn)
    answers["after_stop"] = backend.describe_execution(execution_arn).to_describe_output()
    for send in (lambda: backend.send_task_success("no-such-token", "{}"),
                 lambda: backend.send_task_failure("no-such-token", "E", "c"),
                 lambda: backend.send_task_heartbeat("no-such-token")):
        with pytest.raises(InvalidToken):
            send()
    return answers


def test_a_finished_execution_answers_the_same_after_its_interpreter_state_is_released(monkeypatch):
    import time

    from moto.core.config import default_user_config
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.backend import execution as execution_module
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    comm = execution_module.BaseExecutionWorkerCommunication
    monkeypatch.setattr(comm, "terminated", getattr(comm.terminated, "__labhelpers_original__", comm.terminated))
    backend = StepFunctionsParserBackend("us-east-1", "123456789012")
    role = "arn:aws:iam::123456789012:role/r"
    item = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    definitions = {
        "pass": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}},
        "fail": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}},
        "map": {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                  **item}}}},
        "parallel": {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True,
                     "Branches": [item, {"StartAt": "J", "States": {"J": {"Type": "Pass", "Result": 2,
                                                                          "End": True}}}]}}},
    }
    started = []
    for name, definition in definitions.items():
        machine = backend.create_state_machine(name=f"trim-{name}", definition=json.dumps(definition), roleArn=role)
        execution = backend.start_execution(machine.arn, execution_input=json.dumps({"items": [1, 2, 3]}))
        started.append((machine.arn, execution))
    deadline = time.monotonic() + 30
    while any(e.exec_status.value == "RUNNING" for _, e in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e.exec_status.value for _, e in started] == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]

    before = [_answers(backend, e.execution_arn, arn) for arn, e in started]
    assert before[2]["map_runs"]["mapRuns"]  # the Map state left a map run to list, describe and update
    for _, execution in started:
        assert type(execution.exec_worker.env) is Environment
        speed_records._release_running_state(execution)
        assert type(execution.exec_worker.env) is speed_records._FinishedEnvironment
    after = [_answers(backend, e.execution_arn, arn) for arn, e in started]
    assert after == before


def test_the_interpreter_state_is_released_when_an_execution_finishes(lab):
    # On the emulator the patch is installed: the APIs still answer for finished executions.
    arn = _state_machine(lab, {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "Next": "F", "Branches": [
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]},
        "F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}})
    execution = _run(lab, arn)
    assert execution.status == "FAILED" and execution.error == "Boom"
    assert [e["type"] for e in execution.events][-1] == "ExecutionFailed"
    assert lab.sfn.list_map_runs(executionArn=execution.arn)["mapRuns"] == []
    lab.sfn.stop_execution(executionArn=execution.arn)
    assert lab.sfn.describe_execution(executionArn=execution.arn)["status"] == "FAILED"


def test_a_finished_execution_keeps_its_history_packed_and_unpacks_an_equal_copy():
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    manager = EventManager()
    manager._history_event_list.extend([
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2026-11-26T05:00:00.000Z",
         "executionStartedEventDetails": {"input": '{"a": 1}', "inputDetails": {"truncated": False}}},
        {"id": 2, "previousEventId": 1, "type": "ExecutionSucceeded", "timestamp": "2026-11-26T05:00:01.000Z",
         "executionSucceededEventDetails": {"output": "null", "outputDetails": {"truncated": False}}}])
    manager._lab_clock_offset_s = 3600.0
    packed = speed_records._PackedHistory(manager)
    first = packed.get_event_history()
    assert first == manager.get_event_history()
    first[0]["type"] = "changed"  # each answer is a copy of its own, as get_event_history's was
    assert packed.get_event_history()[0]["type"] == "ExecutionStarted"
    assert packed._lab_clock_offset_s == 3600.0  # the wait speed-up's clock travels with it
    assert isinstance(packed._packed, bytes) and not hasattr(packed, "__dict__")


# --- the interpreter's program-state copies -------------------------------------------------------

def _serialized(operation: str, result) -> str:
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model

    model = get_service_model("stepfunctions").operation_model(operation)
    serializer = get_serializer_class("stepfunctions", "json")(model, value_picker=XFormedAttributePicker())
    return serializer.serialize(result)["body"]


_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20261126/us-west-2/{service}/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=x")


def _call(app, call, method: str, path: str, service: str, headers: dict | None = None, body: bytes = b"",
          query: str = "") -> tuple[str, dict, bytes]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(method=method, path=path, query_string=query, data=body, headers={
        "Host": "127.0.0.1:7544", "Authorization": _AUTH.format(service=service), **(headers or {})}).get_environ()
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer.update(status=status, headers=response_headers)

    content = b"".join(call(app, environ, start_response))
    volatile = re.compile(r"request-?id|id-2|^date$", re.I)
    kept = {k.lower(): v for k, v in answer["headers"] if not volatile.search(k)}
    return answer["status"], kept, re.sub(rb"<RequestId>[^<]*</RequestId>", b"", content)


def test_list_executions_pages_are_written_as_the_serializer_writes_them(monkeypatch):
    import datetime

    import boto3
    from moto import mock_aws
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.responses import StepFunctionResponse

    original = getattr(StepFunctionResponse.list_executions, "__labhelpers_original__",
                       StepFunctionResponse.list_executions)
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        raw: list[bytes] = []
        sfn.meta.events.register("after-call.*.ListExecutions", lambda http_response, **_: raw.append(
            http_response.content))
        arn = sfn.create_state_machine(name="m", roleArn="arn:aws:iam::123456789012:role/r", definition=json.dumps(
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
        for i in range(5):
            sfn.start_execution(stateMachineArn=arn, name=f"e{i}")
        executions = stepfunctions_backends["123456789012"]["eu-west-1"].state_machines[0].executions
        executions[1].status, executions[1].stop_date = "SUCCEEDED", datetime.datetime(
            2026, 11, 26, 7, 1, 2, 345678, tzinfo=datetime.timezone.utc)
        executions[2].status, executions[2].stop_date = "FAILED", datetime.datetime(
            2026, 11, 26, 7, 1, 3, tzinfo=datetime.timezone.utc)
        sfn.stop_execution(executionArn=executions[3].execution_arn)
        calls = [{}, {"statusFilter": "RUNNING"}, {"maxResults": 2}, {"statusFilter": "SUCCEEDED"}]

        def pages() -> list:
            answers = [sfn.list_executions(stateMachineArn=arn, **call) for call in calls]
            token = answers[2]["nextToken"]
            answers.append(sfn.list_executions(stateMachineArn=arn, maxResults=2, nextToken=token))
            return [{k: v for k, v in a.items() if k != "ResponseMetadata"} for a in answers]

        monkeypatch.setattr(StepFunctionResponse, "list_executions", original)
        before, raw_before = pages(), raw[:]
        monkeypatch.setattr(StepFunctionResponse, "list_executions", speed_server._list_executions_written_directly(
            original))
        raw.clear()
        after = pages()
    assert after == before and raw == raw_before
    assert [len(p["executions"]) for p in before] == [5, 2, 2, 1, 2] and "nextToken" in before[2]
    statuses = {e["name"]: (e["status"], "stopDate" in e) for e in before[0]["executions"]}
    assert statuses == {"e0": ("RUNNING", False), "e1": ("SUCCEEDED", True), "e2": ("FAILED", True),
                        "e3": ("ABORTED", True), "e4": ("RUNNING", False)}
    assert b'"stopDate": 1795676462.345' in raw[0]  # milliseconds, as the serializer truncates them


# --- request ids -------------------------------------------------------------------------------


def test_requests_dispatched_without_flask_get_the_same_answers(monkeypatch):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    # The fast path repeats convert_to_flask_response's call (a target of the patch, fingerprinted).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app = DomainDispatcherApplication(create_backend_app)
    flask_path = getattr(DomainDispatcherApplication.__call__, "__labhelpers_original__",
                         DomainDispatcherApplication.__call__)
    fast_path = speed_server._dispatch_without_flask(flask_path)
    bucket, table = f"fast-{uuid.uuid4().hex[:8]}", f"fast-{uuid.uuid4().hex[:8]}"
    json_10 = lambda target: {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target}  # noqa: E731
    location = b"<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>"
    setup = [("PUT", f"/{bucket}", "s3", {}, location),
             ("PUT", f"/{bucket}/report.json", "s3", {"x-amz-meta-owner": "v", "Content-Type": "application/json"},
              b'{"a": 1}'),
             ("POST", "/", "dynamodb", json_10("DynamoDB_20120810.CreateTable"), json.dumps({
                 "TableName": table, "BillingMode": "PAY_PER_REQUEST",
                 "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                 "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}]}).encode())]
    for method, path, service, headers, body in setup:
        assert _call(app, flask_path, method, path, service, headers, body)[0].startswith("200")
    same = [  # method, path, service, headers, body, query
        ("GET", f"/{bucket}/report.json", "s3", {}, b"", ""),
        ("HEAD", f"/{bucket}/report.json", "s3", {}, b"", ""),
        ("GET", f"/{bucket}/missing.json", "s3", {}, b"", ""),
        ("GET", f"/{bucket}", "s3", {}, b"", "list-type=2"),
        ("PUT", f"/{bucket}/report.json", "s3", {"Content-Type": "application/json"}, b'{"a": 2}', ""),
        ("POST", "/", "dynamodb", json_10("DynamoDB_20120810.PutItem"),
         json.dumps({"TableName": table, "Item": {"k": {"S": "1"}, "n": {"N": "2"}}}).encode(), ""),
        ("POST", "/", "dynamodb", json_10("DynamoDB_20120810.GetItem"),
         json.dumps({"TableName": table, "Key": {"k": {"S": "1"}}}).encode(), ""),
        ("POST", "/", "dynamodb", json_10("DynamoDB_20120810.GetItem"),
         json.dumps({"TableName": "no-such-table", "Key": {"k": {"S": "1"}}}).encode(), ""),
        ("POST", "/", "states", json_10("AWSStepFunctions.ListStateMachines"), b"{}", ""),
        ("POST", "/", "states", json_10("AWSStepFunctions.DescribeStateMachine"),
         b'{"stateMachineArn": "arn:aws:states:us-west-2:123456789012:stateMachine:none"}', ""),
        ("POST", "/", "monitoring", {"Content-Type": "application/x-www-form-urlencoded"},
         b"Action=ListMetrics&Version=2010-08-01&Namespace=FastPath", ""),
        ("POST", "/", "sts", {"Content-Type": "application/x-www-form-urlencoded"},
         b"Action=GetCallerIdentity&Version=2011-06-15", ""),
        ("OPTIONS", f"/{bucket}/report.json", "s3", {"Origin": "http://localhost:8888",
                                                      "Access-Control-Request-Method": "GET"}, b"", ""),
        ("GET", f"/{bucket}/report.json", "s3", {"Origin": "http://localhost:8888"}, b"", ""),
    ]
    for method, path, service, headers, body, query in same:
        expected = _call(app, flask_path, method, path, service, headers, body, query)
        assert _call(app, fast_path, method, path, service, headers, body, query) == expected, (method, path)
    status, headers, content = _call(app, fast_path, "GET", f"/{bucket}/report.json", "s3")
    assert status.startswith("200") and content == b'{"a": 2}'
    assert headers["access-control-allow-origin"] == "*"


# --- ListExecutions written without the generic serializer -----------------------------------------


def test_account_backends_are_found_without_the_lock_and_still_registered_and_reset():
    from moto.core.base_backend import BackendDict
    from moto.sns.models import SNSBackend

    # The fast path relies on moto registering a BackendDict when it creates an account's
    # backend, and clearing both on reset (both are targets of the patch, fingerprinted).
    original = getattr(BackendDict.__getitem__, "__labhelpers_original__", BackendDict.__getitem__)
    lookup = speed_server._account_backend_found_without_lock(original)
    backends = BackendDict(SNSBackend, "sns")
    created = lookup(backends, "111122223333")  # new: created and registered by moto
    assert backends in BackendDict._instances
    assert lookup(backends, "111122223333") is created is original(backends, "111122223333")
    BackendDict.reset()
    assert backends not in BackendDict._instances and "111122223333" not in backends
    assert lookup(backends, "111122223333") is not created and backends in BackendDict._instances


def test_serializer_alias_lookups_answer_as_before(monkeypatch):
    import datetime

    from moto.core.serialize import AttributePicker

    class ExecutionListItem:  # an object (not a dict): the class-name alias applies to it
        def __init__(self, i):
            self.execution_arn = f"arn:aws:states:us-west-2:123456789012:execution:m:e{i}"
            self.state_machine_arn = "arn:aws:states:us-west-2:123456789012:stateMachine:m"
            self.name, self.status = f"e{i}", "SUCCEEDED"
            self.start_date = datetime.datetime(2026, 11, 26, 5, i, tzinfo=datetime.timezone.utc)

    class WithMeta(ExecutionListItem):
        class Meta:
            serialization_aliases = {"name": "status"}

    listed = {"executions": [ExecutionListItem(1), {"executionArn": "a", "stateMachineArn": "m", "name": "d",
                                                      "status": "RUNNING", "startDate": 0.0}, WithMeta(2)]}
    original = getattr(AttributePicker.__call__, "__labhelpers_original__", AttributePicker.__call__)
    monkeypatch.setattr(AttributePicker, "__call__", original)
    before = [_serialized("ListExecutions", listed), _serialized("DescribeStateMachine", {"name": "m"})]
    monkeypatch.setattr(AttributePicker, "__call__", speed_server._alias_keys_cached(original))
    after = [_serialized("ListExecutions", listed), _serialized("DescribeStateMachine", {"name": "m"})]
    assert after == before and '"e1"' in before[0] and '"name": "SUCCEEDED"' in before[0]
    assert _serialized("ListExecutions", listed) == before[0]  # answered from the cache: the same


# --- requests dispatched without Flask ------------------------------------------------------------


def test_every_module_importing_the_request_id_generator_is_patched(moto_sources):
    users = [name for name, text in moto_sources.items()
             if re.search(r"import[^\n]*\bgen_amzn_requestid_long\b", text)]
    assert sorted(users) == sorted(speed_server.REQUEST_ID_USERS)


def test_request_ids_look_like_motos_and_follow_its_seed():
    from moto.moto_api._internal import mock_random
    from moto.utilities import aws_headers

    original = getattr(aws_headers.gen_amzn_requestid_long, "__labhelpers_original__",
                       aws_headers.gen_amzn_requestid_long)
    generate = speed_server._request_ids_drawn_at_once(original)
    headers: dict = {}
    ids = {generate(headers) for _ in range(200)}
    assert len(ids) == 200 and headers["x-amzn-requestid"] in ids
    assert all(re.fullmatch(r"[A-Za-z0-9]{52}", i) for i in ids) and re.fullmatch(r"[A-Za-z0-9]{52}", original())
    mock_random.seed(7)
    first = [generate() for _ in range(3)]
    mock_random.seed(7)
    assert [generate() for _ in range(3)] == first  # moto's seeding still makes them repeatable
