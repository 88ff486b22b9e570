"""How a trial that ended is told to the study, decided from plain facts: a pure function
(`decide`) of what the bridge knows of the trial (`Facts`) and of the sweep's stop state,
so each of its cases is tested on its own (tests/sweep/test_verdict.py) and the bridge's
`finish` only carries the verdict out."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tuner.sweep.stop import Halt, Stop


class Ending(enum.Enum):
    """What becomes of a trial that ended: the three states Optuna is told, or one of
    three ways the trial goes on."""

    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"
    RERUN = "RERUN"  # its worker process died (or Ray dropped it): run again, same number
    START_OVER = "START_OVER"  # its objective started over: failed, its config asked anew
    RESUMABLE = "RUNNING"  # the sweep stopped resumably: left RUNNING for the next run


@dataclass(frozen=True)
class Facts:
    """What the bridge knows of a trial as it ends."""

    errored: bool = False  # Ray ended it with an error
    failed: bool = False  # it reported its own failure (the objective raised)
    reason: str | None = None  # the failure it reported, in one line
    died: str | None = None  # why its worker process died (or Ray dropped it)
    dropped_again: bool = False  # Ray dropped it before it started: start it again
    retries: int = 0  # times it was re-run after its worker died
    pruned: bool = False
    restarted: int | None = None  # the epoch at which its objective was seen starting over
    last_epoch: int = 0
    scored: bool = False  # it has an epoch whose value is the trial's
    no_value: str = "it never reported its metric"  # why it has none (when not scored)


@dataclass(frozen=True)
class Verdict:
    ending: Ending
    reason: str | None = None


def decide(trial: Facts, halt: Halt | None, *, max_epochs: int, max_retries: int) -> Verdict:
    """The ending of a trial, first matching rule wins:
    a worker's death re-runs it (while the sweep goes on and budget.max_retries allows);
    an objective that started over fails it and starts its config anew; a pruned trial
    is PRUNED; an error or a reported failure is FAIL (unless the worker died because
    the sweep was interrupted); a resumable stop, or the time budget before it had a
    value, leaves it RUNNING; the time budget otherwise COMPLETEs it at its last epoch;
    any other stop fails it if its epochs were not all run; without a value it fails;
    else COMPLETE."""
    stopping = halt.why if halt is not None else None
    interrupted = halt is not None and halt.resumable
    timed_out = halt is not None and halt.kind is Stop.TIME_BUDGET
    if trial.errored and trial.died and not (trial.pruned or interrupted or stopping):
        if trial.dropped_again:
            return Verdict(Ending.RERUN, f"{trial.died}; starting it again")
        if trial.retries < max_retries:
            return Verdict(
                Ending.RERUN,
                f"{trial.died}; re-running it ({trial.retries + 1} of {max_retries})",
            )
    if trial.restarted is not None:
        return Verdict(
            Ending.START_OVER,
            f"run again, its objective started over (epoch {trial.restarted} reported with "
            "another value than recorded: no checkpoint in trial_dir to continue from); its "
            "config starts over as a new trial",
        )
    if trial.pruned:
        return Verdict(Ending.PRUNED, f"pruned after epoch {trial.last_epoch}")
    if (trial.errored or trial.failed) and not (trial.died and interrupted):
        reason = trial.reason or trial.died or "the trial errored"
        if trial.died and trial.retries:
            reason += f" (after {trial.retries} re-run{'s' * (trial.retries > 1)})"
        return Verdict(Ending.FAIL, reason)
    if stopping and (interrupted or (timed_out and not trial.scored)):
        return Verdict(Ending.RESUMABLE, stopping)
    if timed_out and trial.last_epoch < max_epochs:
        # the sweep's own budget is not the trial's failure: it stands at its last
        # epoch, with that value (it may be the best)
        return Verdict(
            Ending.COMPLETE,
            f"stopped by the sweep's time budget after epoch {trial.last_epoch} of {max_epochs}",
        )
    if stopping and trial.last_epoch < max_epochs:
        return Verdict(Ending.FAIL, f"interrupted after epoch {trial.last_epoch}: {stopping}")
    if not trial.scored:
        return Verdict(Ending.FAIL, trial.no_value)
    return Verdict(Ending.COMPLETE)
