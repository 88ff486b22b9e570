"""Joining a Ray cluster that will not have the driver (tuner/sweep/cluster.py): one line
that says what failed and what to check, quickly, and nothing of the sweep left behind.
The two-node sweep itself is tests/cluster/test_cluster.py."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write
from tuner.errors import ConfigError, ServiceError
from tuner.sweep import cluster

ROOT = Path(__file__).resolve().parents[2]

SPACE = """\
name: q
objective: tests.sweep.cheap:train
metric: {name: score, goal: maximize}
budget: {trials: 1, max_epochs: 1}
concurrency: 1
sampler: {type: random, seed: 1}
pruner: {type: none}
fixed: {sleep: 0.0}
params:
  x: {float: [0.0, 1.0]}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("how", ["option", "RAY_ADDRESS"])
def test_an_address_where_nothing_listens_fails_at_once_writing_nothing(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    space = write(tmp_path / "q.yaml", SPACE)
    results = tmp_path / "results"
    address = f"127.0.0.1:{_free_port()}"  # nobody listens there
    args: list[str | Path] = ["run", space, "--results", results, "-q"]
    if how == "option":
        args += ["--address", address]
    else:
        monkeypatch.setenv("RAY_ADDRESS", address)
    started = time.monotonic()
    code, _out, err = cli(*args)
    assert time.monotonic() - started < cluster.CONNECT_S + 5
    assert code == 1, err
    line = _one_line(err)
    assert line.startswith(f"tune: error: cannot reach the Ray cluster at {address}: "), line
    assert "--address (or RAY_ADDRESS)" in line
    assert not results.exists()  # not even the results folder


@pytest.mark.parametrize("address", ["nonsense", "head:", "head:port", "head:99999"])
def test_a_malformed_address_is_a_usage_error(cli, tmp_path: Path, address: str) -> None:
    space = write(tmp_path / "q.yaml", SPACE)
    code, _out, err = cli("run", space, "--results", tmp_path / "r", "--address", address)
    assert code == 2, err
    assert f"--address '{address}' (expected HOST:PORT" in _one_line(err)
    assert not (tmp_path / "r").exists()


def _chain(*texts: tuple[type[BaseException], str]) -> BaseException:
    """An exception with causes, outermost first, as ray.init raises them."""
    error: BaseException | None = None
    for kind, text in reversed(texts):
        outer = kind(text)
        outer.__cause__ = error
        error = outer
    assert error is not None
    return error


class AuthenticationError(Exception):  # the name of Ray's (ray.exceptions)
    pass


def test_what_ray_says_is_told_in_one_line() -> None:
    refused = cluster._failure(
        "h:1",
        _chain(
            (ConnectionError, "Failed to connect to Ray cluster at h:1"),
            (AuthenticationError, "RPC error: InvalidAuthToken: token is missing"),
        ),
    )
    assert isinstance(refused, ConfigError)  # the user's to fix: exit 2
    assert "refused this driver's token" in refused.format()
    assert "RAY_AUTH_MODE=token" in refused.format()

    nodeless = cluster._failure(
        "h:1",
        _chain(
            (ConnectionError, "Failed to connect to Ray cluster at h:1"),
            (RuntimeError, "No node info found matching attributes: '' when trying to ..."),
        ),
    )
    assert isinstance(nodeless, ServiceError) and "has no node on this host" in nodeless.format()

    traceback_text = (
        "Failed to connect to GCS. Last connection error: Traceback (most recent call last):\n"
        '  File "node.py", line 996, in _init_gcs_client\n'
        "ray.exceptions.RpcError: RPC error: Received http2 header with status: 404\n"
    )
    other = cluster._failure("h:1", _chain((ConnectionError, "x"), (RuntimeError, traceback_text)))
    assert isinstance(other, ServiceError)
    assert other.format().startswith(
        "cannot join the Ray cluster at h:1: RpcError: RPC error: Received http2 header"
    )
    assert "\n" not in other.format()


# ------------------------------------------------------------------ a real head, no token


@contextlib.contextmanager
def _head(token: Path, tmp: Path) -> Iterator[str]:
    """A one-node Ray cluster with token authentication (as tests/cluster/test_cluster.py
    starts its head: ports of its own, stopped by its process group, never `ray stop`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_USAGE_STATS_ENABLED="0")
    port = _free_port()
    args = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--head",
        "--port", str(port), "--num-cpus", "1", "--num-gpus", "0",
        "--object-store-memory", str(100 * 2**20), "--node-ip-address", "127.0.0.1",
        "--disable-usage-stats", "--include-dashboard", "false",
        "--node-manager-port", str(_free_port()), "--object-manager-port", str(_free_port()),
        "--dashboard-agent-listen-port", str(_free_port()),
        "--dashboard-agent-grpc-port", str(_free_port()),
        "--metrics-export-port", str(_free_port()), "--runtime-env-agent-port", str(_free_port()),
        "--ray-client-server-port", str(_free_port()),
        "--min-worker-port", "0", "--max-worker-port", "0", "--temp-dir", str(tmp / "ray"),
    ]  # fmt: skip
    log = tmp / "head.log"
    with open(log, "w") as out:
        head = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text(errors="replace"):
            assert head.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(10)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_cluster_that_refuses_the_drivers_token_is_one_line_and_leaves_no_sweep(
    tmp_path: Path,
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tuner-tok-", dir="/tmp"))  # short: Ray's sockets
    try:
        token = tmp / "token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        space = write(tmp_path / "q.yaml", SPACE)
        results = tmp_path / "results"
        with _head(token, tmp) as address:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith("RAY_AUTH") and k not in ("RAY_ADDRESS", "TUNER_FAULT")
            }
            env["PYTHONPATH"] = str(ROOT)
            env["HOME"] = str(tmp)  # no ~/.ray/auth_token of the user's
            started = time.monotonic()
            command = [sys.executable, "-m", "tuner", "run", space, "--results", results]
            done = subprocess.run(
                [*command, "-q", "--address", address],
                env=env,
                capture_output=True,
                text=True,
                timeout=200,
                cwd=ROOT,
            )
            took = time.monotonic() - started
        assert done.returncode == 2, done.stderr[-3000:]
        line = _one_line(done.stderr)
        assert f"the Ray cluster at {address} refused this driver's token" in line, line
        assert "RAY_AUTH_MODE=token" in line
        assert took < 60, took  # Ray alone: 20 tries, then a traceback
        assert not (results / "q").exists()  # the sweep it began is removed
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
