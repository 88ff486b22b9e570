"""What mattered in a sweep: the spread of its complete trials' values and how much each
param explains of them.

The best value alone does not show what tuning bought: twenty trials at 0.99 and one at
0.995 say the space hardly matters, one at 0.83 beside a median of 0.73 says it does.
`tune run` closes with both, and with the param importances the plots already draw
(Optuna's default evaluator, so the numbers are those of `param_importances.png`).
Read from the study, like every report of a sweep: the sweep's own trials only.
"""

from __future__ import annotations

import statistics
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.study.ranking import objective_value, top_trials
from tuner.study.records import SweepRecord, own_study

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Spread:
    """The sweep's metric over its COMPLETE, feasible trials: best, median, worst."""

    best: float
    median: float
    worst: float
    complete: int


def spread(study: optuna.Study) -> Spread | None:
    """The spread of the complete trials' values (by the first metric), or None with
    fewer than two: one number has no spread."""
    trials = top_trials(study, k=len(study.get_trials(deepcopy=False)))
    values = [v for v in map(objective_value, trials) if v is not None]
    if len(values) < 2:
        return None
    return Spread(values[0], statistics.median(values), values[-1], len(values))


def importances(study: optuna.Study) -> dict[str, float]:
    """Each param's share of the variation in the complete trials' values (summing to
    1, largest first), by Optuna's default importance evaluator; empty when it cannot
    say (fewer than two complete trials, no param that varies).
    Never raises: this is commentary at a sweep's end, not its result."""
    import optuna

    own = own_study(study)
    # several objectives: the first (Optuna needs `target` there, as in the plots)
    first: dict[str, Any] = {"target": objective_value} if SweepRecord.of(study).multi else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "few trials": the line still helps
            found = optuna.importance.get_param_importances(own, **first)
    except Exception:  # (e.g. fewer than two complete trials, or none that vary)
        return {}
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))
