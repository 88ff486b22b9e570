"""A sweep's results folder is movable: interrupted under one folder, copied (or moved)
elsewhere, it resumes there — its trials continue from the checkpoints the copy holds,
its MLflow records continue in the copy's store (one parent run, one child run per
trial, every epoch), and nothing is written where it was. Real processes and signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

SPACE = """\
name: moved
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


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TUNER_FAULT", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _tune(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuner", *map(str, args)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )


def _ok(done: subprocess.CompletedProcess, code: int = 0) -> str:
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stdout


def _interrupted(space: Path, results: Path) -> None:
    """A sweep under `results` stopped by SIGTERM after its first finished trial, with
    trials left RUNNING (they continue from their checkpoints on resume)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuner", "run", str(space), "--results", str(results)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    seen, deadline = "", time.monotonic() + 180
    while "COMPLETE" not in seen and time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            break
        seen += line
    assert "COMPLETE" in seen, seen
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 143, seen + out
    assert "RUNNING" in _states(results), seen + out


def _study(results: Path):
    from tuner.study.storage import find_study

    return find_study(results, "moved")


def _states(results: Path) -> list[str]:
    return [t.state.name for t in _study(results).trials]


def _snapshot(folder: Path) -> dict[str, tuple[int, int] | None]:
    """Every path under `folder`: (size, mtime) of files, None for folders."""
    found: dict[str, tuple[int, int] | None] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        found[str(path.relative_to(folder))] = (
            None if path.is_dir() and not path.is_symlink() else (info.st_size, info.st_mtime_ns)
        )
    return found


def _under(uri: str, folder: Path) -> bool:
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri)).is_relative_to(folder)


def _check_moved(results: Path, old: Path, trials: int, full_disk: bool = False) -> None:
    """The sweep finished where it now is: every trial COMPLETE with every epoch, trained
    once (continued from its checkpoint in the copy; after a full disk, an epoch whose
    checkpoint the disk refused is trained again), and MLflow's store in `results` with
    one parent run, one child run per trial holding every epoch, every artifact location
    in `results` and none in `old`."""
    from mlflow.tracking import MlflowClient

    study = _study(results)
    done = study.get_trials(deepcopy=False)
    assert [t.state.name for t in done] == ["COMPLETE"] * trials
    for t in done:
        assert sorted(t.intermediate_values) == [1, 2, 3, 4], (t.number, t.intermediate_values)
        log = results / "moved" / "trials" / str(t.number) / "epochs.log"
        epochs = [int(e) for e in log.read_text().split()]
        if full_disk:
            assert epochs == sorted(epochs) and set(epochs) == {1, 2, 3, 4}, (t.number, epochs)
        else:
            assert epochs == [1, 2, 3, 4], (t.number, epochs)
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("moved")
    assert _under(experiment.artifact_location, results / "mlartifacts")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("tuner.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("tuner.kind") == "trial"]
    assert len(parents) == 1 and len(runs) == 1 + trials, [r.data.tags for r in runs]
    assert sorted(int(r.data.tags["tuner.trial_number"]) for r in children) == list(range(trials))
    for run in runs:
        assert run.info.status == "FINISHED", run.data.tags
        assert _under(run.info.artifact_uri, results) and not _under(run.info.artifact_uri, old)
    for run in children:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "score")]
        assert sorted(steps) == [1, 2, 3, 4], (run.data.tags, steps)
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"space.yaml", "leaderboard.csv"} <= artifacts, artifacts
    parent_dir = Path(results / "mlartifacts" / "moved" / parents[0].info.run_id / "artifacts")
    assert (parent_dir / "leaderboard.csv").is_file()


def _agree(results: Path) -> dict:
    """`tune status`, `tune best --export` and `tune ls` under `results` agree on the
    best trial, and every path they name is in `results`."""
    status = json.loads(_ok(_tune("status", "moved", "--results", results, "--json")))
    best = json.loads(_ok(_tune("best", "moved", "--results", results, "--export", "--json")))
    listed = _ok(_tune("ls", "--results", results))
    number = best["trials"][0]["number"]
    assert status["best"]["number"] == number, (status, best)
    assert "moved" in listed and f"{best['trials'][0]['value']:.4g}"[:4] in listed, listed
    assert Path(best["trials"][0]["trial_dir"]).is_relative_to(results), best
    export = Path(best["export"])
    assert export == results / "moved" / "best", best
    metrics = json.loads((export / "metrics.json").read_text())
    assert metrics["number"] == number and metrics["value"] == best["trials"][0]["value"]
    return best


@pytest.fixture
def space(tmp_path: Path) -> Path:
    return write(tmp_path / "moved.yaml", SPACE.format(trials=4, sleep=0.4))


def _register(results: Path) -> None:
    """`tune best --register` logs the best trial's model on its child run, in `results`."""
    from mlflow.tracking import MlflowClient

    done = json.loads(
        _ok(_tune("best", "moved", "--results", results, "--register", "moved-best", "--json"))
    )
    client = MlflowClient(f"sqlite:///{results / 'mlflow.db'}")
    run = client.get_run(done["registered"]["run_id"])
    (model,) = client.search_logged_models([run.info.experiment_id])
    assert _under(model.artifact_location, results / "mlartifacts"), model.artifact_location
    assert (Path(model.artifact_location.removeprefix("file://")) / "MLmodel").is_file()


