"""The shipped examples run as the README says, from the repository root of a fresh
clone with nothing else set: examples/keras_objective.yaml is found with its module
beside it (not on PYTHONPATH), tuned, exported and registered, and the registered
model answers a frame where tuner is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

LOAD = """
import json, sys
sys.modules["tuner"] = None  # the registered model must not need tuner
import mlflow, pandas as pd
from sklearn.datasets import load_breast_cancer
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
x, y = load_breast_cancer(return_X_y=True, as_frame=True)
out = model.predict(x.head(5))
print(json.dumps({"columns": list(out.columns), "values": out.iloc[:, 0].tolist()}))
"""


def _tune(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "tuner", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    return done


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_keras_objective_example_runs_exports_and_registers(tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    assert "examples" not in env.get("PYTHONPATH", "")  # found beside its space file
    run = _tune(
        "run",
        "examples/keras_objective.yaml",
        "--trials",
        "2",
        "--results",
        results,
        cwd=REPO,
        env=env,
    )
    assert "sweep keras-objective: 2 complete" in run.stdout, run.stdout
    out = tmp_path / "best"
    shown = _tune(
        "best",
        "keras-objective",
        "--results",
        results,
        "--out",
        out,
        "--register",
        "cancer",
        cwd=tmp_path,
        env=env,  # (another folder: the study says where the module is)
    )
    assert (out / "model" / "saved_model.pb").is_file() and (out / "config.yaml").is_file()
    hint = f"retrain it: cd {REPO / 'examples'} && tune train {out / 'config.yaml'}"
    assert hint in shown.stdout, shown.stdout  # a hint that works, as it says:
    _tune("train", out / "config.yaml", "--set", "epochs=1", "--out", tmp_path / "again",
          cwd=REPO / "examples", env=env)  # fmt: skip
    assert "registered models:/cancer/1" in shown.stdout
    uri = f"sqlite:///{results / 'mlflow.db'}"
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, uri, "models:/cancer/1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    answer = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert answer["columns"] == ["output_0"]
    assert len(answer["values"]) == 5 and all(0 <= v <= 1 for v in answer["values"])


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_ask(model_uri: str, tracking_uri: str, rows: list[list[float]], cwd: Path) -> Any:
    """`mlflow models serve` the registered model and POST rows to it; its answer."""
    import time
    import urllib.request

    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
         "--env-manager", "local", "--port", str(port), "--host", "127.0.0.1"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        body = json.dumps({"inputs": rows}).encode()
        deadline = time.monotonic() + 240
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/invocations",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read())
            except OSError:
                assert server.poll() is None, "mlflow models serve ended"
                assert time.monotonic() < deadline, "mlflow models serve never answered"
                time.sleep(1)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_the_dense_classifier_program_is_tuned_unchanged_resumed_exported_and_served(
    tmp_path: Path,
) -> None:
    """examples/dense_classifier.py, a Keras program with flags that knows nothing of
    tuner, tuned by examples/dense_classifier.yaml: its driver SIGKILLed mid-sweep, the
    resume continues the interrupted programs from their BackupAndRestore checkpoints
    (not from epoch 1), every trial one MLflow child run with every epoch; the best
    trial's SavedModel is exported, registered and served over HTTP."""
    from mlflow.tracking import MlflowClient

    from tuner.study.storage import find_study

    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS")}
    run = [sys.executable, "-m", "tuner", "run", "examples/dense_classifier.yaml"]
    killed = subprocess.run(
        [*run, "--trials", "4", "--results", str(results), "-q"],
        cwd=REPO, env={**env, "TUNER_FAULT": "epoch:5"}, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr[-3000:]
    _tune("resume", "dense_classifier", "--results", results, "-q", cwd=REPO, env=env)

    study = find_study(results, "dense_classifier")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4 and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    # Ran again after the kill: from its checkpoint — never more than the one epoch it was
    # in (its first epoch then is at least the epochs it had finished: BackupAndRestore
    # saves just after Keras prints an epoch's line) — or, where its folder was no place
    # to continue from (a checkpoint torn by the kill, or past the sweep's record of it),
    # started over in a fresh folder, saying why.
    again = {}
    for t in trials:
        log = (results / "dense_classifier" / "trials" / str(t.number) / "program.log").read_text()
        runs = log.split("\n--- ")
        if len(runs) > 1:
            first = next(line for line in runs[-1].splitlines() if line.startswith("Epoch "))
            finished = runs[-2].count("val_auc: ")
            again[t.number] = (int(first.split()[1].split("/")[0]), finished, runs[-2])
    assert again, "no trial was interrupted"
    for number, (epoch, finished, before) in again.items():
        started_over = "starting it over" in before
        assert epoch >= max(1, finished) or started_over, (number, epoch, finished)
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("dense_classifier")
    children = [
        r for r in client.search_runs([experiment.experiment_id])
        if "mlflow.parentRunId" in r.data.tags
    ]  # fmt: skip
    assert sorted(int(r.data.tags["tuner.trial_number"]) for r in children) == [0, 1, 2, 3]
    for r in children:
        t = trials[int(r.data.tags["tuner.trial_number"])]
        steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "val_auc"))
        assert steps == sorted(t.intermediate_values), (t.number, steps)
        if t.state.name == "COMPLETE":
            assert steps == [1, 2, 3, 4, 5, 6]

    _tune("best", "dense_classifier", "--results", results, "--export", cwd=REPO, env=env)
    assert (results / "dense_classifier" / "best" / "model" / "saved_model.pb").is_file()
    _tune("best", "dense_classifier", "--results", results, "--register", "dense",
          cwd=REPO, env=env)  # fmt: skip
    from sklearn.datasets import load_breast_cancer

    rows = load_breast_cancer().data[:3].tolist()
    answer = _serve_and_ask("models:/dense/1", f"sqlite:///{results / 'mlflow.db'}", rows, tmp_path)
    values = answer["predictions"]
    assert len(values) == 3, answer
