"""The local Ray a sweep starts for itself (tuner/sweep/local_ray.py): its session folder in
the sweep's folder (or a short one its path fits in), nothing of it left running after
a SIGKILL of the driver (its watcher ends it at once; if the watcher was killed too, the
next run does), never a process that is not provably a dead driver's, and never the
cluster a stale /tmp/ray/ray_current_cluster names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write
from tuner.sweep import local_ray

ROOT = Path(__file__).resolve().parents[2]

SPACE = """\
name: {name}
objective: tests.sweep.cheap:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: {epochs}}}
concurrency: 2
sampler: {{type: random, seed: 1}}
pruner: {{type: none}}
fixed: {{sleep: {sleep}}}
params:
  x: {{float: [0.0, 1.0]}}
"""


def _wait(condition: Callable[[], object], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


# ------------------------------------------------------------------ where the session goes


def test_the_session_goes_in_the_sweeps_folder_when_its_sockets_fit(tmp_path: Path) -> None:
    sweep = Path("/tmp") / f"t{os.getpid()}" / "s"  # short: Ray's sockets fit under it
    try:
        temp = local_ray.temp_dir(sweep, pid=4194304)  # the longest pid there can be
        assert temp == sweep / ".ray" / "local"
        assert len(str(temp)) + local_ray.SOCKET_TAIL + 7 <= local_ray.SOCKET_MAX
        assert (sweep / ".ray").stat().st_mode & 0o777 == 0o700  # Ray's 0777 stays inside
    finally:
        import shutil

        shutil.rmtree(sweep.parent, ignore_errors=True)


def test_a_long_sweep_path_gets_a_short_private_folder_linked_from_it(tmp_path: Path) -> None:
    sweep = tmp_path / ("long-" * 12) / "sweep"
    temp = local_ray.temp_dir(sweep)
    assert len(str(temp)) + local_ray.SOCKET_TAIL + len(str(os.getpid())) <= local_ray.SOCKET_MAX
    assert not str(temp).startswith(str(sweep))
    assert (temp.parent.stat().st_mode & 0o077) == 0 and temp.parent.stat().st_uid == os.getuid()
    link = sweep / ".ray" / "local"
    assert link.is_symlink() and os.path.realpath(link) == os.path.realpath(temp)
    assert local_ray.temp_dir(sweep) == temp  # the same folder for the same sweep, every time


# ------------------------------------------------------------------ what is ended


def _fake(title: str, holds: Path | None, *, args: str = "600") -> subprocess.Popen:
    """A real process titled `title` (Ray's agents and workers are `ray::…`) holding
    `holds` open, as Ray's processes hold their session's logs."""
    redirect = f'exec 3>>"{holds}"; ' if holds else ""
    return subprocess.Popen(["bash", "-c", f'{redirect}exec -a "{title}" sleep {args}'])


def _session(root: Path, pid: int) -> Path:
    session = root / f"session_2026-01-01_00-00-00_000000_{pid}"
    (session / "logs").mkdir(parents=True)
    return session


def _reaped() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_only_ray_processes_of_a_dead_drivers_session_are_ended(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    temp = local_ray.temp_dir(sweep)
    dead = _reaped()
    mine = _session(temp, dead)
    alive = _session(temp, os.getpid())  # a live driver's session: never touched
    procs = {
        "agent": _fake("ray::DashboardAgent", mine / "logs" / "agent.log"),
        "reader": _fake("tail", mine / "logs" / "agent.log"),  # not Ray's: a user's
        "live": _fake("ray::RuntimeEnvAgent", alive / "logs" / "agent.log"),
        "none": _fake("ray::IDLE", None),  # of no session
    }
    try:
        _wait(
            lambda: all(
                local_ray.start_time(p.pid)
                and "ray::" in Path(f"/proc/{p.pid}/cmdline").read_text()
                for k, p in procs.items()
                if k != "reader"
            ),
            "the fake processes renamed",
        )
        if sys.platform.startswith("linux"):
            assert set(local_ray.processes(mine)) == {procs["agent"].pid}
        ended = local_ray.end_leftovers(sweep, None, socket.gethostname())
        assert ended == [procs["agent"].pid]
        assert procs["agent"].wait(60) == -signal.SIGKILL
        for name in ("reader", "live", "none"):
            assert procs[name].poll() is None, name
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def test_a_session_is_matched_by_its_whole_name() -> None:
    session = "/r/.ray/local/session_2026-01-01_00-00-00_000000_123"
    assert local_ray._under(session + "/logs/raylet.out", (session,))
    assert local_ray._under(session, (session,))
    assert not local_ray._under(session + "4/logs/raylet.out", (session,))  # pid 1234's


def test_the_session_a_dead_lock_holder_names_is_ended_wherever_it_is(tmp_path: Path) -> None:
    elsewhere = _session(tmp_path / "moved", os.getpid())  # named by the lock, not the folder
    proc = _fake("ray::RuntimeEnvAgent", elsewhere / "logs" / "a.log")
    try:
        _wait(lambda: set(local_ray.processes(elsewhere)) == {proc.pid}, "the fake agent")
        host = socket.gethostname()
        dead = {"host": host, "pid": _reaped(), "started": 1, "ray_session": str(elsewhere)}
        sweep = tmp_path / "sweep"
        # a live holder, or one on another host, is left alone
        me = {**dead, "pid": os.getpid(), "started": local_ray.start_time(os.getpid())}
        assert local_ray.end_leftovers(sweep, me, host) == []
        assert local_ray.end_leftovers(sweep, {**dead, "host": "elsewhere"}, host) == []
        assert proc.poll() is None
        assert local_ray.end_leftovers(sweep, dead, host) == [proc.pid]
        assert proc.wait(60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ real sweeps, real kills


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TUNER_FAULT", "MLFLOW_TRACKING_URI", "RAY_ADDRESS")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _start(space: Path, results: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tuner", "run", str(space), "--results", str(results), "-q"],
        env=_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )


def _tune(*args: str | Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuner", *map(str, args)],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )


def _lock(results: Path, name: str) -> dict:
    """The sweep's lock record ({} before the driver wrote its study)."""
    from tuner.errors import ConfigError
    from tuner.study.records import LOCK
    from tuner.study.storage import find_study

    try:
        return find_study(results, name).user_attrs.get(LOCK) or {}
    except ConfigError:
        return {}


def _running(results: Path, name: str, driver: int) -> Path:
    """Wait until the driver's local Ray runs a trial; its session folder."""

    def named() -> bool:
        held = _lock(results, name)
        return held.get("pid") == driver and bool(held.get("ray_session"))

    _wait(named, "the driver's lock names its Ray session")
    session = Path(_lock(results, name)["ray_session"])
    _wait(lambda: list((results / name / "trials").glob("*/epochs.log")), "a trial's first epoch")
    _wait(lambda: len(_agents(session)) == 2, "Ray's two agents")
    return session


def _agents(session: Path) -> list[str]:
    titles = []
    for pid in local_ray.processes(session):
        try:
            titles.append(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())
        except OSError:
            continue
    return sorted(t for t in titles if t in ("ray::DashboardAgent", "ray::RuntimeEnvAgent"))


def _watcher(driver: int) -> int:
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == driver and b"local_ray" in cmd:
            return int(entry.name)
    pytest.fail(f"no watcher among the children of {driver}")


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_sigkill_of_the_driver_leaves_nothing_of_its_ray_and_the_resume_ends_what_is_left(
    tmp_path: Path,
) -> None:
    space = write(tmp_path / "slow.yaml", SPACE.format(name="slow", trials=4, epochs=3, sleep=2))
    results = tmp_path / "results"

    # the watcher ends the session as soon as the driver is gone
    driver = _start(space, results)
    session = _running(results, "slow", driver.pid)
    assert session.parent.resolve() == (results / "slow" / ".ray" / "local").resolve()
    assert (results / "slow" / ".ray" / "local" / session.name).is_dir()
    assert not str(session).startswith("/tmp/ray/")
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    _wait(lambda: not local_ray.processes(session), "the killed driver's Ray gone")

    # the watcher killed too: the next run ends what the first one left
    driver = _start(space, results)
    session = _running(results, "slow", driver.pid)
    os.kill(_watcher(driver.pid), signal.SIGKILL)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    # (left alone, Ray's agents hang on the dead GCS for a minute or more)
    assert _agents(session) == ["ray::DashboardAgent", "ray::RuntimeEnvAgent"]
    resumed = _start(space, results)
    try:
        _wait(lambda: _lock(results, "slow").get("pid") == resumed.pid, "the resume's lock")
        _wait(
            lambda: _lock(results, "slow").get("ray_session") not in (None, str(session)),
            "the resume's own Ray",
        )
        assert not local_ray.processes(session), "the first run's Ray is still there"
        _, err = resumed.communicate(timeout=240)
    finally:
        resumed.kill()
    assert resumed.returncode == 0, err[-3000:]
    assert "that a killed run of this sweep left of its Ray (pid " in err, err
    assert "Traceback" not in err, err


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_stale_ray_current_cluster_is_not_joined(tmp_path: Path) -> None:
    """`ray start --head` ended by SIGKILL leaves ray_current_cluster behind: Ray's
    default (address None) would join the dead address named there and wait on it."""
    ray_tmp = Path("/tmp") / f"tuner-stale-{os.getpid()}"  # RAY_TMPDIR: not the real /tmp
    (ray_tmp / "ray").mkdir(parents=True, exist_ok=True)
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # nothing listens there
        # where Ray looks: $RAY_TMPDIR/ray/ray_current_cluster (/tmp/ray/… by default)
        (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
        space = write(tmp_path / "q.yaml", SPACE.format(name="q", trials=1, epochs=1, sleep=0))
        done = _tune("run", space, "--results", tmp_path / "results", "-q", RAY_TMPDIR=str(ray_tmp))
        assert done.returncode == 0, done.stderr[-3000:]
        assert "1 complete" in done.stdout
    finally:
        import shutil

        shutil.rmtree(ray_tmp, ignore_errors=True)
