"""A cheap objective without TensorFlow for orchestration tests: its score is a known
function of the params, with knobs for sleeping, failing and diverging."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from tuner.trial import objective


@objective(metrics=["score", "loss"])
def train(config: dict[str, Any], report, trial_dir: Path) -> dict[str, Any]:
    x = float(config.get("x", 0.5))
    for epoch in range(1, int(config.get("epochs", 3)) + 1):
        time.sleep(float(config.get("sleep", 0.0)))
        if config.get("fail_at") == epoch or (config.get("fail_if_x_above", math.inf) < x):
            raise RuntimeError(f"planned failure at epoch {epoch} (x={x})")
        score = x * (1 - 0.5**epoch)
        report(epoch, {"score": score, "loss": 1 - score})
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "done").write_text("ok")
    return {"status": "complete"}


@objective(metrics=["score", "loss"])
def noop(config: dict[str, Any], report, trial_dir: Path) -> None:
    for epoch in range(1, int(config.get("epochs", 1)) + 1):
        report(epoch, {"score": float(config.get("x", 0.5)), "loss": 0.0})
