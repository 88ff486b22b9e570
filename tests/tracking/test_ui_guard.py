"""The UI server's keeper: a server whose graceful shutdown hangs still goes, workers and
all, when `tune ui` closes the pipe or dies. No MLflow here: a stand-in server that
ignores SIGTERM (as a uvicorn waiting on open connections does) and has a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tuner.tracking.ui import free_port, port_in_use
from tuner.tracking.ui_guard import exit_code

GRACE = 1.0
# a "server" that ignores SIGTERM, holds a port and starts a "worker" that holds another
STUBBORN = r"""
import signal, socket, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
worker = subprocess.Popen([sys.executable, "-c", "import socket, time\n"
    "s = socket.socket(); s.bind(('127.0.0.1', int(__import__('sys').argv[1]))); s.listen()\n"
    "print('ready', flush=True); time.sleep(600)", sys.argv[2]])
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(600)
"""


def keeper(server_port: int, worker_port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuner.tracking.ui_guard",
            str(GRACE),
            sys.executable,
            "-c",
            STUBBORN,
            str(server_port),
            str(worker_port),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_free(*ports: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while any(port_in_use("127.0.0.1", p) for p in ports):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["pipe_closed", "parent_killed"])
def test_a_server_ignoring_sigterm_is_killed_with_its_worker(how):
    ports = free_port(), free_port()
    if how == "pipe_closed":
        proc = keeper(*ports)
    else:  # `tune ui` SIGKILLed: a parent holding the pipe dies, nothing closes it politely
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import subprocess, sys, time\n"
                "p = subprocess.Popen(sys.argv[1:], stdin=-1, start_new_session=True)\n"
                "print(p.pid, flush=True); time.sleep(600)",
                sys.executable,
                "-m",
                "tuner.tracking.ui_guard",
                str(GRACE),
                sys.executable,
                "-c",
                STUBBORN,
                *map(str, ports),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    try:
        if how == "pipe_closed":
            assert proc.stdout.readline().strip() == "ready"
            assert not wait_free(*ports, within=0.5), "the stand-in server did not start"
            started = time.monotonic()
            proc.stdin.close()
            assert proc.wait(GRACE + 10) == exit_code(-signal.SIGKILL)
        else:
            keeper_pid = int(parent.stdout.readline())
            assert parent.stdout.readline().strip() == "ready"
            started = time.monotonic()
            parent.kill()
            parent.wait()
        assert wait_free(*ports, within=GRACE + 10), "the server or its worker outlived it"
        assert time.monotonic() - started >= GRACE * 0.9, "SIGKILL came before the grace"
        if how == "parent_killed":
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(keeper_pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the keeper outlived its server")
    finally:
        for p in [locals().get("proc"), locals().get("parent")]:
            if p is not None and p.poll() is None:
                p.kill()


@pytest.mark.timeout(30)
def test_the_keeper_exits_with_the_servers_code():
    """A server that exits by itself (a bad store, a taken port) passes its code on."""
    command = [sys.executable, "-m", "tuner.tracking.ui_guard", "1"]
    proc = subprocess.Popen(
        [*command, sys.executable, "-c", "raise SystemExit(3)"], stdin=subprocess.PIPE
    )
    try:
        assert proc.wait(30) == 3
    finally:
        proc.stdin.close()
    assert exit_code(-15) == 143 and exit_code(0) == 0
