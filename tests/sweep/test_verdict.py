"""tuner.sweep.verdict: how a trial that ended is told, as a table of (what the bridge
knows of the trial, the sweep's stop state) → (its ending, the reason recorded)."""

from __future__ import annotations

import pytest

from tuner.sweep.stop import Halt, Stop
from tuner.sweep.verdict import Ending, Facts, Verdict, decide

DIED = "the worker process died (pid 7, killed or crashed)"
SIGNAL = Halt(Stop.SIGNAL, "interrupted (Ctrl-C)")
TIME = Halt(Stop.TIME_BUDGET, "the sweep's time budget ran out")
FAILURES = Halt(Stop.MAX_FAILURES, "2 trials failed (budget.max_failures)")
ENDED = Halt(Stop.ENDED, "the sweep ended while they ran")
DONE = {"last_epoch": 3, "scored": True}  # every epoch run, with a value

CASES: list[tuple[str, Facts, Halt | None, Verdict]] = [
    ("a trial with a value completes", Facts(**DONE), None, Verdict(Ending.COMPLETE)),
    (
        "without a value it fails, saying why",
        Facts(last_epoch=3, no_value="it never reported score"),
        None,
        Verdict(Ending.FAIL, "it never reported score"),
    ),
    (
        "pruned",
        Facts(pruned=True, last_epoch=2, scored=True),
        None,
        Verdict(Ending.PRUNED, "pruned after epoch 2"),
    ),
    (
        "its reported failure",
        Facts(failed=True, reason="RuntimeError: boom", **DONE),
        None,
        Verdict(Ending.FAIL, "RuntimeError: boom"),
    ),
    (
        "Ray's error without a reason",
        Facts(errored=True, **DONE),
        None,
        Verdict(Ending.FAIL, "the trial errored"),
    ),
    (
        "its worker died: re-run",
        Facts(errored=True, died=DIED, last_epoch=1),
        None,
        Verdict(Ending.RERUN, f"{DIED}; re-running it (1 of 2)"),
    ),
    (
        "... until budget.max_retries is spent",
        Facts(errored=True, died=DIED, retries=2, last_epoch=1),
        None,
        Verdict(Ending.FAIL, f"{DIED} (after 2 re-runs)"),
    ),
    (
        "Ray dropped it before it started: started again, not counted",
        Facts(errored=True, died="Ray ended it", dropped_again=True, retries=2),
        None,
        Verdict(Ending.RERUN, "Ray ended it; starting it again"),
    ),
    (
        "no re-run once the sweep stops",
        Facts(errored=True, died=DIED, last_epoch=1),
        TIME,
        Verdict(Ending.FAIL, DIED),
    ),
    (
        "a worker killed by the user's Ctrl-C: resumable, not failed",
        Facts(errored=True, died=DIED, last_epoch=1),
        SIGNAL,
        Verdict(Ending.RESUMABLE, SIGNAL.why),
    ),
    (
        "its objective started over: failed, its config asked anew",
        Facts(restarted=2, pruned=True, last_epoch=2),
        None,
        Verdict(
            Ending.START_OVER,
            "run again, its objective started over (epoch 2 reported with another value "
            "than recorded: no checkpoint in trial_dir to continue from); its config starts "
            "over as a new trial",
        ),
    ),
    (
        "pruned before the user's Ctrl-C: pruned",
        Facts(pruned=True, last_epoch=1),
        SIGNAL,
        Verdict(Ending.PRUNED, "pruned after epoch 1"),
    ),
    (
        "unfinished when the user stops: left RUNNING",
        Facts(last_epoch=1, scored=True),
        SIGNAL,
        Verdict(Ending.RESUMABLE, SIGNAL.why),
    ),
    (
        "the time budget with a value: complete at its last epoch",
        Facts(last_epoch=1, scored=True),
        TIME,
        Verdict(Ending.COMPLETE, "stopped by the sweep's time budget after epoch 1 of 3"),
    ),
    (
        "the time budget before a value: left RUNNING",
        Facts(last_epoch=1),
        TIME,
        Verdict(Ending.RESUMABLE, TIME.why),
    ),
    (
        "too many failures: an unfinished trial fails",
        Facts(last_epoch=1, scored=True),
        FAILURES,
        Verdict(Ending.FAIL, f"interrupted after epoch 1: {FAILURES.why}"),
    ),
    (
        "a stop after its last epoch: complete",
        Facts(**DONE),
        ENDED,
        Verdict(Ending.COMPLETE),
    ),
]


@pytest.mark.parametrize(
    ("facts", "halt", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(facts: Facts, halt: Halt | None, expected: Verdict) -> None:
    assert decide(facts, halt, max_epochs=3, max_retries=2) == expected
