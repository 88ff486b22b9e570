"""The built-in objective: a TFRecord-fed linear, DNN or wide-and-deep Keras model over a
converted tabular data set (`objective: tabular` in a space file).

Its config is flat and described by `tuner/schemas/trial.schema.json`; the metrics it
reports depend on the data set's task (val_auc for binary, val_rmse for regression, …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner.tabular.model.config import metric_names, prepare, trial_schema
from tuner.trial import MlflowModel, Report, objective


def export_model(trial_dir: Path, dest: Path) -> Path:
    """A trial folder without an exported model (killed or stopped before its export):
    rebuilt from the checkpoint its model is from — its best epoch's when the sweep
    scores it by that epoch, else its last."""
    from tuner.tabular.model.export import rebuild_from_checkpoint

    return rebuild_from_checkpoint(trial_dir, dest)


def mlflow_model(model_dir: Path) -> MlflowModel:
    """The exported SavedModel as an MLflow pyfunc model (`tune best --register`)."""
    from tuner.tabular.pyfunc import mlflow_model as describe

    return describe(model_dir)


def setup_process(resources: dict[str, float]) -> None:
    """A trial's share of a GPU, as TensorFlow's memory cap in its worker."""
    from tuner.tabular.gpu import setup_process as cap

    cap(resources)


def warm_up(config: dict[str, Any]) -> None:
    """TensorFlow and the model code imported, the data set's splits read (kept by the
    reader for every trial of this process), before the first trial asks for them."""
    from tuner.tabular.model.inputs import warm_up as warm

    warm(config)


@objective(
    metrics=metric_names,
    config_schema=trial_schema(),
    prepare=prepare,
    export_model=export_model,
    mlflow_model=mlflow_model,
    setup_process=setup_process,
    warm_up=warm_up,
)
def train(config: dict[str, Any], report: Report, trial_dir: Path) -> dict[str, Any]:
    from tuner.timeline import mark

    mark("tabular_import")
    from tuner.tabular.model.launch import train_trial
    from tuner.tabular.model.train import KEPT_BEST
    from tuner.trial import current_trial

    mark("tabular_imported")
    # a sweep scoring the trial by its best epoch: that epoch (by the sweep's own metric)
    # is the checkpoint kept as best, and its weights the model exported
    context = current_trial()
    scored_by = context.scored_by if context is not None else None
    # here, or on `workers` processes when the config asks for more than one
    return train_trial(
        config,
        report,
        trial_dir,
        keep_best=scored_by or KEPT_BEST,
        restore_best=scored_by is not None,
    )
