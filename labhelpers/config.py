"""Settings shared by the package: targets, ports, regions, where local state lives."""

from __future__ import annotations

import os
from pathlib import Path

#: Default emulator port: not 5000 (macOS AirPlay takes it) and not 4566 (LocalStack's).
DEFAULT_PORT = 7544
DEFAULT_HOST = "127.0.0.1"
#: The seed lab runs in us-west-2; the emulator uses it too unless LAB_REGION says otherwise.
EMULATOR_REGION = "us-west-2"
#: moto's fixed account id: the emulator's "local account".
EMULATOR_ACCOUNT_ID = "123456789012"
#: Credentials the emulator accepts; they are never valid on AWS, so a mistake cannot reach an account.
FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
TARGETS = ("emulator", "aws")

#: The repository root: lambdas/ and data/ live there.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
DATA_DIR = PROJECT_ROOT / "data"


def state_dir() -> Path:
    """Folder for the emulator's pid files, logs and extracted Lambda code."""
    path = Path(os.environ.get("LAB_STATE_DIR") or Path.home() / ".labhelpers")
    path.mkdir(parents=True, exist_ok=True)
    return path


def emulator_port() -> int:
    """Port of the emulator: LAB_EMULATOR_PORT, else the default."""
    return int(os.environ.get("LAB_EMULATOR_PORT") or DEFAULT_PORT)


def emulator_host() -> str:
    return os.environ.get("LAB_EMULATOR_HOST") or DEFAULT_HOST


def emulator_cpu() -> str:
    """Where the emulator's threads run (LAB_EMULATOR_CPU): "auto" (one CPU of those allowed),
    a CPU number, or "all" (wherever the system schedules them); ``server.choose_cpu`` reads it."""
    return os.environ.get("LAB_EMULATOR_CPU") or "auto"
