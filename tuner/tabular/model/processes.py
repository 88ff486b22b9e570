"""The operating-system side of a distributed trial's ranks: free ports for their
collective group, a rank started as a fresh process, a rank ended, a rank that ends
with its launcher. Pure process work, no TensorFlow: the launcher on this host
(launch.py) and a rank's Ray launcher actor on another node (ray_ranks.py) share it.

A rank is a fresh `python -m tuner.tabular.model.distributed` process: a process whose
TensorFlow already ran anything cannot join a collective group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RANK_MODULE = "tuner.tabular.model.distributed"  # what a rank process runs


def free_ports(host: str, n: int) -> list[int]:
    """N ports the OS says are free now (the workers bind them a moment later)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


def start_rank(
    spec: dict[str, Any], rank: int, logs: Path, channel: int = -1, answers: int = -1
) -> subprocess.Popen[bytes]:
    """One worker process (`python -m` RANK_MODULE), its output in logs/<rank>.log and,
    for rank 0, its messages written to the file descriptor `channel` and the answers
    to its epochs read from `answers`."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    with (logs / f"{rank}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", RANK_MODULE, f.name, str(rank), str(channel), str(answers)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(fd for fd in (channel, answers) if fd >= 0),
            env=env,
            start_new_session=True,  # a Ctrl-C reaches the launcher, which ends them
        )


def end_processes(procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
    """Every process still running: SIGTERM, then SIGKILL after `grace` seconds."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def end_with_parent() -> None:
    """Exit when the launcher is gone (SIGKILLed with its sweep's driver, say): a worker
    left behind would hold its CPUs and keep writing the trial folder that a resume
    trains again. (The launcher ends its workers itself in every other case.)"""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="tuner-parent-watch", daemon=True).start()
