"""Resuming sweeps with real processes and real signals: SIGKILL at named moments (the
TUNER_FAULT hook), Ctrl-C once and twice to the process group, SIGTERM and SIGHUP, a
driver stopped (SIGSTOP) past its lock's staleness, a second driver, a changed space,
--fresh, a raised budget."""

from __future__ import annotations

import json
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


def _tune(
    *args: str | Path, fault: str | None = None, cwd: Path = ROOT, **extra: str
) -> subprocess.CompletedProcess:
    env = _env(**({"TUNER_FAULT": fault} if fault else {}), **extra)
    return subprocess.run(
        [sys.executable, "-m", "tuner", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=360,  # a hang guard: a TF sweep beside another test on 2 cores
        cwd=cwd,
    )


def _study(results: Path, name: str = "slow"):
    from tuner.study.storage import find_study

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


def _start(space: Path, results: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tuner", "run", str(space), "--results", str(results), *args],
        env=_env(**env),
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
    # trials 2 and on wait before their second epoch while `hold` exists: the sweep is
    # still running after the refused second driver, however long that one takes
    hold = tmp_path / "hold"
    hold.touch()
    text = SPACE.format(trials=6, sleep=1.0).replace(
        "fixed: {sleep: 1.0}", f"fixed: {{sleep: 1.0, hold: '{hold}', hold_from: 2}}"
    )
    space = write(tmp_path / "slow.yaml", text)
    results = tmp_path / "results"

    proc = _start(space, results)
    _wait_for(proc, "COMPLETE")
    held = results / "slow" / "trials" / "2" / "epochs.log"
    deadline = time.monotonic() + 120
    while not held.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # (trial 2 trained its first epoch and waits)
    second = _tune("run", space, "--results", results, "-q")  # a second driver is refused
    assert second.returncode == 2
    assert "already running" in second.stderr and f"pid {proc.pid}" in second.stderr
    os.killpg(proc.pid, signal.SIGINT)
    hold.unlink()  # (the running trials end their current epoch, then stop)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "stopping after the running trials' current epoch" in out
    assert "tune resume slow" in out
    _check_consistent(results, 6, finished=False)
    assert any(t.state.name == "RUNNING" for t in _study(results).trials), (out, _states(results))

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


def _states(results: Path) -> list[str]:
    return [t.state.name for t in _study(results).trials]


@pytest.mark.timeout(420)
def test_sigterm_and_sighup_stop_like_ctrl_c_then_resume(tmp_path: Path) -> None:
    """What `kill PID`, systemd, `docker stop`, SLURM (SIGTERM) and a closed terminal
    (SIGHUP) send: the running trials stay RUNNING and continue on resume."""
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=6, sleep=0.3))
    results = tmp_path / "results"
    for signum, how in ((signal.SIGTERM, os.kill), (signal.SIGHUP, os.killpg)):
        proc = _start(space, results)
        _wait_for(proc, "COMPLETE")
        how(proc.pid, signum)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 128 + signum, out
        name = signal.Signals(signum).name
        assert f"{name}: stopping after the running trials' current epoch" in out, out
        assert "Traceback" not in out and "tune resume slow" in out, out
        assert "RUNNING" in _states(results) and "FAIL" not in _states(results), out
        _check_consistent(results, 6, finished=False)

    proc = _start(space, results)  # twice: at once, still resumable, no traceback
    _wait_for(proc, "trial")
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    assert "Traceback" not in out, out
    assert "FAIL" not in _states(results), out

    done = _tune("run", space, "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    _check_consistent(results, 6, finished=True)


def _stop_between_writes(proc: subprocess.Popen, file_lock: Path) -> None:
    """SIGSTOP the driver when it does not hold the journal's file lock: another writer
    would wait out Optuna's 30 s grace period, then break the lock under it."""
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.05)
        if not file_lock.exists() and not file_lock.is_symlink():
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail("the driver always held the journal's file lock")


def _lock_env() -> dict[str, str]:
    return {"TUNER_LOCK_HEARTBEAT": "0.2", "TUNER_LOCK_STALE_AFTER": "1"}


