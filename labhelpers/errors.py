"""Every exception labhelpers raises, in one place."""

from __future__ import annotations


class LabError(Exception):
    """Base class for every error labhelpers raises."""


class EmulatorError(LabError):
    """The local emulator could not be started, reached or stopped."""


class TargetError(LabError):
    """The chosen target (emulator or AWS) is unknown or not usable."""


class DefinitionError(LabError):
    """A state machine definition is invalid; the message names the state and field."""


class DeployError(LabError):
    """A lab resource could not be created or updated."""


class ExecutionError(LabError):
    """An execution could not be started or did not finish in time."""


class InputError(LabError):
    """An execution input (file or JSON text) could not be read."""
