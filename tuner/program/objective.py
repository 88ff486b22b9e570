"""A program as an `Objective`: the engine runs it like any Python objective (the trial
runner calls its function in a Ray worker; `tune train` calls it in the CLI's process).
The trial's number, its resume point and its GPU share come from the trial's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner.program.spec import ProgramSpec
from tuner.trial import Objective, Report


def program_objective(ref: str) -> Objective:
    spec = ProgramSpec.from_ref(ref)
    metrics = frozenset(spec.metrics)

    def run(config: dict[str, Any], report: Report, trial_dir: Path) -> dict[str, Any]:
        from tuner.program.runner import run_program

        number, resume, gpu = _context(trial_dir)
        return run_program(
            spec, config, report, trial_dir, number=number, resume_epoch=resume, gpu=gpu
        )

    return Objective(ref=ref, function=run, declared=lambda config: metrics)


def _context(trial_dir: Path) -> tuple[int, int, float]:
    """(trial number, resume epoch, GPU share) of the running trial."""
    from tuner import trial

    current = getattr(trial, "current_trial", None)
    context = current() if current is not None else None
    if context is not None:
        return (
            int(context.number),
            int(context.resume_epoch),
            float(getattr(context, "gpu", 0.0) or 0.0),
        )
    name = Path(trial_dir).name
    return (int(name) if name.isdigit() else 0), 0, 0.0
