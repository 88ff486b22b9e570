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
    assert "tune train" not in shown.stdout  # no retrain hint that cannot work
    assert "it holds model/ (what objective keras_objective:train saved)" in shown.stdout
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
