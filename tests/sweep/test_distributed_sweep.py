"""A sweep whose trials each train on two worker processes (`resources.workers: 2`):
the trials complete as one trial each, the concurrency counts workers, and a driver
SIGKILLed mid-sweep resumes as a single-process sweep does."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.conftest import write
from tests.sweep.test_resume import _tune

pytestmark = pytest.mark.slow

SPACE = """\
name: dist
objective: tabular
dataset: builtin:breast_cancer
metric: {name: val_auc, goal: maximize}
budget: {trials: 2, max_epochs: 3}
concurrency: 2
resources: {cpu: 1, workers: 2}
sampler: {type: random, seed: 4}
pruner: {type: none}
fixed: {model: dnn, batch_size: 64, hidden_units: [16], optimizer: adam}
params:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
"""


def test_the_concurrency_counts_workers() -> None:
    from tuner.space.model import Budget, Metric, Resources, SweepSpec

    def spec(concurrency: int, workers: int) -> SweepSpec:
        return SweepSpec(
            name="s",
            objective="tabular",
            metric=Metric("val_auc", "maximize"),
            budget=Budget(trials=1, max_epochs=1),
            params=(),
            concurrency=concurrency,
            resources=Resources(workers=workers),
        )

    assert spec(2, 2).trials_at_once == 1
    assert spec(4, 2).trials_at_once == 2
    assert spec(1, 3).trials_at_once == 1  # a trial always runs
    assert spec(3, 1).trials_at_once == 3
    assert spec(2, 2).base_config()["workers"] == 2  # every trial config gets it
    assert "workers" not in spec(2, 1).base_config()


@pytest.mark.timeout(600)
def test_a_two_worker_sweep_completes_and_resumes_after_a_driver_sigkill(tmp_path: Path) -> None:
    from tuner.study.storage import find_study

    space = write(tmp_path / "dist.yaml", SPACE)
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, "-q", fault="epoch:2")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    states = [t.state.name for t in find_study(results, "dist").get_trials()]
    assert "RUNNING" in states, states
    done = _tune("resume", "dist", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    study = find_study(results, "dist")
    trials = study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    for t in trials:
        assert sorted(t.intermediate_values) == [1, 2, 3]
        folder = results / "dist" / "trials" / str(t.number)
        summary = json.loads((folder / "metrics.json").read_text())
        assert summary["workers"] == 2 and summary["status"] == "complete"
        assert [h["epoch"] for h in summary["history"]] == [1, 2, 3]
        assert (folder / "model" / "saved_model.pb").is_file()
        # scored by its best epoch (of both runs): the epoch the chief kept and exported
        assert summary["best"]["metric"] == "val_auc"
        assert t.value == pytest.approx(summary["best"]["value"])
        assert summary["model_epoch"] == summary["best"]["epoch"] == t.user_attrs["value_epoch"]


@pytest.mark.timeout(400)
def test_pruned_two_worker_trials_are_followed_by_the_next(sweeper) -> None:
    """Every trial pruned at its first epoch (threshold above any AUC): each next trial
    still starts (reusing the pruned trial's actor left the sweep hanging)."""
    text = SPACE.replace("pruner: {type: none}", "pruner: {type: threshold, lower: 1.01}")
    outcome = sweeper.run(text.replace("trials: 2", "trials: 3"))
    trials = outcome.study.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["PRUNED"] * 3
    assert all(sorted(t.intermediate_values) == [1] for t in trials)
