"""`tune ui`: the MLflow UI server on the sweeps' store, bound to 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STARTUP = 60.0  # seconds the server may take to answer (2 cores, first schema creation)


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


def _freed(port: int, within: float) -> bool:
    """The port is free, waiting up to `within` seconds for it (a server left behind
    holds it for ever)."""
    from tuner.tracking.ui import port_in_use

    deadline = time.monotonic() + within
    while port_in_use("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not port_in_use("127.0.0.1", port)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_server_answers_200_and_stops_with_its_workers(tmp_path, monkeypatch):
    from tuner.tracking.ui import free_port, port_in_use, serve_ui, stop_ui, wait_ready

    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    port = free_port()
    log = results / "ui.log"
    proc = serve_ui(
        f"sqlite:///{results / 'mlflow.db'}",
        port=port,
        artifact_root=results / "mlartifacts",
        log=log,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/", STARTUP, proc, log)
        assert get(f"http://127.0.0.1:{port}/") == 200
    finally:
        code = stop_ui(proc)
    assert code is not None
    assert not group_alive(proc.pid), "the keeper outlived stop_ui"
    assert not port_in_use("127.0.0.1", port), "a server worker outlived stop_ui"
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlartifacts").exists()


TUNE_UI = r"""
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
from tuner.cli.app import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("stop", ["ctrl_c", "sigkill"])
def test_tune_ui_prints_the_runs_page_and_stops_on_ctrl_c(tmp_path, monkeypatch, stop):
    """Ctrl-C stops the server cleanly; a SIGKILLed `tune ui` takes it down too (Linux)."""
    from tuner.tracking.runs import Tracker, default_artifact_root, default_tracking_uri
    from tuner.tracking.ui import GRACE, free_port

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    results = tmp_path / "results"
    tracker = Tracker(default_tracking_uri(results), default_artifact_root(results))
    params = {"metric": "val_loss", "goal": "minimize"}  # (as the driver logs them)
    parent = tracker.start_sweep("demo", "name: demo\n", None, "demo", "journal:x", params)
    tracker.end_sweep(parent)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", TUNE_UI, "ui", "--results", str(results), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + STARTUP + 10
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("MLflow UI: "):
                break
        url = (
            f"http://127.0.0.1:{port}/#/experiments/{tracker.experiment_id}/runs"
            "?orderByKey=metrics.%60val_loss%60&orderByAsc=true&compareRunsMode=CHART"
            "&workflowType=machine_learning"
        )
        assert f"MLflow UI: {url}\n" in lines, "".join(lines)
        assert get(f"http://127.0.0.1:{port}/") == 200
        proc.send_signal(signal.SIGINT if stop == "ctrl_c" else signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if stop == "sigkill":
        # the keeper sees its pipe close: SIGTERM, then SIGKILL after GRACE seconds (a
        # graceful uvicorn shutdown has held the port for over a minute on busy cores);
        # on a loaded machine the kernel takes a while to close the killed sockets
        assert _freed(port, GRACE + 45), "the server outlived a killed `tune ui`"
        return
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopping the MLflow UI" in out
    assert _freed(port, 45), "the server outlived `tune ui`"
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{port}/")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_tune_ui_serves_the_artifacts_of_a_moved_results_folder(tmp_path, monkeypatch):
    """A results folder moved elsewhere (the old one gone): `tune ui` points the store's
    artifact locations at it before serving, and the UI shows the runs' artifacts."""
    import shutil

    from tuner.tracking.runs import Tracker, default_artifact_root, default_tracking_uri
    from tuner.tracking.ui import free_port

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first, moved = tmp_path / "A", tmp_path / "B"
    tracker = Tracker(default_tracking_uri(first), default_artifact_root(first))
    parent = tracker.start_sweep("demo", "name: demo\n", None, "demo", "journal:x", {})
    tracker.end_sweep(parent)
    shutil.move(first, moved)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", TUNE_UI, "ui", "--results", str(moved), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + STARTUP + 10
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("MLflow UI: "):
                break
        url = f"http://127.0.0.1:{port}/get-artifact?path=space.yaml&run_uuid={parent}"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"name: demo\n"
        assert any("the results folder was moved" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not first.exists()


LAZY = r"""
import json, sys
from tuner.cli.app import main
codes = [main(["ui", "--help"]), main(["ui", "--port", "70000"])]
print(json.dumps({"codes": codes, "mlflow": "mlflow" in sys.modules}))
"""


@pytest.mark.timeout(60)
def test_ui_help_and_bad_port_do_not_import_mlflow(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", LAZY], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 2], "mlflow": False}, result.stderr
    assert "--port 70000: expected 0 to 65535" in result.stderr
    assert "127.0.0.1" in result.stdout
    assert not Path(tmp_path / "results").exists()


def test_a_port_is_free_again_as_soon_as_its_server_stopped() -> None:
    """A server that closed its connections first leaves them in TIME_WAIT for a minute;
    that did not stop a new server there (uvicorn binds with SO_REUSEADDR) but made
    `port_in_use` say the port was taken (seen as a flaky "server outlived" check, and a
    `tune ui` restarted within the minute would have been refused)."""
    import socket

    from tuner.tracking.ui import port_in_use

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert port_in_use("127.0.0.1", port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's side closes first: its end goes to TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    assert not port_in_use("127.0.0.1", port)
