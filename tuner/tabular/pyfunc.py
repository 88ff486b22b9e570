"""The tabular objective's `mlflow_model` hook: an exported SavedModel described as an
MLflow pyfunc model (the wrapper `tuner.tabular.serving.SavedModelPyfunc`, its
requirements, signature and input example) for `tune best --register` to log.

MLflow and pandas are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.tracking.requirements import requirement
from tuner.trial import MlflowModel

if TYPE_CHECKING:
    from mlflow.types.schema import ColSpec


def mlflow_model(model_dir: Path) -> MlflowModel:
    import tuner.tabular.data.dates as dates
    import tuner.tabular.prediction as prediction
    import tuner.tabular.serving as serving

    info = serving.read_info(model_dir)
    return MlflowModel(
        python_model=serving.SavedModelPyfunc(),
        artifacts={serving.ARTIFACT: str(model_dir)},
        pip_requirements=[requirement("tensorflow"), requirement("pandas")],
        signature=signature(info),
        input_example=input_example(info),
        metadata={"tuner.task": info["task"], "tuner.features": serving.feature_kinds(info)},
        pickle_by_value=(prediction, dates, serving),  # the logged model loads without tuner
    )


def signature(info: dict[str, Any]) -> Any:
    """The pyfunc signature: one input column per feature, of MLflow's type `any` (a
    `double` column would refuse integers, as JSON requests to `mlflow models serve`
    send them, and a `string` one numbers: the wrapper converts each column itself), and
    the prediction columns (`serving.output_columns`, as `tune predict` writes them) as
    outputs. None for sparse inputs (list columns)."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    from tuner.tabular.prediction import PREDICTED, output_columns
    from tuner.tabular.serving import feature_kinds, input_columns

    if any(k == "sparse" for k in feature_kinds(info).values()):
        return None
    inputs = [ColSpec(AnyType(), name) for name in input_columns(info)]
    outputs: list[ColSpec] = [
        ColSpec("string" if name == PREDICTED else "double", name) for name in output_columns(info)
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))  # type: ignore[arg-type]


def input_example(info: dict[str, Any]) -> Any:
    """One typical row (numeric: the training mean; categorical: the most frequent
    value; a --dates column: a training value) for the logged model's input example;
    None for sparse inputs."""
    import pandas as pd

    dates = (info["schema"].get("csv") or {}).get("dates") or {}
    made = {f"{c}.{p}": c for c, d in dates.items() for p in d["parts"]}
    row: dict[str, Any] = {}
    for f in info["schema"]["features"]:
        if f["name"] in made:
            row[made[f["name"]]] = dates[made[f["name"]]]["example"]
            continue
        if f["kind"] == "numeric":
            row[f["name"]] = float(f.get("mean") or 0.0)
        elif f["kind"] == "categorical":
            row[f["name"]] = (f.get("vocabulary") or [""])[0]
        else:
            return None
    return pd.DataFrame([row])
