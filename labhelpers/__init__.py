"""labhelpers: connect to the emulator or AWS, build the Step Functions lab, run it and look inside.

Only light modules are imported here; boto3 clients are created on first use, never at import.
"""

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
from labhelpers.resources import cleanup, deploy, render_definition

__all__ = [
    "FUNCTION_NAMES", "DefinitionError", "DeployError", "EmulatorError", "Execution", "ExecutionError",
    "InputError", "Lab", "LabError", "LabNames", "TargetError", "cleanup", "connect", "deploy",
    "load_input", "render_definition", "run_execution", "start_execution",
]
