"""The Ray Tune trainable: runs one objective trial inside a (reused) Ray worker.

It adapts the trial contract to Ray: `report(epoch, metrics)` becomes `ray.tune.report`;
Ray stopping the trial (pruned, sweep over) becomes `StopTrial`; a failure becomes one
last report carrying the one-line reason, so the driver records why a trial failed
without reading worker logs. Everything the trial needs is in its Ray config as plain
data (number, objective reference, trial config, folder).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuner.trial import Objective

FAILED = "tuner_failed"
REASON = "tuner_reason"
EPOCH = "epoch"
PID = "tuner_pid"
NODE = "tuner_node_id"
# The keys of a trial's Ray config (the driver and the bridge write them, the trainable
# reads them): plain data, so that Ray ships it to any node.
NUMBER = "number"
OBJECTIVE = "objective"
CONFIG = "config"
TRIAL_DIR = "trial_dir"
CPU = "cpu"
GPU = "gpu"
RESUME = "resume_epoch"  # the last epoch the study has of this trial (0: a new trial)
FOLDER = "objective_folder"  # the space file's folder: where the objective's module is
# the metric whose best epoch is the trial's value ({"name", "goal"}: the objective keeps
# that epoch's weights as its model), or None: its last epoch scores it
SCORED_BY = "scored_by"
_set_up: set[str] = set()  # objectives whose setup_process ran in this process
_set_up_lock = threading.Lock()  # the warm-up thread and a first trial may meet here


def _one_line(exc: BaseException) -> str:
    from tuner.errors import TunerError
    from tuner.redact import mask_text

    text = exc.format() if isinstance(exc, TunerError) else f"{type(exc).__name__}: {exc}"
    return mask_text(" ".join(text.split()))[:500]  # it goes to the study, MLflow, the screen


def set_up_process(objective: Objective, ray_config: dict[str, Any]) -> None:
    """The objective's `setup_process` hook, once per objective in this (reused) worker
    process, before its first trial: what it sets up (a GPU memory cap, say) can only
    be set before the framework starts. Without the hook, a trial holding a fraction of
    a GPU gets TensorFlow kept to its share all the same (`tuner.gpu.keep_to_share`)."""
    from tuner.gpu import keep_to_share

    hook = objective.setup_process or keep_to_share
    with _set_up_lock:
        if objective.ref in _set_up:
            return
        _set_up.add(objective.ref)
        hook({"cpu": float(ray_config.get(CPU, 1)), "gpu": float(ray_config.get(GPU, 0) or 0)})


def trainable(ray_config: dict[str, Any]) -> None:
    from ray import tune
    from ray.runtime_context import get_runtime_context

    from tuner.objective_loader import load_objective
    from tuner.space.model import Metric
    from tuner.timeline import mark
    from tuner.trial import StopTrial, TrialContext, checked_report, trial_scope

    mark("trial_start", number=ray_config[NUMBER])
    identity = {PID: os.getpid(), NODE: get_runtime_context().get_node_id()}

    def report(epoch: int, metrics: dict[str, float]) -> None:
        mark("epoch", number=ray_config[NUMBER], epoch=epoch)
        try:
            tune.report({**metrics, EPOCH: epoch, **identity})
        except SystemExit:  # Ray stops a trial by exiting its thread at a report
            raise StopTrial("stopped by the scheduler") from None

    trial_dir = Path(ray_config[TRIAL_DIR])
    scored_by = ray_config.get(SCORED_BY)
    context = TrialContext(
        ray_config[NUMBER],
        trial_dir,
        int(ray_config.get(RESUME) or 0),
        scored_by=Metric(scored_by["name"], scored_by["goal"]) if scored_by else None,
    )
    try:
        trial_dir.mkdir(parents=True, exist_ok=True)  # the contract: the trial's own folder
        objective = load_objective(ray_config[OBJECTIVE], folder=ray_config.get(FOLDER))
        set_up_process(objective, ray_config)
        with trial_scope(context):
            objective.function(dict(ray_config[CONFIG]), checked_report(report), trial_dir)
    except StopTrial:
        # End the thread the way Ray expects of a stopped trial: returning normally
        # would queue a final result nobody reads, and the reused actor would hang.
        raise SystemExit(0) from None
    except Exception as exc:
        tune.report({FAILED: 1, REASON: _one_line(exc), **identity})
