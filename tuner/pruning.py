"""The sweep's Optuna pruner acting as a Ray Tune scheduler.

For each reported epoch it first records the value in the study (Ray calls schedulers
before searchers, and the pruner must see this epoch), then asks the pruner and stops
the trial when it says so. With `scheduler: asha`, Ray's ASHA decides instead, and a
trial it stops is recorded PRUNED all the same."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from tuner.bridge import Bridge
from tuner.worker import FAILED


class PrunerScheduler(FIFOScheduler):
    def __init__(self, bridge: Bridge, inner: TrialScheduler | None = None):
        super().__init__()
        self.bridge = bridge
        self.inner = inner

    def set_search_properties(self, metric: Any, mode: Any, **spec: Any) -> bool:
        return True

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if self.inner is not None:
            self.inner.on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        prune = self.bridge.record(trial.trial_id, result)
        if FAILED in result:
            return TrialScheduler.CONTINUE  # the trial is ending on its own
        if self.inner is not None and not prune:
            decision = self.inner.on_trial_result(tune_controller, trial, result)
            if decision == TrialScheduler.STOP:
                self.bridge.mark_pruned(trial.trial_id)
            return decision
        return TrialScheduler.STOP if prune else TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        if self.inner is not None:
            self.inner.on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        # Ray calls this just before the searcher's on_trial_complete(error=True), with
        # the error just pickled in the driver's trial folder (`get_pickled_error` reads
        # the synced copy, not there yet): tell the bridge whether the worker died.
        error = None
        with contextlib.suppress(Exception):  # unreadable: just "the trial errored"
            from ray import cloudpickle

            error = cloudpickle.loads(Path(trial.pickled_error_file).read_bytes())
        self.bridge.worker_died(trial.trial_id, error)
        if self.inner is not None:
            self.inner.on_trial_error(tune_controller, trial)
