"""Why a sweep ends before its budget is spent, as one value (`Halt`), and the one rule for
how a new reason meets the one already there (`after`): a pure function, so the signal
handler, the budget stopper, the lock's heartbeat thread, the tracker's failure and Ray's
end all go through the same, separately tested, precedence."""

from __future__ import annotations

import dataclasses
import enum
import signal
from dataclasses import dataclass


class Stop(enum.Enum):
    """Why a sweep ends before its budget is spent. A resumable stop (the user's signal,
    a lock another driver took, a full disk) leaves the running trials RUNNING in the
    study for the next `tune run` to continue; the others fail them, with the reason."""

    TIME_BUDGET = "time budget"
    MAX_FAILURES = "max failures"
    ENDED = "ended"  # Ray stopped with trials still running
    SIGNAL = "signal"
    SIGNAL_TWICE = "signal twice"
    LOCK_LOST = "lock lost"
    DISK_FULL = "disk full"
    TRACKING = "tracking failed"  # MLflow's writes failed: the study is the truth, go on later

    @property
    def resumable(self) -> bool:
        return self in (
            Stop.SIGNAL,
            Stop.SIGNAL_TWICE,
            Stop.LOCK_LOST,
            Stop.DISK_FULL,
            Stop.TRACKING,
        )


@dataclass(frozen=True)
class Halt:
    """A sweep's stop state: why it is ending early and what that asks of its end."""

    kind: Stop
    why: str  # in words, for messages and the trials' reasons
    signal: int = signal.SIGINT  # the signal that interrupted it (exit code 128 + it)
    hurry: bool = False  # a second signal: stop at once, skip the plots
    lost: str | None = None  # another driver took the sweep over (its first word): write nothing
    full: BaseException | None = None  # a full disk: run_sweep raises it at the end
    tracking: BaseException | None = None  # MLflow's failure: run_sweep raises it at the end

    @property
    def resumable(self) -> bool:
        """Stopped in a way that leaves unfinished trials RUNNING (see Stop)."""
        return self.kind.resumable


def after(
    current: Halt | None,
    kind: Stop,
    why: str,
    *,
    signum: int | None = None,
    error: BaseException | None = None,
    lost: bool = False,
) -> Halt:
    """The stop state once `kind` (for `why`) meets `current`. The first reason stands,
    except that a resumable stop replaces one that is not (Ctrl-C after the time ran out
    still leaves trials resumable), and a `lost` lock (LOCK_LOST: another driver took the
    sweep over, nothing may be written after it) replaces any, its first word kept as
    `lost`. A second signal also hurries the end (no plots). `error` is a full disk's
    (DISK_FULL) or the tracker's (TRACKING) failure: the first of each is kept, whatever
    the reason that stands."""
    state = current or Halt(kind, why)
    if kind is Stop.SIGNAL_TWICE:
        state = dataclasses.replace(state, hurry=True)
    if kind is Stop.DISK_FULL and error is not None:
        state = dataclasses.replace(state, full=state.full or error)
    if kind is Stop.TRACKING and error is not None:
        state = dataclasses.replace(state, tracking=state.tracking or error)
    if lost:
        return dataclasses.replace(state, kind=kind, why=why, lost=state.lost or why)
    if current is not None and (current.resumable or not kind.resumable):
        return state
    return dataclasses.replace(
        state, kind=kind, why=why, signal=signum if signum is not None else state.signal
    )
