"""Resuming sweeps with real processes and real signals: SIGKILL at named moments (the
TUNER_FAULT hook), Ctrl-C once and twice to the process group, a second driver, a changed
space, --fresh, a raised budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

SPACE = """\
name: slow
objective: tests.sweep.cheap:train
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: 4}}
concurrency: 2
sampler: {{type: random, seed: 1}}
pruner: {{type: none}}
fixed: {{sleep: {sleep}}}
params:
  x: {{float: [0.0, 1.0]}}
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TUNER_FAULT", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _tune(*args: str | Path, fault: str | None = None, **kw) -> subprocess.CompletedProcess:
    env = _env(**({"TUNER_FAULT": fault} if fault else {}))
    return subprocess.run(
        [sys.executable, "-m", "tuner", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=kw.get("cwd", ROOT),
    )


def _study(results: Path, name: str = "slow"):
    from tuner.storage import find_study

    return find_study(results, name)


def _check_consistent(results: Path, budget: int, finished: bool) -> None:
    """The invariants after every resume."""
    from mlflow.tracking import MlflowClient

    study = _study(results)
    trials = study.get_trials(deepcopy=False)
    states = [t.state.name for t in trials]
    if finished:
        assert len(trials) == budget and states.count("COMPLETE") == budget, states
    for t in trials:  # no epoch trained twice: each interrupted trial continued
        log = results / "slow" / "trials" / str(t.number) / "epochs.log"
        if log.exists():
            epochs = [int(e) for e in log.read_text().split()]
            assert epochs == list(range(1, len(epochs) + 1)), (t.number, epochs)
        if t.state.name == "COMPLETE":
            assert sorted(t.intermediate_values) == [1, 2, 3, 4], (t.number, t.intermediate_values)
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("slow")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    numbers = sorted(int(r.data.tags["tuner.trial_number"]) for r in children)
    assert numbers == sorted(t.number for t in trials)  # one child run per trial, no more
    assert len([r for r in runs if "mlflow.parentRunId" not in r.data.tags]) == 1
    if finished:  # (a killed driver cannot close its runs; the resume that ends does)
        assert all(r.info.status != "RUNNING" for r in runs)
    for r in children:
        t = trials[int(r.data.tags["tuner.trial_number"])]
        steps = sorted(m.step for m in client.get_metric_history(r.info.run_id, "score"))
        # a killed driver may lose its last second of batched MLflow writes; the resumed
        # trial re-reports them, so a finished sweep has every epoch
        if finished:
            assert steps == sorted(t.intermediate_values), (t.number, steps)
        else:
            assert set(steps) <= set(t.intermediate_values), (t.number, steps)


@pytest.mark.timeout(420)
def test_sigkill_at_named_moments_then_resume_loses_nothing(tmp_path: Path) -> None:
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=6, sleep=0.1))
    results = tmp_path / "results"
    for fault in ("trial_start:3", "epoch:7", "trial_end:3"):
        done = _tune("run", space, "--results", results, "-q", fault=fault)
        assert done.returncode == -signal.SIGKILL, (fault, done.stderr[-2000:])
        _check_consistent(results, 6, finished=False)
    done = _tune("resume", "slow", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    _check_consistent(results, 6, finished=True)

    # a raised budget extends the sweep and keeps its history
    done = _tune("run", space, "--results", results, "-q", "--trials", "8")
    assert done.returncode == 0, done.stderr[-2000:]
    _check_consistent(results, 8, finished=True)


def _start(space: Path, results: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tuner", "run", str(space), "--results", str(results)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal job
    )


def _wait_for(proc: subprocess.Popen, text: str) -> str:
    seen = ""
    deadline = time.monotonic() + 120
    while text not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
    assert text in seen, seen
    return seen


@pytest.mark.timeout(420)
def test_ctrl_c_once_and_twice_then_resume(tmp_path: Path) -> None:
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=6, sleep=0.3))
    results = tmp_path / "results"

    proc = _start(space, results)
    _wait_for(proc, "COMPLETE")
    second = _tune("run", space, "--results", results, "-q")  # a second driver is refused
    assert second.returncode == 2
    assert "already running" in second.stderr and f"pid {proc.pid}" in second.stderr
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "stopping after the running trials' current epoch" in out
    assert "tune resume slow" in out
    _check_consistent(results, 6, finished=False)
    assert any(t.state.name == "RUNNING" for t in _study(results).trials)

    proc = _start(space, results)
    _wait_for(proc, "trial")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode != 0

    done = _tune("run", space, "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    _check_consistent(results, 6, finished=True)


@pytest.mark.timeout(240)
def test_changed_space_is_refused_unless_fresh(tmp_path: Path) -> None:
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=2, sleep=0.0))
    results = tmp_path / "results"
    assert _tune("run", space, "--results", results, "-q").returncode == 0
    changed = write(
        tmp_path / "slow.yaml", SPACE.format(trials=2, sleep=0.0).replace("1.0]", "2.0]")
    )
    done = _tune("run", changed, "--results", results, "-q")
    assert done.returncode == 2
    assert "already exists with a different search space" in done.stderr
    assert "--fresh" in done.stderr and "Traceback" not in done.stderr

    done = _tune("run", changed, "--results", results, "-q", "--fresh")
    assert done.returncode == 0, done.stderr[-2000:]
    archived = [p.name for p in results.iterdir() if p.name.startswith("slow.archived-")]
    assert len(archived) == 1
    assert len(_study(results).trials) == 2  # the new sweep
    import optuna

    from tuner.storage import open_storage

    kept = optuna.load_study(
        study_name="slow", storage=open_storage(str(results / archived[0] / "study.journal"))
    )
    assert [t.state.name for t in kept.trials] == ["COMPLETE", "COMPLETE"]  # intact


TF_SPACE = """\
name: tf
dataset: builtin:breast_cancer
metric: {name: val_auc, goal: maximize}
budget: {trials: 3, max_epochs: 3}
concurrency: 2
sampler: {type: random, seed: 0}
pruner: {type: none}
fixed: {model: dnn, batch_size: 64, hidden_units: [8]}
params:
  learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
"""


def _steps_trained(trial_dir: Path) -> list[int]:
    """Every epoch a trial trained, from its TensorBoard events (a retrained epoch twice)."""
    from tuner.tf_runtime import tensorflow

    tf = tensorflow()
    steps = []
    for events in sorted((trial_dir / "tensorboard" / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            steps += [event.step for v in event.summary.value if v.tag == "loss"]
    return sorted(steps)


@pytest.mark.timeout(420)
def test_tensorflow_trials_killed_mid_checkpoint_continue_from_their_checkpoint(
    tmp_path: Path,
) -> None:
    space = write(tmp_path / "tf.yaml", TF_SPACE)
    results = tmp_path / "results"
    # a trial process kills the driver between a trial's best and last checkpoints
    done = _tune("run", space, "--results", results, "-q", fault="checkpoint:3")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    running = [t.number for t in _study(results, "tf").trials if t.state.name == "RUNNING"]
    assert running, "the kill left no trial to resume"

    done = _tune("run", space, "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    trials = _study(results, "tf").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    for t in trials:
        assert sorted(t.intermediate_values) == [1, 2, 3]
        steps = _steps_trained(results / "tf" / "trials" / str(t.number))
        assert steps.count(1) == 1, (t.number, steps)  # resumed, not retrained from scratch
        assert set(steps) == {1, 2, 3} and len(steps) <= 4, (t.number, steps)
