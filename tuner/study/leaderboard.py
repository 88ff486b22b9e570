"""The leaderboard: one row per trial in the ranking's order (tuner.study.ranking),
written as CSV beside the sweep. pandas is imported inside the functions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.atomic import staged_file
from tuner.study.ranking import (
    best_epoch,
    duration_s,
    finite,
    objective_value,
    ordered_trials,
    param_names,
)
from tuner.study.records import SweepRecord, TrialRecord, epoch_values, feasible

if TYPE_CHECKING:
    import optuna
    import pandas


COLUMNS = (
    "number",
    "state",
    "value",
    "value_epoch",
    "best_epoch",
    "best_value",
    "epochs",
    "duration_s",
)


def leaderboard(study: optuna.Study) -> pandas.DataFrame:
    """One row per trial, best first (see the module text).

    Columns: number, state, value (the trial's value: its best epoch's under `score:
    best`, its last's under `score: last`; a pruned trial's is its last intermediate
    value), value_epoch (the epoch a told trial's value, and its model, is from),
    best_epoch and best_value (of its intermediate values, epochs counted from 1), epochs
    (how many epochs reported), duration_s, `param_<name>` for every param (empty where a
    conditional param was not sampled), reason. A sweep over several metrics adds each
    objective's value (`value_<name>`) and, with constraints, `feasible`; `value` is
    then the first objective's."""
    import pandas as pd

    record = SweepRecord.of(study)
    metric = record.metric
    extra = [f"value_{m.name}" for m in record.metrics] if record.multi else []
    if record.constraints:
        extra.append("feasible")
    trials = ordered_trials(study, metric)
    names = param_names(trials)
    rows = []
    for t in trials:
        epoch, value = best_epoch(t, metric)
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "value": objective_value(t) if finite(objective_value(t)) else None,
            "value_epoch": TrialRecord.of(t).value_epoch,
            "best_epoch": epoch,
            "best_value": value,
            "epochs": len(t.intermediate_values or epoch_values(t)),
            "duration_s": duration_s(t),
        }
        if record.multi:
            values = t.values if t.values and len(t.values) == len(record.metrics) else None
            for i, m in enumerate(record.metrics):
                row[f"value_{m.name}"] = values[i] if values else None
        if record.constraints:
            row["feasible"] = feasible(t) if t.constraints else None
        for name in names:
            row[f"param_{name}"] = t.params.get(name)
        row["reason"] = TrialRecord.of(t).reason
        rows.append(row)
    columns = [*COLUMNS, *extra, *(f"param_{n}" for n in names), "reason"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.astype(
        {
            "number": "int64",
            "value": "float64",
            "value_epoch": "Int64",
            "best_epoch": "Int64",
            "best_value": "float64",
            "epochs": "int64",
            "duration_s": "float64",
        }
    )
    return frame


def write_leaderboard(study: optuna.Study, path: str | Path) -> Path:
    """The leaderboard as CSV at `path` (temporary file + rename: never half written)."""
    path = Path(path)
    frame = leaderboard(study)
    with staged_file(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def write_front(study: optuna.Study, path: str | Path) -> Path | None:
    """A sweep over several metrics: its Pareto front (feasible trials only, best first
    objective first) as CSV at `path` — number, each objective, epochs, params — for the
    parent MLflow run; None (and nothing written) for a single-objective sweep."""
    import pandas as pd

    from tuner.study.ranking import pareto_trials

    record = SweepRecord.of(study)
    if not record.multi:
        return None
    front = pareto_trials(study)
    names = param_names(front)
    rows = []
    for t in front:
        row: dict[str, Any] = {"number": t.number}
        row.update({m.name: v for m, v in zip(record.metrics, t.values, strict=True)})
        row["epochs"] = len(epoch_values(t))
        row.update({f"param_{n}": t.params.get(n) for n in names})
        rows.append(row)
    columns = ["number", *(m.name for m in record.metrics), "epochs"]
    frame = pd.DataFrame(rows, columns=[*columns, *(f"param_{n}" for n in names)])
    path = Path(path)
    with staged_file(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path
