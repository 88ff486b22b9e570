"""The columns of a prediction, defined once: `tune predict`'s CSV, the pyfunc model's
DataFrame and its MLflow signature.

It imports nothing: it is pickled by value with `tuner.tabular.serving` into a logged
model, and `tune predict` reads it without importing MLflow.
"""

from __future__ import annotations

from typing import Any

PROBABILITY, PREDICTED, PREDICTION = "probability", "predicted", "prediction"


def class_column(label: Any) -> str:
    return f"p_{label}"


def output_columns(info: dict[str, Any]) -> list[str]:
    """The prediction's columns for the model's task: binary: `probability` and
    `predicted` (the class); multiclass: `p_<class>` per class and `predicted`;
    regression: `prediction`."""
    task = info["task"]
    if task == "binary":
        return [PROBABILITY, PREDICTED]
    if task == "multiclass":
        return [*(class_column(c) for c in info.get("classes") or []), PREDICTED]
    return [PREDICTION]
