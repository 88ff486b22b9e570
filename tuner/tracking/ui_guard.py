"""The MLflow UI server's keeper: stops the server, workers and all, when `tune ui` dies.

A SIGKILLed `tune ui` cannot stop its server, and asking Linux to SIGTERM the server on
its parent's death is not enough: MLflow forwards that SIGTERM to uvicorn, whose
graceful shutdown waits on open connections and has been seen to hold the port for over
a minute on two busy cores, with nobody left to escalate. This process stands between
them: it starts the server in a process group of its own and reads a pipe from `tune
ui`. At end of file (`tune ui` closed it to stop the server, or died, however), it
SIGTERMs the server's group and SIGKILLs it after a grace period; when the server exits
by itself, it ends what is left of its group. It exits with the server's exit code.

Run as `python -m tuner.tracking.ui_guard GRACE COMMAND...`. It imports nothing heavy,
so the UI starts no later for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _stop(server: subprocess.Popen, grace: float) -> None:
    """SIGTERM the server's group (MLflow forwards it to uvicorn), SIGKILL after `grace`."""
    _signal_group(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(grace)
    _signal_group(server.pid, signal.SIGKILL)


def _read_to_eof() -> None:
    # the raw descriptor, not sys.stdin: a daemon thread blocked in a buffered read
    # aborts the interpreter's shutdown when the server exits first
    with contextlib.suppress(OSError):
        while os.read(0, 4096):
            pass


def exit_code(returncode: int) -> int:
    """A shell's exit status for a child's return code (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def main(argv: list[str]) -> int:
    grace, command = float(argv[0]), argv[1:]
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    # a SIGTERM or SIGHUP meant for `tune ui`'s session stops the server the same way
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, on_signal)
    server = subprocess.Popen(command, stdin=subprocess.DEVNULL, process_group=0)

    def watch() -> None:
        _read_to_eof()
        stopping.set()

    threading.Thread(target=watch, daemon=True).start()
    while server.poll() is None and not stopping.wait(0.5):
        pass
    if server.poll() is None:
        _stop(server, grace)
    else:
        _signal_group(server.pid, signal.SIGKILL)  # workers its exit left behind
    return exit_code(server.wait())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
