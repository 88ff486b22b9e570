"""`tune best --register`: a trial's model logged on its MLflow child run and registered
as a new version in MLflow's model registry.

The model is the objective's business: its `mlflow_model` hook (`tuner.trial`) says how
MLflow logs it (the tabular objective: `tuner.tabular.pyfunc`); an objective without
the hook gets a SavedModel or `.keras` model logged as `tuner.tracking.saved_model`
describes it. This module does the MLflow side (the run, the registry, the tags).
MLflow is imported inside the functions.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError
from tuner.redact import mask_text, mask_url

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

REGISTERED_ARTIFACT = "model"  # the logged model's name on the run


@dataclass(frozen=True)
class Registered:
    name: str  # the registered model
    version: int
    run_id: str  # the trial's child run the model was logged on
    model_uri: str  # models:/<name>/<version>
    logged_uri: str  # the logged model's own URI (models:/<model id>)
    trial: int


def register_best(
    study: optuna.Study,
    results: str | Path,
    model_name: str,
    tracking_uri: str | None = None,
    *,
    number: int | None = None,
    model_dir: str | Path | None = None,
) -> Registered:
    """Log the best (or trial `number`'s) model as an MLflow pyfunc model on the trial's
    child run, as its objective's `mlflow_model` hook describes it, and register it as a
    new version of `model_name`.

    `model_dir`: a model folder to log (e.g. the `model/` of `export_best`); default the
    trial's own, or the one its objective makes (see `tuner.study.best.trial_model`)."""
    import cloudpickle
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from tuner.objective_loader import load_objective
    from tuner.study import storage
    from tuner.study.best import has_model, pick_trial, trial_model
    from tuner.study.records import SweepRecord, TrialRecord
    from tuner.tracking import moved
    from tuner.tracking.runs import resolve_tracking_uri

    if not model_name or not model_name.strip():
        raise ConfigError("--register: expected a model name")
    results = Path(results).absolute()
    trial = pick_trial(study, number)
    run_id = TrialRecord.of(trial).run_id
    if not run_id:
        raise ConfigError(
            f"trial {trial.number} of sweep '{study.study_name}' has no MLflow run",
            hint="the sweep ran without tracking; export it with --export instead",
        )
    record = SweepRecord.of(study)
    ref = record.objective or "tabular"
    describe = load_objective(ref, folder=record.folder).mlflow_model
    if describe is None:  # a SavedModel or a .keras file is logged all the same
        describe = _default_model
    uri = resolve_tracking_uri(results, tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ConfigError(  # MlflowClient would create an empty store there
            f"no MLflow store at {mask_url(uri)}",
            hint="pass the sweep's --tracking-uri or --results",
        )
    moves = moved.follow_move(uri, results)  # a moved results folder: its artifacts here
    if moves:
        log.warning("%s", moved.describe(moves))
    client = MlflowClient(tracking_uri=uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ConfigError(
            f"trial {trial.number}'s MLflow run {run_id} is not in {mask_url(uri)}",
            hint=f"pass the sweep's --tracking-uri ({mask_text(str(exc).splitlines()[0][:120])})",
        ) from None
    from tuner.study.ranking import objective_value

    metric = record.metric.name
    with tempfile.TemporaryDirectory(prefix="tuner-register-") as tmp:
        if model_dir is not None and has_model(Path(model_dir)):
            directory = origin = Path(model_dir)
        else:
            root = storage.trial_root(study, results)
            source = storage.trial_dir(root, study.study_name, trial.number)
            directory = trial_model(study, source, Path(tmp) / "model")
            origin = source / "model"
        try:
            model = describe(directory)
        except ConfigError as exc:  # named by the trial's folder, not the copy's
            raise ConfigError(exc.message, where=origin, hint=exc.hint) from None
        for module in model.pickle_by_value:
            cloudpickle.register_pickle_by_value(module)
        try:
            with _tracking_uri(uri), mlflow.start_run(run_id=run_id):
                logged = mlflow.pyfunc.log_model(
                    name=REGISTERED_ARTIFACT,
                    python_model=model.python_model,
                    artifacts=model.artifacts,
                    pip_requirements=model.pip_requirements,
                    signature=model.signature,
                    input_example=model.input_example,
                    registered_model_name=model_name,
                    metadata={
                        "tuner.sweep": study.study_name,
                        "tuner.trial_number": trial.number,
                        **model.metadata,
                    },
                )
        finally:
            for module in model.pickle_by_value:
                cloudpickle.unregister_pickle_by_value(module)
            _restore_status(client, run)
    version = int(logged.registered_model_version)
    for key, value in {
        "tuner.sweep": study.study_name,
        "tuner.trial_number": trial.number,
        metric: objective_value(trial),
        "tuner.value_epoch": TrialRecord.of(trial).value_epoch,  # the model's epoch
    }.items():
        if value is not None:  # (a study from before value_epoch was kept: no tag)
            client.set_model_version_tag(model_name, str(version), key, str(value))
    return Registered(
        name=model_name,
        version=version,
        run_id=run_id,
        model_uri=f"models:/{model_name}/{version}",
        logged_uri=logged.model_uri,
        trial=trial.number,
    )


def _default_model(model_dir: Path) -> Any:
    from tuner.tracking.saved_model import mlflow_model

    return mlflow_model(model_dir)


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at `uri` for the block (its global tracking URI)."""
    from tuner.compat.mlflow import use_tracking_uri

    with use_tracking_uri(uri):
        yield


def _restore_status(client: Any, run: Any) -> None:
    """`start_run` on the finished child run set it RUNNING and ended it now: put back
    its status and end time."""
    status, end = run.info.status, run.info.end_time
    try:
        if status in ("FINISHED", "FAILED", "KILLED"):
            client.set_terminated(run.info.run_id, status=status, end_time=end)
        else:
            client.update_run(run.info.run_id, status=status)
    except Exception as exc:  # the model is logged; a status we could not restore is no error
        log.warning("could not restore the status of run %s: %s", run.info.run_id, exc)
