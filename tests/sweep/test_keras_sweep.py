"""Keras `fit` code in a real sweep (Ray, Optuna, MLflow): `tuner.keras.Report` reports
every epoch (each reaching MLflow once), a pruned trial's `fit` stops, and a trial whose
worker died is run again in its folder, told where its record stands, and continues from
its BackupAndRestore backup — its record neither restarted nor stitched. The objective:
tests/sweep/keras_trials.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sweep.conftest import Sweeper
from tests.sweep.test_sweep import history

pytestmark = pytest.mark.slow

SPACE = """\
name: kfit
objective: tests.sweep.keras_trials:train
metric: {name: val_auc, goal: maximize}
budget: {trials: 3, max_epochs: 3}
concurrency: 1
sampler: {type: random, seed: 0}
pruner: {type: median, startup_trials: 2, warmup_epochs: 0}
fixed: {noisy: [2], dying: [0], die_at: 2}
params:
  width: {choice: [6, 8]}
"""


def _lines(folder: Path, name: str) -> list[str]:
    path = folder / name
    return path.read_text().split("\n")[:-1] if path.exists() else []


@pytest.mark.timeout(420)
def test_keras_fit_is_reported_pruned_and_resumed(sweeper: Sweeper) -> None:
    outcome = sweeper.run(SPACE)
    study = outcome.study
    states = {t.number: t.state.name for t in study.trials}
    assert states == {0: "COMPLETE", 1: "COMPLETE", 2: "PRUNED"}, [
        (t.number, t.state.name, t.user_attrs.get("reason")) for t in study.trials
    ]
    folders = {n: sweeper.results / "kfit" / "trials" / str(n) for n in states}

    # the trial whose worker died after epoch 2: run again where its record stood
    died = study.trials[0]
    assert died.user_attrs["retries"] == 1 and sorted(died.intermediate_values) == [1, 2, 3]
    assert _lines(folders[0], "epochs.log") == ["1", "2", "3"]  # continued, not restarted
    contexts = [json.loads(line) for line in _lines(folders[0], "contexts.log")]
    assert contexts[0] == {"number": 0, "resume_epoch": 0}
    assert contexts[1]["number"] == 0 and contexts[1]["resume_epoch"] in (1, 2)  # (2 unless
    # the kill beat epoch 2's result to the driver: then its replay records it)

    # the pruned trial: its fit stopped at the end of epoch 1, no code after fit ran
    pruned = study.trials[2]
    assert sorted(pruned.intermediate_values) == [1]
    assert _lines(folders[2], "epochs.log") == ["1"]
    assert not (folders[2] / "fit_returned").exists()
    assert (folders[1] / "fit_returned").exists() and (folders[1] / "model").is_dir()

    # every epoch in MLflow once, with the study's values
    client = sweeper.client()
    _, children = sweeper.runs("kfit")
    assert sorted(children) == [0, 1, 2] and all(len(r) == 1 for r in children.values())
    for number, runs in children.items():
        trial = study.trials[number]
        assert history(client, runs[0], "val_auc") == sorted(trial.intermediate_values.items())
        assert [step for step, _ in history(client, runs[0], "loss")] == sorted(
            trial.intermediate_values
        )


KILLED = """\
name: kdriver
objective: tests.sweep.keras_trials:train
metric: {name: val_auc, goal: maximize}
budget: {trials: 2, max_epochs: 4}
concurrency: 2
sampler: {type: random, seed: 0}
pruner: {type: none}
params:
  width: {choice: [6, 8]}
"""


@pytest.mark.timeout(600)
def test_a_killed_driver_resumes_its_keras_trials_from_their_backups(tmp_path: Path) -> None:
    """The driver SIGKILLed at the sweep's third epoch (its workers die with it); `tune
    resume` runs the interrupted trials again in their folders: each continues from its
    BackupAndRestore backup, no epoch trained twice, every epoch recorded once."""
    import signal

    from tests.sweep.test_resume import _study, _tune

    space = tmp_path / "kdriver.yaml"
    space.write_text(KILLED)
    results = tmp_path / "results"
    killed = _tune("run", space, "--results", results, "-q", fault="epoch:3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "RUNNING" in {t.state.name for t in _study(results, "kdriver").get_trials()}
    done = _tune("resume", "kdriver", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    study = _study(results, "kdriver")
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "COMPLETE"]
    resumed = 0
    for trial in study.get_trials():
        folder = results / "kdriver" / "trials" / str(trial.number)
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4]
        assert _lines(folder, "epochs.log") == ["1", "2", "3", "4"], trial.number
        contexts = [json.loads(line) for line in _lines(folder, "contexts.log")]
        resumed += len(contexts) > 1 and contexts[-1]["resume_epoch"] > 0
    assert resumed >= 1  # at least one trial was interrupted after an epoch and continued
