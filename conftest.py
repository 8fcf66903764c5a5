"""Test session set-up, for tests/ and for nbval's notebooks alike: a fresh emulator of the session's
own, started before anything (notebook kernels included) and stopped at the end, so a developer's
running emulator and account are never touched."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest

_session: dict = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    state = tempfile.mkdtemp(prefix="labhelpers-test-")
    port = _free_port()
    # Environment first: notebook kernels started by nbval inherit it. Only the emulator's
    # patch selection passes through (`make test` runs the behaviour tests once without speed).
    keep = {"LAB_EMULATOR_FAST", "LAB_EMULATOR_SKIP_PATCHES", "LAB_MOTO_CHECK"}
    for key in [k for k in os.environ if k.startswith(("AWS_", "LAB_")) and k not in keep]:
        os.environ.pop(key)
    os.environ.update(LAB_STATE_DIR=state, LAB_EMULATOR_PORT=str(port), LAB_TARGET="emulator",
                      # A "host" secret that must never reach a Lambda handler (see test_lambda_in_emulator).
                      AWS_ACCESS_KEY_ID="host-key-id", AWS_SECRET_ACCESS_KEY="host-secret-do-not-leak",
                      AWS_DEFAULT_REGION="us-west-2")
    _session.update(state=state, port=port)


def pytest_unconfigure(config: pytest.Config) -> None:
    if "port" in _session:
        from labhelpers.emulator import control

        control.stop(_session["port"])


@pytest.fixture(scope="session")
def moto_sources() -> dict[str, str]:
    """The source of every module of the installed moto, by dotted name (read once a session):
    the patch tests check which modules import what they patch."""
    from pathlib import Path

    import moto

    root = Path(moto.__file__).parent
    return {".".join(("moto",) + path.relative_to(root).with_suffix("").parts): path.read_text(encoding="utf-8")
            for path in sorted(root.rglob("*.py"))}


@pytest.fixture(scope="session")
def emulator_port() -> int:
    return _session["port"]


@pytest.fixture(scope="session")
def lab(emulator_port: int):
    """A Lab on the test emulator, with the lab deployed."""
    from labhelpers import connect, deploy

    handle = connect()
    deploy(handle)
    return handle


@pytest.fixture
def fresh_lab(emulator_port: int):
    """A Lab under a new prefix: a view of the account where no exercise has been done."""
    import uuid

    from labhelpers import connect

    return connect(prefix=f"chk{uuid.uuid4().hex[:8]}")


@pytest.fixture
def deployed_lab(fresh_lab):
    """A fresh prefix with the whole lab deployed."""
    from labhelpers import deploy

    deploy(fresh_lab)
    return fresh_lab


@pytest.fixture
def no_submissions():
    """No answer handed in by an earlier test is seen by this kernel."""
    from labhelpers import checks

    checks._SUBMITTED.clear()
    yield
    checks._SUBMITTED.clear()


def restore_mock_config(lab) -> None:
    """Point the session's emulator back at the SFN_MOCK_CONFIG it started with (if any).

    The emulator only accepts a file that exists; the test that owns that file writes it later,
    so an empty MockConfigFile stands in until then.
    """
    import json
    from pathlib import Path

    from labhelpers import use_mock_config

    path = os.environ.get("SFN_MOCK_CONFIG")
    if path and not Path(path).exists():
        Path(path).write_text(json.dumps({"StateMachines": {}, "MockedResponses": {}}))
    use_mock_config(path, lab)
