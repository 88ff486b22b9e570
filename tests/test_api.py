"""The library's face (tuner/__init__.py, tuner/api.py): the functions `tune run`,
`tune resume` and `tune best` are built on, used from Python as the README shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sweep.conftest import ray_session  # noqa: F401  (one Ray for every sweep test)

ROOT = Path(__file__).resolve().parents[1]

SPACE = """\
name: api
objective: tests.sweep.cheap:train
metric: {name: score, goal: maximize}
budget: {trials: 3, max_epochs: 2}
concurrency: 1
sampler: {type: random, seed: 3}
pruner: {type: none}
params:
  x: {float: [0.0, 1.0]}
"""


def test_importing_tuner_is_cheap_and_lists_its_face() -> None:
    code = (
        "import sys, tuner; print(sorted(dir(tuner))); "
        "print([m for m in ('optuna', 'ray', 'mlflow', 'tensorflow', 'yaml') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    listed, heavy = done.stdout.splitlines()
    for name in ("load_space", "run", "resume", "best_trial", "export_best", "objective"):
        assert name in listed
    assert heavy == "[]", done.stdout


def test_the_facade_is_the_api_and_the_contract() -> None:
    import tuner
    from tuner import api, errors, trial

    assert tuner.run is api.run and tuner.resume is api.resume
    assert tuner.objective is trial.objective and tuner.StopTrial is trial.StopTrial
    assert tuner.TunerError is errors.TunerError
    assert tuner.current_trial is trial.current_trial and tuner.TrialContext is trial.TrialContext
    with pytest.raises(AttributeError):
        tuner.no_such_thing  # noqa: B018


def test_load_space_checks_the_file(tmp_path: Path) -> None:
    import tuner

    spec = tuner.load_space(ROOT / "search_spaces" / "tiny.yaml", trials=2)
    assert spec.budget.trials == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPACE.replace("goal: maximize", "goal: upward"))
    with pytest.raises(tuner.TunerError) as caught:
        tuner.load_space(bad)
    assert caught.value.exit_code == 2 and "bad.yaml" in caught.value.format()
    with pytest.raises(tuner.TunerError, match="--trials 0: expected 1 or more"):
        tuner.load_space(bad, trials=0)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_run_best_and_resume_from_python(
    tmp_path: Path,
    ray_session: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tuner

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    space = tmp_path / "api.yaml"
    space.write_text(SPACE)
    results = tmp_path / "results"

    outcome = tuner.run(space, results=results, quiet=True)
    assert outcome.counts == {"COMPLETE": 3} and not outcome.interrupted
    best = tuner.best_trial("api", results=results)
    assert (best.number, best.value) == (outcome.best_number, outcome.best_value)
    assert best.metric == "score" and best.goal == "maximize"
    assert best.config["x"] == best.params["x"] and best.config["epochs"] == 2
    assert best.trial_dir == results / "api" / "trials" / str(best.number)
    assert best.value_epoch == 2  # (the cheap objective's score grows: its best is its last)

    more = tuner.resume("api", results=results, trials=4, quiet=True)
    assert more.counts == {"COMPLETE": 1}  # only the raised budget ran
    assert len(more.study.trials) == 4
