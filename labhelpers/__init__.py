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
from labhelpers.executions import Execution, load_input, run_execution, start_execution
from labhelpers.lab import FUNCTION_NAMES, Lab, LabNames, connect
from labhelpers.checks import check, progress, submit
from labhelpers.notebook import notebook_setup, show_code
from labhelpers.resources import cleanup, deploy, render_definition
from labhelpers.mocking import diagnostics_frame, use_mock_config
from labhelpers.waits import set_wait_speedup, wait_frame, wait_speedup
from labhelpers.dataflow import explain_choice, inspection_frame
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


def draw_flow(definition: dict | str, execution: Any = None, *, lab: Lab | None = None) -> Any:
    """Draw a state machine as a ``graphviz.Digraph``; see :func:`labhelpers.flow.draw_flow`.

    Imported on first use: graphviz is not needed to connect or deploy.
    """
    from labhelpers.flow import draw_flow as _draw_flow

    return _draw_flow(definition, execution, lab=lab)


__all__ = [
    "FUNCTION_NAMES", "DefinitionError", "DeployError", "EmulatorError", "Execution", "ExecutionError",
    "InputError", "Lab", "LabError", "LabNames", "TargetError", "cleanup", "connect", "deploy",
    "load_input", "render_definition", "run_execution", "start_execution", "notebook_setup", "show_code",
    "check", "progress", "submit", "draw_flow", "batch_frame", "duration_histogram", "history_frame", "lambda_log_frame", "metric_frame", "metric_percentiles",
    "player_inputs", "plot_metric", "reports_frame", "run_batch", "state_io_frame", "table_frame",
    "diagnostics_frame", "use_mock_config",
    "set_wait_speedup", "wait_frame", "wait_speedup", "explain_choice", "inspection_frame",
]
