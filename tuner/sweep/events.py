"""What the sweep's engine announces, and to whom: the bridge decides (the study is
written there), then tells its listeners what happened — the MLflow tracker and the live
line are two (tuner/sweep/listeners.py), a test's recorder another. As Ray Tune's
`Callback` and KerasTuner's `Logger`: every hook is a no-op here, so a listener
overrides only what it needs, and listeners get plain data, never the engine.

Listeners are called in the order given, from whichever thread the engine runs in (Ray's
controller, the signal handler for `sweep_stopping`), under the engine's lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

    from tuner.sweep.stop import Halt


@dataclass(frozen=True)
class Started:
    """A trial starts (a new one, a resumed one, or a re-run under its number)."""

    number: int
    config: Mapping[str, Any]  # its whole trial config
    params: Mapping[str, Any]  # the sampled part of it
    ray_trial_id: str
    resumed: bool = False  # a dead driver's trial, run again: `epochs` are the study's
    epochs: Mapping[int, Mapping[str, float]] = field(default_factory=dict)  # recorded ones


@dataclass(frozen=True)
class Ended:
    """A trial ended: told to the study (COMPLETE, PRUNED, FAIL), or left RUNNING for the
    next run (`state` "RUNNING", `reason` the sweep's stop)."""

    number: int
    state: str
    value: float | None = None  # its value (an infeasible trial's too)
    reason: str | None = None
    value_epoch: int | None = None  # the epoch whose value it was told
    feasible: bool | None = None  # against the space file's constraints (None: none checked)
    outside: Sequence[str] = ()  # the constraints it lies outside
    best: bool = False  # a new best value of the sweep
    params: Mapping[str, Any] = field(default_factory=dict)
    finished: int = 0  # trials finished in the sweep, this one included
    front: Mapping[str, Any] | None = None  # several objectives: the Pareto front now


class Listener:
    """The engine's events; each a no-op here."""

    def catch_up(self, finished: Sequence[optuna.trial.FrozenTrial], names: Sequence[str]) -> int:
        """Before any trial runs: the trials earlier runs finished (`names`: the
        objectives' metrics), for a listener whose record may lack some. Returns how
        many it wrote."""
        return 0

    def trial_started(self, event: Started) -> None:
        pass

    def trial_placed(self, number: int, node: str | None, pid: int | None) -> None:
        """Its first report: where it runs (the Ray node, the worker process)."""

    def epoch_recorded(
        self, number: int, epoch: int, metrics: Mapping[str, float], value: float | None
    ) -> None:
        """An epoch it reported (a resumed trial's replayed ones too); `value` the first
        objective's, if it reported it."""

    def trial_pruned(self, number: int, epoch: int) -> None:
        """The pruner (or Ray's scheduler) stopped it after `epoch`; it ends next."""

    def trial_requeued(self, number: int, why: str) -> None:
        """Its worker process died (or Ray dropped it): it runs again under its number."""

    def trial_ending(self, number: int) -> Mapping[str, Any]:
        """Just before it is told: what to keep with it in the study (keyword arguments of
        `tuner.study.records.write_trial`: the tracker's MLflow run id)."""
        return {}

    def trial_finished(self, event: Ended) -> None:
        pass

    def sweep_stopping(self, halt: Halt) -> None:
        """The sweep ends early (its reason: `halt.why`); called when the reason changes."""
