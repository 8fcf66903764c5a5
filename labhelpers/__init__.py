"""labhelpers: connect to the emulator or AWS, build the Step Functions lab, run it and look inside.

Only light modules are imported here; boto3 clients are created on first use, never at import.
"""

from typing import Any

from labhelpers.errors import (
    DefinitionError,
    DeployError,
    EmulatorError,
    ExecutionError,
    InputError,
    LabError,
    TargetError,
)
from labhelpers.checks import check, progress, submit
from labhelpers.dataflow import explain_choice, inspection_frame
from labhelpers.executions import Execution, load_input, run_execution, start_execution
from labhelpers.lab import FUNCTION_NAMES, Lab, LabNames, connect
from labhelpers.mocking import diagnostics_frame, use_mock_config
from labhelpers.notebook import notebook_setup, show_code
from labhelpers.resources import cleanup, deploy, render_definition
from labhelpers.views import (
    batch_frame,
    duration_histogram,
    history_frame,
    lambda_log_frame,
    metric_frame,
    metric_percentiles,
    player_inputs,
    plot_metric,
    reports_frame,
    run_batch,
    state_io_frame,
    table_frame,
)
from labhelpers.waits import set_wait_speedup, wait_frame, wait_speedup


def draw_flow(definition: dict | str, execution: Any = None, *, lab: Lab | None = None) -> Any:
    """Draw a state machine as a ``graphviz.Digraph``; see :func:`labhelpers.flow.draw_flow`.

    Imported on first use: graphviz is not needed to connect or deploy.
    """
    from labhelpers.flow import draw_flow as _draw_flow

    return _draw_flow(definition, execution, lab=lab)


__all__ = [
    # connecting, errors
    "FUNCTION_NAMES", "Lab", "LabNames", "connect", "notebook_setup",
    "DefinitionError", "DeployError", "EmulatorError", "ExecutionError", "InputError", "LabError", "TargetError",
    # resources and executions
    "cleanup", "deploy", "render_definition", "Execution", "load_input", "run_execution", "start_execution",
    # looking inside
    "draw_flow", "show_code", "history_frame", "state_io_frame", "batch_frame", "duration_histogram",
    "player_inputs", "run_batch", "reports_frame", "table_frame", "metric_frame", "metric_percentiles",
    "plot_metric", "lambda_log_frame", "explain_choice", "inspection_frame", "diagnostics_frame",
    # emulator-only conveniences (they refuse clearly on AWS)
    "set_wait_speedup", "wait_speedup", "wait_frame", "use_mock_config",
    # exercises
    "check", "progress", "submit",
]
