"""The trainable in the Ray worker (tuner/sweep/trial_runner.py) keeps the objective's
contract: `trial_dir` is the trial's own folder, there when the objective starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

ROOT = Path(__file__).resolve().parents[2]

USER_OBJECTIVE = '''\
import json

from tuner.trial import objective


@objective(metrics=["score"])
def train(config, report, trial_dir):
    """A user's objective: writes into its folder without creating it."""
    (trial_dir / "gpu.json").write_text(json.dumps({"x": config["x"]}))
    report(1, {"score": config["x"]})
'''

SPACE = """\
name: mine
objective: userobj:train
metric: {name: score, goal: maximize}
budget: {trials: 2, max_epochs: 1}
concurrency: 2
sampler: {type: random, seed: 1}
pruner: {type: none}
params:
  x: {float: [0.0, 1.0]}
"""


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_user_objective_finds_its_trial_folder_there(tmp_path: Path) -> None:
    """`tune run` from the user's project folder (`module:function` importable from it),
    as a user runs it."""
    project = tmp_path / "project"
    project.mkdir()
    write(project / "userobj.py", USER_OBJECTIVE)
    write(project / "space.yaml", SPACE)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(ROOT)  # tuner itself; the objective comes from the project
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "run", "space.yaml", "-q"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 complete" in done.stdout, done.stdout + done.stderr[-3000:]
    for number in (0, 1):
        assert (project / "results" / "mine" / "trials" / str(number) / "gpu.json").is_file()
