"""The one-driver lock and the resume check of `tuner.study.lock`, on in-memory Optuna
studies: `SweepLock` acquired on a free sweep, refused while another driver lives (on
another host: a fresh heartbeat; on this host: a live process, however stale its
heartbeat), taken over from a dead one, lost when another driver takes it (read back by
`holds`, told by the heartbeat thread, and then the bridge stops writing), released;
TUNER_LOCK_HEARTBEAT / TUNER_LOCK_STALE_AFTER; and `check_same_sweep`, which refuses to
resume a sweep whose space, objective, data set, metric or fixed keys changed but allows
a raised budget, more concurrency, other resources or another pruner.

Last, the lock's judgement of its holder, without Ray: on this host a live process with
the recorded start time holds it however stale its heartbeat; a reused pid or a gone
process does not; another host's holder is judged by its heartbeat. The real
multi-process takeovers are in tests/sweep/test_resume.py (slow). These take
milliseconds (a heartbeat of 20 ms).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from tuner.errors import ConfigError
from tuner.space.load import parse_spec
from tuner.space.model import SweepSpec
from tuner.study import records
from tuner.study.lock import STALE_AFTER, SweepLock, _alive, check_same_sweep, start_time
from tuner.sweep.bridge import Bridge, Stop

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[2]
BEAT = 0.02  # seconds between heartbeats in these tests


def new_study(name: str = "unit") -> optuna.Study:
    return optuna.create_study(study_name=name, direction="maximize")


@pytest.fixture
def locks() -> Iterator[Callable[..., SweepLock]]:
    """Makes SweepLocks with a fast heartbeat; releases them all afterwards (no thread
    outlives its test)."""
    made: list[SweepLock] = []

    def make(study: optuna.Study, **kwargs: Any) -> SweepLock:
        kwargs.setdefault("heartbeat_s", BEAT)
        lock = SweepLock(study, **kwargs)
        made.append(lock)
        return lock

    yield make
    for lock in made:
        lock.release()


def holder(host: str, pid: int, *, age: float = 0.0, started: int | None = None) -> dict[str, Any]:
    now = time.time()
    return {
        "host": host,
        "pid": pid,
        "started": started,
        "since": now - age,
        "heartbeat": now - age,
    }


def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(BEAT / 4)
    return condition()


# ----------------------------------------------------------------------------- acquiring


def test_a_free_sweep_is_acquired_and_recorded_with_this_process(
    locks: Callable[..., SweepLock],
) -> None:
    study = new_study()
    lock = locks(study)

    lock.acquire()

    held = records.read_lock(study)
    assert held is not None
    assert (held["host"], held["pid"]) == (socket.gethostname(), os.getpid())
    assert held["started"] == start_time(os.getpid())
    assert held["since"] == lock.me["since"] and held["heartbeat"] >= held["since"]
    assert lock.holds()


def test_a_live_driver_on_another_host_is_refused(locks: Callable[..., SweepLock]) -> None:
    study = new_study("busy")
    other = holder("elsewhere", 4242)
    records.write_lock(study, other)

    with pytest.raises(ConfigError) as info:
        locks(study).acquire()

    assert info.value.message.startswith(
        "sweep 'busy' is already running: host elsewhere, pid 4242, since "
    )
    assert info.value.message.endswith(" UTC")
    assert "tune status" in (info.value.hint or "")
    assert records.read_lock(study) == other  # untouched


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_a_live_process_on_this_host_is_refused_however_stale_its_heartbeat(
    locks: Callable[..., SweepLock],
) -> None:
    study = new_study()
    parent = os.getppid()  # alive for as long as this test runs
    records.write_lock(
        study, holder(socket.gethostname(), parent, age=3600, started=start_time(parent))
    )

    with pytest.raises(ConfigError, match=f"already running: host .*, pid {parent}"):
        locks(study).acquire()


def test_a_stale_lock_of_another_host_is_taken_over(locks: Callable[..., SweepLock]) -> None:
    study = new_study()
    records.write_lock(study, holder("elsewhere", 4242, age=24 * 3600))
    lock = locks(study)

    lock.acquire()

    assert records.read_lock(study)["pid"] == os.getpid()  # type: ignore[index]
    assert lock.holds()


def test_the_lock_of_a_process_that_is_gone_is_taken_over(locks: Callable[..., SweepLock]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = int(done.stdout)
    study = new_study()
    records.write_lock(study, holder(socket.gethostname(), gone, started=12345))
    lock = locks(study)

    lock.acquire()

    assert records.read_lock(study)["pid"] == os.getpid()  # type: ignore[index]


def test_the_heartbeat_thread_refreshes_the_lock(locks: Callable[..., SweepLock]) -> None:
    study = new_study()
    lock = locks(study)
    lock.acquire()
    first = records.read_lock(study)["heartbeat"]  # type: ignore[index]

    assert wait_for(lambda: records.read_lock(study)["heartbeat"] > first)  # type: ignore[index]
    assert lock.holds()


# ----------------------------------------------------------------------------- losing


def test_a_lock_another_driver_took_is_lost_for_good(locks: Callable[..., SweepLock]) -> None:
    study = new_study("taken")
    lock = locks(study, heartbeat_s=3600)  # no heartbeat during the test
    lock.acquire()
    mine = records.read_lock(study)

    records.write_lock(study, holder("elsewhere", 7))

    assert not lock.holds()
    assert lock.lost is not None
    assert lock.lost.startswith("sweep 'taken' was taken over (host elsewhere, pid 7)")
    records.write_lock(study, mine)  # even given back, it stays lost: the taker may have
    assert not lock.holds()  # run trials since


def test_a_removed_lock_is_lost_to_nobody(locks: Callable[..., SweepLock]) -> None:
    study = new_study()
    lock = locks(study, heartbeat_s=3600)
    lock.acquire()

    records.write_lock(study, None)

    assert not lock.holds()
    assert "was taken over (nobody)" in (lock.lost or "")


def test_holds_trusts_a_read_made_within_the_given_seconds(
    locks: Callable[..., SweepLock],
) -> None:
    study = new_study()
    lock = locks(study, heartbeat_s=3600)
    lock.acquire()
    assert lock.holds()  # read now

    records.write_lock(study, holder("elsewhere", 7))

    assert lock.holds(within=3600)  # the last read is recent enough
    assert not lock.holds(within=0)


def test_the_heartbeat_thread_tells_once_that_the_lock_was_taken(
    locks: Callable[..., SweepLock],
) -> None:
    study = new_study()
    told: list[str] = []
    event = threading.Event()

    def on_lost(why: str) -> None:
        told.append(why)
        event.set()

    lock = locks(study, on_lost=on_lost)
    lock.acquire()
    records.write_lock(study, holder("elsewhere", 7))

    assert event.wait(2.0)
    assert lock._thread is not None
    lock._thread.join(2.0)
    assert not lock._thread.is_alive()  # it stopped beating: it writes no more
    assert len(told) == 1 and "taken over (host elsewhere, pid 7)" in told[0]
    assert records.read_lock(study)["host"] == "elsewhere"  # type: ignore[index]


def test_a_bridge_stops_writing_when_its_lock_is_taken(
    locks: Callable[..., SweepLock], tmp_path: Path
) -> None:
    spec = make_spec()
    study = optuna.create_study(study_name=spec.name, direction="maximize")
    lock = locks(study)
    lock.acquire()
    bridge = Bridge(spec, study, tmp_path, lock=lock)
    assert bridge.ask("ray-1") is not None

    records.write_lock(study, holder("elsewhere", 7))

    assert wait_for(lambda: bridge.lost is not None)
    assert bridge.halt.kind is Stop.LOCK_LOST and bridge.interrupted
    assert bridge.record("ray-1", {"epoch": 1, "score": 0.5}) is False
    bridge.finish("ray-1")
    assert bridge.ask("ray-2") is None
    frozen = study.get_trials(deepcopy=False)
    assert len(frozen) == 1 and frozen[0].state.name == "RUNNING"
    assert frozen[0].intermediate_values == {}


# ----------------------------------------------------------------------------- releasing


def test_release_clears_the_lock_this_driver_holds(locks: Callable[..., SweepLock]) -> None:
    study = new_study()
    lock = locks(study)
    lock.acquire()

    lock.release()

    assert records.read_lock(study) is None
    assert lock._thread is not None and not lock._thread.is_alive()
    locks(study).acquire()  # free again


def test_release_leaves_the_lock_of_the_driver_that_took_it(
    locks: Callable[..., SweepLock],
) -> None:
    study = new_study()
    lock = locks(study, heartbeat_s=3600)
    lock.acquire()
    taker = holder("elsewhere", 7)
    records.write_lock(study, taker)
    assert not lock.holds()

    lock.release()

    assert records.read_lock(study) == taker


def test_a_lock_never_acquired_releases_nothing(locks: Callable[..., SweepLock]) -> None:
    study = new_study()
    other = holder("elsewhere", 7)
    records.write_lock(study, other)

    locks(study).release()

    assert records.read_lock(study) == other


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TUNER_LOCK_HEARTBEAT": "0.25", "TUNER_LOCK_STALE_AFTER": "2"}, "0.25 2.0 0.25"),
        ({}, "5.0 30.0 5.0"),
    ],
    ids=["set", "defaults"],
)
def test_the_heartbeat_and_staleness_come_from_the_environment(
    env: dict[str, str], expected: str
) -> None:
    code = (
        "from tuner.study import lock\n"
        "print(lock.HEARTBEAT_S, lock.STALE_AFTER, lock.SweepLock(object()).heartbeat_s)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_LOCK_")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


# ----------------------------------------------------------------------------- check_same_sweep

BASE = """\
name: unit
objective: tests.sweep.cheap:train
dataset: builtin:breast_cancer
metric: {name: score, goal: maximize}
budget: {trials: 4, max_epochs: 3}
concurrency: 1
resources: {cpu: 1}
sampler: {type: random, seed: 1}
pruner: {type: none}
fixed: {sleep: 0.1}
params:
  x: {float: [0.0, 1.0]}
