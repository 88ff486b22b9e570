"""tuner.sweep.stop: the one rule for how a new reason to stop meets the one a sweep has
(`after`), as a table: (the state before, the stop asked for) → the state after."""

from __future__ import annotations

import pytest

from tuner.sweep.stop import Halt, Stop, after

TIME = Halt(Stop.TIME_BUDGET, "time")
CTRL_C = Halt(Stop.SIGNAL, "Ctrl-C", signal=15)
LOST = Halt(Stop.LOCK_LOST, "taken over by b", lost="taken over by b")
DISK = OSError(28, "No space left on device")
MLFLOW = RuntimeError("the writer died")

CASES: list[tuple[str, Halt | None, dict, Halt]] = [
    ("a first stop stands", None, {"kind": Stop.TIME_BUDGET, "why": "time"}, TIME),
    (
        "a first signal names its signal",
        None,
        {"kind": Stop.SIGNAL, "why": "Ctrl-C", "signum": 15},
        CTRL_C,
    ),
    (
        "without one the signal is SIGINT's",
        None,
        {"kind": Stop.SIGNAL, "why": "hang-up"},
        Halt(Stop.SIGNAL, "hang-up", signal=2),
    ),
    ("the first reason stands", TIME, {"kind": Stop.MAX_FAILURES, "why": "failures"}, TIME),
    ("... against Ray's end too", TIME, {"kind": Stop.ENDED, "why": "ended"}, TIME),
    (
        "a resumable stop replaces one that is not",
        TIME,
        {"kind": Stop.SIGNAL, "why": "Ctrl-C", "signum": 15},
        CTRL_C,
    ),
    (
        "a resumable stop is replaced by no other",
        CTRL_C,
        {"kind": Stop.DISK_FULL, "why": "disk"},
        CTRL_C,
    ),
    (
        "... nor by a signal again",
        CTRL_C,
        {"kind": Stop.SIGNAL, "why": "again", "signum": 1},
        CTRL_C,
    ),
    (
        "a second signal hurries the end, its reason standing",
        CTRL_C,
        {"kind": Stop.SIGNAL_TWICE, "why": "twice"},
        Halt(Stop.SIGNAL, "Ctrl-C", signal=15, hurry=True),
    ),
    (
        "a second signal alone stops, resumable, in a hurry",
        None,
        {"kind": Stop.SIGNAL_TWICE, "why": "twice", "signum": 15},
        Halt(Stop.SIGNAL_TWICE, "twice", signal=15, hurry=True),
    ),
    (
        "a lost lock replaces any stop",
        CTRL_C,
        {"kind": Stop.LOCK_LOST, "why": "taken over by b", "lost": True},
        Halt(Stop.LOCK_LOST, "taken over by b", signal=15, lost="taken over by b"),
    ),
    (
        "... keeping the first word of it",
        LOST,
        {"kind": Stop.LOCK_LOST, "why": "later", "lost": True},
        Halt(Stop.LOCK_LOST, "later", lost="taken over by b"),
    ),
    (
        "a full disk stops, resumable, with its error",
        None,
        {"kind": Stop.DISK_FULL, "why": "no space", "error": DISK},
        Halt(Stop.DISK_FULL, "no space", full=DISK),
    ),
    (
        "a full disk keeps its error under a signal's reason",
        CTRL_C,
        {"kind": Stop.DISK_FULL, "why": "no space", "error": DISK},
        Halt(Stop.SIGNAL, "Ctrl-C", signal=15, full=DISK),
    ),
    (
        "the first full disk's error is kept",
        Halt(Stop.DISK_FULL, "no space", full=DISK),
        {"kind": Stop.DISK_FULL, "why": "no space", "error": OSError(28, "again")},
        Halt(Stop.DISK_FULL, "no space", full=DISK),
    ),
    (
        "the tracker's failure stops, resumable, with its error",
        TIME,
        {"kind": Stop.TRACKING, "why": "MLflow", "error": MLFLOW},
        Halt(Stop.TRACKING, "MLflow", tracking=MLFLOW),
    ),
]


@pytest.mark.parametrize(
    ("before", "stop", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_after(before: Halt | None, stop: dict, expected: Halt) -> None:
    assert after(before, **stop) == expected


@pytest.mark.parametrize(
    ("kind", "resumable"),
    [
        (Stop.TIME_BUDGET, False),
        (Stop.MAX_FAILURES, False),
        (Stop.ENDED, False),
        (Stop.SIGNAL, True),
        (Stop.SIGNAL_TWICE, True),
        (Stop.LOCK_LOST, True),
        (Stop.DISK_FULL, True),
        (Stop.TRACKING, True),
    ],
)
def test_which_stops_leave_trials_resumable(kind: Stop, resumable: bool) -> None:
    assert kind.resumable is resumable and Halt(kind, "why").resumable is resumable
