"""A Ray Tune searcher over the sweep's Optuna study (not Ray's `OptunaSearch`, which
keeps its own pickled state, reports with Ray's iteration as the step, tells stopped
trials COMPLETE and cannot re-run a stuck trial). It only asks and tells; everything
is recorded by the `Bridge`, keyed by the Optuna trial number."""

from __future__ import annotations

from typing import Any

from ray.tune.search import Searcher

from tuner import storage
from tuner.bridge import Bridge


class StudySearcher(Searcher):
    def __init__(self, bridge: Bridge):
        super().__init__(metric=bridge.metric, mode="max" if bridge.maximize else "min")
        self.bridge = bridge

    def set_search_properties(self, metric: Any, mode: Any, config: Any, **spec: Any) -> bool:
        return True  # the study already knows its metric and space

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
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
            self.bridge.finish(trial_id, result, error)
        except Exception as exc:  # Ray logs it with a traceback and goes on: stop instead
            if not storage.disk_full(exc):
                raise
            self.bridge.stop_on_full_disk(exc)