"""


def make_spec(text: str = BASE) -> SweepSpec:
    return parse_spec(text, "space.yaml", check_objective=False)


def ran_sweep(text: str = BASE) -> optuna.Study:
    """A study that a sweep of `text` ran: its space file kept, one trial asked."""
    spec = make_spec(text)
    study = optuna.create_study(study_name=spec.name, direction=spec.metric.direction)
    records.describe(study, spec)
    study.ask()
    return study


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("tests.sweep.cheap:train", "tests.sweep.cheap:other", "objective"),
        ("builtin:breast_cancer", "builtin:iris", "dataset"),
        ("{name: score, goal", "{name: loss, goal", "metric"),
        ("goal: maximize", "goal: minimize", "metric"),
        ("[0.0, 1.0]", "[0.0, 2.0]", "search space"),
        (
            "  x: {float: [0.0, 1.0]}\n",
            "  x: {float: [0.0, 1.0]}\n  y: {int: [1, 4]}\n",
            "search space",
        ),
        (
            "  x: {float: [0.0, 1.0]}\n",
            "  x: {float: [0.0, 1.0], log: false, step: 0.5}\n",
            "search space",
        ),
        ("{sleep: 0.1}", "{sleep: 0.1, extra: 1}", "fixed keys"),
        ("{sleep: 0.1}", "{sleep: 0.2}", "fixed keys"),
    ],
    ids=[
        "objective",
        "dataset",
        "metric-name",
        "metric-goal",
        "range",
        "new-param",
        "step",
        "new-fixed",
        "fixed-value",
    ],
)
def test_a_changed_experiment_is_refused(old: str, new: str, what: str) -> None:
    study = ran_sweep()
    assert old in BASE
    spec = make_spec(BASE.replace(old, new))

    with pytest.raises(ConfigError) as info:
        check_same_sweep(study, spec)

    assert info.value.message == f"sweep 'unit' already exists with a different {what}"
    assert info.value.where == str(spec.path)
    assert "--fresh" in (info.value.hint or "")


def test_every_change_is_named_at_once() -> None:
    study = ran_sweep()
    text = BASE.replace("cheap:train", "cheap:other").replace("[0.0, 1.0]", "[0.5, 1.0]")

    with pytest.raises(ConfigError) as info:
        check_same_sweep(study, make_spec(text))

    assert info.value.message.endswith("a different objective, search space")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("trials: 4", "trials: 40"),
        ("max_epochs: 3", "max_epochs: 6"),
        ("concurrency: 1", "concurrency: 8"),
        ("{cpu: 1}", "{cpu: 4, gpu: 0.5}"),
        ("{type: none}", "{type: median}"),
        ("{type: random, seed: 1}", "{type: tpe, seed: 2}"),
        ("{trials: 4, max_epochs: 3}", "{trials: 4, max_epochs: 3, time: 1h, max_retries: 3}"),
    ],
    ids=["trials", "max-epochs", "concurrency", "resources", "pruner", "sampler", "limits"],
)
def test_a_raised_budget_or_other_resources_are_the_same_sweep(old: str, new: str) -> None:
    study = ran_sweep()
    assert old in BASE

    check_same_sweep(study, make_spec(BASE.replace(old, new)))


def test_the_same_space_file_is_the_same_sweep() -> None:
    check_same_sweep(ran_sweep(), make_spec())


def test_a_sweep_that_never_asked_a_trial_may_change() -> None:
    spec = make_spec()
    study = optuna.create_study(study_name=spec.name, direction="maximize")
    records.describe(study, spec)

    check_same_sweep(study, make_spec(BASE.replace("cheap:train", "cheap:other")))


def test_a_study_that_keeps_no_space_file_is_not_compared() -> None:
    study = optuna.create_study(study_name="unit", direction="maximize")
    study.ask()

    check_same_sweep(study, make_spec())


# ---------------------------------------------------------------- judging the holder

_NEEDS_PROC = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


def _held(pid: int, started: int | None, age: float, host: str | None = None) -> dict:
    now = time.time()
    return {
        "host": host or socket.gethostname(),
        "pid": pid,
        "started": started,
        "since": now - age,
        "heartbeat": now - age,
    }


@_NEEDS_PROC
def test_a_live_holder_keeps_its_lock_however_stale_its_heartbeat() -> None:
    me = os.getpid()
    assert _alive(_held(me, start_time(me), age=10 * STALE_AFTER))


@_NEEDS_PROC
def test_a_reused_pid_or_a_gone_process_does_not_hold_it() -> None:
    me = os.getpid()
    assert not _alive(_held(me, start_time(me) - 1, age=0))  # same pid, another process
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    )
    assert not _alive(_held(int(done.stdout), 12345, age=0))


@_NEEDS_PROC
def test_another_hosts_holder_is_judged_by_its_heartbeat() -> None:
    assert _alive(_held(1, None, age=0, host="elsewhere"))
    assert not _alive(_held(1, None, age=STALE_AFTER + 1, host="elsewhere"))


@_NEEDS_PROC
def test_an_older_lock_without_a_start_time_falls_back_to_the_heartbeat() -> None:
    me = os.getpid()
    assert _alive(_held(me, None, age=0))
    assert not _alive(_held(me, None, age=STALE_AFTER + 1))
