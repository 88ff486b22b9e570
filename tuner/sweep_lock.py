"""One driver per sweep, and the checks that make `tune run` on an existing sweep a
resume rather than a different experiment under the same name.

The lock is a study attribute (host, pid, since, heartbeat), so it works wherever the
study lives; a heartbeat older than STALE_AFTER seconds is a dead driver's and is taken
over, so a SIGKILLed run never blocks its resume.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tuner import storage
from tuner.errors import ConfigError
from tuner.spec import SweepSpec

ATTR_LOCK = "run_lock"
HEARTBEAT_S = 5.0
STALE_AFTER = 30.0


def _now() -> float:
    return time.time()


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _alive(held: dict[str, Any]) -> bool:
    """Whether the lock's holder still runs: asked directly on this host, judged by its
    heartbeat elsewhere."""
    if held["host"] == socket.gethostname():
        try:
            os.kill(int(held["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _now() - float(held.get("heartbeat", 0)) < STALE_AFTER  # pid reuse
    return _now() - float(held.get("heartbeat", 0)) < STALE_AFTER


class SweepLock:
    """Held by the one `tune run` driving a sweep; refreshed by a heartbeat thread."""

    def __init__(self, study: Any, heartbeat_s: float = HEARTBEAT_S):
        self.study = study
        self.heartbeat_s = heartbeat_s
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "since": _now()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        held = self.study.user_attrs.get(ATTR_LOCK)
        other = held and (held["host"], held["pid"]) != (self.me["host"], self.me["pid"])
        if other and _alive(held):
            raise ConfigError(
                f"sweep '{self.study.study_name}' is already running: host {held['host']}, "
                f"pid {held['pid']}, since {_stamp(held['since'])}",
                hint="wait for it, stop it (Ctrl-C), or follow it with `tune status`",
            )
        self._beat()
        self._thread = threading.Thread(target=self._run, name="tuner-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        self.study.set_user_attr(ATTR_LOCK, {**self.me, "heartbeat": _now()})

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with contextlib.suppress(Exception):  # a storage hiccup must not kill the sweep
                self._beat()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_s + 1)
        held = self.study.user_attrs.get(ATTR_LOCK)
        if held and (held["host"], held["pid"]) == (self.me["host"], self.me["pid"]):
            self.study.set_user_attr(ATTR_LOCK, None)


def _essence(spec: SweepSpec) -> dict[str, Any]:
    """What defines the experiment: changing any of it is a different sweep."""
    return {
        "objective": spec.objective,
        "dataset": spec.dataset,
        "metric": (spec.metric.name, spec.metric.goal),
        "search space": tuple(spec.params),
        "fixed keys": spec.fixed,
    }


def check_same_sweep(study: Any, spec: SweepSpec) -> None:
    """Refuse to resume a sweep whose space, objective, data set or metric changed
    (raising the budget, concurrency or resources is fine)."""
    from tuner.spec import parse_spec

    text = study.user_attrs.get(storage.ATTR_SPACE)
    if not text or not study.trials:
        return
    before = _essence(parse_spec(text, spec.path, check_objective=False))
    after = _essence(spec)
    changed = [key for key in before if before[key] != after[key]]
    if changed:
        raise ConfigError(
            f"sweep '{spec.name}' already exists with a different {', '.join(changed)}",
            where=spec.path,
            hint="use --fresh to start it over (the old one is archived), or another name",
        )
