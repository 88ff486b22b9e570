"""`tune best`: the best trials of a sweep, `--export` (retrainable config, SavedModel,
metrics, narrowed space file) and `--register` (an MLflow pyfunc model version).

The real sweep here is built without Ray, to stay fast: an Optuna journal study with the
attributes `tune run` sets, trials asked from it with `tuner.search.distributions.suggest`,
trained by the real tabular objective into `results/<name>/trials/<number>/`, recorded in
MLflow by `tuner.tracking.runs.Tracker` as `tune run` does, and told to the study.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_app import read_only_dir  # noqa: F401  (a fixture)
from tuner.study import records, storage

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "search_spaces" / "tiny.yaml"


def _new_study(results: Path, name: str, space_text: str, goal: str = "maximize") -> Any:
    import optuna

    from tuner.search.distributions import make_sampler
    from tuner.space.load import parse_spec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = parse_spec(space_text, TINY, check_objective=False)
    study = optuna.create_study(
        study_name=name,
        storage=storage.open_storage(storage.storage_url(results, name)),
        sampler=make_sampler(spec),
        direction=goal,
    )
    attrs = {
        records.SPACE: space_text,
        records.SPACE_PATH: str(TINY),
        records.OBJECTIVE: "tabular",
        records.METRIC: "val_auc",
        records.GOAL: goal,
        records.MAX_EPOCHS: spec.budget.max_epochs,
        records.TRIALS: spec.budget.trials,
    }
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    return study, spec


# ---------------------------------------------------------------- fast: no TensorFlow


def _fake_sweep(
    results: Path,
    name: str,
    values: list[float | None],
    goal: str = "maximize",
    run_id: str | None = None,
):
    """A study whose trials are told `values` (None: left RUNNING), nothing trained;
    `run_id`: the MLflow run id every trial claims."""
    from tuner.search.distributions import suggest

    study, spec = _new_study(results, name, TINY.read_text(), goal)
    for value in values:
        trial = study.ask()
        trial.set_user_attr(records.TRIAL_CONFIG, suggest(trial, spec))
        trial.report(0.5, 1)
        if run_id:
            trial.set_user_attr(records.TRIAL_RUN_ID, run_id)
        if value is not None:
            study.tell(trial, value)
    return study


def test_best_prints_the_best_and_the_top_k_as_json(cli, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _fake_sweep(results, "fake", [0.7, 0.9, None, 0.8, 0.9])

    code, out, err = cli("best", "fake", "--results", results)
    assert code == 0, err
    assert "#1 val_auc=0.9000" in out  # the lowest number on a tie
    assert "1 running: best so far" in out
    assert str(results / "fake" / "trials" / "1") in out

    code, out, err = cli("best", "fake", "--results", results, "--top", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["metric"] == "val_auc" and data["goal"] == "maximize"
    assert (data["complete"], data["running"], data["total"]) == (4, 1, 5)
    assert [t["number"] for t in data["trials"]] == [1, 4, 3]
    first = data["trials"][0]
    assert first["state"] == "COMPLETE" and first["epochs"] == 1 and first["value"] == 0.9
    assert set(first["params"]) >= {"optimizer", "learning_rate", "width"}
    assert first["mlflow_run_id"] is None
    assert first["trial_dir"] == str(results / "fake" / "trials" / "1")

    code, out, err = cli("best", "fake", "--results", results, "--top", "3")
    assert code == 0, err
    assert out.count("COMPLETE") == 4  # the best line, then 3 rows


# each trial's val_auc by epoch: trial 0 peaks at epoch 2 and ends below trial 1's end
EPOCHS = [[0.70, 0.95, 0.80], [0.85, 0.86, 0.87], [0.60, 0.90, 0.90]]


def _scored_sweep(results: Path, score: str) -> Any:
    """EPOCHS told through the sweep's own bridge under `score:` best or last, each trial
    folder as the tabular objective leaves it (a model, its checkpoints, metrics.json)."""
    import optuna

    from tuner.space.load import parse_spec
    from tuner.study.records import describe
    from tuner.sweep.bridge import Bridge
    from tuner.sweep.trial_runner import EPOCH

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    text = TINY.read_text().replace("max_epochs: 2", "max_epochs: 3") + f"score: {score}\n"
    spec = parse_spec(text, TINY, check_objective=False)
    study = optuna.create_study(
        study_name=spec.name,
        storage=storage.open_storage(storage.storage_url(results, spec.name)),
        direction="maximize",
    )
    describe(study, spec)
    bridge = Bridge(spec, study, results)
    for i, values in enumerate(EPOCHS):
        asked = bridge.ask(f"ray-{i}")
        assert asked is not None
        folder = Path(asked["trial_dir"])
        for epoch, value in enumerate(values, 1):
            bridge.record(f"ray-{i}", {EPOCH: epoch, "val_auc": value})
        best = 1 + values.index(max(values))
        kept = "best" if score == "best" else "last"
        model = best if score == "best" else len(values)
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "weights").write_text(f"epoch {model}")
        for name, epoch in (("best", best), ("last", len(values))):
            (folder / "checkpoints" / name).mkdir(parents=True)
            (folder / "checkpoints" / name / "ckpt").write_text(f"epoch {epoch}")
        summary = {"best": {"metric": "val_auc", "epoch": best}, "model_checkpoint": kept}
        (folder / "metrics.json").write_text(json.dumps({**summary, "model_epoch": model}))
        bridge.finish(f"ray-{i}")
    return study


@pytest.mark.parametrize(
    ("score", "order", "value", "epoch"),
    [("best", [0, 2, 1], 0.95, 2), ("last", [2, 1, 0], 0.90, 3)],
)
def test_ranking_leaderboard_best_and_export_agree_on_the_scored_epoch(
    cli, tmp_path: Path, score: str, order: list[int], value: float, epoch: int
) -> None:
    """The same trials under `score: best` and `score: last`: the ranking, the
    leaderboard, `tune best` (text and JSON) and `--export` (its metrics.json, its model
    and the checkpoint it keeps) all read the value the bridge told and its epoch."""
    from tuner.study.leaderboard import leaderboard
    from tuner.study.ranking import top_trials

    results = tmp_path / "results"
    study = _scored_sweep(results, score)
    assert [t.number for t in top_trials(study, 3)] == order
    frame = leaderboard(study).set_index("number")
    assert frame["value"].to_dict() == pytest.approx(
        {n: (max(v) if score == "best" else v[-1]) for n, v in enumerate(EPOCHS)}
    )
    assert frame.loc[order[0], "value_epoch"] == epoch

    code, out, err = cli("best", "tiny", "--results", results, "--top", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["score"] == score
    top = data["trials"][0]
    assert (top["number"], top["value"], top["value_epoch"]) == (order[0], value, epoch)
    code, out, err = cli("best", "tiny", "--results", results)
    assert code == 0, err
    assert f"#{order[0]} val_auc={value:.4f} (epoch {epoch})" in out
    assert f"scored by its {score} epoch" in out

    code, _, err = cli("best", "tiny", "--results", results, "--out", tmp_path / "out")
    assert code == 0, err
    exported = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (exported["value"], exported["value_epoch"], exported["score"]) == (value, epoch, score)
    assert exported["model_epoch"] == epoch
    assert (tmp_path / "out" / "model" / "weights").read_text() == f"epoch {epoch}"
    # the checkpoint of the exported model's weights (what --init-from starts from)
    kept = (tmp_path / "out" / "checkpoints" / "last" / "ckpt").read_text()
    assert kept == f"epoch {epoch}"


def test_top_trials_follows_the_direction(tmp_path: Path) -> None:
    from tuner.study.best import top_trials

    study = _fake_sweep(tmp_path, "low", [0.3, 0.1, 0.2], goal="minimize")
    assert [t.number for t in top_trials(study, 2)] == [1, 2]
    assert top_trials(study, 0) == []


def test_errors_exit_2(cli, tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, _, err = cli("best", "nope", "--results", results)
    assert code == 2 and f"--results {results}: no such folder" in err
    results.mkdir()
    code, _, err = cli("best", "nope", "--results", results)
    assert code == 2 and "no sweep named 'nope'" in err

    import optuna

    study = _fake_sweep(results, "empty", [None, None])
    study.tell(0, state=optuna.trial.TrialState.FAIL)
    for extra in ((), ("--json",), ("--export",), ("--register", "m")):
        code, _, err = cli("best", "empty", "--results", results, *extra)
        assert code == 2, (extra, err)
        assert "has no complete trial yet" in err
    code, _, err = cli("best", "empty", "--results", results, "--top", "-1")
    assert code == 2


def test_register_needs_the_trial_run_and_its_store(cli, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _fake_sweep(results, "fake", [0.5])
    code, _, err = cli("best", "fake", "--results", results, "--register", "m")
    assert code == 2 and "trial 0 of sweep 'fake' has no MLflow run" in err

    _fake_sweep(results, "tracked", [0.5], run_id="abc")
    code, _, err = cli("best", "tracked", "--results", results, "--register", "m")
    assert code == 2 and "no MLflow store at sqlite:///" in err
    assert not (results / "mlflow.db").exists()


def test_export_never_replaces_a_foreign_folder(cli, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _fake_sweep(results, "fake", [0.5])
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    code, _, err = cli("best", "fake", "--results", results, "--out", precious)
    assert code == 2 and "not an earlier export" in err
    assert (precious / "notes.txt").read_text() == "keep me"


def test_export_to_a_read_only_folder_is_one_line(
    cli,
    tmp_path: Path,
    read_only_dir,  # noqa: F811  (the fixture imported from tests.cli.test_app)
) -> None:
    results = tmp_path / "results"
    _fake_sweep(results, "fake", [0.5])
    for out, where in ((read_only_dir / "best", read_only_dir), (read_only_dir, read_only_dir)):
        code, stdout, err = cli("best", "fake", "--results", results, "--out", out)
        assert (code, stdout) == (2, ""), err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"{where}: cannot write there: Read-only file system" in err, err


def test_narrowed_space_keeps_one_point(tmp_path: Path) -> None:
    import yaml

    from tuner.space.load import parse_spec
    from tuner.study.best import narrow_space, pick_trial, trial_config

    study = _fake_sweep(tmp_path, "fake", [0.5, 0.6, 0.7, 0.8])
    for trial in study.get_trials():
        config = trial_config(study, trial)
        text = narrow_space(TINY.read_text(), config, trial, "tiny", "val_auc")
        spec = parse_spec(text, "narrowed.yaml", check_objective=False)
        assert spec.budget.trials == 1 and spec.concurrency == 1
        assert spec.budget.max_epochs == 2 and spec.dataset == "builtin:breast_cancer"
        assert spec.fixed == {"model": "dnn", "batch_size": 64, "depth": 1}
        assert {p.name: p.choices for p in spec.params} == {k: (config[k],) for k in trial.params}
        assert spec.config({p.name: p.choices[0] for p in spec.params}) == config
        assert yaml.safe_load(text)["name"] == "tiny"
    assert pick_trial(study).number == 3


# ---------------------------------------------------------------- slow: a real sweep


@dataclass
class Sweep:
    results: Path
    name: str
    tracking_uri: str
    values: dict[int, float]  # trial number → the study value (last val_auc)
    run_ids: dict[int, str]

    @property
    def best(self) -> int:
        return max(self.values, key=lambda n: (self.values[n], -n))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """3 real trials of search_spaces/tiny.yaml (breast cancer, 2 epochs), a pruned and
    a running one, recorded in a SQLite MLflow store as `tune run` records them."""
    import optuna

    from tuner.search.distributions import suggest
    from tuner.tabular.model.train import run_trial
    from tuner.tracking.runs import Tracker

    tmp = tmp_path_factory.mktemp("best")
    results, name = tmp / "results", "tiny"
    study, spec = _new_study(results, name, TINY.read_text())
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    tracker = Tracker(uri, artifact_root=tmp / "mlartifacts", flush_seconds=0)
    parent = tracker.start_sweep(
        name, TINY.read_text(), TINY, name, storage.storage_url(results, name), {}
    )
    values, run_ids = {}, {}
    for _ in range(3):
        trial = study.ask()
        config = suggest(trial, spec)
        trial.set_user_attr(records.TRIAL_CONFIG, config)
        run_id = tracker.start_trial(parent, trial.number, config)
        trial.set_user_attr(records.TRIAL_RUN_ID, run_id)
        last: dict[str, float] = {}

        def report(epoch: int, metrics: dict[str, float], trial=trial, run_id=run_id, last=last):
            trial.report(metrics["val_auc"], epoch)
            tracker.log_epoch(run_id, epoch, metrics)
            last.update(metrics)

        run_trial(config, report, storage.trial_dir(results, name, trial.number))
        study.tell(trial, last["val_auc"])
        tracker.end_trial(run_id, "COMPLETE", last["val_auc"])
        values[trial.number], run_ids[trial.number] = last["val_auc"], run_id
    pruned = study.ask()
    suggest(pruned, spec)
    pruned.report(0.99, 1)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    suggest(study.ask(), spec)  # left RUNNING: the sweep is still going
    tracker.end_sweep(parent)
    assert len(set(values.values())) == 3
    return Sweep(results, name, uri, values, run_ids)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_best_of_a_real_sweep(cli, sweep: Sweep) -> None:
    code, out, err = cli("best", sweep.name, "--results", sweep.results, "--top", "5", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert [t["number"] for t in data["trials"]] == sorted(
        sweep.values, key=lambda n: (-sweep.values[n], n)
    )  # complete trials only: not the pruned one (0.99), not the running one
    top = data["trials"][0]
    assert top["number"] == sweep.best and top["value"] == sweep.values[sweep.best]
    assert top["mlflow_run_id"] == sweep.run_ids[sweep.best] and top["epochs"] == 2

    code, out, err = cli("best", sweep.name, "--results", sweep.results)
    assert code == 0, err
    assert f"#{sweep.best} val_auc=" in out and sweep.run_ids[sweep.best] in out


FRESH_PROCESS = """
import json, sys
import numpy as np
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
inputs = json.loads(sys.argv[2])
out = model.signatures["serve"](**{k: tf.constant(v, tf.float32) for k, v in inputs.items()})
assert not [m for m in sys.modules if m == "tuner" or m.startswith("tuner.")]
print(json.dumps(out["probability"].numpy().tolist()))
"""


def _rows(n: int = 6) -> dict[str, list[float]]:
    """`n` validation rows of breast cancer, raw feature values by name."""
    from tuner.tabular.data import reader
    from tuner.tabular.model.config import dataset_schema

    directory, _ = dataset_schema("builtin:breast_cancer")
    features, _ = next(iter(reader.dataset(directory, "validation", batch_size=n, shuffle=False)))
    return {k: [float(x) for x in v.numpy()] for k, v in features.items()}


def _serve(model_dir: Path, rows: dict[str, list[float]]) -> Any:
    import numpy as np
    import tensorflow as tf

    serve = tf.saved_model.load(str(model_dir)).signatures["serve"]
    out = serve(**{k: tf.constant(v, tf.float32) for k, v in rows.items()})
    return np.asarray(out["probability"])


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_export_retrains_to_the_same_metric_and_serves_in_a_fresh_process(
    cli, sweep: Sweep, tmp_path: Path
) -> None:
    import numpy as np
    import yaml

    from tuner.space.load import load_spec
    from tuner.study.best import load_sweep

    code, out, err = cli("best", sweep.name, "--results", sweep.results, "--export")
    assert code == 0, err
    best = sweep.results / sweep.name / "best"
    assert str(best) in out
    study = load_sweep(sweep.results, sweep.name)
    trial = study.trials[sweep.best]
    config = trial.user_attrs["config"]
    text = (best / "config.yaml").read_text()
    assert yaml.safe_load(text) == config
    assert list(yaml.safe_load(text)) == list(config)  # key order kept
    assert (best / "model" / "saved_model.pb").is_file()
    assert (best / "model" / "assets.extra" / "tuner.json").is_file()
    metrics = json.loads((best / "metrics.json").read_text())
    assert metrics["number"] == sweep.best and metrics["value"] == sweep.values[sweep.best]
    assert metrics["final"]["val_auc"] == pytest.approx(sweep.values[sweep.best])
    assert metrics["status"] == "complete" and metrics["epoch"] == 2
    spec = load_spec(best / "space.yaml")  # the full check, objective and data set included
    assert spec.budget.trials == 1
    assert {p.name: p.choices[0] for p in spec.params} == {k: config[k] for k in trial.params}

    # `tune train` on the exported config reproduces the trial's validation metric
    code, _, err = cli("train", best / "config.yaml", "--out", tmp_path / "again")
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["final"]["val_auc"] == pytest.approx(sweep.values[sweep.best], abs=1e-3)

    # the exported SavedModel loads and predicts in a process that imports only TensorFlow
    rows = _rows()
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(best / "model"), json.dumps(rows)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    served = np.array(json.loads(fresh.stdout.strip().splitlines()[-1]))
    assert served.shape == (6,) and ((served >= 0) & (served <= 1)).all()
    trial_model = sweep.results / sweep.name / "trials" / str(sweep.best) / "model"
    np.testing.assert_allclose(served, _serve(trial_model, rows), rtol=1e-5, atol=1e-6)

    # a second export replaces the first (one folder, nothing left beside it)
    code, _, err = cli("best", sweep.name, "--results", sweep.results, "--export")
    assert code == 0, err
    assert sorted(p.name for p in best.parent.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_export_rebuilds_a_missing_model_from_the_last_checkpoint(
    cli, sweep: Sweep, tmp_path: Path
) -> None:
    import numpy as np

    results = tmp_path / "results"
    shutil.copytree(sweep.results, results)
    trial = results / sweep.name / "trials" / str(sweep.best)
    shutil.rmtree(trial / "model")
    out = tmp_path / "exported"
    code, _, err = cli("best", sweep.name, "--results", results, "--out", out)
    assert code == 0, err
    rows = _rows()
    original = sweep.results / sweep.name / "trials" / str(sweep.best) / "model"
    np.testing.assert_allclose(
        _serve(out / "model", rows), _serve(original, rows), rtol=1e-5, atol=1e-6
    )

    shutil.rmtree(trial / "checkpoints")
    code, _, err = cli("best", sweep.name, "--results", results, "--out", out)
    assert code == 2 and "exported no model" in err and "no checkpoints/last" in err
    assert (out / "model" / "saved_model.pb").is_file()  # the earlier export is untouched


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_an_export_killed_before_it_is_published_leaves_the_earlier_one(
    cli, sweep: Sweep, tmp_path: Path
) -> None:
    out = tmp_path / "exported"
    code, _, err = cli("best", sweep.name, "--results", sweep.results, "--out", out)
    assert code == 0, err
    (out / "marker").write_text("the earlier export")  # a replacement would not have it
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    command = [sys.executable, "-m", "tuner", "best", sweep.name, "--results", sweep.results]
    killed = subprocess.run(
        [*command, "--out", out],
        env={**os.environ, "TUNER_FAULT": "export"},
        capture_output=True,
        timeout=100,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the complete earlier export, not a mix
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name]


LOAD_REGISTERED = """
import json, sys
sys.modules["tuner"] = None  # the registered model must not need tuner
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.DataFrame(json.loads(sys.argv[2]))
print(model.predict(frame).to_json(orient="split"))
"""


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_register_logs_a_pyfunc_model_on_the_trial_run(cli, sweep: Sweep, tmp_path: Path) -> None:
    import math

    import numpy as np
    import pandas as pd
    from mlflow.tracking import MlflowClient

    uri = sweep.tracking_uri
    args = ("best", sweep.name, "--results", sweep.results, "--tracking-uri", uri)
    code, out, err = cli(*args, "--register", "demo")
    assert code == 0, err
    assert "registered models:/demo/1" in out

    client = MlflowClient(tracking_uri=uri)
    version = client.get_model_version("demo", "1")
    assert version.run_id == sweep.run_ids[sweep.best]
    assert version.tags["tuner.trial_number"] == str(sweep.best)
    run = client.get_run(sweep.run_ids[sweep.best])
    assert run.info.status == "FINISHED"  # the child run is left as it was
    experiment = run.info.experiment_id
    assert not client.search_runs([experiment], "attributes.status = 'RUNNING'")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))  # not ./mlruns
    assert logged.artifact_location.startswith((sweep.results.parent / "mlartifacts").as_uri())

    rows = _rows()
    frame = pd.DataFrame(rows)
    frame.iloc[0, 0] = math.nan  # a missing value
    frame[frame.columns[1]] = frame[frame.columns[1]].round().astype("int64")  # int column
    frame["label"] = 1  # an extra column is ignored
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_REGISTERED, "models:/demo/1", frame.to_json(orient="columns")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            "MLFLOW_TRACKING_URI": uri,
        },
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    split = json.loads(loaded.stdout.strip().splitlines()[-1])
    predicted = pd.DataFrame(split["data"], columns=split["columns"])
    assert list(predicted.columns) == ["probability", "predicted"]
    assert len(predicted) == len(frame)
    features = {k: frame[k].astype("float32").tolist() for k in rows}
    direct = _serve(sweep.results / sweep.name / "trials" / str(sweep.best) / "model", features)
    np.testing.assert_allclose(predicted["probability"], direct, rtol=1e-5, atol=1e-6)

    code, out, err = cli(*args, "--register", "demo", "--json")
    assert code == 0, err
    assert json.loads(out)["registered"]["version"] == 2


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("tabular", "retrain it: tune train {out}/config.yaml"),
        (None, "retrain it: tune train {out}/config.yaml"),  # (a study from before the attr)
        ("mine:train", "retrain it: tune train {out}/config.yaml (where mine imports)"),
        (
            'program:{"command":"./t.sh","cwd":"/w","env":{},"flags":"auto","grace":10.0,'
            '"metrics":["a"],"pattern":null,"tensorboard":null,"timeout":null}',
            "retrain it: tune train {out}/config.yaml",
        ),
    ],
)
def test_the_next_step_after_an_export_fits_the_objective(
    tmp_path: Path, ref: str | None, hint: str
) -> None:
    """`tune train` runs the exported config of any objective (it names its objective
    unless it is the built-in one); a user's module imports where it runs."""
    import optuna

    from tuner.study import best

    study = optuna.create_study()
    if ref is not None:
        study.set_user_attr(records.OBJECTIVE, ref)
    assert best.next_step(study, tmp_path) == hint.format(out=tmp_path)
