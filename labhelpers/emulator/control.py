"""Start, find, reset and stop the emulator process from the outside.

This module never imports moto: a notebook kernel or the CLI only talks to the
emulator over HTTP, so the emulator can outlive them like a real account does.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from labhelpers import config
from labhelpers.errors import EmulatorError

log = logging.getLogger("labhelpers")

HEALTH_PATH = "/_lab/health"
RESET_PATH = "/_lab/reset"
SHUTDOWN_PATH = "/_lab/shutdown"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class EmulatorInfo:
    """What a running emulator says about itself."""

    endpoint_url: str
    pid: int
    port: int
    started: float
    log_file: str
    already_running: bool = False


def endpoint_url(port: int | None = None, host: str | None = None) -> str:
    return f"http://{host or config.emulator_host()}:{port or config.emulator_port()}"


def _pid_file(port: int) -> Path:
    return config.state_dir() / f"emulator-{port}.json"


def log_file(port: int) -> Path:
    return config.state_dir() / f"emulator-{port}.log"


def _request(url: str, method: str = "GET", timeout: float = 2.0) -> dict | None:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    # Never through a proxy: the emulator is on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
            json.JSONDecodeError, OSError):
        return None


def probe(port: int | None = None, host: str | None = None) -> dict | None:
    """The emulator's health document, or None when no labhelpers emulator answers there."""
    health = _request(endpoint_url(port, host) + HEALTH_PATH, timeout=1.0)
    if health and health.get("emulator") == "labhelpers":
        return health
    return None


def _port_in_use(port: int, host: str) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def had_died(port: int | None = None) -> bool:
    """True when an emulator was started on this port and is gone now (its account was lost)."""
    port = port or config.emulator_port()
    return _pid_file(port).exists() and probe(port) is None


def start(port: int | None = None, host: str | None = None) -> EmulatorInfo:
    """Start the emulator in its own background process; a no-op when one already answers."""
    port = port or config.emulator_port()
    host = host or config.emulator_host()
    url = endpoint_url(port, host)
    health = probe(port, host)
    if health:
        return EmulatorInfo(url, health["pid"], port, health["started"], health["log_file"], True)
    if _port_in_use(port, host):
        raise EmulatorError(
            f"Port {port} on {host} is used by another program, not the labhelpers emulator. "
            f"Stop that program or choose another port (--port N or LAB_EMULATOR_PORT=N)."
        )
    logfile = log_file(port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(config.PROJECT_ROOT), env.get("PYTHONPATH", "")] if p
    )
    cmd = [sys.executable, "-m", "labhelpers.emulator.server", "--port", str(port), "--host", host,
           "--log-file", str(logfile)]
    with open(logfile, "ab") as out:
        # A new session: the emulator must survive the kernel or shell that started it.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=env, start_new_session=True, cwd=config.state_dir())
    deadline = time.monotonic() + START_TIMEOUT_S
    delay = 0.01
    while time.monotonic() < deadline:
        health = probe(port, host)
        if health:
            _pid_file(port).write_text(json.dumps({"pid": proc.pid, "port": port, "host": host}))
            log.debug("emulator started at %s (pid %s)", url, proc.pid)
            return EmulatorInfo(url, proc.pid, port, health["started"], str(logfile))
        if proc.poll() is not None:
            tail = logfile.read_text(errors="replace")[-2000:]
            raise EmulatorError(f"The emulator exited at start (code {proc.returncode}). "
                                f"Last lines of {logfile}:\n{tail}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)
    proc.kill()
    raise EmulatorError(f"The emulator did not answer on {url} within {START_TIMEOUT_S:.0f} s; see {logfile}.")


def stop(port: int | None = None, host: str | None = None, timeout: float = 10.0) -> bool:
    """Stop the emulator on this port. Returns False when none was running."""
    port = port or config.emulator_port()
    health = probe(port, host)
    pid_file = _pid_file(port)
    if not health:
        pid_file.unlink(missing_ok=True)
        return False
    pid = int(health["pid"])
    _request(endpoint_url(port, host) + SHUTDOWN_PATH, method="POST")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (when this process started it) counts as gone.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def reset(port: int | None = None, host: str | None = None) -> dict:
    """Empty the local account: every resource and execution is deleted, workers stopped."""
    result = _request(endpoint_url(port, host) + RESET_PATH, method="POST", timeout=30.0)
    if result is None:
        raise EmulatorError(f"No emulator answers on {endpoint_url(port, host)}; nothing to reset.")
    return result


def _status_row(port: int) -> dict:
    health = probe(port)
    row = {"port": port, "endpoint_url": endpoint_url(port), "running": bool(health)}
    if health:
        row.update(pid=health["pid"], uptime_s=round(time.time() - health["started"], 1),
                   log_file=health["log_file"])
    return row


def status() -> list[dict]:
    """Every emulator this machine knows of (from its pid files), with whether it answers."""
    ports = {int(json.loads(f.read_text())["port"]) for f in config.state_dir().glob("emulator-*.json")}
    ports.add(config.emulator_port())
    return [_status_row(port) for port in sorted(ports)]
