"""The sweep lock's judgement of its holder, without Ray: on this host a live process
with the recorded start time holds it however stale its heartbeat; a reused pid or a
gone process does not; another host's holder is judged by its heartbeat."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tuner.study.lock import STALE_AFTER, _alive, start_time

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def _held(pid: int, started: int | None, age: float, host: str | None = None) -> dict:
    now = time.time()
    return {
        "host": host or socket.gethostname(),
        "pid": pid,
        "started": started,
        "since": now - age,
        "heartbeat": now - age,
    }


def test_a_live_holder_keeps_its_lock_however_stale_its_heartbeat() -> None:
    me = os.getpid()
    assert _alive(_held(me, start_time(me), age=10 * STALE_AFTER))


def test_a_reused_pid_or_a_gone_process_does_not_hold_it() -> None:
    me = os.getpid()
    assert not _alive(_held(me, start_time(me) - 1, age=0))  # same pid, another process
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    )
    assert not _alive(_held(int(done.stdout), 12345, age=0))


def test_another_hosts_holder_is_judged_by_its_heartbeat() -> None:
    assert _alive(_held(1, None, age=0, host="elsewhere"))
    assert not _alive(_held(1, None, age=STALE_AFTER + 1, host="elsewhere"))


def test_an_older_lock_without_a_start_time_falls_back_to_the_heartbeat() -> None:
    me = os.getpid()
    assert _alive(_held(me, None, age=0))
    assert not _alive(_held(me, None, age=STALE_AFTER + 1))
