"""`tune ui`: the MLflow UI on the sweeps' tracking store, bound to 127.0.0.1.

The server runs as `python -m mlflow ui` under a keeper (`tuner.tracking.ui_guard`) in a
session of its own: a terminal's Ctrl-C reaches us, not it, and we stop it by closing the
keeper's pipe, which ends the server's whole process group (SIGTERM, then SIGKILL when
uvicorn's graceful shutdown hangs). A `tune ui` killed outright closes that pipe too, so
no server or uvicorn worker outlives it. MLflow is imported here only to find the most
recent sweep's experiment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError, ServiceError

HOST = "127.0.0.1"
PORT = 5000
LOG_FILE = "mlflow-ui.log"
GRACE = 5.0  # seconds uvicorn gets to shut down gracefully before SIGKILL


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    """Something listens on the port. Bound as the server binds it (SO_REUSEADDR, as
    uvicorn does): the closed connections of a server just stopped (TIME_WAIT, a minute)
    do not count, as they do not stop a new server from starting there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ui_command(
    tracking_uri: str, host: str = HOST, port: int = PORT, artifact_root: Path | None = None
) -> list[str]:
    """The `mlflow ui` command line (MLflow 3.17 flags)."""
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri]
    if artifact_root is not None:
        root = Path(artifact_root).absolute()
        # new experiments (made in the UI) and proxied artifacts both go under results/,
        # never to ./mlruns or ./mlartifacts of whatever directory `tune ui` ran in
        cmd += ["--default-artifact-root", root.as_uri(), "--artifacts-destination", str(root)]
    # one worker: a local viewer on a small machine does not need uvicorn's default four
    cmd += ["--host", host, "--port", str(port), "--workers", "1"]
    return cmd


def serve_ui(
    tracking_uri: str,
    host: str = HOST,
    port: int = PORT,
    artifact_root: Path | None = None,
    log: Path | None = None,
) -> subprocess.Popen:
    """Start the MLflow UI server; returns at once (see `wait_ready`, `stop_ui`).

    Output goes to `log` when given (else it is inherited). The server's background
    job runner (GenAI evaluation jobs, extra processes) is switched off unless the
    environment sets `MLFLOW_SERVER_ENABLE_JOB_EXECUTION` itself.
    """
    if port_in_use(host, port):
        raise ConfigError(f"port {port} on {host} is in use", hint="pass another --port")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if artifact_root is not None:
        Path(artifact_root).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    out: Any = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "wb")  # noqa: SIM115 - the child holds it; closed below
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tuner.tracking.ui_guard",
                str(GRACE),
                *ui_command(tracking_uri, host, port, artifact_root),
            ],
            stdin=subprocess.PIPE,  # the keeper's pipe: closing it stops the server
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            env=env,
            start_new_session=True,
        )
    finally:
        if out is not None:
            out.close()


def wait_ready(
    url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll `url` until it answers HTTP 200; raise if `proc` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"the MLflow UI server exited with code {proc.returncode}{_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise ServiceError(f"the MLflow UI did not answer at {url} within {timeout:.0f} s")
        time.sleep(0.25)


def _tail(log: Path | None, lines: int = 5) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return f": {' | '.join(text)} (see {log})" if text else ""


def stop_ui(proc: subprocess.Popen, timeout: float = 10.0) -> int | None:
    """Stop the server and its workers: close the keeper's pipe (it SIGTERMs the server's
    group, SIGKILLs it after `GRACE` seconds), and SIGKILL the keeper's session if it has
    not exited `timeout` seconds after that. Returns the server's exit code."""
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        return proc.wait(GRACE + timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def run_ui(
    results: Path | str | None = None,
    tracking_uri: str | None = None,
    port: int = PORT,
    *,
    echo: Callable[[str], Any] = print,
    ready_timeout: float = 120.0,
) -> int:
    """`tune ui`: start the server, print the runs page of the most recent sweep, and wait
    until Ctrl-C (or SIGTERM); then stop the server. Returns 0."""
    from tuner.redact import mask_text, mask_url
    from tuner.study.storage import results_dir
    from tuner.tracking.runs import default_artifact_root, resolve_tracking_uri, runs_url

    results = results_dir(results)
    uri = resolve_tracking_uri(results, tracking_uri)
    if port == 0:
        port = free_port()
    experiment_id, metric, goal = None, None, "maximize"
    db = _sqlite_path(uri)
    if db is not None and db.exists():  # a moved results folder: its artifacts here
        _follow_move(uri, results, echo)
    if db is None or db.exists():  # before the server starts: never race it to create a DB
        try:
            from tuner.tracking.runs import latest_sweep_page

            experiment_id, metric, goal = latest_sweep_page(uri)
        except Exception as exc:  # the UI still shows whatever the store holds
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            echo(f"(could not list the sweeps in {mask_url(uri)}: {mask_text(first)})")
    artifact_root = default_artifact_root(results) if db is not None else None
    log = results / LOG_FILE if db is not None else None
    base = f"http://{HOST}:{port}"
    proc = serve_ui(uri, HOST, port, artifact_root, log=log)
    previous = _on_sigterm_raise()
    try:
        echo(f"starting the MLflow UI on {mask_url(uri)} ...")
        wait_ready(f"{base}/health", ready_timeout, proc, log)
        echo(f"MLflow UI: {runs_url(base, experiment_id, metric, goal)}")
        echo("press Ctrl-C to stop")
        code = proc.wait()
        raise ServiceError(f"the MLflow UI server exited with code {code}{_tail(log)}")
    except KeyboardInterrupt:
        echo("stopping the MLflow UI")
        return 0
    finally:
        stop_ui(proc)
        _restore_sigterm(previous)


def _follow_move(uri: str, results: Path, echo: Callable[[str], Any]) -> None:
    """Point the store's artifact locations at a moved results folder
    (tuner/tracking/moved.py); the UI still starts on a store that cannot be written."""
    from tuner.errors import TunerError
    from tuner.tracking.moved import describe, follow_move

    try:
        moves = follow_move(uri, results)
    except TunerError as exc:
        echo(f"(artifacts may not show: {exc})")
        return
    if moves:
        echo(f"({describe(moves)})")


def _on_sigterm_raise() -> Any:
    """SIGTERM (e.g. from a service manager) stops the server like Ctrl-C does."""

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)
