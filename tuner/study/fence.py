"""A sweep's journal refuses writes from a driver whose lock another driver has taken.

Why: the driver checks its lock (tuner/study/lock.py) before each write, but a driver
stopped between that check and the write (SIGSTOP, Ctrl-Z, a paused VM, a long swap)
wakes to write into a sweep that another driver took over meanwhile — a trial the taker
never asked for, an epoch on a trial the taker now runs. Check and write must be one step
with respect to every other writer. Every journal append happens under Optuna's writer
lock, so this wraps that lock: on acquiring it, it reads the records appended since it
last looked (usually none but its own driver's, a few hundred bytes) and, if the newest
lock record among them is not this driver's, releases it and raises LockLost; the append
then never happens. RDB storages (a shared PostgreSQL) keep the check-then-write window.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from optuna.storages.journal import JournalFileSymlinkLock

from tuner.compat.optuna import (
    SET_STUDY_USER_ATTR_MARK,
    BaseJournalFileLock,
    journal_writer_lock,
    storage_of,
    study_id,
)
from tuner.study.records import LOCK

if TYPE_CHECKING:
    import optuna

_MARK = SET_STUDY_USER_ATTR_MARK  # a study user attribute's record


class Fence(BaseJournalFileLock):
    """Optuna's journal writer lock, plus the lock-record check on each acquire."""

    def __init__(self, path: str, inner: BaseJournalFileLock | None = None):
        self.path = path
        self.inner = inner or JournalFileSymlinkLock(path)
        self.check: Callable[[dict[str, Any] | None], None] | None = None
        self.study_id: int | None = None
        self._seen = 0  # bytes of the journal already looked at
        self._newest: tuple[Any, ...] = ()  # (the newest lock record seen,) if any

    def arm(self, study_id: int, check: Callable[[dict[str, Any] | None], None]) -> None:
        """From now on, refuse appends after a lock record `check` raises on (it is
        given the newest lock record written since the last look; None: released)."""
        self.study_id, self.check = study_id, check
        self._seen, self._newest = os.path.getsize(self.path), ()

    def disarm(self) -> None:
        self.check = None

    def acquire(self) -> bool:
        got = self.inner.acquire()
        if self.check is not None:
            try:
                self._look()
            except BaseException:
                self.inner.release()
                raise
        return got

    def release(self) -> None:
        if self.check is not None:  # what this append wrote needs no second look
            self._seen = os.path.getsize(self.path)
        self.inner.release()

    def _look(self) -> None:
        assert self.check is not None
        with open(self.path, "rb") as journal:
            journal.seek(self._seen)
            new = journal.read()
        end = new.rfind(b"\n") + 1  # a torn tail (a crashed writer) is nobody's record
        for line in new[:end].splitlines():
            if _MARK not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            attrs = record.get("user_attr") or {}
            if record.get("study_id") == self.study_id and LOCK in attrs:
                self._newest = (attrs[LOCK],)
        self._seen += end
        if self._newest:  # (again on every write: once taken, always refused)
            held = self._newest[0]
            self.check(held if isinstance(held, dict) else None)


def arm(study: optuna.Study, check: Callable[[dict[str, Any] | None], None]) -> Fence | None:
    """Arm the fence under a study's journal storage, if it has one (see Fence.arm);
    returns it, to disarm. Optuna's storage objects expose no writer hook: the one
    reached through tuner.compat.optuna."""
    fence = journal_writer_lock(storage_of(study))
    if not isinstance(fence, Fence):
        return None
    fence.arm(study_id(study), check)
    return fence
