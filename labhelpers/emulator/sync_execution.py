"""StartSyncExecution for EXPRESS state machines, on moto's SyncExecution."""

from __future__ import annotations

import copy
import datetime
import json
import math
import uuid
from typing import Any


def start_sync_execution(backend: Any, state_machine_arn: str, name: str | None,
                         input_text: str | None, trace_header: str | None) -> dict:
    """Run an EXPRESS execution to its end and return the AWS response."""
    from moto.stepfunctions.parser.backend.execution import SyncExecution

    from labhelpers.emulator.moto_compat import aws_error

    base_arn = state_machine_arn.partition("#")[0]
    state_machine = backend.describe_state_machine(base_arn)
    if (state_machine.type or "STANDARD") != "EXPRESS":
        raise aws_error("StateMachineTypeNotSupported",
                        "This operation is not supported by this type of state machine")
    input_data = "{}" if input_text is None else input_text
    try:
        json.loads(input_data)
    except ValueError as err:
        raise aws_error("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{err}'") from None
    name = name or str(uuid.uuid4())
    exec_arn = f"{state_machine.arn.replace(':stateMachine:', ':express:')}:{name}:{uuid.uuid4()}"
    clone = copy.deepcopy(state_machine, {id(state_machine.executions): [],
                                          id(state_machine.backend): state_machine.backend})
    execution = SyncExecution(
        name=name, sm_type=state_machine.type, role_arn=clone.roleArn, exec_arn=exec_arn,
        account_id=backend.account_id, region_name=backend.region_name, state_machine=clone,
        start_date=datetime.datetime.now(tz=datetime.timezone.utc), cloud_watch_logging_session=None,
        input_data=input_data, trace_header=trace_header, activity_store={})
    _attach_mock(execution, state_machine_arn, state_machine.name)
    execution.start()  # a SyncExecutionWorker: returns when the execution has ended
    output = dict(execution.to_start_sync_execution_output())
    output.pop("inputDetails", None)
    output.pop("outputDetails", None)
    if output.get("traceHeader") is None:
        output.pop("traceHeader", None)
    elapsed_ms = (execution.stop_date - execution.start_date).total_seconds() * 1000
    # AWS bills Express in 100 ms steps, with the state machine's memory use (at least 64 MB).
    output["billingDetails"] = {"billedMemoryUsedInMB": 64,
                                "billedDurationInMilliseconds": max(100, math.ceil(elapsed_ms / 100) * 100)}
    return output


def _attach_mock(execution: Any, state_machine_arn: str, state_machine_name: str) -> None:
    _, _, test_case = state_machine_arn.partition("#")
    if test_case:
        from labhelpers.emulator.mock_config import mock_test_case_for

        execution.lab_mock_test_case = mock_test_case_for(state_machine_name, test_case)
