"""Which trials are best: the one ordering every reader of a study uses (the live
line, `tune status`, the leaderboard, `tune best`), by the sweep's `Metric`.

COMPLETE trials rank by their value (the one the sweep told: its best epoch's under
`score: best`, its last's under `score: last`) in the metric's direction, the lowest
number first on a tie (with several objectives: by the first, the documented rule for
"the best" of a front; a trial outside a constraint is never the best); the leaderboard
then puts RUNNING/WAITING and PRUNED trials by their last intermediate value, FAIL
last. Everything reads the Optuna study (the single source of truth), so it works on a
running sweep, a finished one, and one reached through `--storage URL` from elsewhere.
Only the sweep's own trials rank: a warm start's history (`records.is_history`) never does.
Optuna is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from tuner.study.records import SweepRecord, feasible, own_trials

if TYPE_CHECKING:
    import optuna

    from tuner.space.model import Metric

# state → rank in the leaderboard (lower first)
_STATE_RANK = {"COMPLETE": 0, "RUNNING": 1, "WAITING": 2, "PRUNED": 3, "FAIL": 4}


def finite(value: Any) -> TypeGuard[float]:
    """A real, finite number (not a bool, not NaN): a value that can rank a trial."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def objective_value(trial: optuna.trial.FrozenTrial) -> float | None:
    """The trial's value of the first objective: `value` of a single-objective trial,
    which Optuna refuses to give for a multi-objective one (`values[0]` there)."""
    return trial.values[0] if trial.values else None


def last_value(trial: optuna.trial.FrozenTrial) -> float | None:
    """The first objective's value at the trial's last reported epoch (None if none)."""
    if trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    from tuner.study.records import epoch_values

    vectors = epoch_values(trial)  # a multi-objective trial keeps its own
    return vectors[max(vectors)][0] if vectors else None


def best_epoch(trial: optuna.trial.FrozenTrial, metric: Metric) -> tuple[int | None, float | None]:
    """(epoch, value) of the trial's best intermediate value; the earliest on a tie."""
    best: tuple[int | None, float | None] = (None, None)
    for step in sorted(trial.intermediate_values):
        value = trial.intermediate_values[step]
        if finite(value) and metric.better(value, best[1]):
            best = (step, value)
    return best


def top_trials(
    study: optuna.Study, k: int = 1, metric: Metric | None = None
) -> list[optuna.trial.FrozenTrial]:
    """The best `k` COMPLETE trials, best first (lowest number on a tie). On a running
    sweep: the best so far. `metric`: the study's (its record's), if the caller has it."""
    from optuna.trial import TrialState

    metric = metric or SweepRecord.of(study).metric
    complete = [
        t
        for t in own_trials(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if finite(objective_value(t)) and feasible(t)
    ]

    def rank(t: optuna.trial.FrozenTrial) -> tuple[float, int]:
        value = objective_value(t)
        assert value is not None  # only trials with a finite value were kept
        return metric.key(value), t.number

    complete.sort(key=rank)
    return complete[: max(k, 0)]


def best_trial(
    study: optuna.Study, metric: Metric | None = None
) -> optuna.trial.FrozenTrial | None:
    """The best COMPLETE trial, or None when there is none."""
    top = top_trials(study, 1, metric)
    return top[0] if top else None


def sort_key(trial: optuna.trial.FrozenTrial, metric: Metric) -> tuple[int, int, float, int]:
    """Leaderboard order: state rank, then the value (COMPLETE) or the last intermediate
    value (others) in the metric's direction with missing values last, then number."""
    state = trial.state.name
    score = objective_value(trial) if state == "COMPLETE" else last_value(trial)
    missing = not finite(score)
    ordered = metric.key(score) if finite(score) else 0.0
    return (_STATE_RANK.get(state, 5), int(missing), ordered, trial.number)


def ordered_trials(
    study: optuna.Study, metric: Metric | None = None
) -> list[optuna.trial.FrozenTrial]:
    """The sweep's own trials (no warm-start history) in leaderboard order."""
    metric = metric or SweepRecord.of(study).metric
    return sorted(own_trials(study.get_trials(deepcopy=False)), key=lambda t: sort_key(t, metric))


def param_names(trials: Iterable[optuna.trial.FrozenTrial]) -> list[str]:
    """Every param of any trial, in order of first appearance by trial number."""
    names: dict[str, None] = {}
    for t in sorted(trials, key=lambda t: t.number):
        for name in t.params:
            names.setdefault(name, None)
    return list(names)


def duration_s(trial: optuna.trial.FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def pareto_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The feasible COMPLETE trials no other one dominates, best first objective first
    (lowest number on a tie). A single-objective study's front is its best trial."""
    from optuna.trial import TrialState

    from tuner.search.pareto import front

    record = SweepRecord.of(study)
    goals = record.metrics
    complete = [
        t
        for t in own_trials(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if t.values
        and len(t.values) == len(goals)
        and all(finite(v) for v in t.values)
        and feasible(t)
    ]
    by_number = {t.number: t for t in complete}
    kept = front([(t.number, t.values) for t in complete], goals)
    trials = [by_number[n] for n in kept]
    trials.sort(key=lambda t: (goals[0].key(t.values[0]), t.number))
    return trials


def front_summary(study: optuna.Study) -> dict[str, Any] | None:
    """The Pareto front in a line's worth, for `tune status` and the live display: its
    size and, for each objective, the front trial best at it (its number and value).
    None for a single-objective sweep."""
    record = SweepRecord.of(study)
    if not record.multi:
        return None
    return summarize_front([(t.number, t.values) for t in pareto_trials(study)], record.metrics)


def summarize_front(
    front: Sequence[tuple[int, Sequence[float]]], metrics: Sequence[Metric]
) -> dict[str, Any]:
    """`front_summary` of a front given as (trial number, its values) — the driver's,
    kept as trials end (tuner/sweep/bridge.py), or the study's."""
    extremes = []
    for i, m in enumerate(metrics):

        def rank(
            point: tuple[int, Sequence[float]], i: int = i, m: Metric = m
        ) -> tuple[float, int]:
            return m.key(point[1][i]), point[0]

        top = min(front, key=rank, default=None)
        extremes.append(
            {
                "metric": m.name,
                "goal": m.goal,
                "number": None if top is None else top[0],
                "value": None if top is None else top[1][i],
            }
        )
    return {"size": len(front), "extremes": extremes}
