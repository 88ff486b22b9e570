"""Several objectives: the Pareto front, and the pruner Optuna does not have for them.

Optuna's pruners refuse multi-objective studies (`Trial.report` raises there), so a
sweep with several metrics keeps each epoch's vector of objectives on its trial itself
(tuner.study.records.write_epoch_values) and asks `should_prune` here: after the
warm-up, a trial whose vector at epoch e is dominated — no better in any objective and
worse in one — by at least `dominated_by` of the other trials' vectors at that same
epoch, once at least `min_trials` others reported epoch e, is stopped. Comparing at the
same epoch is what the median pruner does for one metric; counting dominators instead of
a rank keeps a trial that is merely behind on one objective, and a front of a single
trial cannot prune anything.

Pure functions over plain numbers: nothing here reads a study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tuner.space.model import Metric, dominates

Vector = Sequence[float]


@dataclass(frozen=True)
class ParetoRule:
    """The pareto pruner's options (the space file's `pruner:` with type pareto)."""

    warmup_epochs: int = 0
    min_trials: int = 4
    dominated_by: int = 3

    @classmethod
    def of(cls, options: dict[str, Any]) -> ParetoRule:
        return cls(**{k: int(v) for k, v in options.items() if k != "type"})


def dominators(vector: Vector, others: Sequence[Vector], goals: Sequence[Metric]) -> int:
    """How many of `others` dominate `vector`."""
    mine = tuple(vector)
    return sum(dominates(tuple(o), mine, tuple(goals)) for o in others)


def should_prune(
    vector: Vector,
    epoch: int,
    others: Sequence[Vector],
    goals: Sequence[Metric],
    rule: ParetoRule,
) -> bool:
    """Whether to stop a trial with `vector` at `epoch`, given the other trials' vectors
    at that epoch (see the module text)."""
    if epoch <= rule.warmup_epochs or len(others) < rule.min_trials:
        return False
    return dominators(vector, others, goals) >= rule.dominated_by


def front(points: Sequence[tuple[int, Vector]], goals: Sequence[Metric]) -> list[int]:
    """The keys of the non-dominated points, in the order given; equal vectors all stay
    (neither dominates the other).

    Asked after every finished trial, so not pairwise: in lexicographic order of the
    goals' keys no point can dominate one before it (a dominating vector is no worse
    anywhere and better somewhere, so it sorts first), and a point is dominated by some
    point exactly when it is by one of the front kept so far — n · front, not n²."""

    def order(point: tuple[int, Vector]) -> tuple[float, ...]:
        return tuple(g.key(v) for g, v in zip(goals, point[1], strict=True))

    ordered = sorted(points, key=order)
    kept: list[tuple[float, ...]] = []
    keys: set[int] = set()
    for key, vector in ordered:
        mine = tuple(vector)
        if not any(dominates(other, mine, tuple(goals)) for other in kept):
            kept.append(mine)
            keys.add(key)
    return [key for key, _ in points if key in keys]