@pytest.mark.timeout(420)
def test_a_stopped_driver_keeps_its_lock_and_one_taken_over_stops_without_writing(
    tmp_path: Path,
) -> None:
    import optuna

    from tuner.study.records import LOCK

    space = write(tmp_path / "slow.yaml", SPACE.format(trials=6, sleep=0.3))
    results = tmp_path / "results"
    proc = _start(space, results, **_lock_env())
    _wait_for(proc, "COMPLETE")
    os.kill(proc.pid, signal.SIGSTOP)  # as Ctrl-Z, for longer than the lock's staleness
    try:
        time.sleep(2)
        second = _tune("run", space, "--results", results, "-q", **_lock_env())
        assert second.returncode == 2, second.stderr[-2000:]
        assert "already running" in second.stderr and f"pid {proc.pid}" in second.stderr
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    _check_consistent(results, 6, finished=True)

    # a driver on another host took the sweep over while this one was stopped
    proc = _start(space, results, "--trials", "12", **_lock_env())
    _wait_for(proc, "COMPLETE")
    _stop_between_writes(proc, results / "slow" / "study.journal.lock")
    try:
        study = _study(results)
        now = time.time()
        taker = {"host": "elsewhere", "pid": 4242, "since": now, "heartbeat": now}
        study.set_user_attr(LOCK, taker)
        before = [(t.number, t.state, dict(t.intermediate_values)) for t in study.trials]
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert "was taken over (host elsewhere, pid 4242)" in out, out
    assert "stopped without writing to the sweep" in out and "Traceback" not in out, out
    study = _study(results)
    assert [(t.number, t.state, dict(t.intermediate_values)) for t in study.trials] == before
    assert study.user_attrs[LOCK] == taker
    assert optuna.trial.TrialState.RUNNING in [state for _, state, _ in before]


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

    from tuner.study.storage import open_storage

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
    from tuner.tabular.runtime import tensorflow

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

    timeline = tmp_path / "timeline.jsonl"
    done = _tune("run", space, "--results", results, "-q", TUNER_TIMELINE=str(timeline))
    assert done.returncode == 0, done.stderr[-2000:]
    trials = _study(results, "tf").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    # every worker that ran a trial warmed up first (TensorFlow, the data set), in the
    # background, before its first trial had read the data itself
    marks = [json.loads(line) for line in timeline.read_text().splitlines()]
    warmed = {m["pid"] for m in marks if m["event"] == "warm_start"}
    ran = {m["pid"] for m in marks if m["event"] == "trial_start"}
    assert ran and ran <= warmed, marks
    assert {m["event"] for m in marks} >= {"ray_ready", "tracker_ready", "warm", "epoch"}
    for t in trials:
        assert sorted(t.intermediate_values) == [1, 2, 3]
        steps = _steps_trained(results / "tf" / "trials" / str(t.number))
        assert steps.count(1) == 1, (t.number, steps)  # resumed, not retrained from scratch
        assert set(steps) == {1, 2, 3} and len(steps) <= 4, (t.number, steps)


@pytest.mark.timeout(300)
def test_a_resume_goes_on_with_the_budget_the_sweep_was_last_given(tmp_path: Path) -> None:
    """`--trials 6` over a file's 4, the driver killed, then `tune resume`: the sweep runs
    to 6 (the live line and `tune status` say "of 6"), not back to the file's 4."""
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=4, sleep=0.05))
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, "-q", "--trials", "6", fault="trial_end:5")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]

    done = _tune("resume", "slow", "--results", results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/6 done" in done.stdout and "/4 done" not in done.stdout, done.stdout[-2000:]
    assert "last given (trials 6" in done.stderr, done.stderr[-2000:]
    _check_consistent(results, 6, finished=True)
    status = _tune("status", "slow", "--results", results)
    assert " of 6" in status.stdout, status.stdout

    # the same space file run again without --trials: the budget stays 6 (nothing to do)
    done = _tune("run", space, "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    _check_consistent(results, 6, finished=True)


@pytest.mark.timeout(300)
def test_a_trial_ray_cannot_start_in_a_reused_worker_runs_again(tmp_path: Path) -> None:
    """Ray 2.60 errors a trial it cannot reset a reused worker for (the last trial's
    thread still ending) without telling the searcher: the trial stayed RUNNING and the
    sweep waited for ever (seen under load). Forced here: Ray waits 0 s for the thread,
    and every trial's thread lingers 1 s after it ends."""
    space = write(
        tmp_path / "slow.yaml",
        SPACE.format(trials=4, sleep=0.05)
        .replace("concurrency: 2", "concurrency: 1")
        .replace("max_epochs: 4}", "max_epochs: 2, max_retries: 0}")
        .replace("fixed: {sleep: 0.05}", "fixed: {sleep: 0.05, linger: 1.0}"),
    )
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, TUNE_FUNCTION_THREAD_TIMEOUT_S="0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "starting it again" in done.stdout, done.stdout[-3000:]
    study = _study(results)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study.trials)


@pytest.mark.timeout(300)
def test_a_resumed_trial_that_starts_over_is_never_stitched(tmp_path: Path) -> None:
    """An objective that keeps no checkpoint, its driver SIGKILLed after epoch 2, then
    `tune resume`: the re-run reports epoch 1 again with another value. The trial is
    failed saying so (its two recorded epochs untouched, in the study and in MLflow) and
    its config runs again from the start as a new trial, outside the budget."""
    from mlflow.tracking import MlflowClient

    space = write(
        tmp_path / "slow.yaml",
        SPACE.format(trials=2, sleep=0.05)
        .replace("concurrency: 2", "concurrency: 1")
        .replace("fixed: {sleep: 0.05}", "fixed: {sleep: 0.05, checkpoint: false, jitter: 0.01}"),
    )
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, "-q", fault="epoch:2")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]

    done = _tune("resume", "slow", "--results", results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trial 0 FAIL" in done.stdout and "started over" in done.stdout, done.stdout
    trials = _study(results).trials
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"], trials
    assert sorted(trials[0].intermediate_values) == [1, 2]
    again = next(t for t in trials if t.user_attrs.get("restart_of") == 0)
    assert again.params == trials[0].params and sorted(again.intermediate_values) == [1, 2, 3, 4]

    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("slow")
    runs = client.search_runs([experiment.experiment_id])
    children = {
        int(r.data.tags["tuner.trial_number"]): r
        for r in runs
        if "mlflow.parentRunId" in r.data.tags
    }
    assert sorted(children) == [0, 1, 2]  # one child run per trial
    for number, run in children.items():
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "score"))
        assert steps == sorted(trials[number].intermediate_values), (number, steps)
        values = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "score")}
        assert values == trials[number].intermediate_values, number
    assert children[0].info.status == "FAILED"
    status = _tune("status", "slow", "--results", results)
    assert "2 done" in status.stdout and " of 2" in status.stdout, status.stdout


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


