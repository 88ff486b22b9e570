"""Cluster tests. `train` is the cheap objective of the sweep tests (checkpoints and an
epoch log in its trial folder) that also writes a stand-in exported model there, as the
real objective does, so `tune best --export` has a `model/` to copy from the trial
storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.sweep.cheap import train as _cheap
from tuner.trial import objective


@objective(metrics=["score", "loss"])
def train(config: dict[str, Any], report, trial_dir: Path) -> dict[str, Any]:
    result = _cheap(config, report, trial_dir)
    model = trial_dir / "model"
    model.mkdir(exist_ok=True)
    (model / "saved_model.pb").write_bytes(b"a stand-in for a SavedModel")
    return result
