"""The Ray Tune trainable: runs one objective trial inside a (reused) Ray worker.

It adapts the trial contract to Ray: `report(epoch, metrics)` becomes `ray.tune.report`;
Ray stopping the trial (pruned, sweep over) becomes `StopTrial`; a failure becomes one
last report carrying the one-line reason, so the driver records why a trial failed
without reading worker logs. Everything the trial needs is in its Ray config as plain
data (number, objective reference, trial config, folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FAILED = "tuner_failed"
REASON = "tuner_reason"
EPOCH = "epoch"
PID = "tuner_pid"
NODE = "tuner_node_id"
_gpu_configured = False


def _one_line(exc: BaseException) -> str:
    from tuner.errors import TunerError
    from tuner.redact import mask_text

    text = exc.format() if isinstance(exc, TunerError) else f"{type(exc).__name__}: {exc}"
    return mask_text(" ".join(text.split()))[:500]  # it goes to the study, MLflow, the screen


def limit_gpu_memory(fraction: float) -> None:
    """Cap this process's TensorFlow GPU memory to its share of the GPU, once, before
    TensorFlow initializes its devices (later it cannot be changed)."""
    global _gpu_configured
    if _gpu_configured or fraction <= 0:
        return
    _gpu_configured = True
    from tuner.tabular.gpu import configure_memory_limit

    configure_memory_limit(fraction)


def trainable(ray_config: dict[str, Any]) -> None:
    from ray import tune
    from ray.runtime_context import get_runtime_context

    from tuner.trial import StopTrial, checked_report, load_objective

    limit_gpu_memory(float(ray_config.get("gpu", 0) or 0))
    identity = {PID: os.getpid(), NODE: get_runtime_context().get_node_id()}

    def report(epoch: int, metrics: dict[str, float]) -> None:
        try:
            tune.report({**metrics, EPOCH: epoch, **identity})
        except SystemExit:  # Ray stops a trial by exiting its thread at a report
            raise StopTrial("stopped by the scheduler") from None

    try:
        objective = load_objective(ray_config["objective"])
        objective.function(
            dict(ray_config["config"]), checked_report(report), Path(ray_config["trial_dir"])
        )
    except StopTrial:
        # End the thread the way Ray expects of a stopped trial: returning normally
        # would queue a final result nobody reads, and the reused actor would hang.
        raise SystemExit(0) from None
    except Exception as exc:
        tune.report({FAILED: 1, REASON: _one_line(exc), **identity})
