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
    """(trial number, resume epoch, GPU share) of the running trial: the first two from
    the trial's context (`tuner.trial.current_trial`), the share from Ray's resources
    for the worker (none outside Ray)."""
    from tuner import trial

    current = getattr(trial, "current_trial", None)
    context = current() if current is not None else None
    name = Path(trial_dir).name
    number = int(name) if name.isdigit() else 0
    resume = 0
    if context is not None:
        number = number if context.number is None else int(context.number)
        resume = int(context.resume_epoch)
    return number, resume, _gpu_share()


def _gpu_share() -> float:
    import sys

    if "ray" not in sys.modules:  # (`tune train`: no Ray, the whole machine)
        return 0.0
    try:
        import ray

        if not ray.is_initialized():
            return 0.0
        return float(ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0))
    except Exception:  # (not in a Ray worker)
        return 0.0
