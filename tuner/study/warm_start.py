"""Warm start: a new sweep begins from what earlier sweeps learned.

Why (optuna#834, #1930; ray#18847): a sweep started again after a change to its space (a
narrowed range, a new param, a removed choice) would otherwise spend its first dozen
trials relearning what the last one found. Here the earlier sweeps' COMPLETE trials that
still fit the new space are copied into the new study as *history*: the sampler (TPE, GP,
NSGA-II...) and the pruners read the study, so they learn from them; everything that
reports the sweep's own results (its budget, `tune status`, the leaderboard, `tune best`,
the plots) leaves them out (`records.is_history`). The best `top` of them are then
enqueued as the sweep's first trials — its own, counted in its budget — so the best known
configs are measured again under this sweep's settings first.

Two steps, so that a mistake leaves nothing behind:

1. `load_sources`, before the new sweep's study is created (or an old one archived by
   `--fresh`): each source sweep's study, found as `tune status NAME` finds it (the same
   results folder or --storage, or `warm_start.storage`); a source that does not exist,
   or that optimizes other metrics (or under other constraints), is a ConfigError. What
   is kept is a snapshot of its own COMPLETE trials.
2. `apply`, on the new study (no trials yet) under the sweep's lock: the fitting trials
   are added with `Study.add_trials` — their params with this space's distributions,
   their values, their intermediate values (the median pruner compares against them),
   their per-epoch vectors (the pareto pruner) and constraint results — then the best
   distinct ones are enqueued (`Study.ask`, which the bridge calls, pops waiting trials
   first, lowest number first), and what was done is recorded in the study
   (`records.WARM_START`).

A trial fits when every param of it is a param of this space, its value lies in this
space's Optuna distribution (range, step, choices) and this space would sample it given
the trial's other values (its `when` holds). A param new in this space is absent from the
history (TPE treats it as missing there) and sampled afresh for the trials run first.

Pure study operations: no Ray, no MLflow, nothing printed (the driver prints
`Summary.line()`). Optuna is imported inside the functions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.compat.optuna import contains
from tuner.errors import ConfigError
from tuner.study import records, storage
from tuner.study.records import SweepRecord

if TYPE_CHECKING:
    import optuna

    from tuner.space.model import Metric, SweepSpec


@dataclass(frozen=True)
class Source:
    """An earlier sweep, as a warm start reads it: its name (as recorded) and its own
    COMPLETE trials with finite values, best or not, in number order."""

    name: str
    trials: tuple[optuna.trial.FrozenTrial, ...]
    same_constraints: bool = False  # its constraint results hold for this sweep too

    def renamed(self, old: str, new: str) -> Source:
        """This source under `new` if it is `old` (a sweep `--fresh` just archived)."""
        return replace(self, name=new) if self.name == old else self


@dataclass
class Summary:
    """What a warm start did: the sources, how many trials became history, the numbers
    of the trials enqueued to run first, and why the others were skipped."""

    sources: tuple[str, ...]
    history: int = 0
    first: list[int] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        """One line for the start of the sweep, e.g. `warm start from optimizers-v1: 14
        trials as history, 3 tried first; 2 skipped (no longer fit the space:
        learning_rate out of range ×2)`."""
        text = (
            f"warm start from {', '.join(self.sources)}: {self.history} "
            f"{'trial' if self.history == 1 else 'trials'} as history, "
            f"{len(self.first)} tried first"
        )
        if self.skipped:
            reasons = ", ".join(
                reason if n == 1 else f"{reason} ×{n}" for reason, n in self.skipped.most_common()
            )
            text += f"; {sum(self.skipped.values())} skipped (no longer fit the space: {reasons})"
        return text

    def record(self) -> dict[str, Any]:
        """The study attribute (`records.WARM_START`): JSON-ready."""
        return {
            "from": list(self.sources),
            "history": self.history,
            "first": list(self.first),
            "skipped": dict(self.skipped),
        }


# ---------------------------------------------------------------- step 1: the sources


def load_sources(
    spec: SweepSpec,
    results: Path,
    default_storage: str | None = None,
    *,
    fresh: bool = False,
) -> list[Source]:
    """Read the sources of `spec.warm_start` (a ConfigError, exit 2, for one that does not
    exist or does not fit this sweep's metrics). Their storage: `warm_start.storage`, else
    `default_storage` (this sweep's --storage), else their journal under `results`. A
    sweep names itself only when `fresh` (its archived predecessor)."""
    plan = spec.warm_start
    if plan is None:
        return []
    url = plan.storage or default_storage
    own = storage.storage_url(results, spec.name, default_storage)
    found = []
    for name in plan.sources:
        if name == spec.name and storage.storage_url(results, name, url) == own and not fresh:
            raise ConfigError(
                f"warm start from '{name}': that is this sweep",
                hint="a sweep warm-starts from itself only with --fresh (from the one archived)",
            )
        found.append(_source(spec, results, name, url))
    return found


def _source(spec: SweepSpec, results: Path, name: str, url: str | None) -> Source:
    from optuna.trial import TrialState

    from tuner.study.status import find_sweep

    try:
        study = find_sweep(results, name, url)
    except ConfigError as exc:
        raise ConfigError(f"warm start from '{name}': {exc.message}", hint=exc.hint) from None
    record = SweepRecord.of(study)
    if _goals(record.metrics) != _goals(spec.metrics):
        raise ConfigError(
            f"warm start from '{name}': it optimizes {_goals(record.metrics)}, "
            f"this sweep {_goals(spec.metrics)}",
            hint="a warm start needs the same metric(s) with the same goal(s)",
        )
    same = tuple(record.constraints) == tuple(spec.constraints)
    if spec.constraints and not same:
        theirs = ", ".join(c.describe() for c in record.constraints) or "none"
        raise ConfigError(
            f"warm start from '{name}': its constraints ({theirs}) are not this sweep's "
            f"({', '.join(c.describe() for c in spec.constraints)})",
            hint="its trials' feasibility would not hold here",
        )
    width = len(spec.metrics)
    trials = tuple(
        t
        for t in records.own_trials(study.get_trials(states=(TrialState.COMPLETE,)))
        if t.values is not None
        and len(t.values) == width
        and all(math.isfinite(v) for v in t.values)
    )
    return Source(name, trials, same_constraints=same and bool(spec.constraints))


def _goals(metrics: Sequence[Metric]) -> str:
    return ", ".join(f"{m.name} ({m.goal})" for m in metrics)


# ---------------------------------------------------------------- step 2: the new study


def apply(study: optuna.Study, spec: SweepSpec, sources: Sequence[Source]) -> Summary:
    """Add the sources' fitting trials to `study` as history, enqueue the best
    `warm_start.top` (at most the budget) as its first trials, and record it. `study` is
    the sweep's new study (no trials yet), held under its lock."""
    from optuna.trial import TrialState

    from tuner.search.distributions import distributions

    plan = spec.warm_start
    assert plan is not None
    dists = distributions(spec)
    summary = Summary(tuple(s.name for s in sources))
    history: list[optuna.trial.FrozenTrial] = []
    for source in sources:
        for trial in source.trials:
            params, why = fit(trial.params, spec, dists)
            if why is not None:
                summary.skipped[why] += 1
                continue
            history.append(_history_trial(trial, source, params, dists))
    study.add_trials(history)
    summary.history = len(history)
    for trial in best_distinct(history, spec.metric, min(plan.top, spec.budget.trials)):
        found = records.history_source(trial)
        assert found is not None  # made by _history_trial
        study.enqueue_trial(dict(trial.params), user_attrs=records.replay_attr(*found))
    summary.first = [t.number for t in study.get_trials(states=(TrialState.WAITING,))]
    records.write_warm_start(study, summary.record())
    return summary


def fit(
    params: dict[str, Any],
    spec: SweepSpec,
    dists: dict[str, optuna.distributions.BaseDistribution],
) -> tuple[dict[str, Any], str | None]:
    """(the params as this space stores them, None) when a trial with `params` fits this
    space; else ({}, why not), e.g. "learning_rate out of range"."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from tuner.space.model import same

    stored: dict[str, Any] = {}
    for name, value in params.items():
        dist = dists.get(name)
        if dist is None:
            return {}, f"{name} not in the space"
        if isinstance(dist, CategoricalDistribution):
            # the choices' own equality (YAML's true is not 1), on the stored forms
            matching = [c for c in dist.choices if same(c, value)]
            if not matching:
                return {}, f"{name} {_short(value)} no longer a choice"
            stored[name] = matching[0]
            continue
        assert isinstance(dist, FloatDistribution | IntDistribution)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return {}, f"{name} not a number"
        if not dist.low <= value <= dist.high:
            return {}, f"{name} out of range"
        internal = float(value)  # Optuna's internal form of a number
        if not contains(dist, internal):
            whole = isinstance(dist, IntDistribution) and dist.step == 1
            return {}, f"{name} {'not a whole number' if whole else 'off the step'}"
        stored[name] = dist.to_external_repr(internal)
    taken: dict[str, Any] = {}
    for p in spec.params:  # dependency order: a `when` sees the values it tests
        if p.name not in stored:
            continue
        if not p.active(taken):
            return {}, f"{p.name} not sampled here (its `when`)"
        taken[p.name] = p.decode(stored[p.name])
    return stored, None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def _history_trial(
    trial: optuna.trial.FrozenTrial,
    source: Source,
    params: dict[str, Any],
    dists: dict[str, optuna.distributions.BaseDistribution],
) -> optuna.trial.FrozenTrial:
    """An earlier sweep's trial as history in this study: its params under this space's
    distributions, its values, per-epoch values and (same constraints only) constraint
    results, marked with where it is from."""
    import optuna

    attrs = {**records.carried_attrs(trial), **records.history_attr(source.name, trial.number)}
    assert trial.values is not None  # load_sources kept trials with values
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE,
        values=list(trial.values),
        params=params,
        distributions={name: dists[name] for name in params},
        intermediate_values=dict(trial.intermediate_values),
        user_attrs=attrs,
        constraints=dict(trial.constraints) if source.same_constraints else None,
    )


def best_distinct(
    trials: Sequence[optuna.trial.FrozenTrial], metric: Metric, k: int
) -> list[optuna.trial.FrozenTrial]:
    """The best `k` feasible trials by `metric` (the first objective: the documented rule
    for "the best"), one per distinct set of params, best first; ties keep their order
    (the sources' order, then their trial numbers)."""
    ranked = sorted(
        (t for t in trials if t.values and records.feasible(t)),
        key=lambda t: metric.key(t.values[0]),
    )
    chosen: list[optuna.trial.FrozenTrial] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for t in ranked:
        if len(chosen) >= k:
            break
        key = tuple(sorted((n, repr(v)) for n, v in t.params.items()))
        if key not in seen:
            seen.add(key)
            chosen.append(t)
    return chosen
