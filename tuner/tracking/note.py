"""What MLflow's pages say of a sweep before anyone clicks: the experiment's kind and the
parent run's description.

MLflow 3.x opens an experiment without a kind in its GenAI mode (traces, an assistant
panel); `mlflow.experimentKind = custom_model_development` (the UI's own value for
model training, checked against MLflow 3.18's bundle) opens it on runs. The parent run's
description (`mlflow.note.content`, Markdown) says what the sweep searched, its budget
and its best trial so far, rewritten whenever the best changes. Plain functions of the
parameters the driver logs on the parent run (`_sweep_params` in tuner/sweep/driver.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOTE_TAG = "mlflow.note.content"
KIND_TAG = "mlflow.experimentKind"
KIND = "custom_model_development"
_BEST_HEAD = "**Best so far**"


def order(params: Mapping[str, Any]) -> tuple[str | None, str]:
    """(metric, goal) the runs page sorts by: the sweep's (first) metric. `params` as
    the driver logs them (`metric`, `goal`) or nested (`metric: {name, goal}`), or as
    MLflow gives them back (`metric.name`, `metric.goal`)."""
    flat = _flat(params)
    metric = flat.get("metric", flat.get("metric.name"))
    goal = flat.get("goal", flat.get("metric.goal", "maximize"))
    return (str(metric) if metric else None), str(goal)


def sweep_note(params: Mapping[str, Any], best: str | None = None) -> str:
    """The parent run's description: what the sweep searches, how, within what budget,
    and `best` (a `best_line`) or that there is none yet."""
    metric, goal = order(params)
    params = _flat(params)
    for key in ("sampler", "pruner"):  # (`sampler: {type: tpe}` nested)
        if key not in params and f"{key}.type" in params:
            params[key] = params[f"{key}.type"]
    what = params.get("params") or "its params"
    lines = [f"**Searched**: {what}"]
    if params.get("objective") or params.get("dataset"):
        lines[0] += f" of the `{params.get('objective', '?')}` objective"
        if params.get("dataset"):
            lines[0] += f" on `{params['dataset']}`"
    if metric:
        how = ", ".join(
            f"{params[key]} {word}"
            for key, word in (("sampler", "sampler"), ("pruner", "pruner"))
            if params.get(key)
        )
        lines.append(f"**Goal**: {goal} `{metric}`" + (f" ({how})" if how else ""))
    budget = []
    if params.get("budget.trials"):
        budget.append(f"{params['budget.trials']} trials")
    if params.get("budget.max_epochs"):
        budget.append(f"up to {params['budget.max_epochs']} epochs each")
    if params.get("concurrency"):
        budget.append(f"{params['concurrency']} at once")
    if budget:
        lines.append("**Budget**: " + ", ".join(budget))
    lines.append(best or f"{_BEST_HEAD}: none yet")
    return "  \n".join(lines)


def best_line(metric: str | None, value: float, trial: int | None, finished: int) -> str:
    """`**Best so far**: trial 17, val_auc = 0.8297 (of 13 finished trials)`."""
    who = f"trial {trial}, " if trial is not None else ""
    return f"{_BEST_HEAD}: {who}{metric or 'value'} = {value:.4g} (of {finished} finished trials)"


def best_of(note: str | None) -> str | None:
    """The best line of an existing description (a resumed sweep keeps it)."""
    for line in (note or "").splitlines():
        line = line.rstrip()
        if line.startswith(_BEST_HEAD) and not line.endswith("none yet"):
            return line
    return None


def _flat(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (`budget: {trials: 3}` → `budget.trials`)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
