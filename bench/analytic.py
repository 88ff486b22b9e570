"""A cheap analytic objective for benchmarks that measure search, not training: a bowl
in four params (two linear ranges, a log-scaled one and a choice) whose minimum is known,
reported over epochs like a real objective (its value falls towards the final one)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tuner.trial import objective

PENALTY = {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.6}  # the choice's share of the loss


def loss(config: dict[str, Any]) -> float:
    """The bowl: 0 at x = 0.7, y = -0.4, lr = 1e-2 with adam."""
    x, y, lr = float(config["x"]), float(config["y"]), float(config["lr"])
    return (
        (x - 0.7) ** 2
        + (y + 0.4) ** 2
        + 0.25 * (math.log10(lr) + 2) ** 2
        + PENALTY[str(config["opt"])]
    )


@objective(metrics=["loss"])
def bowl(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    final = loss(config)
    for epoch in range(1, int(config.get("epochs", 2)) + 1):
        report(epoch, {"loss": final * (1 + 0.5**epoch)})
