"""`tune best`: the best trials of a sweep, and the best one exported or registered.

Everything starts from the Optuna study (the single source of truth), so it works on a
finished sweep and on a running one (the best so far), also through `--storage URL`.

- `top_trials(study, k)`: the best k COMPLETE trials in the study's direction (lowest
  number on a tie); `best_table(...)` their rows as a JSON-ready dict (number, value,
  params, epochs, state, MLflow run id, trial folder); `render_best` as text.
- `export_best(study, results, name)`: `results/<name>/best/` (or `out`), written into a
  temporary folder and renamed into place (an older export is replaced):
  `config.yaml` — exactly the trial config the trial received (`tune train` retrains it);
  `model/` — the SavedModel the trial exported (copied, never retrained), or, for a
  tabular trial that has none, rebuilt from its `config.yaml` + `schema.json` with the
  weights of its last epoch checkpoint; `metrics.json` — the trial's, plus the sweep,
  the trial number, the metric and the study's value; `space.yaml` — the space file
  narrowed to that point; and, when the trial has them, `schema.json` and
  `checkpoints/last` (so the folder is also a `tune train --init-from` source).
- `register_best(study, results, model_name, tracking_uri)`: logs that SavedModel as an
  MLflow pyfunc model (`tuner.tabular.serving.SavedModelPyfunc`) on the trial's child run and
  registers it in the model registry; returns the new version.

The narrowed space file: MLflow- and Optuna-wise the sweep's own file, with `budget.trials`
1 and `concurrency` 1, and every param the trial sampled narrowed to the one value it
took (`{choice: [value]}`, its `when` dropped: it held); params the trial did not sample
(a `when` that did not hold) are left out. The params stay params, not `fixed` keys,
because a space file needs at least one (the published schema says so). Its `name` is
the sweep's: run it under another `--results`, or rename it, to train that point alone.

Optuna, TensorFlow and MLflow are imported inside the functions (the CLI stays cheap).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.atomic import staged_dir
from tuner.errors import ConfigError
from tuner.redact import mask_text, mask_url
from tuner.space.yaml_file import dump_yaml
from tuner.study import storage
from tuner.study.ranking import finite, top_trials
from tuner.study.records import SweepRecord, TrialRecord
from tuner.sweep import faults
from tuner.trial import CHECKPOINTS, CONFIG, METRICS, MODEL  # the trial folder's names

if TYPE_CHECKING:
    import optuna
    from mlflow.types.schema import TensorSpec

log = logging.getLogger(__name__)

BEST_DIR = "best"
SPACE = "space.yaml"
SCHEMA = "schema.json"
REGISTERED_ARTIFACT = "model"  # the logged model's name on the run


# ---------------------------------------------------------------- which trials


def load_sweep(results: Path, name: str, url: str | None = None) -> optuna.Study:
    """The study of sweep `name` (a ConfigError, exit 2, when there is none)."""
    import optuna

    from tuner.study.status import find_sweep

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return find_sweep(results, name, url)


def pick_trial(study: optuna.Study, number: int | None = None) -> optuna.trial.FrozenTrial:
    """The best COMPLETE trial, or COMPLETE trial `number`; a ConfigError if none."""
    if number is None:
        best = top_trials(study, 1)
        if not best:
            raise ConfigError(
                f"sweep '{study.study_name}' has no complete trial yet",
                hint="see `tune status " + study.study_name + "`",
            )
        return best[0]
    found = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not found:
        raise ConfigError(f"sweep '{study.study_name}' has no trial {number}")
    if found[0].state.name != "COMPLETE" or not finite(found[0].value):
        raise ConfigError(
            f"trial {number} of sweep '{study.study_name}' is {found[0].state.name}, not COMPLETE"
        )
    return found[0]


def study_spec(study: optuna.Study) -> Any:
    """The sweep's SweepSpec from the space file kept in the study (None if it keeps none)."""
    return SweepRecord.of(study).spec(strict=True)


