"""A sweep runs as successive Ray Tune runs of a bounded number of trials
(TUNER_RAY_RUN_TRIALS here; driver.RAY_RUN_TRIALS), each run's Ray experiment removed once
the next starts — and nothing of the sweep is lost across them: the budget, MLflow's
runs, a kill and its resume (the invariants of tests/sweep/test_resume.py)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import write
from tests.sweep.test_resume import SPACE, _check_consistent, _tune

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
def test_a_sweep_of_several_ray_runs_keeps_only_the_last_and_loses_nothing(
    tmp_path: Path,
) -> None:
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=7, sleep=0.05))
    results = tmp_path / "results"
    done = _tune(
        "run", space, "--results", results, "-q", fault="trial_start:5", TUNER_RAY_RUN_TRIALS="2"
    )  # killed in its third Ray run
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    _check_consistent(results, 7, finished=False)
    done = _tune("resume", "slow", "--results", results, "-q", TUNER_RAY_RUN_TRIALS="2")
    assert done.returncode == 0, done.stderr[-2000:]
    _check_consistent(results, 7, finished=True)
    ray = results / "slow" / ".ray"
    kept = sorted(p.name for p in ray.iterdir() if p.name != "local")
    assert len(kept) == 1 and kept[0].startswith("ray"), kept  # the last run's, only
    assert len(list((ray / kept[0]).glob("trial_*"))) <= 2
