"""Fault injection for the resume tests: kill this process at a named moment.

`TUNER_FAULT=point[:n]` SIGKILLs the process the n-th time (default 1st) it passes
`point(name)` — no sleeps, no races. The driver passes the moments a sweep can be
interrupted at: trial_start (a trial was asked, not yet run), epoch (an epoch recorded),
trial_end (a trial was told), plot (before each of a sweep's plots, at its end),
export (while exporting the best trial), summary (a sweep's summary written, not yet
in place). The MLflow writer passes `writer` after each
message it wrote (it kills itself). A trial process
passes `checkpoint` (between a trial's best and last checkpoints) and kills the driver,
whose pid it finds in TUNER_DRIVER_PID. `tune data convert` passes `convert` (the data
set staged, not yet published). Unset, `point` costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
import threading

_hits: dict[str, int] = {}
_lock = threading.Lock()


def point(name: str) -> None:
    spec = os.environ.get("TUNER_FAULT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] != int(nth or 1):
            return
    victim = int(os.environ.get("TUNER_DRIVER_PID") or os.getpid())
    os.kill(victim, signal.SIGKILL)
    if victim != os.getpid():
        os.kill(os.getpid(), signal.SIGKILL)