def trial_config(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The exact trial config the trial received (its `config` user attribute); for a
    study written before that attribute existed, rebuilt from its params and the space."""
    config = TrialRecord.of(trial).config
    if config is not None:
        return config
    spec = study_spec(study)
    if spec is None:
        raise ConfigError(
            f"trial {trial.number} of sweep '{study.study_name}' keeps no trial config",
            hint="the study has neither the trial's `config` attribute nor the space file",
        )
    from tuner.search.distributions import config_from_params

    return config_from_params(spec, trial.params)


def _params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The trial's sampled params, decoded (a list choice as its list) when the trial
    config has them."""
    return TrialRecord.of(trial).decoded_params()


def _epochs(trial: optuna.trial.FrozenTrial) -> int:
    return max(trial.intermediate_values) if trial.intermediate_values else 0


def trial_row(trial: optuna.trial.FrozenTrial, results: Path, name: str) -> dict[str, Any]:
    from tuner.study.ranking import duration_s

    return {
        "number": trial.number,
        "value": trial.value if finite(trial.value) else None,
        "params": _params(trial),
        "epochs": _epochs(trial),
        "state": trial.state.name,
        "mlflow_run_id": TrialRecord.of(trial).run_id,
        "trial_dir": str(storage.trial_dir(results, name, trial.number)),
        "duration_s": duration_s(trial),
    }


def best_table(study: optuna.Study, results: Path, k: int = 1) -> dict[str, Any]:
    """`tune best --json`: the sweep, its metric and goal, and the top k complete trials."""
    from tuner.study.ranking import metric_of
    from tuner.study.status import study_goal

    trials = study.get_trials(deepcopy=False)
    complete = sum(t.state.name == "COMPLETE" for t in trials)
    name = study.study_name
    return {
        "name": name,
        "metric": metric_of(study).name,
        "goal": study_goal(study),
        "complete": complete,
        "total": len(trials),
        "running": sum(t.state.name == "RUNNING" for t in trials),
        "trials": [
            trial_row(t, storage.trial_root(study, Path(results)), name)
            for t in top_trials(study, k)
        ],
    }


# ---------------------------------------------------------------- the narrowed space


def narrow_space(
    text: str, config: dict[str, Any], trial: optuna.trial.FrozenTrial, sweep: str, metric: str
) -> str:
    """The space file text with every param narrowed to the trial's value (see the
    module text); YAML without the original's comments, keys in the original order."""
    import yaml

    from tuner.space.yaml_file import parse_yaml

    data = parse_yaml(text).data
    narrowed = {}
    for key in data.get("params") or {}:
        if key in trial.params:  # not: a conditional param the trial did not sample
            value = config[key] if key in config else trial.params[key]
            narrowed[key] = {"choice": [value]}  # its `when` held; one value needs none
    data["params"] = narrowed
    data["budget"] = {**(data.get("budget") or {}), "trials": 1}
    if "concurrency" in data:
        data["concurrency"] = 1
    head = (
        f"# sweep {sweep}, trial {trial.number} ({metric}={trial.value!r}): its space file\n"
        "# narrowed to that trial's point by `tune best --export`\n"
    )
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


# ---------------------------------------------------------------- the model


def _has_model(directory: Path) -> bool:
    return (directory / "saved_model.pb").is_file()


def saved_model(study: optuna.Study, trial_dir: Path, dest: Path) -> Path:
    """The trial's SavedModel: its exported `model/` copied to `dest`, else made there by
    its objective's `export_model` hook (the tabular objective rebuilds it from its last
    checkpoint); a clear error otherwise."""
    from tuner.trial import load_objective

    source = trial_dir / MODEL
    if _has_model(source):
        shutil.copytree(source, dest)
        return dest
    if not trial_dir.is_dir():
        raise ConfigError(
            "the trial folder is missing",
            where=trial_dir,
            hint="pass the sweep's --results folder",
        )
    ref = SweepRecord.of(study).objective
    try:
        hook = load_objective(ref).export_model if ref else None
    except ConfigError:  # not importable here: there is nothing to ask
        hook = None
    if hook is None:
        raise ConfigError(
            "the trial exported no model (no model/saved_model.pb)",
            where=trial_dir,
            hint=f"objective '{ref}' has no export_model hook to make one from the trial folder",
        )
    log.warning("trial folder %s has no exported model: its objective makes one", trial_dir)
    return hook(trial_dir, dest)


# ---------------------------------------------------------------- export


def _check_out(out: Path) -> None:
    """`out` may be new, empty, or an earlier export: never replace anything else. The
    export is staged beside it and renamed into place: both folders must be writable."""
    from tuner.atomic import writable_folder

    if not out.exists():
        writable_folder(out.parent, f"export to {out}: the folder")
        return
    if not out.is_dir():
        raise ConfigError("--out exists and is not a folder", where=out)
    entries = {p.name for p in out.iterdir()}
    if entries and not ({CONFIG, MODEL} <= entries or {CONFIG, METRICS} <= entries):
        raise ConfigError(
            "--out is a folder that is not an earlier export; refusing to replace it",
            where=out,
            hint="give a new or empty folder",
        )
    writable_folder(out, "export to")
    writable_folder(out.parent, f"export to {out}: the folder")
    if os.path.ismount(out):
        raise ConfigError(
            "--out is a mount point: an export is renamed into place",
            where=out,
            hint="give a folder inside it",
        )


def export_best(
    study: optuna.Study,
    results: str | Path,
    name: str,
    out: str | Path | None = None,
    number: int | None = None,
) -> Path:
    """Write the best (or COMPLETE trial `number`) trial's export; returns its folder."""
    from tuner.study.ranking import metric_of
    from tuner.study.status import study_goal

    results = Path(results).absolute()
    trial = pick_trial(study, number)
    config = trial_config(study, trial)
    source = storage.trial_dir(storage.trial_root(study, results), name, trial.number)
    out = Path(out).absolute() if out else storage.sweep_dir(results, name) / BEST_DIR
    _check_out(out)
    with staged_dir(out) as tmp:
        dump_yaml(config, tmp / CONFIG)
        saved_model(study, source, tmp / MODEL)
        metrics: dict[str, Any] = {}
        if (source / METRICS).is_file():
            metrics = json.loads((source / METRICS).read_text())
        metrics.update(
            sweep=name,
            number=trial.number,
            metric=metric_of(study).name,
            goal=study_goal(study),
            value=trial.value,
            params=_params(trial),
            mlflow_run_id=TrialRecord.of(trial).run_id,
        )
        (tmp / METRICS).write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        space = SweepRecord.of(study).space
        if space:
            (tmp / SPACE).write_text(
                narrow_space(space, config, trial, name, metric_of(study).name)
            )
        else:
            log.warning("sweep %s keeps no space file: no %s written", name, SPACE)
        if (source / SCHEMA).is_file():
            shutil.copy2(source / SCHEMA, tmp / SCHEMA)
        if (source / CHECKPOINTS / "last").is_dir():
            shutil.copytree(source / CHECKPOINTS / "last", tmp / CHECKPOINTS / "last")
        faults.point("export")
    return out


# ---------------------------------------------------------------- register


@dataclass(frozen=True)
class Registered:
    name: str  # the registered model
    version: int
    run_id: str  # the trial's child run the model was logged on
    model_uri: str  # models:/<name>/<version>
    logged_uri: str  # the logged model's own URI (models:/<model id>)
    trial: int


def _requirement(dist: str, fallback_module: str | None = None) -> str:
    """`dist>=MAJOR.MINOR,<MAJOR+1` for the installed version (plain `dist` if unknown)."""
    from importlib import metadata

    candidates = [dist, f"{dist}-cpu"] if dist == "tensorflow" else [dist]
    for candidate in candidates:
        try:
            version = metadata.version(candidate)
        except metadata.PackageNotFoundError:
            continue
        parts = version.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return f"{dist}>={parts[0]}.{parts[1]},<{int(parts[0]) + 1}"
    return dist


def _signature(info: dict[str, Any]) -> Any:
    """The pyfunc signature: one input column per feature, of MLflow's type `any` (a
    `double` column would refuse integers, as JSON requests to `mlflow models serve`
    send them, and a `string` one numbers: the wrapper converts each column itself), and
    the prediction columns as outputs. None for sparse inputs (list columns)."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    from tuner.tabular.serving import feature_kinds

    if any(k == "sparse" for k in feature_kinds(info).values()):
        return None
    inputs: list[ColSpec | TensorSpec] = [ColSpec(AnyType(), name) for name in info["inputs"]]
    outputs: list[ColSpec | TensorSpec]
    if info["task"] == "binary":
        outputs = [ColSpec("double", "probability"), ColSpec("string", "predicted")]
    elif info["task"] == "multiclass":
        outputs = [ColSpec("double", f"p_{c}") for c in info.get("classes") or []]
        outputs.append(ColSpec("string", "predicted"))
    else:
        outputs = [ColSpec("double", "prediction")]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _input_example(info: dict[str, Any]) -> Any:
    """One typical row (numeric: the training mean; categorical: the most frequent
    value) for the logged model's input example; None for sparse inputs."""
    import pandas as pd

    row: dict[str, Any] = {}
    for f in info["schema"]["features"]:
        if f["kind"] == "numeric":
            row[f["name"]] = float(f.get("mean") or 0.0)
        elif f["kind"] == "categorical":
            row[f["name"]] = (f.get("vocabulary") or [""])[0]
        else:
            return None
    return pd.DataFrame([row])


def register_best(
    study: optuna.Study,
    results: str | Path,
    model_name: str,
    tracking_uri: str | None = None,
    *,
    number: int | None = None,
    model_dir: str | Path | None = None,
) -> Registered:
    """Log the best (or trial `number`'s) SavedModel as an MLflow pyfunc model on the
    trial's child run and register it as a new version of `model_name`.

    `model_dir`: a SavedModel to log (e.g. the `model/` of `export_best`); default the
    trial's own, or one rebuilt from its checkpoint (see `saved_model`)."""
    import cloudpickle
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    import tuner.tabular.serving as serving
    from tuner.study.ranking import metric_of
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
    uri = resolve_tracking_uri(results, tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise ConfigError(  # MlflowClient would create an empty store there
            f"no MLflow store at {mask_url(uri)}",
            hint="pass the sweep's --tracking-uri or --results",
        )
    client = MlflowClient(tracking_uri=uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ConfigError(
            f"trial {trial.number}'s MLflow run {run_id} is not in {mask_url(uri)}",
            hint=f"pass the sweep's --tracking-uri ({mask_text(str(exc).splitlines()[0][:120])})",
        ) from None
    metric = metric_of(study).name
    with tempfile.TemporaryDirectory(prefix="tuner-register-") as tmp:
        if model_dir is not None and _has_model(Path(model_dir)):
            directory = Path(model_dir)
        else:
            root = storage.trial_root(study, results)
            source = storage.trial_dir(root, study.study_name, trial.number)
            directory = saved_model(study, source, Path(tmp) / "saved_model")
        info = serving.read_info(directory)
        cloudpickle.register_pickle_by_value(serving)  # the model loads without tuner
        try:
            with _tracking_uri(uri), mlflow.start_run(run_id=run_id):
                logged = mlflow.pyfunc.log_model(
                    name=REGISTERED_ARTIFACT,
                    python_model=serving.SavedModelPyfunc(),
                    artifacts={serving.ARTIFACT: str(directory)},
                    pip_requirements=[_requirement("tensorflow"), _requirement("pandas")],
                    signature=_signature(info),
                    input_example=_input_example(info),
                    registered_model_name=model_name,
                    metadata={
                        "tuner.sweep": study.study_name,
                        "tuner.trial_number": trial.number,
                        "tuner.task": info["task"],
                        "tuner.features": serving.feature_kinds(info),
                    },
                )
        finally:
            cloudpickle.unregister_pickle_by_value(serving)
            _restore_status(client, run)
    version = int(logged.registered_model_version)
    for key, value in {
        "tuner.sweep": study.study_name,
        "tuner.trial_number": trial.number,
        metric: trial.value,
    }.items():
        client.set_model_version_tag(model_name, str(version), key, str(value))
    return Registered(
        name=model_name,
        version=version,
        run_id=run_id,
        model_uri=f"models:/{model_name}/{version}",
        logged_uri=logged.model_uri,
        trial=trial.number,
    )


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at `uri` for the block (its global tracking URI)."""
    import mlflow

    try:
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    except ImportError:  # a private helper (MLflow 3.17 has it): do what it does
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            mlflow.set_tracking_uri(previous)
        return
    with _use_tracking_uri(uri):
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


__all__ = [
    "Registered",
    "best_table",
    "export_best",
    "load_sweep",
    "pick_trial",
    "register_best",
    "top_trials",
]
