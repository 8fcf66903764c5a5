"""The emulator as a background process: CLI, connect(), and what survives what."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from labhelpers import connect
from labhelpers.emulator import control
from labhelpers.errors import EmulatorError

from conftest import _free_port  # the root conftest.py


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labhelpers", *args], capture_output=True, text=True,
                          timeout=60, env=os.environ.copy())


@pytest.fixture
def spare_port():
    port = _free_port()
    yield port
    control.stop(port)


def test_cli_start_prints_the_url_last_and_is_a_no_op_when_running(spare_port):
    first = _cli("emulator", "start", "--port", str(spare_port))
    assert first.returncode == 0, first.stderr
    url = f"http://127.0.0.1:{spare_port}"
    assert first.stdout.strip().splitlines()[-1] == url
    pid = control.probe(spare_port)["pid"]
    again = _cli("emulator", "start", "--port", str(spare_port))
    assert again.stdout.strip().splitlines() == [url]
    assert control.probe(spare_port)["pid"] == pid
    status = _cli("emulator", "status")
    assert f"{url}: running, pid {pid}" in status.stdout
    stopped = _cli("emulator", "stop", "--port", str(spare_port))
    assert "stopped" in stopped.stdout and control.probe(spare_port) is None


def test_emulator_binds_to_loopback_and_keeps_its_logs_in_a_file(spare_port):
    info = control.start(spare_port)
    assert info.endpoint_url.startswith("http://127.0.0.1:")
    assert os.path.exists(info.log_file)


def test_connect_starts_an_emulator_when_none_answers(spare_port, caplog):
    lab = connect(port=spare_port)
    assert control.probe(spare_port) is not None
    assert lab.sfn.list_state_machines()["stateMachines"] == []
    assert "reset" not in caplog.text


def test_account_survives_a_new_connection_and_reset_empties_it(spare_port):
    lab = connect(port=spare_port)
    lab.dynamodb.create_table(TableName="Survivor", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    again = connect(port=spare_port)  # as a restarted kernel would
    assert "Survivor" in again.dynamodb.list_tables()["TableNames"]
    out = _cli("emulator", "reset", "--port", str(spare_port))
    assert out.returncode == 0 and "reset" in out.stdout
    assert again.dynamodb.list_tables()["TableNames"] == []


def test_a_dead_emulator_is_replaced_and_the_reset_is_said_plainly(spare_port, caplog):
    connect(port=spare_port)
    os.kill(control.probe(spare_port)["pid"], signal.SIGKILL)
    time.sleep(0.2)
    with caplog.at_level(logging.WARNING, logger="labhelpers"):
        lab = connect(port=spare_port)
    assert "account was reset" in caplog.text
    assert lab.sfn.list_state_machines()["stateMachines"] == []


def test_a_port_held_by_another_program_gives_a_clear_error(spare_port):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", spare_port))
        sock.listen()
        with pytest.raises(EmulatorError, match=f"Port {spare_port} .* another program"):
            control.start(spare_port)


def test_default_port_avoids_well_known_ones():
    from labhelpers import config

    assert config.DEFAULT_PORT not in (5000, 4566)


def test_reset_restores_real_time_waits(spare_port):
    from labhelpers.waits import set_wait_speedup, wait_speedup

    lab = connect(port=spare_port)
    set_wait_speedup(60, lab)
    assert wait_speedup(lab) == 60
    control.reset(spare_port)
    assert wait_speedup(lab) == 1


def test_the_emulator_cpu_is_chosen_by_port_and_named_when_wrong():
    from labhelpers.emulator.server import choose_cpu

    assert choose_cpu("auto", {0, 1}, 7544) == 0 and choose_cpu("auto", {0, 1}, 7545) == 1
    assert choose_cpu("auto", {2, 5, 7}, 7544) == 7  # 7544 % 3 == 2: the third allowed CPU
    assert choose_cpu("auto", {3}, 7545) is None  # one CPU: nothing to gain
    assert choose_cpu("ALL", {0, 1}, 7544) is None
    assert choose_cpu("auto", None, 7544) is None  # no affinity on this system (macOS)
    assert choose_cpu(" 1 ", {0, 1}, 7544) == 1
    with pytest.raises(ValueError, match="'fast' is not auto, all or a CPU number"):
        choose_cpu("fast", {0, 1}, 7544)
    with pytest.raises(ValueError, match="CPU 4 is not one this process may use \\(0, 1\\)"):
        choose_cpu("4", {0, 1}, 7544)


def test_a_wrong_emulator_cpu_stops_the_server_with_the_setting_named(spare_port):
    env = {**os.environ, "LAB_EMULATOR_CPU": "fast"}
    done = subprocess.run([sys.executable, "-m", "labhelpers.emulator.server", "--port", str(spare_port)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "LAB_EMULATOR_CPU / --cpu: 'fast' is not auto, all or a CPU number" in done.stderr


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_an_emulator_that_may_not_pin_its_threads_runs_unpinned_and_says_so(spare_port, tmp_path):
    log = tmp_path / "emulator.log"
    code = ("import os, sys\n"
            "def refuse(*args):\n"
            "    raise PermissionError(1, 'Operation not permitted')\n"
            "os.sched_setaffinity = refuse\n"
            "from labhelpers.emulator.server import main\n"
            "main(sys.argv[1:])\n")
    env = {**os.environ, "LAB_EMULATOR_CPU": str(min(os.sched_getaffinity(0)))}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", code, "--port", str(spare_port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (health := control.probe(spare_port)) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        assert health and health["cpu"] is None
    finally:
        control.stop(spare_port)
        proc.wait(timeout=30)
    assert "pinning them to one failed ([Errno 1] Operation not permitted)" in log.read_text()
