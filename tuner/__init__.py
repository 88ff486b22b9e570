"""tuner: hyperparameter sweeps for TensorFlow models.

The library's face (see tuner.api): `load_space`, `run`, `resume`, `best_trial`,
`export_best`; for objectives, `objective` (the decorator), `StopTrial`, `TrialFailed` and
`current_trial` (the trial running, a `TrialContext`: see tuner.trial; Keras code's
callback is `tuner.keras.Report`); for a training program a sweep runs,
`report(epoch, **metrics)`;
and the error root `TunerError`. They are loaded on first use: importing the package must
stay cheap (no TensorFlow, Ray or MLflow), since the CLI's help and bad-input errors are
promised to return in well under a second.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0.dev0"  # the next release in the making (CHANGELOG.md: Unreleased)

_EXPORTS = {
    "load_space": "tuner.api",
    "run": "tuner.api",
    "resume": "tuner.api",
    "best_trial": "tuner.api",
    "export_best": "tuner.api",
    "BestTrial": "tuner.api",
    "objective": "tuner.trial",
    "report": "tuner.reporting",  # for a program a sweep runs (tuner.program)
    "StopTrial": "tuner.trial",
    "current_trial": "tuner.trial",
    "TrialContext": "tuner.trial",
    "TrialFailed": "tuner.errors",
    "TunerError": "tuner.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tuner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
