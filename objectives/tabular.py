"""The built-in objective: a TFRecord-fed linear, DNN or wide-and-deep Keras model over a
converted tabular data set (`objective: tabular` in a space file).

Its config is flat and described by `tuner/schemas/trial.schema.json`; the metrics it
reports depend on the data set's task (val_auc for binary, val_rmse for regression, …).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuner.tabular.model.config import metric_names, prepare, trial_schema
from tuner.trial import Report, objective


def export_model(trial_dir: Path, dest: Path) -> Path:
    """A trial folder without an exported model (killed before its export): rebuilt from
    its last checkpoint."""
    from tuner.tabular.model.export import rebuild_from_checkpoint

    return rebuild_from_checkpoint(trial_dir, dest)


@objective(
    metrics=metric_names, config_schema=trial_schema(), prepare=prepare, export_model=export_model
)
def train(config: dict[str, Any], report: Report, trial_dir: Path) -> dict[str, Any]:
    from tuner.tabular.model.train import run_trial

    return run_trial(config, report, trial_dir)
