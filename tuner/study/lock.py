"""One driver per sweep, and the checks that make `tune run` on an existing sweep a
resume rather than a different experiment under the same name.

The lock is a study attribute (host, pid, the process's start time, since, heartbeat),
so it works wherever the study lives. On the holder's own host the lock is judged by the
process itself: a live pid with the recorded start time holds it however stale its
heartbeat (a driver stopped by Ctrl-Z or SIGSTOP is alive, not dead), and a live pid with
another start time is a reused pid. From another host only the heartbeat tells: older
than STALE_AFTER seconds is a dead driver's and is taken over, so a SIGKILLed run never
blocks its resume — and a driver that wakes to find its lock taken stops without writing.
The holder also keeps there the session folder of the local Ray it started (`ray_session`):
the driver that takes the lock over from a dead one on its host ends what that Ray left
behind (tuner/sweep/local_ray.py).

TUNER_LOCK_HEARTBEAT / TUNER_LOCK_STALE_AFTER (seconds) shorten both for tests.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError, LockLost
from tuner.space.model import SweepSpec
from tuner.study import records
from tuner.study.records import SweepRecord

if TYPE_CHECKING:
    import optuna

    from tuner.study.fence import Fence

HEARTBEAT_S = float(os.environ.get("TUNER_LOCK_HEARTBEAT") or 5.0)
STALE_AFTER = float(os.environ.get("TUNER_LOCK_STALE_AFTER") or 30.0)


def _now() -> float:
    return time.time()


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def start_time(pid: int) -> int | None:
    """A process's start time (clock ticks after boot, /proc/PID/stat field 22): with the
    pid it names one process, where a pid alone may be reused. None where /proc is not
    (not Linux) or the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _alive(held: dict[str, Any]) -> bool:
    """Whether the lock's holder still runs: asked directly on this host (pid and start
    time), judged by its heartbeat elsewhere."""
    fresh = _now() - float(held.get("heartbeat", 0)) < STALE_AFTER
    if held["host"] != socket.gethostname():
        return fresh
    pid = int(held["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    started, recorded = start_time(pid), held.get("started")
    if recorded is not None and started is not None:
        return started == recorded  # another start time: the pid was reused
    if recorded is not None and Path("/proc/self/stat").exists():
        return False  # /proc works here, but not for this pid: a zombie or gone
    return fresh  # no start time to compare (an older lock, no /proc): the heartbeat


class SweepLock:
    """Held by the one `tune run` driving a sweep; refreshed by a heartbeat thread."""

    def __init__(
        self,
        study: optuna.Study,
        heartbeat_s: float | None = None,
        on_lost: Callable[[str], None] | None = None,
    ):
        self.study = study
        self.heartbeat_s = HEARTBEAT_S if heartbeat_s is None else heartbeat_s
        pid = os.getpid()
        self.me = {
            "host": socket.gethostname(),
            "pid": pid,
            "started": start_time(pid),
            "since": _now(),
        }
        self.on_lost = on_lost  # told once, from the heartbeat thread, if the lock is taken
        # the lock of the dead driver this one took it from (what it may have left behind:
        # its local Ray's session, tuner/sweep/local_ray.py); None if the sweep was free
        self.predecessor: dict[str, Any] | None = None
        self.lost: str | None = None  # why this driver no longer holds the lock
        self._checked = -float("inf")  # time.monotonic() of the last read of the lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fence: Fence | None = None

    def acquire(self) -> None:
        held = records.read_lock(self.study)
        mine = (self.me["host"], self.me["pid"])
        if held and (held["host"], held["pid"]) != mine and _alive(held):
            raise ConfigError(
                f"sweep '{self.study.study_name}' is already running: host {held['host']}, "
                f"pid {held['pid']}, since {_stamp(held['since'])}",
                hint="wait for it, stop it (Ctrl-C), or follow it with `tune status`",
            )
        if held and (held["host"], held["pid"]) != mine:
            self.predecessor = held
        self._beat()
        from tuner.study import fence

        self._fence = fence.arm(self.study, self._refuse)
        self._thread = threading.Thread(target=self._run, name="tuner-heartbeat", daemon=True)
        self._thread.start()

    def record(self, **facts: Any) -> None:
        """Keep more about this driver in its lock (the session folder of the local Ray it
        started: `ray_session`), for the driver that takes over should this one die."""
        self.me.update(facts)
        self._beat()

    def _beat(self) -> None:
        records.write_lock(self.study, {**self.me, "heartbeat": _now()})

    def _mine(self, held: dict[str, Any] | None) -> bool:
        keys = ("host", "pid", "since")
        if not held:
            return False
        return all(held.get(k) == self.me[k] for k in keys)

    def holds(self, within: float = 0.0) -> bool:
        """Whether this driver still holds the lock, read from the study now (or trusted
        from a read less than `within` seconds ago: a stopped process's monotonic clock
        runs on, so it reads again on waking). Once lost, always lost (the taker may
        have run trials since): the caller stops writing."""
        if self.lost is None and time.monotonic() - self._checked >= within:
            held = records.read_lock(self.study)
            self._checked = time.monotonic()
            if not self._mine(held):
                self._lose(held)
        return self.lost is None

    def _lose(self, held: dict[str, Any] | None) -> None:
        taker = f"host {held['host']}, pid {held['pid']}" if held else "nobody"
        self.lost = self.lost or (
            f"sweep '{self.study.study_name}' was taken over ({taker}) while this "
            "driver was stopped or cut off longer than its heartbeat allows; it "
            "stopped without writing to the sweep"
        )

    def _refuse(self, held: dict[str, Any] | None) -> None:
        """The journal's fence, on a lock record appended since it last looked: one
        that is not this driver's refuses the write about to happen."""
        if not self._mine(held):
            self._lose(held)
            raise LockLost(self.lost or "")

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                if self.holds():
                    self._beat()  # (the fence refuses it if the lock was taken just now)
            except LockLost:
                pass
            except Exception:  # a storage hiccup must not kill the sweep
                continue
            if self.lost is not None:
                if self.on_lost is not None:
                    self.on_lost(self.lost)
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_s + 1)
        with contextlib.suppress(LockLost):
            if self.lost is None and self._mine(records.read_lock(self.study)):
                records.write_lock(self.study, None)
        if self._fence is not None:
            self._fence.disarm()


def _essence(spec: SweepSpec) -> dict[str, Any]:
    """What defines the experiment: changing any of it is a different sweep."""
    return {
        "objective": spec.objective,
        "dataset": spec.dataset,
        "metric": tuple((m.name, m.goal) for m in spec.metrics),
        "constraints": spec.constraints,
        "search space": tuple(spec.params),
        "fixed keys": spec.fixed,
    }


def check_same_sweep(study: optuna.Study, spec: SweepSpec) -> None:
    """Refuse to resume a sweep whose space, objective, data set or metric changed
    (raising the budget, concurrency or resources is fine)."""
    record = SweepRecord.of(study)
    if not record.space or not study.trials:
        return
    recorded = record.spec(strict=True)  # None only without a space; strict raises
    assert recorded is not None
    before = _essence(recorded)
    after = _essence(spec)
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        raise ConfigError(
            f"sweep '{spec.name}' already exists with a different {', '.join(changed)}",
            where=spec.path,
            hint="use --fresh to start it over (the old one is archived), or another name",
        )
