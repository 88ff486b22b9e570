"""Programs tuned by `tune run`, with real Ray, Optuna and MLflow: a program reporting
through each of its three routes (output lines, TensorBoard files, `tuner.report`) is
pruned epoch by epoch, its stopped process gone, every trial one MLflow child run with
every epoch; a driver SIGKILLed mid-sweep resumes with the interrupted programs
continuing from their checkpoints in their trial folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.sweep.conftest import Sweeper

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
import argparse, os, time
from pathlib import Path
p = argparse.ArgumentParser()
p.add_argument("--x", type=float); p.add_argument("--epochs", type=int)
a = p.parse_args()
folder = Path(os.environ["TUNER_TRIAL_DIR"])
(folder / "pids").open("a").write(f"{os.getpid()}\\n")
state = folder / "epoch"
start = int(state.read_text()) if state.exists() else 0  # a checkpoint: continue after it
ROUTE
for epoch in range(start + 1, a.epochs + 1):
    time.sleep(0.3)
    score = a.x * (1 - 0.5 ** epoch)
    with (folder / "epochs.log").open("a") as log:
        log.write(f"{epoch}\\n")
    state.write_text(str(epoch))
    emit(epoch, score)
"""

ROUTES = {
    "output": 'def emit(epoch, score):\n    print(f"epoch={epoch} score={score!r}", flush=True)',
    "report": "from tuner import report\ndef emit(epoch, score):\n    report(epoch, score=score)",
    "tensorboard": "import sys; sys.path.insert(0, REPO)\n"
    "from tests.program.events import Events\n"
    "events = Events(folder / 'tb', name=f'events.out.tfevents.{time.time()}.h.{os.getpid()}')\n"
    "def emit(epoch, score):\n    events.scalar('score', epoch, score)",
}

SPACE = """\
name: {name}
objective:
  command: python train.py
  metrics: [score]
metric: {{name: score, goal: maximize}}
budget: {{trials: {trials}, max_epochs: {epochs}}}
concurrency: 2
sampler: {{type: random, seed: 3}}
pruner: {{type: threshold, lower: 0.2}}
params:
  x: {{float: [0.0, 1.0]}}
"""


def write_program(folder: Path, route: str) -> None:
    body = PROGRAM.replace("ROUTE", ROUTES[route].replace("REPO", repr(str(REPO))))
    (folder / "train.py").write_text(textwrap.dedent(body))


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(240)
@pytest.mark.parametrize("route", ["output", "report", "tensorboard"])
def test_a_program_is_tuned_and_pruned_through_each_route(
    sweeper: Sweeper, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    write_program(sweeper.tmp, route)
    outcome = sweeper.run(SPACE.format(name=f"prog-{route}", trials=6, epochs=3))
    study = outcome.study
    states = [t.state.name for t in study.trials]
    assert set(states) <= {"COMPLETE", "PRUNED"} and "COMPLETE" in states, states
    assert "PRUNED" in states, [(t.params, t.intermediate_values) for t in study.trials]
    _, children = sweeper.runs(f"prog-{route}")
    assert sorted(children) == [t.number for t in study.trials]
    client = sweeper.client()
    for t in study.trials:
        (run,) = children[t.number]
        history = client.get_metric_history(run.info.run_id, "score")
        assert {m.step: m.value for m in history} == pytest.approx(t.intermediate_values)
        if t.state.name == "COMPLETE":
            assert sorted(t.intermediate_values) == [1, 2, 3]
        folder = sweeper.results / f"prog-{route}" / "trials" / str(t.number)
        for pid in map(int, (folder / "pids").read_text().split()):
            deadline = time.monotonic() + 15
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(pid), (t.number, t.state.name, pid)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TUNER_FAULT", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.mark.timeout(300)
def test_a_killed_driver_resumes_its_programs_from_their_checkpoints(tmp_path: Path) -> None:
    write_program(tmp_path, "output")
    space = tmp_path / "space.yaml"
    space.write_text(
        SPACE.format(name="killed", trials=4, epochs=5).replace("lower: 0.2", "lower: 0.0")
    )
    results = tmp_path / "results"
    driver = subprocess.Popen(
        [sys.executable, "-m", "tuner", "run", str(space), "--results", str(results)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    logs = results / "killed" / "trials"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until a trial is mid-way
        done = [p for p in logs.glob("*/epochs.log") if len(p.read_text().split()) >= 2]
        if done:
            break
        time.sleep(0.1)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.communicate(timeout=60)
    resumed = subprocess.run(
        [sys.executable, "-m", "tuner", "resume", "killed", "--results", str(results), "-q"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    from mlflow.tracking import MlflowClient

    from tuner.study.storage import find_study

    study = find_study(results, "killed")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("killed")
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert sorted(int(r.data.tags["tuner.trial_number"]) for r in children) == [0, 1, 2, 3]
    for t in study.trials:
        log = (logs / str(t.number) / "epochs.log").read_text().split()
        assert log == ["1", "2", "3", "4", "5"], (t.number, log)  # continued, never again
        assert sorted(t.intermediate_values) == [1, 2, 3, 4, 5]
    for run in children:
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "score"))
        assert steps == [1, 2, 3, 4, 5]
