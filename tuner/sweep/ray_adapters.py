"""The two Ray Tune classes tuner plugs into Ray, both thin over the `Bridge`:

- `StudySearcher`, a searcher over the sweep's Optuna study (not Ray's `OptunaSearch`,
  which keeps its own pickled state, reports with Ray's iteration as the step, tells
  stopped trials COMPLETE and cannot re-run a stuck trial). It only asks and tells;
  everything is recorded by the `Bridge`, keyed by the Optuna trial number.
- `PrunerScheduler`, the sweep's Optuna pruner acting as a Ray scheduler. For each
  reported epoch it first records the value in the study (Ray calls schedulers before
  searchers, and the pruner must see this epoch), then asks the pruner and stops the
  trial when it says so. With `scheduler: asha`, Ray's ASHA decides instead, and a trial
  it stops is recorded PRUNED all the same.

Here Ray's results become tuner's plain data: a failure the trainable reported
(tuner/sweep/trial_runner.py sends it as its last result: raising would make Ray discard
the reused worker process) is handed on as a failure (`Bridge.failed`), and an epoch's
result loses the keys Ray adds to every result (`tuner.compat.ray.result_keys`) before
the bridge records it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from tuner.compat.ray import result_keys
from tuner.study import storage
from tuner.sweep.bridge import Bridge
from tuner.sweep.trial_runner import FAILED, REASON


def reported(result: dict[str, Any]) -> dict[str, Any]:
    """What the trial reported in a Ray result: without the keys Ray adds to each (its
    iteration counters, clocks, host, config), by Ray's own list of them."""
    ray_keys = result_keys()
    return {k: v for k, v in result.items() if k not in ray_keys and not k.startswith("config/")}


class StudySearcher(Searcher):
    def __init__(self, bridge: Bridge):
        super().__init__(metric=bridge.metric, mode=bridge.goal.mode)
        self.bridge = bridge

    def set_search_properties(self, metric: Any, mode: Any, config: Any, **spec: Any) -> bool:
        return True  # the study already knows its metric and space

    # Ray annotates Optional[Dict], though its docs and Tune take Searcher.FINISHED (a str)
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        config = self.bridge.ask(trial_id)
        if config is not None:
            return config
        # Nothing now: finished (running trials go on), unless a running trial whose
        # worker dies is still to be re-run — Ray asks again later.
        return None if self.bridge.waiting() else Searcher.FINISHED

    def save(self, checkpoint_path: str) -> None:
        pass  # the study is the state; Ray's snapshots of it are not used

    def restore(self, checkpoint_path: str) -> None:
        pass

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        pass  # recorded by the scheduler, which Ray calls first

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        try:
            if result and FAILED in result:  # (the scheduler saw it first, as a rule)
                self.bridge.failed(trial_id, result.get(REASON))
            self.bridge.finish(trial_id, error=error)
        except Exception as exc:  # Ray logs it with a traceback and goes on: stop instead
            if not storage.disk_full(exc):
                raise
            self.bridge.stop_on_full_disk(exc)


class PrunerScheduler(FIFOScheduler):
    def __init__(self, bridge: Bridge, inner: TrialScheduler | None = None):
        super().__init__()
        self.bridge = bridge
        self.inner = inner
        self.added: dict[str, Any] = {}  # Ray's Trial of each trial not yet ended (TrialWatch)

    def set_search_properties(self, metric: Any, mode: Any, **spec: Any) -> bool:
        return True

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self.added[trial.trial_id] = trial
        if self.inner is not None:
            self.inner.on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if FAILED in result:
            self.bridge.failed(trial.trial_id, result.get(REASON))
            return TrialScheduler.CONTINUE  # the trial is ending on its own
        prune = self.bridge.record(trial.trial_id, reported(result))
        if self.inner is not None and not prune:
            decision = self.inner.on_trial_result(tune_controller, trial, result)
            if decision == TrialScheduler.STOP:
                self.bridge.mark_pruned(trial.trial_id)
            return decision
        return TrialScheduler.STOP if prune else TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self.added.pop(trial.trial_id, None)
        if self.inner is not None:
            self.inner.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self.added.pop(trial.trial_id, None)
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
        self.added.pop(trial.trial_id, None)
        self.bridge.worker_died(trial.trial_id, error)
        if self.inner is not None:
            self.inner.on_trial_error(tune_controller, trial)


class TrialWatch(Callback):
    """Finds the trials Ray ended without telling the scheduler or the searcher, at the
    start of each step of Ray's loop, and hands them to the bridge (`Bridge.dropped`).

    Ray 2.60 has such a path: a reused worker process whose previous trial's thread has
    not ended within TUNE_FUNCTION_THREAD_TIMEOUT_S cannot be reset for the next trial,
    and Ray sets that trial ERROR directly (`_on_trial_reset`), calling neither
    `on_trial_error` nor `on_trial_complete`. Seen under load: the trial stayed RUNNING
    in the study and the sweep waited for it for ever. Only the trials the scheduler
    added and saw no end of are looked at, so a step costs what is running, not the
    sweep's length."""

    def __init__(self, scheduler: PrunerScheduler):
        self.scheduler = scheduler

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        added = self.scheduler.added
        if self.scheduler.bridge.stopping:  # Ray ends every trial silently then: see close
            return
        for trial_id, trial in list(added.items()):
            if trial.status not in ("ERROR", "TERMINATED"):
                continue
            del added[trial_id]
            self.scheduler.bridge.dropped(
                trial_id,
                f"Ray ended it ({trial.status}) without a result, most likely unable to "
                "reuse a worker process for it (its previous trial's thread had not ended)",
            )