@pytest.mark.timeout(300)
def test_a_killed_mlflow_writer_is_started_again_and_nothing_is_lost(tmp_path: Path) -> None:
    """`kill -9` of the MLflow writer (the driver's child) mid-sweep: the driver starts a
    new one with what the dead one had not written; no trial fails, and MLflow and the
    study agree (one run per trial, every epoch)."""
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=4, sleep=0.3))
    results = tmp_path / "results"
    proc = _start(space, results)
    _wait_for(proc, "trial 0")
    writers = [p for p, cmd in _children(proc.pid) if "tuner.tracking.writer" in cmd]
    assert len(writers) == 1, _children(proc.pid)
    os.kill(writers[0], signal.SIGKILL)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out[-3000:]
    assert "MLflow writer process ended unexpectedly (exit code -9); started it again" in out
    _check_consistent(results, 4, finished=True)


@pytest.mark.timeout(300)
def test_a_writer_that_keeps_dying_stops_the_sweep_resumably(tmp_path: Path) -> None:
    """Every writer dies at its 6th message: after the restarts the sweep stops with one
    line, its running trials RUNNING (not failed); `tune resume` then finishes it and
    MLflow agrees with the study."""
    space = write(tmp_path / "slow.yaml", SPACE.format(trials=4, sleep=0.1))
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, "-q", fault="writer:6")
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "MLflow could not be written" in last and "tune resume slow" in last, last
    assert "Traceback" not in done.stderr
    assert "FAIL" not in _states(results), _states(results)

    done = _tune("resume", "slow", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    _check_consistent(results, 4, finished=True)


@pytest.mark.timeout(300)
def test_a_sweep_killed_while_its_end_is_written_is_finished_by_a_resume(
    tmp_path: Path,
) -> None:
    """The end of a sweep is resumable too: the driver killed before its second plot
    leaves one plot and the MLflow parent RUNNING; `tune resume` of the finished sweep
    runs nothing and writes what is missing."""
    from mlflow.tracking import MlflowClient

    space = write(tmp_path / "slow.yaml", SPACE.format(trials=3, sleep=0.01))
    results = tmp_path / "results"
    done = _tune("run", space, "--results", results, "-q", fault="plot:2")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    plots = results / "slow" / "plots"
    assert sorted(p.name for p in plots.glob("*.png")) == ["optimization_history.png"]

    done = _tune("resume", "slow", "--results", results, "-q")
    assert done.returncode == 0, done.stderr[-2000:]
    assert {p.name for p in plots.glob("*.png")} >= {
        "optimization_history.png",
        "parallel_coordinate.png",
        "intermediate_values.png",
    }
    _check_consistent(results, 3, finished=True)  # the parent run FINISHED, no run RUNNING
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("slow")
    (parent,) = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if "mlflow.parentRunId" not in r.data.tags
    ]
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/parallel_coordinate.png" in logged, logged
