"""`tune best --register` through the objective's `mlflow_model` hook, with a user's
objective (not TensorFlow): the registry logs whatever the hook describes, on the
trial's run, and leaves that run as it was. The tabular model's own registration, and
its loading without tuner, is tests/study/test_best.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tuner.errors import ConfigError
from tuner.study import records, storage
from tuner.trial import MlflowModel, objective


def _describe(model_dir: Path) -> MlflowModel:
    from mlflow.pyfunc import PythonModel

    class Doubler(PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input * 2  # (no hints: MLflow would read a signature from them)

    return MlflowModel(
        python_model=Doubler(),
        artifacts={"weights": str(model_dir / "weights.txt")},
        pip_requirements=["pandas"],
        metadata={"made.by": "the objective"},
    )


@objective(metrics=["score"], mlflow_model=_describe)
def loggable(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    report(1, {"score": 1.0})


@objective(metrics=["score"])
def unloggable(config: dict[str, Any], report: Any, trial_dir: Path) -> None:
    report(1, {"score": 1.0})


def _sweep(results: Path, ref: str) -> tuple[Any, str, str]:
    """A study of one COMPLETE trial of objective `ref` with its model folder, and its
    MLflow runs as `tune run` makes them."""
    import optuna

    from tuner.tracking.runs import Tracker, default_artifact_root, default_tracking_uri

    uri = default_tracking_uri(results)
    tracker = Tracker(uri, default_artifact_root(results))
    parent = tracker.start_sweep("reg", "name: reg\n", None, "reg", "journal:x", {})
    study = optuna.create_study(
        study_name="reg", storage=storage.open_storage(storage.storage_url(results, "reg"))
    )
    study.set_user_attr(records.OBJECTIVE, ref)
    study.set_user_attr(records.METRIC, "score")
    trial = study.ask()
    run_id = tracker.start_trial(parent, trial.number, {"x": 1}, {})
    records.write_trial(trial, run_id=run_id)
    study.tell(trial, 1.0)
    tracker.end_trial(run_id, "COMPLETE", 1.0)
    tracker.end_sweep(parent)
    model = storage.trial_dir(results, "reg", trial.number) / "model"
    model.mkdir(parents=True)
    (model / "weights.txt").write_text("2")
    return study, uri, run_id


@pytest.mark.timeout(120)
def test_a_user_objective_is_registered_as_its_hook_describes(tmp_path: Path, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    from tuner.tracking.registry import register_best

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    results = tmp_path / "results"
    study, uri, run_id = _sweep(results, f"{__name__}:loggable")
    done = register_best(study, results, "doubler", uri)
    assert (done.version, done.run_id, done.trial) == (1, run_id, 0)
    client = MlflowClient(tracking_uri=uri)
    assert client.get_model_version("doubler", "1").tags["tuner.trial_number"] == "0"
    assert client.get_run(run_id).info.status == "FINISHED"  # left as it was
    import mlflow

    from tuner.tracking.registry import _tracking_uri

    with _tracking_uri(uri):
        loaded = mlflow.pyfunc.load_model(done.model_uri)
    assert loaded.metadata.metadata["made.by"] == "the objective"
    assert loaded.predict(__import__("pandas").DataFrame({"a": [1.5]}))["a"].tolist() == [3.0]


@pytest.mark.timeout(120)
def test_a_model_without_the_hook_in_an_unknown_format_is_one_clear_error(
    tmp_path: Path, monkeypatch
) -> None:
    from tuner.tracking.registry import register_best

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    results = tmp_path / "results"
    study, uri, _ = _sweep(results, f"{__name__}:unloggable")
    with pytest.raises(ConfigError) as caught:
        register_best(study, results, "m", uri)
    assert caught.value.exit_code == 2
    text = caught.value.format()  # what it holds is no model tuner can log by itself
    assert text.startswith(f"{storage.trial_dir(results, 'reg', 0) / 'model'}: cannot register")
    assert "neither a TensorFlow SavedModel (saved_model.pb) nor one .keras file" in text
    assert "['weights.txt']" in text and "give the objective an mlflow_model hook" in text
