"""The study journal survives what real disks do, with real `tune` processes: a record
torn by SIGKILL (or a power cut) mid-write, the glued line the old code made of it, and a
full disk (a small tmpfs; skipped where mounting is not permitted) that stops the sweep
with one line and is resumed once there is room."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.sweep.test_resume import _tune
from tuner.trial import objective

pytestmark = pytest.mark.slow

SPACE = """\
name: disk
objective: tests.sweep.cheap:train
metric: {name: score, goal: maximize}
budget: {trials: TRIALS, max_epochs: 3}
concurrency: 1
sampler: {type: random, seed: 1}
pruner: {type: none}
params:
  x: {float: [0.0, 1.0]}
"""


def _space(tmp_path: Path, trials: int) -> Path:
    return write(tmp_path / "disk.yaml", SPACE.replace("TRIALS", str(trials)))


def _tear(path: Path) -> None:
    """Cut the journal's last record in half: what a crash mid-write leaves."""
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: start + (len(data) - start) // 2])


def _raw(path: Path):
    """Optuna's journal storage without our repair (what the old code opened)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _old_resume_writes(path: Path) -> None:
    """What the old code's resume did after a torn tail: it wrote its lock, glued onto the
    torn record, then more."""
    import optuna

    study = optuna.load_study(study_name="disk", storage=_raw(path))
    study.set_user_attr("run_lock", None)  # glued onto the torn record
    with pytest.raises(ValueError):  # the next write reads it back: JSONDecodeError
        study.set_user_attr("run_lock", None)
    with pytest.raises(ValueError):  # and from then on nothing reads the journal
        optuna.load_study(study_name="disk", storage=_raw(path))


def _states(journal: Path) -> list[str]:
    import optuna

    study = optuna.load_study(study_name="disk", storage=_raw(journal))
    return [t.state.name for t in study.trials]


def _clean(done: subprocess.CompletedProcess, code: int = 0) -> str:
    assert done.returncode == code, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stderr


def _torn_files(journal: Path) -> list[Path]:
    return sorted(journal.parent.glob(f"{journal.name}.torn-*"))


@pytest.mark.timeout(300)
def test_a_torn_journal_is_repaired_by_every_verb(tmp_path: Path) -> None:
    space, results = _space(tmp_path, 4), tmp_path / "results"
    journal = results / "disk" / "study.journal"
    done = _tune("run", space, "--results", results, "-q", fault="trial_end:2")
    assert done.returncode == -9, done.stderr[-2000:]
    _tear(journal)

    # the resume repairs before it writes, and finishes the sweep
    err = _clean(_tune("run", space, "--results", results, "-q"))
    assert "repaired the torn journal" in err and len(_torn_files(journal)) == 1
    assert _states(journal) == ["COMPLETE"] * 4

    # a journal the old code had glued: read-only verbs read it (repairing it) ...
    _tear(journal)
    _old_resume_writes(journal)
    err = _clean(_tune("status", "disk", "--results", results))
    assert "repaired the torn journal" in err and len(_torn_files(journal)) == 2
    _clean(_tune("best", "disk", "--results", results))
    assert "disk" in _tune("ls", "--results", results).stdout
    # ... and the sweep goes on from it
    _clean(_tune("run", space, "--results", results, "-q", "--trials", "6"))
    assert _states(journal) == ["COMPLETE"] * 6


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs mount point (mounted by the test, unmounted after); skips where mount is not
    permitted (not root, no CAP_SYS_ADMIN)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _resize(disk: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(disk)], check=True)


@pytest.mark.timeout(300)
def test_a_full_disk_stops_the_sweep_with_one_line_and_it_resumes(
    tmp_path: Path, small_disk: Path
) -> None:
    """Everything on a 2 MB disk (study, MLflow's SQLite store, trial folders): whichever
    write fails first, the sweep stops with one line; remounted bigger, it resumes."""
    space, trials = _space(tmp_path, 40), 40
    done = _tune("run", space, "--results", small_disk, "-q")
    err = _clean(done, code=1)
    assert err.strip().splitlines()[-1].startswith("tune: error: no space left"), err[-2000:]
    assert len(err.strip().splitlines()) == 1, err[-2000:]
    before = _states(small_disk / "disk" / "study.journal")
    assert before.count("COMPLETE") < trials

    _resize(small_disk, "64m")
    _clean(_tune("resume", "disk", "--results", small_disk, "-q"))
    after = _states(small_disk / "disk" / "study.journal")
    assert after.count("COMPLETE") == trials and after[: len(before)].count("COMPLETE") >= (
        before.count("COMPLETE")
    )
    _clean(_tune("status", "disk", "--results", small_disk))


@pytest.mark.timeout(300)
def test_a_journal_torn_by_a_full_disk_is_repaired_on_resume(
    tmp_path: Path, small_disk: Path
) -> None:
    """Only the study on the small disk (--storage journal:…), so the journal's append is
    what fails, half-written: the resume cuts the torn record and goes on."""
    _resize(small_disk, "64k")
    space, results = _space(tmp_path, 200), tmp_path / "results"
    journal = small_disk / "study.journal"
    flags = ("--results", results, "--storage", f"journal:{journal}", "-q")
    err = _clean(_tune("run", space, *flags), code=1)
    assert err.startswith("tune: error: no space left") and len(err.strip().splitlines()) == 1
    assert not journal.read_bytes().endswith(b"\n")  # torn mid-record

    _resize(small_disk, "8m")
    err = _clean(_tune("run", space, *flags, "--trials", "45"))
    assert "repaired the torn journal" in err and len(_torn_files(journal)) == 1
    assert _states(journal) == ["COMPLETE"] * 45


def test_a_trial_whose_config_record_was_torn_runs_again(sweeper) -> None:
    """A trial asked, its params recorded, its config record cut with a torn tail: the
    resume runs it (same number, the recorded params), instead of leaving it RUNNING."""
    import optuna

    from tuner.study import storage

    space = sweeper.space(SPACE.replace("TRIALS", "3"))
    (sweeper.results / "disk").mkdir(parents=True)
    url = storage.storage_url(sweeper.results, "disk")
    study = optuna.create_study(study_name="disk", storage=storage.open_storage(url))
    x = study.ask().suggest_float("x", 0.0, 1.0)

    sweeper.run(space)
    trials = storage.find_study(sweeper.results, "disk").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert trials[0].params == {"x": x} and trials[0].user_attrs["config"]["x"] == x


@objective(metrics=["score", "loss"])
def full_once(config: dict[str, Any], report, trial_dir: Path) -> None:
    """Trial 1's checkpoint after epoch 1 finds the disk full, the first time it runs."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, 4):
        marker = trial_dir / "was-full"
        if trial_dir.name == "1" and epoch == 2 and not marker.exists():
            marker.write_text("once")
            raise OSError(errno.ENOSPC, "No space left on device", str(trial_dir / "ckpt"))
        report(epoch, {"score": float(config["x"]) * epoch, "loss": 0.0})


def test_a_trial_that_finds_the_disk_full_stops_the_sweep_resumable(sweeper) -> None:
    """Not the trial's fault: the sweep stops (StorageFull) with the trial left RUNNING,
    instead of failing it and every trial after it; the resume runs it again."""
    from tuner.errors import StorageFull
    from tuner.study import storage

    text = SPACE.replace("TRIALS", "3").replace(
        "tests.sweep.cheap:train", "tests.sweep.test_journal_faults:full_once"
    )
    space = sweeper.space(text)
    with pytest.raises(StorageFull, match="no space left on the disk"):
        sweeper.run(space)
    states = [t.state.name for t in storage.find_study(sweeper.results, "disk").trials]
    assert states == ["COMPLETE", "RUNNING"]
    sweeper.run(space)
    trials = storage.find_study(sweeper.results, "disk").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