@pytest.mark.timeout(600)
def test_an_interrupted_sweep_copied_elsewhere_resumes_there(tmp_path: Path, space: Path) -> None:
    """`cp -a A B && tune resume NAME --results B`, A left in place (it may be a full
    disk): the resume, status, best, export and register write nothing under A, and B's
    records are whole; with A gone, B still answers every verb and resumes again."""
    first, copy = tmp_path / "A", tmp_path / "B"
    _interrupted(space, first)
    shutil.copytree(first, copy, symlinks=True)
    before = _snapshot(first)

    resumed = _tune("resume", "moved", "--results", copy, "-q")
    _ok(resumed)
    assert "MLflow's artifact locations of 1 experiment now point to" in resumed.stderr
    _check_moved(copy, first, trials=4)
    _agree(copy)
    _register(copy)
    assert _snapshot(first) == before  # nothing written, created or removed under A

    shutil.rmtree(first)
    _agree(copy)
    _ok(_tune("resume", "moved", "--results", copy, "-q", "--trials", "5"))
    _check_moved(copy, first, trials=5)
    assert not first.exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1.4 MB tmpfs (mounted by the test, unmounted after); skips where mounting is not
    permitted (not root, no CAP_SYS_ADMIN)."""
    disk = tmp_path / "tiny"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1400k", "tmpfs", str(disk)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.timeout(600)
def test_a_full_disk_sweep_resumes_from_a_copy_on_a_roomy_disk(
    tmp_path: Path, small_disk: Path
) -> None:
    """The issue's case: a sweep that filled its disk stops with "no space left … resume";
    copied to a roomy disk (`cp -a tiny roomy`), `tune resume NAME --results roomy`
    finishes it there — even for a sweep whose study keeps the absolute trial storage
    an earlier version recorded — and the full disk is left exactly as it was."""
    from tuner.study import records

    space = write(tmp_path / "moved.yaml", SPACE.format(trials=40, sleep=0.0))
    done = _tune("run", space, "--results", small_disk, "-q")
    err = done.stderr.strip().splitlines()
    assert done.returncode == 1 and err[-1].startswith("tune: error: no space left"), err
    roomy = tmp_path / "roomy"
    shutil.copytree(small_disk, roomy, symlinks=True)
    study = _study(roomy)
    finished = sum(t.state.is_finished() for t in study.trials)
    assert finished < 40
    study.set_user_attr(records.TRIAL_STORAGE, str(small_disk))  # as earlier versions did
    before = _snapshot(small_disk)

    _ok(_tune("resume", "moved", "--results", roomy, "-q"))
    assert _snapshot(small_disk) == before
    _check_moved(roomy, small_disk, trials=40, full_disk=True)
    _agree(roomy)


def test_the_trial_storage_is_kept_relative_and_an_explicit_one_moves_on_resume(
    sweeper, tmp_path: Path
) -> None:
    """Inside the results folder the study keeps it relative (`.`); an explicit
    `--trial-storage` elsewhere (a cluster's shared folder) absolute, and a resume's
    `--trial-storage` replaces it: the next trials' folders go there."""
    from tuner.space.load import load_spec
    from tuner.study import records
    from tuner.sweep.driver import RunOptions, run_sweep

    space = sweeper.space(SPACE.format(trials=1, sleep=0.0))
    sweeper.run(space)
    assert _study(sweeper.results).user_attrs[records.TRIAL_STORAGE] == "."

    for trials, folder in ((2, tmp_path / "shared"), (3, tmp_path / "other")):
        options = RunOptions(results=sweeper.results, trial_storage=folder, quiet=True)
        run_sweep(load_spec(space, trials=trials), options)
        study = _study(sweeper.results)
        assert study.user_attrs[records.TRIAL_STORAGE] == str(folder)
        assert (folder / "moved" / "trials" / str(trials - 1) / "done").is_file()
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
